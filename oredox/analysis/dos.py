"""O 2p density of states by oxygen environment: the non-bonding states of O redox.

From a pymatgen ``CompleteDos`` (any engine's, with site projections) and the O
environments (:mod:`oredox.analysis.environments`), the O 2p PDOS is summed per
environment class (the number of ionic A-O-A' axes, 0 to 3) and reduced to numbers:

- the reference energy: the valence-band maximum of a gapped cell (gap above
  ``gap_tol_eV``), the Fermi level otherwise;
- occupied O 2p weight (electrons per O, both spins) in windows below the reference,
  default 0-1, 1-2 and 2-4 eV: the states just below E_F are what is emptied first;
- empty O 2p weight (states per O) from the reference up to ``empty_window_eV`` above
  it: the O holes after delithiation;
- the O 2p band centre of the occupied states (first moment from ``band_bottom_eV``
  to the reference), eV relative to the reference.

The O 2p weight along the non-bonding axes needs phase-resolved projections; it is
computed in :mod:`oredox.analysis.projections`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from pymatgen.electronic_structure.core import OrbitalType, Spin
from pymatgen.electronic_structure.dos import CompleteDos

from oredox.analysis.environments import OxygenEnvironment

DEFAULT_WINDOWS_EV = ((-1.0, 0.0), (-2.0, -1.0), (-4.0, -2.0))


@dataclass
class O2pClassSummary:
    """O 2p numbers of one environment class (per O, averaged over the class)."""

    environment_class: str
    n_oxygen: int
    occupied_e_per_O: dict[str, float]
    empty_states_per_O: float
    band_centre_eV: float


@dataclass
class O2pSummary:
    """O 2p analysis of one DOS."""

    reference: str
    reference_energy_eV: float
    efermi_eV: float
    band_gap_eV: float
    classes: list[O2pClassSummary]
    all_oxygen: O2pClassSummary

    def as_dict(self) -> dict:
        """Plain data for a document."""
        return asdict(self)


def reference_energy(
    dos: CompleteDos, gap_tol_eV: float = 0.1, dos_tol: float = 0.01
) -> tuple[float, str, float]:
    """(energy, "VBM" or "E_F", gap): VBM of a gapped cell, else the Fermi level.

    Band edges are where the total DOS rises above ``dos_tol`` states/eV (smeared
    DOS tails would otherwise close every gap).
    """
    cbm, vbm = dos.get_cbm_vbm(tol=dos_tol)
    gap = max(cbm - vbm, 0.0)
    if gap > gap_tol_eV:
        return float(vbm), "VBM", float(gap)
    return float(dos.efermi), "E_F", 0.0


def o2p_densities(
    dos: CompleteDos, sites: Sequence[int], spin: Spin | None = None
) -> np.ndarray:
    """Summed O 2p density of ``sites`` (states/eV), on ``dos.energies``.

    Both spins with ``spin`` None, else that spin alone (zero where a spin-paired
    DOS has no ``Spin.down``).
    """
    total = np.zeros_like(dos.energies, dtype=float)
    spins = (Spin.up, Spin.down) if spin is None else (spin,)
    for index in sites:
        projected = dos.get_site_spd_dos(dos.structure[index]).get(OrbitalType.p)
        if projected is None:
            raise ValueError(f"the DOS has no p projection on site {index}")
        for one in spins:
            if one in projected.densities:
                total += projected.densities[one]
    return total


def is_spin_polarised(dos: CompleteDos) -> bool:
    """Whether the DOS has a spin-down channel (a spin-polarised calculation)."""
    return Spin.down in dos.densities


def integrate(
    energies: np.ndarray, density: np.ndarray, low: float, high: float
) -> float:
    """Integral of ``density`` over ``[low, high]`` (trapezoid, grid clipped)."""
    mask = (energies >= low) & (energies <= high)
    if mask.sum() < 2:
        return 0.0
    return float(np.trapezoid(density[mask], energies[mask]))


def sites_by_class(environments: list[OxygenEnvironment]) -> dict[str, list[int]]:
    """O site indices per environment class, classes sorted."""
    groups: dict[str, list[int]] = {}
    for env in environments:
        groups.setdefault(env.environment_class, []).append(env.index)
    return dict(sorted(groups.items()))


def o2p_summary(
    dos: CompleteDos,
    environments: list[OxygenEnvironment],
    windows_eV: Sequence[tuple[float, float]] = DEFAULT_WINDOWS_EV,
    empty_window_eV: float = 2.0,
    band_bottom_eV: float = -10.0,
    gap_tol_eV: float = 0.1,
) -> O2pSummary:
    """O 2p weight by environment class, relative to the VBM (gapped) or E_F.

    Parameters
    ----------
    dos
        Site-projected DOS (``CompleteDos``); energies in eV.
    environments
        From :func:`~oredox.analysis.environments.oxygen_environments` on
        ``dos.structure`` (same site order).
    windows_eV
        Windows below the reference, eV relative to it.
    empty_window_eV
        Empty states counted from the reference up to this, eV.
    band_bottom_eV
        Lower end of the band-centre integral, eV relative to the reference.
    gap_tol_eV
        A gap above this makes the VBM the reference.
    """
    e_ref, label, gap = reference_energy(dos, gap_tol_eV)
    energies = dos.energies - e_ref
    groups = sites_by_class(environments)

    def summarise(name: str, sites: list[int]) -> O2pClassSummary:
        density = o2p_densities(dos, sites) / len(sites)
        occupied = {
            f"{low:g} to {high:g} eV": integrate(energies, density, low, high)
            for low, high in windows_eV
        }
        empty = integrate(energies, density, 0.0, empty_window_eV)
        below = (energies >= band_bottom_eV) & (energies <= 0.0)
        weight = np.trapezoid(density[below], energies[below])
        centre = (
            float(
                np.trapezoid(density[below] * energies[below], energies[below]) / weight
            )
            if weight > 0
            else float("nan")
        )
        return O2pClassSummary(name, len(sites), occupied, empty, centre)

    classes = [summarise(name, sites) for name, sites in groups.items()]
    everyone = summarise("all O", [env.index for env in environments])
    return O2pSummary(label, e_ref, float(dos.efermi), gap, classes, everyone)


def o2p_class_dos(
    dos: CompleteDos, environments: list[OxygenEnvironment], spin: Spin | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Energies relative to the reference and the O 2p DOS per class (per O).

    Both spins summed with ``spin`` None, else that spin alone.
    """
    e_ref, _, _ = reference_energy(dos)
    curves = {
        name: o2p_densities(dos, sites, spin) / len(sites)
        for name, sites in sites_by_class(environments).items()
    }
    return dos.energies - e_ref, curves


