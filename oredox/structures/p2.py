"""P2 layered hosts A_x M O2 (P6_3/mmc) at the alkali content asked, e.g. Na2/3MnO2.

In P2 the metal layers sit directly above each other and the alkali ions occupy
trigonal prisms between them. Per metal there are two prisms: Na_f (Wyckoff 2b)
shares faces with the MO6 octahedra above and below (A-M distance c/4, 2.78 A in
P2-NaMnO2), Na_e (2d) shares only edges with them (A-M 3.23 A). A real P2 phase
fills a third to a half of the prisms, mostly Na_e, with in-plane A-A repulsion
pushing some A onto Na_f as x grows.

- :func:`p2_host`: a charge-balanced A_x M O2 host, the occupied prisms and metal
  charges chosen by point-charge electrostatics;
- :func:`p2_cell_size`, :func:`metal_states`: the cell and the oxidation states
  that an alkali content needs.

The framework with every prism occupied is
:func:`oredox.structures.frameworks.p2_layered`.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from itertools import combinations
from math import floor

import numpy as np
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Element, Species, Structure

from oredox.errors import OredoxInputError
from oredox.structures.ewald import unit_charge_ewald
from oredox.structures.frameworks import _split_amo2, p2_layered
from oredox.structures.layer_orderings import fill_alkali_sites

MAX_IN_PLANE = 5  # largest in-plane supercell tried for an alkali content (20 prisms)
ALKALI_TOLERANCE = 0.01  # how far a cell's A per M may be from the content asked
MAX_CHARGE_ORDERS = 20_000  # M3+/M4+ arrangements scored per candidate cell


def p2_host(
    formula: str = "NaMnO2",
    alkali: float = 2 / 3,
    a: float = 2.87,
    c: float = 11.11,
    oxidation_states: Mapping[str, float] | None = None,
    oxygen_z: float = 0.09,
) -> Structure:
    """Charge-balanced P2 A_x M O2 with ``alkali`` = x A per M, e.g. Na2/3MnO2.

    How the cell and its occupied prisms are chosen:

    1. The smallest in-plane supercell of the two-metal P2 cell, N = 1 to
       ``MAX_IN_PLANE`` times, whose 2N metals take a whole number of A within
       ``ALKALI_TOLERANCE`` of x (x = 0.67: N = 3, Na4 Mn6 O12).
    2. The metal's mean oxidation state 4 - x (A+, O2-); if it is not whole the
       metals take the two neighbouring states (Na2/3MnO2: 4 Mn3+ + 2 Mn4+), both
       of which must be known states of M; else the composition is refused.
    3. For every in-plane superlattice of index N (Hermite normal forms), every
       symmetry-distinct arrangement of the A on the 4N prisms is scored by its
       point-charge Ewald energy with the metals at their mean charge
       (:func:`~oredox.structures.layer_orderings.fill_alkali_sites`): the
       face-sharing prisms (Na_f) pay the A-M repulsion across the shared face,
       A-A repulsion spreads the A out, so the lowest energy picks the physical
       Na_e/Na_f mix without a hand rule.
    4. With that arrangement, the M3+/M4+ (or other) states go on the metal sites
       of lowest Ewald energy; the superlattice with the lowest total Ewald energy
       of the final, neutral cell wins. The cell is Niggli reduced.

    Parameters
    ----------
    formula
        ``A M O2`` naming the alkali and the metal, e.g. ``"NaMnO2"``.
    alkali
        x, A per M, in (0, 1]: 2/3 (or 0.67) for Na2/3MnO2.
    a, c, oxygen_z
        The P2 cell (A) and O z, as in
        :func:`~oredox.structures.frameworks.p2_layered`.
    oxidation_states
        ``{M: state}`` to insist on one state of M; it must balance A_x M O2.

    Returns
    -------
    Structure
        Ordered and charge neutral, with oxidation states, ``sublattice`` and
        ``prism`` labels; ``properties["provenance"]`` records the superlattice, the
        Na_e/Na_f counts, the candidates scored, the Ewald energies (eV per cell)
        and the gap to the next distinct cell.

    Raises
    ------
    OredoxInputError
        If x is outside (0, 1], no cell up to ``MAX_IN_PLANE`` holds it, or the
        oxidation states cannot balance A_x M O2.
    """
    alkali_el, metal = _split_amo2(formula, "P2 layered")
    n_in_plane, n_alkali = p2_cell_size(alkali)
    n_metal = 2 * n_in_plane
    x = n_alkali / n_metal
    low, high, n_high = metal_states(alkali_el, metal, x, n_metal, oxidation_states)
    mean_state = (low * (n_metal - n_high) + high * n_high) / n_metal
    framework = p2_layered(formula, a, c, {metal: 3.0}, oxygen_z)

    candidates = []
    for superlattice in in_plane_superlattices(n_in_plane):
        matrix = [[*superlattice[0], 0], [*superlattice[1], 0], [0, 0, 1]]
        cell = framework.make_supercell(matrix, in_place=False)
        filled, record = fill_alkali_sites(cell, n_alkali, {metal: mean_state})
        ordered, charge_record = _order_charges(filled, metal, low, high, n_high)
        energy = EwaldSummation(ordered, compute_forces=False).total_energy
        candidates.append((energy, superlattice, ordered, record, charge_record))
    candidates.sort(key=lambda item: item[0])
    energy, superlattice, best, record, charge_record = candidates[0]

    prisms = [
        site.properties["prism"] for site in best if site.specie.symbol == alkali_el
    ]
    reduced = best.get_reduced_structure().get_sorted_structure(
        key=lambda site: site.specie.Z
    )
    state_text = (
        f"{metal}{low:g}+" if n_high == 0 else f"{metal}{low:g}+/{metal}{high:g}+"
    )
    reduced.properties = {
        "provenance": {
            "method": "P2 host",
            "formula": reduced.composition.reduced_formula,
            "alkali_per_metal": x,
            "alkali_requested": alkali,
            "metal_states": state_text,
            "in_plane_superlattice": [list(v) for v in superlattice],
            "prisms_occupied": {
                "edge": prisms.count("edge"),
                "face": prisms.count("face"),
            },
            "alkali_layer": record,
            "charge_order": charge_record,
            "ewald_eV": float(energy),
            # superlattices that give the same cell tie; the gap is to the next
            # distinct one
            "ewald_gap_to_next_cell_eV": next(
                (float(e - energy) for e, *_ in candidates if e - energy > 1e-6), None
            ),
            "rule": "lowest point-charge Ewald energy over in-plane superlattices, "
            "A arrangements (mean metal charge) and then metal charge orders",
            "cell": "Niggli-reduced",
        }
    }
    return reduced


def p2_cell_size(alkali: float) -> tuple[int, int]:
    """(N, number of A): the smallest N-fold P2 cell holding ``alkali`` A per M.

    The P2 cell has 2 metals, so N cells hold 2N; the number of A is the whole
    number nearest 2N x, accepted when within ``ALKALI_TOLERANCE`` per M.
    """
    if not (np.isfinite(alkali) and 0 < alkali <= 1):
        raise OredoxInputError(
            f"alkali content must be a number in (0, 1] per metal, e.g. 2/3, got "
            f"{alkali}"
        )
    for n_in_plane in range(1, MAX_IN_PLANE + 1):
        n_alkali = round(alkali * 2 * n_in_plane)
        error = abs(n_alkali / (2 * n_in_plane) - alkali)
        if n_alkali > 0 and error <= ALKALI_TOLERANCE:
            return n_in_plane, n_alkali
    contents = {
        Fraction(k, 2 * n)
        for n in range(1, MAX_IN_PLANE + 1)
        for k in range(1, 2 * n + 1)
    }
    nearest = sorted(contents, key=lambda f: abs(f - Fraction(alkali)))[:3]
    raise OredoxInputError(
        f"no P2 cell of up to {2 * MAX_IN_PLANE} metals holds {alkali:g} alkali per "
        f"metal within {ALKALI_TOLERANCE}; choose a nearby content such as "
        f"{', '.join(str(f) for f in nearest)}"
    )


def metal_states(
    alkali_el: str,
    metal: str,
    x: float,
    n_metal: int,
    oxidation_states: Mapping[str, float] | None = None,
) -> tuple[float, float, int]:
    """Oxidation states of M in A_x M O2: (lower, higher, how many metals higher).

    The metals share 4 - x (A+, O2-) per M: one state when that is whole, else
    the two whole states around it. A state given in ``oxidation_states`` must
    balance on its own.

    Raises
    ------
    OredoxInputError
        If the given states do not balance, or M has no such states.
    """
    given = dict(oxidation_states or {})
    if set(given) - {metal}:
        raise OredoxInputError(
            f"a P2 host takes the oxidation state of {metal} only ({alkali_el} is "
            f"+1, O -2), got {sorted(given)}"
        )
    total = (4 - x) * n_metal  # charge on the metals: A+ x, O2- 2 per metal
    formula = f"{alkali_el}{x:.4g}{metal}O2"
    if metal in given:
        state = float(given[metal])
        if not np.isclose(state * n_metal, total, atol=1e-3):
            raise OredoxInputError(
                f"composition {formula} is not charge balanced with {metal}"
                f"{state:g}+ (net charge {state - total / n_metal:+.3g} per formula "
                f"unit); {metal} must average {total / n_metal:.3g}+: give "
                f"another alkali content or leave the {metal} state out"
            )
        return state, state, 0
    low = floor(total / n_metal + 1e-9)
    n_high = round(total - low * n_metal)
    needed = {low} if n_high == 0 else {low, low + 1}
    known = set(Element(metal).oxidation_states)
    if not needed <= known:
        mix = "/".join(f"{metal}{q}+" for q in sorted(needed))
        raise OredoxInputError(
            f"composition {formula} is not charge balanced: {metal} would average "
            f"{total / n_metal:.3g}+ ({mix}), but {metal} takes only "
            f"{sorted(known)}; choose another metal or "
            f"alkali content"
        )
    return float(low), float(low + 1), n_high


def in_plane_superlattices(n: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """In-plane superlattices of index n: rows (a, 0), (b, d), a d = n, 0 <= b < a."""
    return [
        ((a, 0), (b, n // a)) for a in range(1, n + 1) if n % a == 0 for b in range(a)
    ]


def _order_charges(
    structure: Structure, metal: str, low: float, high: float, n_high: int
) -> tuple[Structure, dict]:
    """Put ``n_high`` metals at ``high`` and the rest at ``low``: lowest Ewald energy.

    Every choice of the high-valent sites is scored (E = q^T J q, J the unit-charge
    Ewald matrix); ties go to the first in site order.
    """
    sites = [i for i, site in enumerate(structure) if site.specie.symbol == metal]
    charges = np.array([float(site.specie.oxi_state) for site in structure])
    charges[sites] = low
    choices = list(combinations(range(len(sites)), n_high))
    if len(choices) > MAX_CHARGE_ORDERS:
        raise OredoxInputError(
            f"{len(choices):,} charge orders of {metal} are too many to score; "
            f"choose an alkali content with a smaller cell"
        )
    j = unit_charge_ewald(structure)
    q = np.tile(charges, (len(choices), 1))
    for row, choice in enumerate(choices):
        q[row, [sites[k] for k in choice]] = high
    energies = np.einsum("ni,ij,nj->n", q, j, q)
    order = np.argsort(energies, kind="stable")
    best = q[order[0]]
    ordered = structure.copy()
    for i in sites:
        ordered.replace(i, Species(metal, best[i]), properties=structure[i].properties)
    record = {
        "n_candidates": len(choices),
        "ewald_eV": float(energies[order[0]]),
        "ewald_gap_eV": float(energies[order[1]] - energies[order[0]])
        if len(choices) > 1
        else None,
    }
    return ordered, record
