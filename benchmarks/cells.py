"""Cells several benchmarks share, built the same way in each."""

from __future__ import annotations

from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.structures.frameworks import rock_salt

# rock-salt Li1.17Ti0.58Ni0.25O2 (LTNO), the DRX Monte Carlo settings of the benchmarks
CONC = {"Li": 7 / 12, "Ti": 7 / 24, "Ni": 1 / 8}
DIELECTRIC = 10.0
TEMPERATURE = 1500.0


def ltno_primitive() -> Structure:
    """The primitive disordered LTNO rock-salt cell (one cation, one anion site)."""
    disordered = rock_salt(CONC, a=4.15)
    prim = SpacegroupAnalyzer(
        rock_salt({"Ni": 1.0}, a=4.15)
    ).get_primitive_standard_structure()
    cation = next(s for s in disordered if not s.is_ordered).species
    anion = next(s for s in disordered if s.is_ordered).species
    return Structure(
        prim.lattice,
        [cation if s.specie.symbol == "Ni" else anion for s in prim],
        prim.frac_coords,
    )