def o2p_dos_record(
    dos: CompleteDos,
    environments: list[OxygenEnvironment],
    window_eV: tuple[float, float] = (-10.0, 5.0),
) -> dict:
    """The O 2p DOS per class as plain data for a document (and its figure).

    Parameters
    ----------
    dos
        Site-projected DOS.
    environments
        O environments of ``dos.structure``.
    window_eV
        Energies kept, eV relative to the reference (VBM or E_F).

    Returns
    -------
    dict
        ``energies_eV``; ``per_class``: states / eV / O, both spins summed, per
        environment class; ``spin_polarised``; when it is, also ``per_class_up``
        and ``per_class_down`` (each spin alone, both positive).
    """
    energies, curves = o2p_class_dos(dos, environments)
    keep = (energies >= window_eV[0]) & (energies <= window_eV[1])

    def plain(by_class: dict[str, np.ndarray]) -> dict[str, list[float]]:
        return {k: v[keep].round(5).tolist() for k, v in by_class.items()}

    record = {
        "energies_eV": energies[keep].round(4).tolist(),
        "per_class": plain(curves),
        "spin_polarised": is_spin_polarised(dos),
    }
    if record["spin_polarised"]:
        for name, spin in (("up", Spin.up), ("down", Spin.down)):
            record[f"per_class_{name}"] = plain(
                o2p_class_dos(dos, environments, spin)[1]
            )
    return record
