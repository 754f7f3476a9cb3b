"""Cation orders in the metal layer of layered oxides, and their stacking.

The metal layer is a triangular net with lattice vectors a1, a2 at 120 deg (pymatgen's
hexagonal setting, so |m a1 + n a2|^2 = (m^2 + n^2 - m n) a^2). An
ordering is a superlattice of that net (two integer vectors in units of a1, a2) and
the positions of the in-layer alkali A in one superlattice cell; every other site holds
the metal M.

- :func:`honeycomb`: A1/3 M2/3 on the sqrt3 x sqrt3 R30 cell; each A has six M
  neighbours (LiMn6 in Li2MnO3).
- :func:`ribbon`: A1/5 M4/5; A rows sqrt3 a apart along one direction and -A-4M-A-
  along a1 (P2-Na0.6[Li0.2Mn0.8]O2, House et al. 2020).
- :func:`classify`: the local motif of an ordering (rules below).
- :func:`stack_o3` and :func:`stack_p2`: 3D cells from a layer ordering; the stacking
  shift s sets how the order of one metal layer sits over the next
  (:func:`stacking_variants` lists the distinct ones with their space groups).

Every ordering of a ratio, ranked by Ewald energy, and the alkali-layer arrangement of
lowest Ewald energy (:func:`~oredox.structures.layer_orderings.fill_alkali_sites`,
which completes a P2 cell) are in :mod:`~oredox.structures.layer_orderings`.

How :func:`classify` decides, from the in-layer neighbours of every A (first shell at
a, six sites; second shell at sqrt3 a, six sites):

- ``honeycomb``: no A among the first shell and six among the second (the A form a
  sqrt3 triangular lattice, M a honeycomb);
- ``ribbon``: no A in the first shell, exactly two in the second, on opposite sides
  (A rows along a sqrt3 direction with M ribbons between);
- ``stripe``: two A in the first shell on opposite sides (straight A lines);
- ``zigzag``: two A in the first shell not on opposite sides (zigzag A chains);
- ``dispersed``: no A in the first shell, another second-shell count;
- ``other``: anything else, or A sites that do not share one motif.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from math import isclose

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Element, Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError
from oredox.structures.frameworks import resolve_oxidation_states

# Neighbour vectors of the net in (a1, a2) at 120 deg: distance a, then sqrt3 a.
FIRST_SHELL = ((1, 0), (0, 1), (1, 1), (-1, 0), (0, -1), (-1, -1))
SECOND_SHELL = ((2, 1), (1, 2), (-1, 1), (-2, -1), (-1, -2), (1, -1))


@dataclass(frozen=True)
class LayerOrdering:
    """An A/M order on the triangular metal net.

    Attributes
    ----------
    superlattice
        Two superlattice vectors in units of (a1, a2).
    a_sites
        Integer positions of A in one superlattice cell (distinct modulo it).
    name
        Label for provenance (``"honeycomb"``, ``"ribbon"``, ``"enumerated"``).
    """

    superlattice: tuple[tuple[int, int], tuple[int, int]]
    a_sites: tuple[tuple[int, int], ...]
    name: str = "custom"
    _inverse: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        matrix = np.array(self.superlattice, dtype=float)
        if matrix.shape != (2, 2) or round(abs(np.linalg.det(matrix))) == 0:
            raise OredoxInputError(f"superlattice {self.superlattice} is singular")
        object.__setattr__(self, "_inverse", np.linalg.inv(matrix))
        reduced = {self.reduce(a) for a in self.a_sites}
        if len(reduced) != len(self.a_sites):
            raise OredoxInputError("two A sites of the ordering are the same site")

    @property
    def n_sites(self) -> int:
        """Metal-net sites per superlattice cell."""
        return round(abs(np.linalg.det(np.array(self.superlattice))))

    @property
    def a_fraction(self) -> float:
        """Fraction of the net occupied by A."""
        return len(self.a_sites) / self.n_sites

    def reduce(self, n) -> tuple[int, int]:
        """``n`` expressed by its fractional coordinates in the superlattice (mod 1)."""
        frac = np.asarray(n, dtype=float) @ self._inverse
        frac -= np.floor(frac + 1e-9)
        return (round(frac[0] * 1e6), round(frac[1] * 1e6))

    def is_a(self, n) -> bool:
        """Whether net site ``n`` (integers in a1, a2) holds A."""
        return any(self.reduce(np.subtract(n, a)) == (0, 0) for a in self.a_sites)


def honeycomb() -> LayerOrdering:
    """A1/3 M2/3 on a sqrt3 x sqrt3 R30 superlattice; each A has six M neighbours."""
    return LayerOrdering(((2, 1), (-1, 1)), ((0, 0),), "honeycomb")


def ribbon() -> LayerOrdering:
    """A1/5 M4/5 with -A-4M-A- rows along a1 and A rows sqrt3 a apart (index 5)."""
    return LayerOrdering(((2, 1), (5, 0)), ((0, 0),), "ribbon")


def lim6_2x2() -> LayerOrdering:
    """A1/4 M3/4: isolated LiMn6 units on a 2a x 2a lattice (M forms a kagome net).

    The "honeycomb" Na0.75[Li0.25Mn0.75]O2 that House et al. (Nature 2020) compare
    with the ribbon phase: every A has six M neighbours, as in a honeycomb, but at
    A1/4 the A sit 2a apart. :func:`classify` calls it ``dispersed``.
    """
    return LayerOrdering(((2, 0), (0, 2)), ((0, 0),), "LiMn6 2x2")


NAMED_ORDERINGS = {
    "honeycomb": (honeycomb, 1 / 3),
    "ribbon": (ribbon, 1 / 5),
    "limn6-2x2": (lim6_2x2, 1 / 4),
}


def named_ordering(name: str, a_fraction: float | None = None) -> LayerOrdering:
    """The named ordering ``name``; checks that it exists at ``a_fraction``.

    Raises
    ------
    OredoxInputError
        Unknown name, or a ratio the order cannot have (ribbon is A1/5 M4/5 only).
    """
    if name not in NAMED_ORDERINGS:
        raise OredoxInputError(
            f"unknown ordering {name!r}; named ones: {', '.join(NAMED_ORDERINGS)}; "
            f"enumerate_layer_orderings finds all orders of a ratio"
        )
    factory, fraction = NAMED_ORDERINGS[name]
    if a_fraction is not None and not isclose(a_fraction, fraction, abs_tol=1e-6):
        fits = [n for n, (_, f) in NAMED_ORDERINGS.items() if isclose(a_fraction, f)]
        hint = f"use {fits[0]}" if fits else "use enumerate_layer_orderings"
        raise OredoxInputError(
            f"a {name} order has A{_fraction_text(fraction)} in the metal layer and "
            f"cannot exist at A{_fraction_text(a_fraction)}; {hint}"
        )
    return factory()


def _fraction_text(value: float) -> str:
    from fractions import Fraction

    return str(Fraction(value).limit_denominator(24))


def classify(ordering: LayerOrdering) -> str:
    """Name the local motif of ``ordering`` (rules in the module docstring)."""
    motifs = set()
    for a in ordering.a_sites:
        first = [v for v in FIRST_SHELL if ordering.is_a(np.add(a, v))]
        second = [v for v in SECOND_SHELL if ordering.is_a(np.add(a, v))]
        motifs.add(_motif(first, second))
    return motifs.pop() if len(motifs) == 1 else "other"


def _motif(first: list, second: list) -> str:
    def opposite(pair):
        return tuple(np.add(*pair)) == (0, 0)

    if not first:
        if len(second) == 6:
            return "honeycomb"
        if len(second) == 2 and opposite(second):
            return "ribbon"
        return "dispersed"
    if len(first) == 2:
        return "stripe" if opposite(first) else "zigzag"
    return "other"


def metal_net(structure: Structure) -> list[tuple[int, tuple[int, int], int]]:
    """The metal layers of a layered cell as points of the triangular net.

    Works on cells made from the hexagonal O3 or P2 frameworks (``o3_layered`` with
    the conventional cell, ``p2_layered`` and their in-plane supercells).

    Returns
    -------
    list of (site index, (m, n), layer)
        Each ``sublattice == "metal"`` site with its net coordinates in units of the
        hexagonal a1, a2 (120 deg; the O3 layer offsets removed) and its layer number
        counted from z = 0.
    """
    if "sublattice" not in structure.site_properties:
        raise OredoxInputError("the structure has no sublattice labels")
    c_axis = structure.lattice.matrix[2]
    if (
        abs(np.dot(structure.lattice.matrix[0], c_axis)) > 1e-6
        or abs(np.dot(structure.lattice.matrix[1], c_axis)) > 1e-6
    ):
        raise OredoxInputError(
            "metal_net needs a hexagonal-type cell with c normal to the layers"
        )
    metal = [
        i
        for i, lab in enumerate(structure.site_properties["sublattice"])
        if lab == "metal"
    ]
    heights = sorted({round(structure[i].frac_coords[2] % 1, 4) for i in metal})
    a = min(
        np.linalg.norm(n.coords - structure[metal[0]].coords)
        for n in structure.get_neighbors(structure[metal[0]], 4.0)
        if abs(n.coords[2] - structure[metal[0]].coords[2]) < 1e-3
    )
    base = Lattice.hexagonal(a, structure.lattice.c)
    reference = {}
    points = []
    for i in metal:
        layer = heights.index(round(structure[i].frac_coords[2] % 1, 4))
        u, v, _ = base.get_fractional_coords(structure[i].coords)
        reference.setdefault(layer, (u % 1, v % 1))
        du, dv = u - reference[layer][0], v - reference[layer][1]
        points.append((i, (round(du), round(dv)), layer))
    return points


# --- stacking -----------------------------------------------------------------------


def _in_plane_to_rhombohedral(m: int, n: int) -> list[int]:
    """M a1 + n a2 in the O3 rhombohedral basis (a1 = p1 - p2, a2 = p2 - p3)."""
    return [m, n - m, -n]


def stack_o3(
    parent: Structure,
    ordering: LayerOrdering,
    shift: tuple[int, int] | list[tuple[int, int]] = (0, 0),
    in_layer: str | None = None,
    oxidation_states: dict | None = None,
) -> Structure:
    """O3 cell with ``ordering`` in every metal layer.

    Going up one metal layer is the rhombohedral translation p1 plus an in-plane
    stacking shift s (in units of a1, a2): layer k+1's order is layer k's moved by
    p1 + s_k. One shift gives a one-layer cell (p1 + s as third vector); a list of p
    shifts gives a p-layer period (third vector p p1 + sum of the shifts), the way
    polytypes such as Li2MnO3's C2/c (two layers) and P3_112 (three) differ from C2/m.

    Parameters
    ----------
    parent
        O3 primitive cell from ``o3_layered(..., cell="primitive")``.
    ordering
        The metal-layer order.
    shift
        One stacking shift (s1, s2), or one per layer of the period;
        :func:`stacking_variants` tries them all.
    in_layer
        Element that takes the A sites of the metal layer; default the parent's alkali.
    oxidation_states
        For the final composition (default: charge balance, e.g. Mn4+ in Li2MnO3).
    """
    if in_layer is not None and not Element.is_valid_symbol(in_layer):
        raise OredoxInputError(f"in_layer {in_layer!r} is not an element")
    shifts = [tuple(shift)] if np.ndim(shift) == 1 else [tuple(x) for x in shift]
    period = len(shifts)
    total = np.sum(shifts, axis=0)
    rows = [_in_plane_to_rhombohedral(*v) for v in ordering.superlattice]
    rows.append([period + total[0], total[1] - total[0], -total[1]])
    if round(abs(np.linalg.det(rows))) != ordering.n_sites * period:
        raise RuntimeError("O3 stacking matrix has the wrong volume")
    cell = parent.make_supercell(rows, in_place=False)
    hexagonal = _hexagonal_of_o3(parent)
    cumulative = np.vstack([[0, 0], np.cumsum(shifts, axis=0)])

    def layer_point(site):
        u, v, w = hexagonal.get_fractional_coords(site.coords)
        layer = round(3 * w)  # metal layers sit at w = k/3
        repeats, k = divmod(layer, period)
        c1, c2 = repeats * total + cumulative[k]
        return round(u - layer * 2 / 3) - c1, round(v - layer / 3) - c2, k

    structure = _fill_metal_layer(
        cell, ordering, layer_point, in_layer, oxidation_states
    )
    structure.properties["provenance"]["stacking_shifts"] = [list(x) for x in shifts]
    return structure


def stack_p2(
    parent: Structure,
    ordering: LayerOrdering,
    shift: tuple[int, int] = (0, 0),
    in_layer: str | None = None,
) -> Structure:
    """P2 cell (two metal layers) with ``ordering`` in both.

    The metal sites of the two layers sit directly above each other; the upper layer's
    order is the lower one's moved by the in-plane shift (s1, s2). ``shift=(0, 0)``
    puts A above A; a shift outside the superlattice caps every A with M above and
    below (:func:`capped_honeycomb`). Every prismatic site stays occupied and the
    cell carries no oxidation states:
    :func:`~oredox.structures.layer_orderings.fill_alkali_sites` chooses the alkali
    arrangement and assigns them.
    """
    matrix = [[*ordering.superlattice[0], 0], [*ordering.superlattice[1], 0], [0, 0, 1]]
    cell = parent.make_supercell(matrix, in_place=False)

    def layer_point(site):
        u, v, z = parent.lattice.get_fractional_coords(site.coords)
        layer = round(2 * (z % 1)) % 2
        return round(u) - layer * shift[0], round(v) - layer * shift[1], layer

    # The P2 alkali layer is over-full until fill_alkali_sites: no oxidation states yet.
    return _fill_metal_layer(cell, ordering, layer_point, in_layer, None, charged=False)


def capped_honeycomb(
    parent: Structure, in_layer: str | None = None, oxidation_states: dict | None = None
) -> Structure:
    """Honeycomb layers stacked so that M sits directly above and below every A.

    Needs metal layers stacked on top of each other (P2); in O3 the metal layers are
    ABC-stacked and no site lies directly above another.
    """
    if "prism" not in parent.site_properties:
        raise OredoxInputError(
            "capped honeycomb needs metal layers stacked directly on top of each other "
            "(a P2 framework from p2_layered); O3 layers are ABC-stacked"
        )
    return stack_p2(parent, honeycomb(), (1, 0), in_layer)


def _fill_metal_layer(
    cell, ordering, layer_point, in_layer, oxidation_states, charged=True
):
    alkali = next(
        site.specie.symbol
        for site in cell
        if site.properties.get("sublattice") == "alkali"
    )
    in_layer = in_layer or alkali
    roles = []
    species = []
    for site in cell:
        role = site.properties.get("sublattice")
        if role == "metal" and ordering.is_a(layer_point(site)[:2]):
            species.append(in_layer)
            roles.append("metal_layer_alkali")
        else:
            species.append(site.specie.symbol)
            roles.append(role)
    properties = {key: cell.site_properties[key] for key in cell.site_properties}
    properties["role"] = roles
    structure = Structure(
        cell.lattice, species, cell.frac_coords, site_properties=properties
    )
    if charged:
        formula = structure.composition.formula
        states = resolve_oxidation_states(formula, oxidation_states)
        structure.add_oxidation_state_by_element(states)
    structure.properties["provenance"] = {
        "method": f"layer ordering: {ordering.name}",
        "superlattice": [list(v) for v in ordering.superlattice],
        "a_sites": [list(a) for a in ordering.a_sites],
        "motif": classify(ordering),
    }
    return structure


def _hexagonal_of_o3(parent: Structure) -> Lattice:
    """The hexagonal lattice (a1, a2, c) of an O3 primitive cell p1, p2, p3."""
    p = parent.lattice.matrix
    return Lattice([p[0] - p[1], p[1] - p[2], p[0] + p[1] + p[2]])


@dataclass(frozen=True)
class StackingVariant:
    """One distinct stacking of a layer ordering."""

    shift: tuple[int, int] | list[tuple[int, int]]
    space_group: str
    structure: Structure


def stacking_variants(
    parent: Structure,
    ordering: LayerOrdering,
    in_layer: str | None = None,
    oxidation_states: dict | None = None,
    max_period: int = 1,
    symprec: float = 1e-3,
) -> list[StackingVariant]:
    """Distinct stackings of ``ordering`` on ``parent`` (O3 or P2), with space groups.

    Shifts run over the cosets of the superlattice; on O3, periods of 1 to
    ``max_period`` layers are tried (each layer with its own shift). Stackings that
    give the same structure (StructureMatcher) are listed once, shortest period first.
    """
    is_p2 = "prism" in parent.site_properties
    cosets = coset_representatives(ordering)
    candidates: list = []
    if is_p2:
        candidates = [(s, stack_p2(parent, ordering, s, in_layer)) for s in cosets]
    else:
        for period in range(1, max_period + 1):
            for shifts in product(cosets, repeat=period):
                structure = stack_o3(
                    parent, ordering, list(shifts), in_layer, oxidation_states
                )
                candidates.append(
                    (shifts[0] if period == 1 else list(shifts), structure)
                )
    variants: list[StackingVariant] = []
    matcher = StructureMatcher(scale=False, attempt_supercell=True)
    for shift, structure in candidates:
        if any(matcher.fit(structure, v.structure) for v in variants):
            continue
        group = SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_symbol()
        variants.append(StackingVariant(shift, group, structure))
    return variants


def coset_representatives(ordering: LayerOrdering) -> list[tuple[int, int]]:
    """One net vector per coset of the superlattice (the possible stacking shifts)."""
    span = max(abs(v) for row in ordering.superlattice for v in row)
    points = [(i, j) for i in range(-span, span + 1) for j in range(-span, span + 1)]
    reps: dict[tuple[int, int], tuple[int, int]] = {}
    for n in sorted(points, key=lambda n: (abs(n[0]) + abs(n[1]), n)):
        reps.setdefault(ordering.reduce(n), n)
    return sorted(reps.values(), key=lambda n: (abs(n[0]) + abs(n[1]), n))
