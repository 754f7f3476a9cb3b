"""Parent frameworks: O3 layered A M O2 (alpha-NaFeO2 type, R-3m).

Every structure returned here carries oxidation states and a ``sublattice`` site
property (``"alkali"``, ``"metal"`` or ``"anion"``) that later steps use to find the
sites they may change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pymatgen.core import Composition, Element, Lattice, Structure

from oredox.errors import OredoxInputError

ALKALI_ELEMENTS = ("Li", "Na", "K")

# Experimental hexagonal lattice parameters (a, c in A) of O3 hosts. They are starting
# points only: every workflow relaxes the cell.
O3_LATTICE_A_C: dict[tuple[str, str], tuple[float, float]] = {
    ("Li", "Co"): (2.816, 14.05),  # LiCoO2, Akimoto et al., J. Solid State Chem. 1998
    ("Li", "Ni"): (2.878, 14.19),  # LiNiO2
    ("Li", "Cr"): (2.900, 14.40),  # LiCrO2
    ("Li", "V"): (2.840, 14.70),  # LiVO2
    ("Na", "Co"): (2.889, 15.60),  # O3-NaCoO2
    ("Na", "Ni"): (2.960, 15.78),  # NaNiO2 (rhombohedral setting)
    ("Na", "Fe"): (3.025, 16.09),  # alpha-NaFeO2
}
# Oxygen z in the hexagonal setting (LiCoO2: 0.2604); the relax refines it.
O3_OXYGEN_Z = 0.2604


def o3_layered(
    formula: str = "LiCoO2",
    a: float | None = None,
    c: float | None = None,
    oxidation_states: Mapping[str, float] | None = None,
) -> Structure:
    """O3 layered A M O2 in the conventional hexagonal cell (3 formula units).

    Parameters
    ----------
    formula
        ``A M O2`` with one alkali A (Li, Na, K) and one metal M, e.g. ``"LiCoO2"``.
    a, c
        Hexagonal lattice parameters in A. Default: the experimental values of known
        hosts (``O3_LATTICE_A_C``), else a = 2.85 / 2.95 A and c = 14.2 / 15.8 A for
        Li / Na hosts.
    oxidation_states
        Oxidation state per element, e.g. ``{"Co": 3}``; elements not named get the
        usual ones (A +1, O -2, M from charge balance).

    Returns
    -------
    Structure
        12 atoms (A3 M3 O6), R-3m, with oxidation states and ``sublattice`` labels.

    Raises
    ------
    OredoxInputError
        The formula has no alkali, does not fit A M O2, or is not charge balanced.
    """
    alkali, metal = _split_amo2(formula)
    states = resolve_oxidation_states(formula, oxidation_states)
    default_a, default_c = O3_LATTICE_A_C.get(
        (alkali, metal), (2.85, 14.2) if alkali == "Li" else (2.95, 15.8)
    )
    a = default_a if a is None else a
    c = default_c if c is None else c
    if a <= 0 or c <= 0:
        raise OredoxInputError(f"lattice parameters must be positive, got a={a} c={c}")
    structure = Structure.from_spacegroup(
        "R-3m",
        Lattice.hexagonal(a, c),
        [alkali, metal, "O"],
        [[0, 0, 0.5], [0, 0, 0], [0, 0, O3_OXYGEN_Z]],
    )
    structure.add_oxidation_state_by_element(
        {el: states[el] for el in (alkali, metal, "O")}
    )
    labels = {alkali: "alkali", metal: "metal", "O": "anion"}
    structure.add_site_property(
        "sublattice", [labels[site.specie.symbol] for site in structure]
    )
    return structure.get_sorted_structure(key=lambda site: site.specie.Z)


def resolve_oxidation_states(
    formula: str, oxidation_states: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Oxidation states that make ``formula`` charge neutral.

    The alkali is +1 and O is -2 unless given; the remaining element takes the state
    that balances the charge, which must be one pymatgen knows for it (Co +3 in LiCoO2).

    Raises
    ------
    OredoxInputError
        If the given or inferred states do not sum to zero.
    """
    comp = Composition(formula)
    given = dict(oxidation_states or {})
    unknown = set(given) - {el.symbol for el in comp}
    if unknown:
        raise OredoxInputError(
            f"oxidation states given for {sorted(unknown)}, which are not in {formula}"
        )
    states: dict[str, float] = {}
    free = []
    for el in comp:
        if el.symbol in given:
            states[el.symbol] = float(given[el.symbol])
        elif el.symbol in ALKALI_ELEMENTS:
            states[el.symbol] = 1.0
        elif el.symbol == "O":
            states[el.symbol] = -2.0
        else:
            free.append(el)
    if len(free) > 1:
        raise OredoxInputError(
            f"give oxidation states for {[el.symbol for el in free]} in {formula}"
        )
    fixed_charge = sum(
        states[el.symbol] * amt for el, amt in comp.items() if el.symbol in states
    )
    if free:
        el = free[0]
        needed = -fixed_charge / comp[el]
        allowed = set(el.oxidation_states)
        if not np.isclose(needed, round(needed)) or round(needed) not in allowed:
            described = " ".join(f"{s}{_fmt_charge(q)}" for s, q in states.items())
            raise OredoxInputError(
                f"composition {comp.reduced_formula} is not charge balanced: with "
                f"{described}, {el.symbol} would have to be {needed:+g}, which is not "
                f"one of its oxidation states {sorted(allowed)}; give oxidation states "
                f"or a balanced formula"
            )
        states[el.symbol] = float(round(needed))
        return states
    total = fixed_charge
    if not np.isclose(total, 0.0):
        described = " ".join(f"{s}{_fmt_charge(q)}" for s, q in states.items())
        raise OredoxInputError(
            f"composition {comp.reduced_formula} is not charge balanced with "
            f"{described} (net charge {total:+g} per formula unit); give oxidation "
            f"states that balance or a balanced formula"
        )
    return states


