"""Framework checks after relaxation, and duplicates among relaxed configurations.

Pure functions over pymatgen Structures (initial and relaxed, same site order, as every
engine returns them):

- :func:`check_framework`: transition metals that left their octahedra for a
  tetrahedral site, that moved into the alkali layer of a layered host, or that moved
  far; alkali layers that collapsed (O-O slab spacing across the alkali layer shrunk).
- :func:`group_duplicates`: configurations that relaxed into the same structure
  (pymatgen StructureMatcher, per composition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from oredox.structures.frameworks import ALKALI_ELEMENTS

TETRAHEDRAL_CN = 4
MIGRATION_DISTANCE_A = 1.0
COLLAPSE_FRACTION = 0.20
BOND_FACTOR = 1.25  # O within 1.25 x the shortest M-O distance count as neighbours


@dataclass(frozen=True)
class FrameworkReport:
    """What a relaxation did to the host framework.

    Attributes
    ----------
    tetrahedral_metals
        Indices of metals with four or fewer O neighbours after relaxation.
    metals_in_alkali_layer
        Indices of metals now nearer an alkali-layer plane than a metal-layer plane
        (layered hosts only).
    displaced_metals
        Index -> displacement in A for metals that moved more than
        :data:`MIGRATION_DISTANCE_A` (cell strain removed).
    collapsed_layers
        Relative change of the O-O spacing across each alkali layer that shrank by more
        than :data:`COLLAPSE_FRACTION`.
    alkali_layer_spacing_change
        Relative change of every alkali-layer O-O spacing (layered hosts).
    """

    tetrahedral_metals: list[int] = field(default_factory=list)
    metals_in_alkali_layer: list[int] = field(default_factory=list)
    displaced_metals: dict[int, float] = field(default_factory=dict)
    collapsed_layers: list[float] = field(default_factory=list)
    alkali_layer_spacing_change: list[float] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """True when no metal migrated and no alkali layer collapsed."""
        return not (
            self.tetrahedral_metals
            or self.metals_in_alkali_layer
            or self.displaced_metals
            or self.collapsed_layers
        )

    def reasons(self) -> list[str]:
        """Plain-language flags, empty when intact."""
        out = []
        if self.tetrahedral_metals:
            out.append(f"tetrahedral metal at sites {self.tetrahedral_metals}")
        if self.metals_in_alkali_layer:
            out.append(
                f"metal in the alkali layer at sites {self.metals_in_alkali_layer}"
            )
        if self.displaced_metals:
            moved = ", ".join(
                f"{i}: {d:.2f} A" for i, d in self.displaced_metals.items()
            )
            out.append(f"metal moved far ({moved})")
        if self.collapsed_layers:
            out.append(
                "alkali layer collapsed (O-O spacing "
                + ", ".join(f"{100 * c:+.0f}%" for c in self.collapsed_layers)
                + ")"
            )
        return out


def check_framework(initial: Structure, relaxed: Structure) -> FrameworkReport:
    """Compare a relaxed configuration with its starting structure.

    ``initial`` and ``relaxed`` must list the same sites in the same order. Metals are
    the cations that are not alkali; layers are found from the initial structure's
    ``sublattice`` labels when present (``metal`` / ``alkali``), which layered hosts
    built by oredox carry.
    """
    if len(initial) != len(relaxed) or [s.specie.symbol for s in initial] != [
        s.specie.symbol for s in relaxed
    ]:
        raise ValueError("initial and relaxed structures must have the same sites")
    metals = [
        i
        for i, site in enumerate(relaxed)
        if site.specie.symbol not in (*ALKALI_ELEMENTS, "O", "F", "S")
    ]
    anions = [
        i for i, site in enumerate(relaxed) if site.specie.symbol in ("O", "F", "S")
    ]
    report = FrameworkReport()
    if not metals or not anions:
        return report
    shortest = min(relaxed.get_distance(m, a) for m in metals[:1] for a in anions)
    for m in metals:
        cn = sum(
            n.specie.symbol in ("O", "F", "S")
            for n in relaxed.get_neighbors(relaxed[m], BOND_FACTOR * shortest)
        )
        if cn <= TETRAHEDRAL_CN:
            report.tetrahedral_metals.append(m)
    # displacement with the cell strain removed: fractional coordinates in the new cell
    for m in metals:
        diff = relaxed[m].frac_coords - initial[m].frac_coords
        diff -= np.round(diff)
        distance = float(np.linalg.norm(relaxed.lattice.get_cartesian_coords(diff)))
        if distance > MIGRATION_DISTANCE_A:
            report.displaced_metals[m] = round(distance, 3)
    _check_layers(initial, relaxed, metals, report)
    return report


def _check_layers(initial, relaxed, metals, report: FrameworkReport) -> None:
    """Layered hosts: find the alkali gaps from the O planes and check them.

    The O planes of the initial structure are stacked along the layer normal; a gap
    between two neighbouring O planes that holds no metal plane is an alkali (or, once
    emptied, van der Waals) gap. Heights are fractions of the stacking period, so the
    relaxed cell is read the same way.
    """
    if initial.site_properties.get("sublattice") is None:
        return
    anions = [i for i, s in enumerate(initial) if s.specie.symbol in ("O", "F", "S")]
    before = _fractional_heights(initial)
    after = _fractional_heights(relaxed)
    o_planes = _group_planes(before[anions], anions)
    if len(o_planes) < 2 or not _layered(initial, before, o_planes, metals):
        return
    metal_heights = before[metals]
    period_before = _period(initial)
    period_after = _period(relaxed)
    for (lo_h, lo_ids), (hi_h, hi_ids) in zip(
        o_planes, [*o_planes[1:], (o_planes[0][0] + 1, o_planes[0][1])], strict=True
    ):
        holds_metal = any(_between(h, lo_h, hi_h) for h in metal_heights)
        if holds_metal:
            continue
        for m in metals:
            if _between(after[m], lo_h, hi_h) and not _between(before[m], lo_h, hi_h):
                report.metals_in_alkali_layer.append(m)
        spacing_before = _gap(before, lo_ids, hi_ids) * period_before
        spacing_after = _gap(after, lo_ids, hi_ids) * period_after
        change = (spacing_after - spacing_before) / spacing_before
        report.alkali_layer_spacing_change.append(round(float(change), 4))
        if change < -COLLAPSE_FRACTION:
            report.collapsed_layers.append(round(float(change), 4))


def _layered(initial, heights, o_planes, metals, tol: float = 0.02) -> bool:
    """Whether the cations sit in planes between the O planes, each plane one kind.

    A rock salt viewed along [001] (a DRX cell) has its cations in the O planes,
    and a disordered cell mixes alkali and metals in one plane: neither has alkali
    layers to check.
    """
    alkali = [i for i, s in enumerate(initial) if s.specie.symbol in ALKALI_ELEMENTS]
    o_heights = np.array([h for h, _ in o_planes])
    for i in [*alkali, *metals]:
        offset = np.abs(heights[i] - o_heights)
        if np.min(np.minimum(offset, 1 - offset)) < tol:
            return False  # a cation in an O plane
    for _, members in _group_planes(heights[[*alkali, *metals]], [*alkali, *metals]):
        kinds = {initial[i].specie.symbol in ALKALI_ELEMENTS for i in members}
        if len(kinds) > 1:
            return False  # alkali and metals share a plane
    return True


def _normal(structure: Structure) -> np.ndarray:
    normal = np.cross(structure.lattice.matrix[0], structure.lattice.matrix[1])
    return normal / np.linalg.norm(normal)


def _period(structure: Structure) -> float:
    return float(abs(structure.lattice.matrix[2] @ _normal(structure)))


def _fractional_heights(structure: Structure) -> np.ndarray:
    """Height of every site along the layer normal, as a fraction of the period."""
    heights = structure.cart_coords @ _normal(structure) / _period(structure)
    return heights % 1.0


def _group_planes(heights: np.ndarray, indices: list[int], tol: float = 0.02):
    """(height, member indices) of the planes, sorted by height in [0, 1)."""
    order = np.argsort(heights)
    planes: list[tuple[float, list[int]]] = []
    for k in order:
        h = float(heights[k])
        if planes and h - planes[-1][0] < tol:
            planes[-1][1].append(indices[k])
        else:
            planes.append((h, [indices[k]]))
    if len(planes) > 1 and planes[0][0] + 1 - planes[-1][0] < tol:  # wraps round
        h, ids = planes.pop()
        planes[0] = (planes[0][0], planes[0][1] + ids)
    return planes


def _between(h: float, lo: float, hi: float) -> bool:
    return lo < h < hi or lo < h + 1 < hi


def _gap(heights: np.ndarray, lower: list[int], upper: list[int]) -> float:
    """Mean height difference (fraction of the period) from lower to upper plane."""
    lo = float(np.mean(heights[lower]))
    hi = float(np.mean(heights[upper]))
    return (hi - lo) % 1.0


def group_duplicates(
    structures: Sequence[Structure], matcher: StructureMatcher | None = None
) -> list[list[int]]:
    """Indices of structures that are the same after relaxation, grouped.

    Only structures of the same composition are compared; each group lists the lowest
    index first (keep that one, drop the rest).
    """
    matcher = matcher or StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5)
    groups: list[list[int]] = []
    for i, structure in enumerate(structures):
        for group in groups:
            first = structures[group[0]]
            if first.composition == structure.composition and matcher.fit(
                first, structure
            ):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups
