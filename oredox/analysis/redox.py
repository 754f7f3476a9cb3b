"""Redox attribution of one configuration: which ions were oxidised, and what O did.

Pure functions over a relaxed Structure with its site moments (the ``magmom`` site
property every engine's task document carries, or Bader moments) and, optionally,
Bader charges and the initial (unrelaxed) structure:

- TM oxidation states from moments: the nearest of the typical DFT+U moments of each
  state (:data:`TYPICAL_MOMENTS_MUB`; the seed studies' values for Ni and Mn, spin-only
  values reduced by covalency for the others); the distance to it is reported, so an
  ambiguous moment is visible rather than hidden;
- O holes: O with |moment| above ``hole_moment_muB`` (default 0.2 muB; an O hole in
  DFT+U carries 0.3-0.7 muB);
- short O-O distances, classified: O2-like (<= 1.26 A), superoxo (<= 1.38 A), peroxo
  (<= 1.60 A), short contact (below ``contact_A``, default 2.4 A; normal O-O edges of
  an octahedron are 2.5-2.9 A);
- Bader net charges per element, only from an all-electron reference: valence-only
  charges are left out with the reason (:mod:`oredox.analysis.bader_reference`);
- TM migration: with the initial structure, the framework check of
  :func:`oredox.analysis.framework.check_framework` (TM into the alkali layer or a
  tetrahedral site).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pymatgen.core import Structure

from oredox.analysis.bader_reference import VALENCE_ONLY, VALENCE_ONLY_REASON
from oredox.analysis.environments import is_transition_metal
from oredox.analysis.framework import check_framework

# |moment| (muB) typical of DFT+U for each oxidation state, high-spin 3d unless noted
TYPICAL_MOMENTS_MUB: dict[str, dict[int, float]] = {
    "Ti": {3: 0.9, 4: 0.0},
    "V": {3: 1.9, 4: 1.0, 5: 0.0},
    "Cr": {3: 2.9, 4: 2.0, 6: 0.0},
    "Mn": {2: 4.6, 3: 3.8, 4: 3.0, 5: 2.0},
    "Fe": {2: 3.7, 3: 4.2, 4: 3.5},
    "Co": {2: 2.7, 3: 0.0, 4: 1.0},  # Co3+ and Co4+ low spin
    "Ni": {2: 1.65, 3: 1.1, 4: 0.15},  # Ni3+ and Ni4+ low spin
    "Ru": {4: 1.4, 5: 2.3},  # 4d, low spin, strongly reduced by covalency
    "Mo": {4: 1.6, 5: 0.9, 6: 0.0},
}
O_O_CLASSES = ((1.26, "O2-like"), (1.38, "superoxo"), (1.60, "peroxo"))


@dataclass
class RedoxReport:
    """Redox attribution of one configuration."""

    tm_oxidation_states: dict[int, int | None] = field(default_factory=dict)
    tm_moment_mismatch_muB: dict[int, float] = field(default_factory=dict)
    tm_moments_muB: dict[int, float] = field(default_factory=dict)
    mean_oxidation_state: dict[str, float] = field(default_factory=dict)
    o_holes: dict[int, float] = field(default_factory=dict)
    o_hole_total_muB: float = 0.0
    o_o_pairs: list[dict] = field(default_factory=list)
    bader_charges: dict[str, float] = field(default_factory=dict)
    bader_excluded: str | None = None
    migrated_tm: list[int] = field(default_factory=list)
    migration: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain data for a document (int keys as strings)."""
        data = asdict(self)
        for key in (
            "tm_oxidation_states",
            "tm_moment_mismatch_muB",
            "tm_moments_muB",
            "o_holes",
        ):
            data[key] = {str(k): v for k, v in data[key].items()}
        return data


def oxidation_state_from_moment(element: str, moment_muB: float):
    """(oxidation state, |moment| - typical) for a TM, or (None, nan) if unknown."""
    table = TYPICAL_MOMENTS_MUB.get(element)
    if not table:
        return None, float("nan")
    state = min(table, key=lambda ox: abs(abs(moment_muB) - table[ox]))
    return state, float(abs(moment_muB) - table[state])


