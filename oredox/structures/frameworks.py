"""Parent frameworks: O3 and P2 layered A M O2, rock salt.

P2 hosts at a chosen alkali content (Na2/3MnO2) are built from :func:`p2_layered`
by :func:`oredox.structures.p2.p2_host`. :func:`make_supercell` (from
:mod:`oredox.structures.supercells`) is importable from here too.

Every structure returned here carries oxidation states and a ``sublattice`` site
property (``"alkali"``, ``"metal"`` or ``"anion"``) that later steps use to find the
sites they may change.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product

import numpy as np
from pymatgen.core import Composition, Element, Lattice, Species, Structure

from oredox.errors import OredoxInputError

# re-exported: callers import the supercell helpers from here
from oredox.structures.supercells import (  # noqa: F401
    MAX_ATOMS,
    default_max_atoms,
    make_supercell,
)

MAX_LATTICE_A = 1000.0
ALKALI_ELEMENTS = ("Li", "Na", "K")
ANION_STATES = {"O": -2, "F": -1, "S": -2}

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
# Rhombohedral (obverse) primitive vectors of R-3m in hexagonal fractions.
O3_PRIMITIVE_IN_HEX = (
    (2 / 3, 1 / 3, 1 / 3),
    (-1 / 3, 1 / 3, 1 / 3),
    (-1 / 3, -2 / 3, 1 / 3),
)


def o3_layered(
    formula: str = "LiCoO2",
    a: float | None = None,
    c: float | None = None,
    oxidation_states: Mapping[str, float] | None = None,
    cell: str = "conventional",
) -> Structure:
    """O3 layered A M O2 (alpha-NaFeO2 type, R-3m).

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
    cell
        ``"conventional"``: the hexagonal cell, 3 formula units (A3 M3 O6).
        ``"primitive"``: the rhombohedral cell, 1 formula unit, with lattice vectors
        p1, p2, p3 = (2/3, 1/3, 1/3), (-1/3, 1/3, 1/3), (-1/3, -2/3, 1/3) in hexagonal
        fractions, so that a1 = p1 - p2, a2 = p2 - p3 span the metal layer and
        p1 + p2 + p3 = c (see :mod:`oredox.structures.superstructures`).

    Returns
    -------
    Structure
        With oxidation states and ``sublattice`` labels, sorted by element.

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
    hexagonal = _hexagonal_lattice(
        default_a if a is None else a, default_c if c is None else c
    )
    z = O3_OXYGEN_Z
    if cell == "conventional":
        structure = Structure.from_spacegroup(
            "R-3m", hexagonal, [alkali, metal, "O"], [[0, 0, 0.5], [0, 0, 0], [0, 0, z]]
        )
    elif cell == "primitive":
        to_hex = np.array(O3_PRIMITIVE_IN_HEX)
        structure = Structure(
            Lattice(to_hex @ hexagonal.matrix),
            [metal, alkali, "O", "O"],
            [[0, 0, 0], [0.5, 0.5, 0.5], [z, z, z], [-z, -z, -z]],
        )
    else:
        raise OredoxInputError(
            f"cell must be 'conventional' or 'primitive', not {cell!r}"
        )
    return _decorate(
        structure, states, {alkali: "alkali", metal: "metal", "O": "anion"}
    )


def p2_layered(
    formula: str = "NaMnO2",
    a: float = 2.87,
    c: float = 11.11,
    oxidation_states: Mapping[str, float] | None = None,
    oxygen_z: float = 0.09,
) -> Structure:
    """P2 layered framework (P6_3/mmc) with every prismatic alkali site occupied.

    The cell has two metal layers (M at 2a: z = 0, 1/2) and four prismatic alkali sites:
    two that share faces with the metal octahedra above and below (Na_f, Wyckoff 2b,
    ``prism="face"``) and two that share edges (Na_e, 2d, ``prism="edge"``). A real P2
    phase fills about a third of them (Na0.67MO2); choose which with
    :func:`oredox.structures.layer_orderings.fill_alkali_sites`.

    Parameters
    ----------
    formula
        ``A M O2`` of the fully occupied framework's metal layer and anion, e.g.
        ``"NaMnO2"``; only the alkali and metal identities are used here.
    a, c
        Hexagonal lattice parameters, A. Defaults: P2-Na0.6Li0.2Mn0.8O2
        (Zhou et al. 2025: c = 11.11 A).
    oxygen_z
        z of O at Wyckoff 4f (1/3, 2/3, z).

    Returns
    -------
    Structure
        A4 M2 O4 with ``sublattice`` labels, ``prism`` labels (``"face"``, ``"edge"``;
        ``""`` on other sites) and
        oxidation states of the A M O2 formula (the framework is over-full in A:
        reduce it before using charges).
    """
    alkali, metal = _split_amo2(formula, "P2 layered")
    states = resolve_oxidation_states(formula, oxidation_states)
    structure = Structure.from_spacegroup(
        "P6_3/mmc",
        _hexagonal_lattice(a, c),
        [metal, "O", alkali, alkali],
        [[0, 0, 0], [1 / 3, 2 / 3, oxygen_z], [0, 0, 0.25], [2 / 3, 1 / 3, 0.25]],
    )
    prism = []
    for site in structure:
        on_axis = np.allclose(site.frac_coords[:2] % 1, 0, atol=1e-6)
        # "" (not None, which pymatgen drops) on the non-alkali sites
        prism.append(
            "" if site.specie.symbol != alkali else ("face" if on_axis else "edge")
        )
    structure.add_site_property("prism", prism)
    return _decorate(
        structure, states, {alkali: "alkali", metal: "metal", "O": "anion"}
    )


