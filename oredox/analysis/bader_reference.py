"""Which density Bader basins come from, and when valence-only charges are refused.

Bader net charges need basins with one maximum per nucleus. VASP writes the
all-electron reference as ``AECCAR0 + AECCAR2`` (core and valence, ``LAECHG =
.TRUE.``); GPAW's all-electron density holds the cores itself. Without either, the
valence density (CHGCAR) is partitioned on its own, and an atom whose POTCAR holds
only its outer shell has no maximum of its own there. Measured on recorded VASP
runs (weight method, :mod:`oredox.analysis.bader`):

- Li2O, PAW_PBE Li (ZVAL 1) and O, CHGCAR alone: Li 0.00 e in 0.00 A^3 (no basin),
  O 8.00 e; the "charges" Li +1, O -2 are the formal ones by construction.
- YPO4, Y_sv (ZVAL 11, 4s4p semicore), P (ZVAL 5) and O, AECCAR2 partitioned on
  itself vs on AECCAR0 + AECCAR2: Y +0.881 vs +0.878 e (basin 12.32 vs 12.35 A^3),
  a semicore shell keeps its basin; P +4.77 vs +3.50 e (0.17 vs 3.44 A^3), an outer
  shell alone collapses onto the neighbours, and O takes it (-1.77 vs -1.46 e).

Hence the rule of :meth:`oredox.analysis.bader.BaderResult.charges_refused`:
valence-only net charges are kept (flagged, and never used for a redox verdict)
only while every atom keeps a basin of at least :data:`COLLAPSED_BASIN_A3`; one
collapsed basin (Li, Na or P without semicore states) corrupts its neighbours'
charges too, so the whole cell's charges are refused. Populations and volumes stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pymatgen.core import Structure

AECCAR = "all-electron AECCAR0+AECCAR2"
ALL_ELECTRON = "all-electron density with cores"
VALENCE_ONLY = "valence density only"
REFERENCES = (AECCAR, ALL_ELECTRON, VALENCE_ONLY)
LEGACY_VALENCE_ONLY = "CHGCAR"  # how valence-only results were labelled before
# a basin smaller than this (A^3) has collapsed: Li 0.00 and P 0.17 A^3 valence-only,
# vs 3.44 A^3 for P and >= 12 A^3 for Y_sv and O with the all-electron reference
COLLAPSED_BASIN_A3 = 1.0
VALENCE_ONLY_REASON = (
    "Bader basins of the valence density alone (no all-electron reference; VASP: "
    "LAECHG = .TRUE. writes AECCAR0/AECCAR2): an atom without semicore states in "
    "its POTCAR (Li, Na, P) loses its basin to its neighbours, so these are not "
    "net charges"
)


def collapsed_reason(structure: Structure, collapsed: list[int]) -> str:
    """The refusal of valence-only charges for the atoms ``collapsed``."""
    atoms = ", ".join(f"{structure[i].specie.symbol}{i}" for i in collapsed)
    return (
        f"valence-only Bader charges refused: the basins of {atoms} collapsed "
        f"(< {COLLAPSED_BASIN_A3:g} A^3, no semicore states in the valence), so "
        f"their electrons are counted on the neighbours"
    )


def stored_flags(bader: Mapping) -> tuple[str | None, str | None]:
    """(why valence-only, why the charges are refused) of a stored Bader dict.

    Each is None when it does not apply. Results stored before these flags were
    recorded carry ``reference: "CHGCAR"`` when valence-only; their refusal is
    decided from their volumes by the same rule as :meth:`BaderResult.charges_refused`.
    A dict without a reference (built by hand) counts as all-electron.
    """
    if "valence_only" in bader:
        if not bader["valence_only"]:
            return None, None
        return bader.get("valence_only_reason") or VALENCE_ONLY_REASON, bader.get(
            "charges_refused"
        )
    if bader.get("reference") != LEGACY_VALENCE_ONLY:
        return None, None
    volumes = np.asarray(bader.get("volumes_A3") or [], float)
    collapsed = np.flatnonzero(volumes < COLLAPSED_BASIN_A3).tolist()
    refused = None
    if collapsed:
        refused = (
            f"valence-only Bader charges refused: {len(collapsed)} basin(s) collapsed "
            f"(< {COLLAPSED_BASIN_A3:g} A^3)"
        )
    return VALENCE_ONLY_REASON, refused