def make_supercell(structure: Structure, scaling: Sequence) -> Structure:
    """A copy of ``structure`` repeated by ``scaling`` (3 integers or a 3x3 matrix).

    Raises
    ------
    OredoxInputError
        If the matrix is not integer, not 3x3, or does not have a positive determinant.
    """
    matrix = np.array(scaling, dtype=float)
    if matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3) or not np.allclose(matrix, np.round(matrix)):
        raise OredoxInputError(
            f"supercell must be 3 integers or a 3x3 integer matrix, got {scaling!r}"
        )
    det = round(np.linalg.det(matrix))
    if det < 1:
        raise OredoxInputError(
            f"supercell matrix {matrix.astype(int).tolist()} has determinant {det}; it "
            f"must be positive (e.g. 2 1 1)"
        )
    return structure.make_supercell(matrix.astype(int), in_place=False)


def _split_amo2(formula: str) -> tuple[str, str]:
    """The alkali and metal of an A M O2 formula, or a clear error."""
    try:
        comp = Composition(formula)
    except (ValueError, KeyError) as exc:
        raise OredoxInputError(f"cannot read formula {formula!r}: {exc}") from None
    unknown = [str(el) for el in comp if not isinstance(el, Element)]
    if unknown:
        raise OredoxInputError(
            f"cannot read formula {formula!r}: {', '.join(unknown)} is not an element"
        )
    alkalis = [el.symbol for el in comp if el.symbol in ALKALI_ELEMENTS]
    if not alkalis:
        raise OredoxInputError(
            f"host {comp.reduced_formula} has no Li, Na or K sites to remove: give a "
            f"lithiated (sodiated) host such as LiCoO2"
        )
    others = [el for el in comp if el.symbol not in (*ALKALI_ELEMENTS, "O")]
    fits = (
        len(alkalis) == 1
        and len(others) == 1
        and others[0].is_metal
        and np.isclose(comp["O"], 2 * comp[alkalis[0]])
        and np.isclose(comp[others[0]], comp[alkalis[0]])
    )
    if not fits:
        raise OredoxInputError(
            f"{comp.reduced_formula} does not fit the O3 layered framework A M O2 (one "
            f"alkali, one metal, two O per formula unit), e.g. LiCoO2 or NaNiO2"
        )
    return alkalis[0], others[0].symbol


def _fmt_charge(charge: float) -> str:
    magnitude = abs(charge)
    text = "" if np.isclose(magnitude, 1) else f"{magnitude:g}"
    return f"{text}{'+' if charge > 0 else '-'}"


def is_alkali(element: str | Element) -> bool:
    """True for the mobile ions oxidation-redox studies remove (Li, Na, K)."""
    return str(element) in ALKALI_ELEMENTS