def rock_salt(
    cations: Mapping[str, float] | str = "LiNiO2",
    anion: str = "O",
    a: float = 4.15,
    oxidation_states: Mapping[str, float] | None = None,
    cell: str = "conventional",
) -> Structure:
    """Rock-salt framework (Fm-3m): cubic cell (4 cation + 4 anion sites) or primitive.

    Parameters
    ----------
    cations
        Cation fractions on the one cation sublattice, e.g.
        ``{"Li": 7/6, "Ti": 7/12, "Ni": 1/4}`` for Li1.17Ti0.58Ni0.25O2 (per two O),
        or a formula ``"Li1.1667Ti0.5833Ni0.25O2"``. Fractions per anion must sum to 1.
    anion
        The anion on the other sublattice.
    a
        Cubic lattice parameter, A (LTNO: 4.14-4.16 A measured).
    oxidation_states
        For metals whose states charge balance alone cannot fix.
    cell
        ``"conventional"`` (cubic, a) or ``"primitive"`` (fcc, one cation and one
        anion; vectors a/2 (0,1,1), (1,0,1), (1,1,0)), the parent for supercells.

    Returns
    -------
    Structure
        Disordered: each cation site holds the fractional occupancies (pymatgen
        species dict) with oxidation states; ``sublattice`` labels ``"cation"`` and
        ``"anion"``. An ordering method (SQS, Monte Carlo) decides the arrangement.

    Raises
    ------
    OredoxInputError
        Fractions that do not fill the cation sublattice, or no charge balance.
    """
    if isinstance(cations, str):
        comp = Composition(cations)
        n_anion = comp[anion]
        if n_anion == 0:
            raise OredoxInputError(f"{cations} has no {anion}")
        fractions = {
            el.symbol: amt / n_anion for el, amt in comp.items() if el.symbol != anion
        }
    else:
        fractions = {str(el): float(v) for el, v in cations.items()}
    check_length(a, "a")
    unknown = [el for el in [*fractions, anion] if not Element.is_valid_symbol(el)]
    if unknown:
        raise OredoxInputError(f"not an element: {', '.join(unknown)}")
    outside = {el: v for el, v in fractions.items() if not 0 < v <= 1}
    if outside:
        raise OredoxInputError(
            f"cation fractions must lie in (0, 1] per {anion}, got {outside}"
        )
    total = sum(fractions.values())
    if not np.isclose(total, 1.0, atol=1e-3):
        raise OredoxInputError(
            f"cation fractions {fractions} sum to {total:.4f} per {anion}; on a "
            f"rock-salt "
            f"framework they must sum to 1 (one cation site per anion)"
        )
    formula = Composition({**fractions, anion: 1.0}).formula
    states = resolve_oxidation_states(formula, oxidation_states, anion=anion)
    occupancy = {
        Species(el, states[el]): frac / total for el, frac in fractions.items()
    }
    species = [occupancy, Species(anion, states[anion])]
    if cell == "conventional":
        structure = Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(a), species, [[0, 0, 0], [0.5, 0.5, 0.5]]
        )
    elif cell == "primitive":
        fcc = Lattice(np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]) * a / 2)
        structure = Structure(fcc, species, [[0, 0, 0], [0.5, 0.5, 0.5]])
    else:
        raise OredoxInputError(
            f"cell must be 'conventional' or 'primitive', not {cell!r}"
        )
    structure.add_site_property(
        "sublattice",
        [
            "anion" if site.is_ordered and site.specie.symbol == anion else "cation"
            for site in structure
        ],
    )
    return structure


