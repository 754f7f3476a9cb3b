"""Oxygen chemical potential and the thermodynamics of O2 release from an oxide.

Conventions:

- The formation energy of one O vacancy is
  ``E_f(V_O) = E(defect) - E(host) + mu_O + correction``, in eV, with ``E(defect)`` the
  host cell less one O atom, both from one energy scheme.
- ``mu_O = mu_O,rich + Delta mu_O(T, p)``: ``mu_O,rich`` is the O-rich limit, half the
  energy of an O2 molecule at 0 K (no zero-point energy), in the engine's energy
  scheme (:func:`oxygen_reference`); ``Delta mu_O(T, p)`` is the free-energy change of
  the O2 gas from 0 K to ``T`` and ``p``, per O atom, from tabulated thermochemistry
  (:func:`delta_mu_o`), as in Reuter & Scheffler, Phys. Rev. B 65, 035406 (2002).
- O2 release ``host -> defect + 1/2 O2`` is favourable when ``E_f(V_O) < 0``, that is
  when ``Delta mu_O < -E_f(V_O)`` at the O-rich limit (:func:`release_mu_o_threshold`),
  which happens above a temperature at a given O2 pressure
  (:func:`release_temperature`). The solid's own vibrational entropy is neglected.
"""

from __future__ import annotations

import inspect
import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from oredox.analysis.o2_gas import (
    O2_JANAF,
    O2_TABLE_MAX_K,
    checked_pressure_bar,
    delta_mu_o,
)
from oredox.errors import OredoxInputError

__all__ = [
    "O2_JANAF",
    "OxygenReference",
    "delta_mu_o",
    "formation_energy_vs_mu",
    "grand_potential_stability",
    "mp2020_oxide_correction_eV_per_O",
    "mp_o2_reference",
    "oxygen_reference",
    "release_mu_o_threshold",
    "release_temperature",
]

MP2020_CITATION = "Wang et al., Sci. Rep. 11, 15496 (2021)"


def _checked_energy(energy_eV: float, name: str) -> float:
    try:
        energy = float(energy_eV)
    except (TypeError, ValueError):
        raise OredoxInputError(f"{name} {energy_eV!r} is not a number (eV)") from None
    if not math.isfinite(energy):
        raise OredoxInputError(f"{name} must be a finite energy in eV, got {energy}")
    return energy


def _mp2020_directory() -> Path:
    """The folder of pymatgen's MP2020 files (it moved between pymatgen versions)."""
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    return Path(inspect.getfile(MaterialsProject2020Compatibility)).parent


@lru_cache(maxsize=1)
def mp2020_oxide_correction_eV_per_O() -> float:  # noqa: N802 (unit in name)
    """MP2020's fitted oxide correction, eV per O atom (-0.687 in pymatgen 2026).

    Read at run time from pymatgen's own ``MP2020Compatibility.yaml``
    (``CompositionCorrections: oxide``), the value that
    ``MaterialsProject2020Compatibility`` adds per O atom to the energy of an oxide
    (O2- anions) computed with GGA or GGA+U (MP settings), fitted to experimental
    formation enthalpies: Wang et al., Sci. Rep. 11, 15496 (2021).
    """
    from monty.serialization import loadfn

    config = loadfn(_mp2020_directory() / "MP2020Compatibility.yaml")
    return float(config["Corrections"]["CompositionCorrections"]["oxide"])


@lru_cache(maxsize=1)
def mp_o2_reference() -> tuple[float, str]:
    """Materials Project's elemental O reference: (eV per O atom, material id).

    The uncorrected GGA energy per atom of MP's O2 entry (solid O2, ``mp-12957``,
    -4.948 eV/atom in pymatgen 2026), read from the computed entries that pymatgen
    ships to refit MP2020 (``calc_compounds.json.gz``): the O reference against which
    MP2020's oxide correction was fitted. Elements carry no MP2020 correction.
    """
    from monty.serialization import loadfn

    with warnings.catch_warnings():  # pymatgen warns about noble-gas electronegativity
        warnings.simplefilter("ignore", UserWarning)
        entries = loadfn(_mp2020_directory() / "calc_compounds.json.gz")
    entry = entries["O2"]
    if entry.correction != 0 or entry.parameters.get("run_type") != "GGA":
        raise OredoxInputError(
            "pymatgen's MP2020 fitting data hold an O2 entry that is not an "
            "uncorrected GGA energy; use the 'engine O2' reference instead"
        )
    return float(entry.energy_per_atom), str(entry.entry_id)