def o_o_pairs(structure: Structure, contact_A: float = 2.4) -> list[dict]:
    """O-O pairs shorter than ``contact_A``, each with its class."""
    oxygen = [i for i, site in enumerate(structure) if site.specie.symbol == "O"]
    if len(oxygen) < 2:
        return []
    sub = structure.copy()
    sub.remove_sites([i for i in range(len(structure)) if i not in set(oxygen)])
    centres, points, _, distances = sub.get_neighbor_list(contact_A)
    pairs = []
    for a, b, d in zip(centres, points, distances, strict=True):
        if a >= b:
            continue
        kind = next(
            (name for limit, name in O_O_CLASSES if d <= limit), "short contact"
        )
        pairs.append(
            {"sites": [oxygen[a], oxygen[b]], "distance_A": float(d), "class": kind}
        )
    return sorted(pairs, key=lambda p: p["distance_A"])


def redox_report(
    structure: Structure,
    moments_muB: list[float] | np.ndarray | None = None,
    charges: list[float] | np.ndarray | None = None,
    initial: Structure | None = None,
    hole_moment_muB: float = 0.2,
    contact_A: float = 2.4,
    charges_reference: str | None = None,
) -> RedoxReport:
    """Redox attribution of a relaxed configuration.

    Parameters
    ----------
    structure
        The relaxed structure.
    moments_muB
        Site moments in structure order; default the ``magmom`` site property.
    charges
        Bader net charges (e) in structure order, averaged per element.
    initial
        The structure before relaxation (same sites) for the migration check.
    hole_moment_muB
        O with a larger |moment| count as holes.
    contact_A
        O-O pairs shorter than this are reported.
    charges_reference
        The Bader reference of ``charges``
        (:data:`oredox.analysis.bader_reference.REFERENCES`; None: all-electron).
        Valence-only charges are not net charges: they are left out and
        ``bader_excluded`` says why, so the attribution rests on the moments.
    """
    if moments_muB is None:
        moments_muB = structure.site_properties.get("magmom")
    report = RedoxReport()
    symbols = [site.specie.symbol for site in structure]
    if moments_muB is not None:
        moments = np.array([float(np.sum(m)) for m in moments_muB])
        states: dict[str, list[int]] = {}
        for i, symbol in enumerate(symbols):
            if is_transition_metal(symbol):
                state, mismatch = oxidation_state_from_moment(symbol, moments[i])
                report.tm_oxidation_states[i] = state
                report.tm_moment_mismatch_muB[i] = mismatch
                report.tm_moments_muB[i] = float(moments[i])
                if state is not None:
                    states.setdefault(symbol, []).append(state)
            elif symbol == "O" and abs(moments[i]) >= hole_moment_muB:
                report.o_holes[i] = float(moments[i])
        report.mean_oxidation_state = {k: float(np.mean(v)) for k, v in states.items()}
        report.o_hole_total_muB = float(sum(abs(m) for m in report.o_holes.values()))
    if charges is not None and charges_reference == VALENCE_ONLY:
        report.bader_excluded = VALENCE_ONLY_REASON
    elif charges is not None:
        charges = np.asarray(charges, float)
        for symbol in dict.fromkeys(symbols):
            mask = np.array(symbols) == symbol
            report.bader_charges[symbol] = float(charges[mask].mean())
    report.o_o_pairs = o_o_pairs(structure, contact_A)
    if initial is not None:
        framework = check_framework(initial, structure)
        report.migrated_tm = sorted(
            set(framework.tetrahedral_metals) | set(framework.metals_in_alkali_layer)
        )
        report.migration = {
            "tetrahedral": list(framework.tetrahedral_metals),
            "in_alkali_layer": list(framework.metals_in_alkali_layer),
            "reasons": framework.reasons(),
        }
    return report
