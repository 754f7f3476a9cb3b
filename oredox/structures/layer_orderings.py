"""Orders of one layer found by enumeration and ranked by point-charge Ewald energy.

Both functions try every symmetry-distinct arrangement of a layer and rank them by the
Ewald energy of point charges; only differences at one composition mean anything.

- :func:`enumerate_layer_orderings`: all A/M orderings of the triangular metal net
  at one A fraction, in supercells up to N sites (every superlattice by its Hermite
  normal form; the same infinite pattern from different supercells merged), ranked by
  the energy of the charged layer and named by
  :func:`~oredox.structures.superstructures.classify` (:class:`RankedOrdering`);
- :func:`fill_alkali_sites`: the arrangement of ``n`` alkali on the alkali-layer sites
  of a cell with the lowest energy, e.g. to complete a P2 cell from
  :func:`~oredox.structures.superstructures.stack_p2`.

The orderings themselves (:class:`~oredox.structures.superstructures.LayerOrdering`),
their motifs and the 3D cells built from them are in
:mod:`~oredox.structures.superstructures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isclose

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Species, Structure

from oredox.errors import OredoxInputError
from oredox.structures.delithiation import alkali_symmetry, enumerate_configurations
from oredox.structures.ewald import EwaldQuadraticForm
from oredox.structures.frameworks import resolve_oxidation_states
from oredox.structures.superstructures import LayerOrdering, classify

MAX_ORDERING_SITES = 24


@dataclass(frozen=True)
class RankedOrdering:
    """An enumerated layer ordering with its point-charge energy and motif."""

    ordering: LayerOrdering
    motif: str
    ewald_eV_per_site: float


def enumerate_layer_orderings(
    a_fraction: float,
    max_sites: int = 12,
    a_charge: float = 1.0,
    m_charge: float | None = None,
    a_lattice: float = 2.85,
) -> list[RankedOrdering]:
    """All distinct A/M orderings of the net with A fraction ``a_fraction``.

    Every superlattice of up to ``max_sites`` sites (Hermite normal forms) is tried;
    arrangements within one are reduced by its symmetry, and arrangements from
    different superlattices that are the same infinite pattern are merged
    (StructureMatcher on the layers). Each is ranked by the Ewald energy of the
    charged layer (A and M point charges on the net, a = ``a_lattice`` A, 20 A of
    vacuum, neutralising background); only differences at one ratio mean anything.

    Parameters
    ----------
    a_fraction
        A per net site, e.g. 1/3 (honeycomb) or 1/5 (ribbon).
    max_sites
        Largest supercell, in net sites.
    a_charge, m_charge
        Point charges of A and M. Default M: the charge that balances
        A[A_x M_(1-x)]O2 with a full alkali layer, (3 - x q_A) / (1 - x), e.g. Mn4+
        in Li[Li1/3Mn2/3]O2; give it for other alkali contents (P2 Na0.6: 4).

    Returns
    -------
    list of RankedOrdering
        Lowest energy first.
    """
    if not 0 < a_fraction < 1:
        raise OredoxInputError(f"A fraction must be between 0 and 1, not {a_fraction}")
    if not 1 <= max_sites <= MAX_ORDERING_SITES:
        raise OredoxInputError(
            f"max_sites must be between 1 and {MAX_ORDERING_SITES} (the arrangements "
            f"grow combinatorially with the cell), got {max_sites}"
        )
    if m_charge is None:
        m_charge = (3 - a_charge * a_fraction) / (1 - a_fraction)
    found: list[tuple[LayerOrdering, Structure]] = []
    for n_sites in range(1, max_sites + 1):
        n_a = a_fraction * n_sites
        if not isclose(n_a, round(n_a), abs_tol=1e-6) or round(n_a) == 0:
            continue
        for superlattice in _hermite_normal_forms(n_sites):
            net = _net_structure(superlattice, a_lattice)
            sym = alkali_symmetry(net, "Mn")
            points = _net_points(net, a_lattice)
            for config in enumerate_configurations(sym, round(n_a)):
                a_sites = tuple(points[i] for i in config.vacancies)
                found.append((LayerOrdering(superlattice, a_sites, "enumerated"), None))
    if not found:
        raise OredoxInputError(
            f"no supercell of up to {max_sites} sites holds an A fraction of "
            f"{a_fraction:g}; raise max_sites"
        )
    layers = [_charged_layer(o, a_charge, m_charge, a_lattice) for o, _ in found]
    matcher = StructureMatcher(primitive_cell=True, attempt_supercell=True, scale=False)
    ranked = []
    for group in matcher.group_structures(layers):
        index = next(i for i, layer in enumerate(layers) if layer is group[0])
        ordering = found[index][0]
        energy = EwaldQuadraticForm(group[0], []).energies(np.zeros((1, 0)))[0]
        ranked.append(
            RankedOrdering(ordering, classify(ordering), energy / ordering.n_sites)
        )
    return sorted(ranked, key=lambda r: r.ewald_eV_per_site)


def _hermite_normal_forms(n: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """2D superlattices of index n: rows (a, 0), (b, d) with a d = n, 0 <= b < a."""
    return [
        ((a, 0), (b, n // a)) for a in range(1, n + 1) if n % a == 0 for b in range(a)
    ]


def _net_structure(superlattice, a_lattice: float) -> Structure:
    """One metal net (all Mn) in a hexagonal cell with the in-plane superlattice."""
    base = Lattice.hexagonal(a_lattice, 20.0)
    net = Structure(base, ["Mn"], [[0, 0, 0]])
    matrix = [[*superlattice[0], 0], [*superlattice[1], 0], [0, 0, 1]]
    return net.make_supercell(matrix, in_place=False)


def _net_points(net: Structure, a_lattice: float) -> list[tuple[int, int]]:
    base = Lattice.hexagonal(a_lattice, 20.0)
    frac = base.get_fractional_coords(net.cart_coords)
    return [(round(f[0]), round(f[1])) for f in frac]


def _charged_layer(ordering, a_charge, m_charge, a_lattice) -> Structure:
    net = _net_structure(ordering.superlattice, a_lattice)
    points = _net_points(net, a_lattice)
    species = [
        Species("Li", a_charge) if ordering.is_a(p) else Species("Mn", m_charge)
        for p in points
    ]
    return Structure(net.lattice, species, net.frac_coords)


def fill_alkali_sites(
    structure: Structure, n_alkali: int, oxidation_states: dict | None = None
) -> tuple[Structure, dict]:
    """Keep ``n_alkali`` alkali-layer sites: the arrangement of lowest Ewald energy.

    Every symmetry-distinct arrangement of the alkali layer (sublattice ``alkali``) is
    scored by point-charge Ewald energy with the final oxidation states; the lowest is
    returned with a record of how it was chosen.

    Returns
    -------
    structure, record
        The filled cell (charge balanced), and ``{"n_candidates", "ewald_eV",
        "ewald_gap_eV"}`` (gap to the second-lowest arrangement, eV per cell).
    """
    alkali_sites = [
        i
        for i, site in enumerate(structure)
        if site.properties.get("sublattice") == "alkali"
    ]
    if not 0 < n_alkali <= len(alkali_sites):
        raise OredoxInputError(
            f"cannot place {n_alkali} alkali on {len(alkali_sites)} alkali-layer sites"
        )
    alkali = structure[alkali_sites[0]].specie.symbol
    in_layer = [
        i
        for i, site in enumerate(structure)
        if site.specie.symbol == alkali and i not in alkali_sites
    ]
    # Symmetry of the host with the metal-layer alkali relabelled (it does not move).
    probe = structure.copy()
    for i in in_layer:
        probe.replace(i, "Cs", properties=probe[i].properties)
    sym = alkali_symmetry(probe, alkali)
    configs = enumerate_configurations(sym, len(alkali_sites) - n_alkali)

    template = structure.copy()
    template.remove_oxidation_states()
    kept_formula = template.copy()
    kept_formula.remove_sites(alkali_sites[n_alkali:])
    states = resolve_oxidation_states(
        kept_formula.composition.formula, oxidation_states
    )
    template.add_oxidation_state_by_element(states)
    form = EwaldQuadraticForm(template, list(sym.alkali_indices))
    occupied = np.ones((len(configs), sym.n_sites), dtype=bool)
    for row, config in enumerate(configs):
        occupied[row, list(config.vacancies)] = False
    energies = form.energies(occupied)
    order = np.argsort(energies)
    best = configs[order[0]]
    filled = template.copy()
    filled.remove_sites([sym.alkali_indices[i] for i in best.vacancies])
    record = {
        "n_candidates": len(configs),
        "ewald_eV": float(energies[order[0]]),
        "ewald_gap_eV": float(energies[order[1]] - energies[order[0]])
        if len(configs) > 1
        else None,
    }
    return filled, record