OxygenMethod = Literal["engine O2", "MP2020 fitted"]


class OxygenReference(BaseModel):
    """The O-rich limit of mu_O and the correction that goes with it.

    ``E_f(V_O) = E(defect) - E(host) + mu_o_eV + correction_eV_per_O`` compares a
    vacancy cell and 1/2 O2 gas at 0 K; :func:`formation_energy_vs_mu` adds
    ``Delta mu_O(T, p)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: OxygenMethod = Field(description="How mu_O at the O-rich limit is set")
    mu_o_eV: float = Field(
        description="mu_O at the O-rich limit, eV per O atom, in the engine's scheme"
    )
    correction_eV_per_O: float = Field(
        description="Added to E(defect) - E(host) + mu_O so that energies compare "
        "with O2 gas, eV per removed O atom"
    )
    description: str = Field(description="What was used, with sources")


def _energies_carry_mp2020(engine_name: str) -> bool:
    """Whether the engine's energies already include MP2020's corrections."""
    # CHGNet learned MPtrj's MP2020-corrected energies (its README, "Notes for
    # Training"); a pair such as chgnet+gpaw takes its energies from the static.
    return engine_name.strip().lower() == "chgnet"


def oxygen_reference(
    engine_o2_energy_eV: float | None,
    method: str,
    engine_name: str,
    energies_include_mp2020: bool | None = None,
) -> OxygenReference:
    """The O-rich limit of mu_O for one engine's energies, and its correction.

    ``'engine O2'``: ``mu_O = E(O2)/2`` from the engine's own O2 molecule (triplet, in
    a box, 0 K, no ZPE) and no correction. With a GGA or GGA+U engine this keeps
    GGA's error on O2 and oxides: O2 overbound by about 1 eV per O2 in PBE (0.5 eV
    per O), together with the oxides' own GGA error, which MP2020's fitted oxide
    correction (0.687 eV per O) absorbs; E_f(V_O) comes out too low by about that.

    ``'MP2020 fitted'``: the Materials Project scheme, for energies on MP's scale
    (VASP PBE/PBE+U with ``MPRelaxSet`` settings, or CHGNet). ``mu_O`` is MP's own O
    reference (:func:`mp_o2_reference`, -4.948 eV per O), the one MP2020's oxide
    correction ``c`` = -0.687 eV per O (:func:`mp2020_oxide_correction_eV_per_O`)
    was fitted against. MP2020 adds ``c`` to an oxide's energy once per O atom; the
    host has one O more than the vacancy cell, so with raw energies
    ``E_f = E(defect) - E(host) + mu_O - c``: the correction raises E_f(V_O) by
    +0.687 eV per removed O, the same direction and size as undoing GGA's O2
    overbinding (1.37 eV per O2). This assumes both cells are MP "oxides" (a vacancy
    cell whose O pairs relax into a peroxide would get MP2020's peroxide correction
    instead); the per-TM GGA/GGA+U mixing corrections cancel (same metals).

    CHGNet's energies already carry MP2020's corrections: it was trained on MPtrj
    energies with ``MaterialsProject2020Compatibility`` applied (CHGNet README,
    "Notes for Training"). Its ``E(defect) - E(host)`` then already holds the +0.687
    eV, so the correction added here is 0, with MP's O reference as ``mu_O``. An O2
    molecule computed with CHGNet is outside MPtrj (which holds O2 only as molecular
    solids), so ``'MP2020 fitted'`` is the better choice for CHGNet.

    Parameters
    ----------
    engine_o2_energy_eV
        Total energy of one O2 molecule with the engine, eV; required for
        ``'engine O2'``, only quoted in the description for ``'MP2020 fitted'``.
    method
        ``'engine O2'`` or ``'MP2020 fitted'``.
    engine_name
        The engine's name (``chgnet``, ``vasp``, ``gpaw``, ...), stated in the
        description.
    energies_include_mp2020
        Whether the host and vacancy energies already include MP2020's corrections;
        by default True for ``chgnet`` alone.

    Raises
    ------
    OredoxInputError
        An unknown method, ``'engine O2'`` without an O2 energy, or ``'MP2020
        fitted'`` for GPAW energies (not on MP's scale).
    """
    if method not in ("engine O2", "MP2020 fitted"):
        raise OredoxInputError(
            f"oxygen reference {method!r} is unknown; use 'engine O2' (the engine's "
            "own O2 molecule) or 'MP2020 fitted' (Materials Project's O2 and fitted "
            "oxide correction)"
        )
    if not isinstance(engine_name, str) or not engine_name.strip():
        raise OredoxInputError("give the engine's name (e.g. 'chgnet' or 'vasp')")
    engine = engine_name.strip()
    carries_mp2020 = (
        _energies_carry_mp2020(engine)
        if energies_include_mp2020 is None
        else bool(energies_include_mp2020)
    )
    if method == "engine O2":
        return _engine_o2_reference(engine_o2_energy_eV, engine, carries_mp2020)
    if "gpaw" in engine.lower():
        raise OredoxInputError(
            f"the 'MP2020 fitted' oxygen reference needs energies on the Materials "
            f"Project scale (VASP PBE(+U) with MPRelaxSet settings, or CHGNet); "
            f"{engine} energies are not: use 'engine O2' with its own O2 molecule"
        )
    mu_o_eV, material_id = mp_o2_reference()
    oxide_eV = mp2020_oxide_correction_eV_per_O()
    correction_eV = 0.0 if carries_mp2020 else -oxide_eV
    text = (
        f"MP2020 fitted: mu_O = {mu_o_eV:.4f} eV per O, the Materials Project O2 "
        f"reference ({material_id}, GGA, uncorrected; from pymatgen's MP2020 data), "
        f"with MP2020's oxide correction {oxide_eV:+.3f} eV per O ({MP2020_CITATION})"
    )
    if carries_mp2020:
        text += (
            f", already in the {engine} energies (trained on MP2020-corrected "
            "MPtrj energies), so 0 eV is added"
        )
    else:
        text += (
            f", applied to the removed O: {correction_eV:+.3f} eV added to E_f(V_O) "
            f"(valid for {engine} energies with MP-compatible settings)"
        )
    if engine_o2_energy_eV is not None:
        own = _checked_energy(engine_o2_energy_eV, "engine O2 energy") / 2
        text += f"; the {engine} O2 molecule, not used, gives E(O2)/2 = {own:.4f} eV"
    return OxygenReference(
        method="MP2020 fitted",
        mu_o_eV=mu_o_eV,
        correction_eV_per_O=correction_eV,
        description=text + ".",
    )


def _engine_o2_reference(
    engine_o2_energy_eV: float | None, engine: str, carries_mp2020: bool
) -> OxygenReference:
    if engine_o2_energy_eV is None:
        raise OredoxInputError(
            "the 'engine O2' oxygen reference needs the engine's O2 energy; relax an "
            "O2 molecule with the engine or use 'MP2020 fitted'"
        )
    mu_o_eV = _checked_energy(engine_o2_energy_eV, "engine O2 energy") / 2
    text = (
        f"engine O2: mu_O = E(O2)/2 = {mu_o_eV:.4f} eV per O from the {engine} O2 "
        "molecule (triplet, in a box, 0 K, no ZPE), no correction added"
    )
    if carries_mp2020:
        oxide_eV = mp2020_oxide_correction_eV_per_O()
        text += (
            f"; the {engine} host and vacancy energies carry MP2020's oxide correction "
            f"({-oxide_eV:+.3f} eV per removed O) but its O2 molecule lies outside its "
            "training data (MPtrj holds O2 only as molecular solids): prefer "
            "'MP2020 fitted'"
        )
    else:
        text += (
            "; GGA overbinds O2 (about 1 eV per O2 in PBE) and errs on oxides too "
            "(MP2020 fits both together as 0.687 eV per O), so E_f(V_O) is too low "
            "by about that ('MP2020 fitted' corrects it for MP-compatible energies)"
        )
    return OxygenReference(
        method="engine O2",
        mu_o_eV=mu_o_eV,
        correction_eV_per_O=0.0,
        description=text + ".",
    )


def formation_energy_vs_mu(
    e_defect_eV: float,
    e_host_eV: float,
    reference: OxygenReference,
    temperature_K: float | np.ndarray | None = None,
    pressure_bar: float = 1.0,
) -> float | np.ndarray:
    """E_f(V_O) in eV: ``E(defect) - E(host) + mu_O + correction``.

    At the O-rich limit (``temperature_K`` None, ``mu_O = reference.mu_o_eV``) or at
    ``mu_O = mu_O,rich + Delta mu_O(T, p)`` (:func:`delta_mu_o`).

    Parameters
    ----------
    e_defect_eV, e_host_eV
        Total energies (eV) of the cell with one O removed and of the host cell,
        from the same energy scheme as ``reference``.
    reference
        The O-rich limit and its correction (:func:`oxygen_reference`).
    temperature_K
        Temperature(s) in K, or None for the O-rich limit (0 K; the pressure then
        has no effect).
    pressure_bar
        O2 partial pressure in bar.
    """
    e_defect = _checked_energy(e_defect_eV, "E(defect)")
    e_host = _checked_energy(e_host_eV, "E(host)")
    rich_eV = e_defect - e_host + reference.mu_o_eV + reference.correction_eV_per_O
    if temperature_K is None:
        checked_pressure_bar(pressure_bar)
        return rich_eV
    return rich_eV + delta_mu_o(temperature_K, pressure_bar)


def release_mu_o_threshold(e_f_rich_eV: float) -> float:
    """Delta mu_O (eV per O) at which E_f(V_O) = 0: ``-E_f`` at the O-rich limit.

    Below it (more O-poor), O2 release ``host -> defect + 1/2 O2`` is favourable.
    """
    return -_checked_energy(e_f_rich_eV, "E_f(V_O) at the O-rich limit")


def release_temperature(e_f_rich_eV: float, pressure_bar: float = 1.0) -> float | None:
    """Temperature (K) above which E_f(V_O) < 0 at O2 pressure ``pressure_bar``.

    Solves ``E_f,rich + Delta mu_O(T, p) = 0`` (the lowest such T, to 1e-6 K).

    Returns
    -------
    float or None
        0.0 if E_f <= 0 already at the O-rich limit; None if E_f stays positive up
        to 3000 K, the top of the O2 table (release is not favourable below it).
    """
    from scipy.optimize import brentq

    e_f = _checked_energy(e_f_rich_eV, "E_f(V_O) at the O-rich limit")
    pressure = checked_pressure_bar(pressure_bar)
    if e_f <= 0:
        return 0.0
    grid_K = np.linspace(0.0, O2_TABLE_MAX_K, int(O2_TABLE_MAX_K) + 1)
    below = np.nonzero(e_f + delta_mu_o(grid_K, pressure) <= 0)[0]
    if below.size == 0:
        return None
    high_K = float(grid_K[below[0]])
    low_K = float(grid_K[below[0] - 1])
    return float(
        brentq(lambda t: e_f + delta_mu_o(t, pressure), low_K, high_K, xtol=1e-6)
    )


def grand_potential_stability(entries, mu_o_eV: float) -> list[tuple[str, float]]:
    """Each entry's height above the hull open to O at ``mu_O``, eV per non-O atom.

    pymatgen's ``GrandPotentialPhaseDiagram`` with O as the open element: a phase's
    grand potential is ``E - n_O mu_O``, normalised per non-O atom. A height of 0
    means the phase is stable against O2 uptake or release at that ``mu_O``.

    Parameters
    ----------
    entries
        pymatgen ``PDEntry``/``ComputedEntry`` objects, all in one energy scheme (the
        user's reference entries, e.g. MP-compatible Li2O, MnO2, Mn2O3, plus the
        computed hosts and vacancy cells), covering every non-O element.
    mu_o_eV
        Absolute mu_O in eV per O atom, in the entries' scheme
        (``reference.mu_o_eV + Delta mu_O``).

    Returns
    -------
    list of (str, float)
        ``(entry name or entry_id, e_above_hull)`` in the order of ``entries``;
        pure-O entries are left out (their element is the open one).
    """
    from pymatgen.analysis.phase_diagram import GrandPotentialPhaseDiagram
    from pymatgen.core import Element

    mu_o = _checked_energy(mu_o_eV, "mu_O")
    kept = [e for e in entries if set(e.composition.elements) != {Element("O")}]
    if not kept:
        raise OredoxInputError("give at least one entry with an element other than O")
    try:
        diagram = GrandPotentialPhaseDiagram(kept, {Element("O"): mu_o})
    except ValueError as exc:
        raise OredoxInputError(
            f"the reference entries do not make a phase diagram open to O ({exc}); "
            "give an entry for every element (its elemental phase or a binary oxide)"
        ) from None
    heights = {
        id(g.original_entry): diagram.get_e_above_hull(g) for g in diagram.all_entries
    }
    return [
        (getattr(e, "entry_id", None) or e.name, float(heights[id(e)])) for e in kept
    ]