def check_length(value: float, name: str) -> float:
    """A lattice parameter (A): finite, positive and below 1000 A, or an error."""
    if not (np.isfinite(value) and 0 < value < MAX_LATTICE_A):
        raise OredoxInputError(
            f"lattice parameter {name} must be a positive length below "
            f"{MAX_LATTICE_A:g} A, got {value}"
        )
    return float(value)


def _hexagonal_lattice(a: float, c: float) -> Lattice:
    return Lattice.hexagonal(check_length(a, "a"), check_length(c, "c"))


def _decorate(
    structure: Structure, states: Mapping[str, float], labels: Mapping[str, str]
) -> Structure:
    """Add oxidation states and sublattice labels; sort by atomic number."""
    structure.add_oxidation_state_by_element(dict(states))
    structure.add_site_property(
        "sublattice", [labels[site.specie.symbol] for site in structure]
    )
    return structure.get_sorted_structure(key=lambda site: site.specie.Z)


def resolve_oxidation_states(
    formula: str,
    oxidation_states: Mapping[str, float] | None = None,
    anion: str = "O",
) -> dict[str, float]:
    """Oxidation states that make ``formula`` charge neutral.

    The alkali is +1 and the anion takes its usual state (O -2) unless given. The other
    elements take the one combination of their common oxidation states (pymatgen's
    ``common_oxidation_states``) that balances the charge, e.g. Co3+ in LiCoO2 and
    Ti4+ / Ni2+ in Li1.17Ti0.58Ni0.25O2; if the common states give none, all known
    states are tried.

    Raises
    ------
    OredoxInputError
        If no combination balances the charge, or several do (then give them).
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
        elif el.symbol == anion:
            states[el.symbol] = float(ANION_STATES[anion])
        else:
            free.append(el)
    fixed = sum(
        states[el.symbol] * amt for el, amt in comp.items() if el.symbol in states
    )
    described = " ".join(f"{sym}{_fmt_charge(q)}" for sym, q in states.items())
    if not free:
        if not np.isclose(fixed, 0.0, atol=1e-3):
            raise OredoxInputError(
                f"composition {comp.reduced_formula} is not charge balanced with "
                f"{described} (net charge {fixed:+g} per formula unit); give oxidation "
                f"states that balance or a balanced formula"
            )
        return states
    for candidates in (
        [el.common_oxidation_states for el in free],
        [el.oxidation_states for el in free],
    ):
        solutions = [
            combo
            for combo in product(*candidates)
            if np.isclose(
                fixed + sum(q * comp[el] for q, el in zip(combo, free, strict=True)),
                0.0,
                atol=1e-3,
            )
        ]
        if len(solutions) == 1:
            states.update(
                {el.symbol: float(q) for el, q in zip(free, solutions[0], strict=True)}
            )
            return states
        if len(solutions) > 1:
            options = "; ".join(
                ", ".join(
                    f"{el.symbol}{_fmt_charge(q)}"
                    for el, q in zip(free, combo, strict=True)
                )
                for combo in solutions[:4]
            )
            raise OredoxInputError(
                f"several oxidation states balance {comp.reduced_formula} ({options}); "
                f"give them, e.g. oxidation_states={{'{free[0].symbol}': ...}}"
            )
    names = ", ".join(el.symbol for el in free)
    raise OredoxInputError(
        f"composition {comp.reduced_formula} is not charge balanced: with {described} "
        f"no oxidation states of {names} sum to zero; give oxidation states or a "
        f"balanced formula"
    )


def _split_amo2(formula: str, framework: str = "O3 layered") -> tuple[str, str]:
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
            f"{comp.reduced_formula} does not fit the {framework} framework A M O2 "
            f"(one alkali, one metal, two O per formula unit), e.g. LiCoO2 or NaNiO2"
        )
    return alkalis[0], others[0].symbol


def _fmt_charge(charge: float) -> str:
    magnitude = abs(charge)
    text = "" if np.isclose(magnitude, 1) else f"{magnitude:g}"
    return f"{text}{'+' if charge > 0 else '-'}"


def is_alkali(element: str | Element) -> bool:
    """True for the mobile ions oxidation-redox studies remove (Li, Na, K)."""
    return str(element) in ALKALI_ELEMENTS
