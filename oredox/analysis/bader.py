"""Bader charges: the weight method of Yu and Trinkle on a periodic grid.

Every grid point is shared among the basins of the reference density by the flux of
its density gradient into its higher neighbours (M. Yu and D. R. Trinkle, J. Chem.
Phys. 134, 064111, 2011; the method behind Henkelman's ``bader -b weight`` and
baderkit's default). The neighbours are the Voronoi neighbours of the grid lattice,
so skewed cells are handled exactly; points are visited from the highest density
down, so each point's weights follow from those of its higher neighbours in one
pass (compiled with numba). Populations, magnetisation and volumes of every field
are integrated in the same pass.

As in VASP practice the partition is taken from the all-electron reference
``AECCAR0 + AECCAR2`` (core and valence; its maxima sit on the nuclei) and the
valence density (CHGCAR) is integrated over it. Net charges are the valence electron
counts of the POTCARs (ZVAL) minus the populations. Basins are assigned to the
nearest atom (periodic images included); a basin whose maximum lies far from any atom
(a non-nuclear maximum) is reported.

Every result names the density its basins came from (:data:`REFERENCES`); a
partition of the valence density alone is flagged and its charges refused where
basins collapsed (:mod:`oredox.analysis.bader_reference` says why, with numbers).

Everything here works on arrays and pymatgen ``VolumetricData`` (``Chgcar``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from pymatgen.core import Structure
from scipy.spatial import Voronoi

from oredox.analysis.bader_reference import (
    AECCAR,
    ALL_ELECTRON,
    COLLAPSED_BASIN_A3,
    REFERENCES,
    VALENCE_ONLY,
    VALENCE_ONLY_REASON,
    collapsed_reason,
)
from oredox.errors import OredoxInputError

MAX_WEIGHTS = 6  # basins sharing one grid point (more are dropped, renormalised)


@dataclass
class BaderResult:
    """Bader partition of one structure.

    All per-atom arrays are in structure order. Populations are electrons; charges
    ``zval - population`` (e); moments muB; volumes A^3.
    """

    structure: Structure
    populations: np.ndarray
    volumes_A3: np.ndarray
    charges: np.ndarray | None = None
    moments_muB: np.ndarray | None = None
    n_basins: int = 0
    nonnuclear_maxima: list[dict] = field(default_factory=list)
    vacuum_electrons: float = 0.0
    reference: str = VALENCE_ONLY

    @property
    def valence_only(self) -> bool:
        """True when the basins come from the valence density alone."""
        return self.reference == VALENCE_ONLY

    def collapsed_atoms(self) -> list[int]:
        """Atoms whose basin is smaller than :data:`COLLAPSED_BASIN_A3`."""
        return [int(i) for i in np.flatnonzero(self.volumes_A3 < COLLAPSED_BASIN_A3)]

    def charges_refused(self) -> str | None:
        """Why the net charges are refused, or None (:mod:`.bader_reference`)."""
        if not self.valence_only:
            return None
        collapsed = self.collapsed_atoms()
        if not collapsed:
            return None
        return collapsed_reason(self.structure, collapsed)

    def per_species(self, quantity: str = "charges") -> dict[str, dict[str, float]]:
        """Mean, min and max per element of ``charges``, ``populations`` or moments."""
        values = getattr(self, quantity)
        if values is None:
            return {}
        out = {}
        symbols = np.array([site.specie.symbol for site in self.structure])
        for symbol in dict.fromkeys(symbols):
            v = values[symbols == symbol]
            out[str(symbol)] = {
                "mean": float(v.mean()),
                "min": float(v.min()),
                "max": float(v.max()),
            }
        return out

    def as_dict(self) -> dict:
        """Plain data for a document, with the reference and its flags.

        ``reference`` is one of :data:`REFERENCES`; ``valence_only`` and
        ``valence_only_reason`` flag a partition of the valence density alone;
        ``charges_refused`` says why ``charges`` are None (collapsed basins, listed
        in ``collapsed_atoms``). Populations and volumes are always kept.
        """
        refused = self.charges_refused()
        keep = refused is None
        return {
            "reference": self.reference,
            "valence_only": self.valence_only,
            "valence_only_reason": VALENCE_ONLY_REASON if self.valence_only else None,
            "collapsed_atoms": self.collapsed_atoms() if self.valence_only else [],
            "charges_refused": refused,
            "populations": self.populations.tolist(),
            "charges": (
                self.charges.tolist() if keep and self.charges is not None else None
            ),
            "moments_muB": (
                None if self.moments_muB is None else self.moments_muB.tolist()
            ),
            "volumes_A3": self.volumes_A3.tolist(),
            "per_species_charge": self.per_species("charges") if keep else {},
            "per_species_moment": self.per_species("moments_muB"),
            "n_basins": self.n_basins,
            "nonnuclear_maxima": self.nonnuclear_maxima,
            "vacuum_electrons": self.vacuum_electrons,
        }


def grid_neighbours(lattice_matrix: np.ndarray, shape: tuple[int, int, int]):
    """Voronoi neighbours of a grid point: integer offsets and flux coefficients.

    Returns ``offsets`` (m, 3) and ``area / length`` (m,) of each Voronoi facet of
    the grid lattice (vectors ``lattice_matrix[i] / shape[i]``).
    """
    steps = np.asarray(lattice_matrix, float) / np.asarray(shape, float)[:, None]
    span = np.arange(-2, 3)
    offsets = np.array(np.meshgrid(span, span, span, indexing="ij")).reshape(3, -1).T
    points = offsets @ steps
    origin = int(np.flatnonzero((offsets == 0).all(axis=1))[0])
    voronoi = Voronoi(points)
    kept_offsets, coefficients = [], []
    for (p, q), ridge in zip(voronoi.ridge_points, voronoi.ridge_vertices, strict=True):
        if origin not in (p, q) or -1 in ridge:
            continue
        other = q if p == origin else p
        area = _polygon_area(voronoi.vertices[ridge])
        if area < 1e-12:
            continue
        length = np.linalg.norm(points[other])
        kept_offsets.append(offsets[other])
        coefficients.append(area / length)
    return np.array(kept_offsets, dtype=np.int64), np.array(coefficients)


def _polygon_area(vertices: np.ndarray) -> float:
    """Area of a planar convex polygon given by unordered 3D vertices."""
    centre = vertices.mean(axis=0)
    rel = vertices - centre
    normal = np.cross(rel[0], rel[1] if len(rel) > 1 else rel[0])
    for k in range(2, len(rel)):
        if np.linalg.norm(normal) > 1e-12:
            break
        normal = np.cross(rel[0], rel[k])
    normal /= np.linalg.norm(normal)
    u = rel[0] / np.linalg.norm(rel[0])
    v = np.cross(normal, u)
    order = np.argsort(np.arctan2(rel @ v, rel @ u))
    ring = rel[order]
    return 0.5 * abs(
        float(np.dot(np.cross(ring, np.roll(ring, -1, axis=0)).sum(0), normal))
    )


@njit(cache=True)
def _weight_pass(rho, order, shape, offsets, coefficients, fields, vacuum, max_basins):
    n1, n2, n3 = shape
    n_points = rho.size
    k_max = MAX_WEIGHTS
    basin_of = np.full((n_points, k_max), -1, dtype=np.int32)
    weight_of = np.zeros((n_points, k_max), dtype=np.float32)
    n_fields = fields.shape[0]
    sums = np.zeros((max_basins, n_fields + 1))
    maxima = np.zeros(max_basins, dtype=np.int64)
    n_basins = 0
    m = offsets.shape[0]
    tmp_b = np.empty(m * k_max, dtype=np.int32)
    tmp_w = np.empty(m * k_max)
    vacuum_sum = np.zeros(n_fields)
    for idx in order:
        r = rho[idx]
        if r < vacuum:
            for f in range(n_fields):
                vacuum_sum[f] += fields[f, idx]
            continue
        i = idx // (n2 * n3)
        j = (idx // n3) % n2
        k = idx % n3
        n_tmp = 0
        total = 0.0
        for o in range(m):
            ni = (i + offsets[o, 0]) % n1
            nj = (j + offsets[o, 1]) % n2
            nk = (k + offsets[o, 2]) % n3
            nidx = (ni * n2 + nj) * n3 + nk
            d = rho[nidx] - r
            if d <= 0.0:
                continue
            flux = coefficients[o] * d
            total += flux
            for s in range(k_max):
                b = basin_of[nidx, s]
                if b < 0:
                    break
                w = flux * weight_of[nidx, s]
                found = False
                for t in range(n_tmp):
                    if tmp_b[t] == b:
                        tmp_w[t] += w
                        found = True
                        break
                if not found:
                    tmp_b[n_tmp] = b
                    tmp_w[n_tmp] = w
                    n_tmp += 1
        if total == 0.0:  # a maximum: a new basin
            if n_basins == max_basins:
                return basin_of, weight_of, sums, maxima, -1, vacuum_sum
            basin_of[idx, 0] = n_basins
            weight_of[idx, 0] = 1.0
            maxima[n_basins] = idx
            n_basins += 1
            b = n_basins - 1
            for f in range(n_fields):
                sums[b, f] += fields[f, idx]
            sums[b, n_fields] += 1.0
            continue
        # keep the largest k_max shares
        kept = 0.0
        for s in range(min(n_tmp, k_max)):
            best = s
            for t in range(s + 1, n_tmp):
                if tmp_w[t] > tmp_w[best]:
                    best = t
            tmp_b[s], tmp_b[best] = tmp_b[best], tmp_b[s]
            tmp_w[s], tmp_w[best] = tmp_w[best], tmp_w[s]
            kept += tmp_w[s]
        for s in range(min(n_tmp, k_max)):
            w = tmp_w[s] / kept
            b = tmp_b[s]
            basin_of[idx, s] = b
            weight_of[idx, s] = w
            for f in range(n_fields):
                sums[b, f] += w * fields[f, idx]
            sums[b, n_fields] += w
    return basin_of, weight_of, sums, maxima, n_basins, vacuum_sum


def bader_partition(
    reference: np.ndarray,
    fields: list[np.ndarray],
    lattice_matrix: np.ndarray,
    vacuum: float = -np.inf,
    max_basins: int = 200_000,
):
    """Weight-method partition of ``reference``; integrals of ``fields`` per basin.

    Parameters
    ----------
    reference
        Density that defines the basins (any units), shape (n1, n2, n3).
    fields
        Arrays on the same grid, integrated per basin as plain grid sums (divide by
        the number of points for VASP's rho*V convention).
    lattice_matrix
        Cell vectors (rows), A.
    vacuum
        Points of ``reference`` below this are left out (their sums are returned).

    Returns
    -------
    sums : (n_basins, len(fields) + 1) array
        Per basin: the sum of each field and, last, the number of grid points.
    maxima : (n_basins, 3) int array
        Grid index of each basin's maximum.
    vacuum_sums : (len(fields),) array
    """
    rho = np.ascontiguousarray(reference, dtype=np.float64)
    shape = np.array(rho.shape, dtype=np.int64)
    if any(f.shape != rho.shape for f in fields):
        raise ValueError("every field must be on the reference grid")
    offsets, coefficients = grid_neighbours(lattice_matrix, tuple(rho.shape))
    flat = rho.ravel()
    order = np.argsort(-flat, kind="stable")
    stacked = np.ascontiguousarray(np.array([f.ravel() for f in fields], float))
    if stacked.size == 0:
        stacked = np.zeros((0, flat.size))
    _, _, sums, maxima, n_basins, vacuum_sums = _weight_pass(
        flat, order, shape, offsets, coefficients, stacked, vacuum, max_basins
    )
    if n_basins < 0:
        raise ValueError(
            f"more than {max_basins} density maxima: a noisy or empty reference "
            f"density (raise vacuum, or check the AECCAR files)"
        )
    indices = np.array(np.unravel_index(maxima[:n_basins], rho.shape)).T
    return sums[:n_basins], indices, vacuum_sums


def bader_charges(
    structure: Structure,
    valence: np.ndarray,
    reference: np.ndarray | None = None,
    magnetization: np.ndarray | None = None,
    zval: dict[str, float] | None = None,
    vacuum_e_per_A3: float = 1e-4,
    nonnuclear_distance_A: float = 1.0,
    reference_kind: str | None = None,
) -> BaderResult:
    """Bader populations, charges and moments of ``structure``'s atoms.

    Parameters
    ----------
    structure
        The structure of the densities.
    valence
        Valence density in VASP's convention (rho times the cell volume, e/cell),
        e.g. ``Chgcar.data["total"]``.
    reference
        Density whose basins are used (``AECCAR0 + AECCAR2``, same convention and
        grid); default ``valence``.
    magnetization
        Spin density (``Chgcar.data["diff"]``), integrated into moments, muB.
    zval
        Valence electrons per element of the POTCARs: charges are ``zval -
        population``.
    vacuum_e_per_A3
        Reference density below which points belong to no atom.
    nonnuclear_distance_A
        A basin maximum farther than this from every atom is listed as non-nuclear.
    reference_kind
        What the basins come from, one of :data:`REFERENCES`: default
        :data:`AECCAR` with a ``reference``, :data:`VALENCE_ONLY` without;
        :data:`ALL_ELECTRON` when ``valence`` itself holds the cores (GPAW).

    Raises
    ------
    OredoxInputError
        An unknown ``reference_kind``, or :data:`AECCAR` without a ``reference``.
    """
    if reference_kind is None:
        reference_kind = VALENCE_ONLY if reference is None else AECCAR
    if reference_kind not in REFERENCES:
        raise OredoxInputError(
            f"unknown Bader reference {reference_kind!r}; use one of {REFERENCES}"
        )
    if reference_kind == AECCAR and reference is None:
        raise OredoxInputError(
            "an AECCAR0+AECCAR2 Bader reference needs the reference density"
        )
    volume = structure.lattice.volume
    reference = valence if reference is None else reference
    fields = [valence] + ([magnetization] if magnetization is not None else [])
    sums, maxima, vacuum_sums = bader_partition(
        reference,
        fields,
        structure.lattice.matrix,
        vacuum=vacuum_e_per_A3 * volume,
    )
    n_points = valence.size
    frac_max = maxima / np.array(valence.shape)
    owner, distance = _nearest_atoms(structure, frac_max)
    n_atoms = len(structure)
    populations = np.bincount(owner, sums[:, 0], n_atoms) / n_points
    volumes = np.bincount(owner, sums[:, -1], n_atoms) * volume / n_points
    moments = None
    if magnetization is not None:
        moments = np.bincount(owner, sums[:, 1], n_atoms) / n_points
    charges = None
    if zval is not None:
        charges = (
            np.array([zval[site.specie.symbol] for site in structure]) - populations
        )
    nonnuclear = [
        {
            "frac_coords": frac_max[b].tolist(),
            "nearest_atom": int(owner[b]),
            "distance_A": float(distance[b]),
            "electrons": float(sums[b, 0] / n_points),
        }
        for b in np.flatnonzero(distance > nonnuclear_distance_A)
    ]
    return BaderResult(
        structure=structure,
        populations=populations,
        volumes_A3=volumes,
        charges=charges,
        moments_muB=moments,
        n_basins=len(sums),
        nonnuclear_maxima=nonnuclear,
        vacuum_electrons=float(vacuum_sums[0] / n_points) if len(vacuum_sums) else 0.0,
        reference=reference_kind,
    )


def bader_from_chgcar(
    chgcar, aeccar0=None, aeccar2=None, zval=None, all_electron: bool = False
) -> BaderResult:
    """:func:`bader_charges` from pymatgen ``Chgcar`` objects (VASP files parsed).

    With ``aeccar0`` and ``aeccar2`` the basins are those of their sum
    (:data:`AECCAR`); with ``all_electron`` the ``chgcar`` holds an all-electron
    density with the cores (GPAW, :data:`ALL_ELECTRON`) and partitions itself;
    otherwise the result is flagged :data:`VALENCE_ONLY`.

    Raises
    ------
    OredoxInputError
        Only one of ``aeccar0`` and ``aeccar2``.
    """
    if (aeccar0 is None) != (aeccar2 is None):
        raise OredoxInputError(
            "Bader needs both AECCAR0 and AECCAR2 (core and valence) for its "
            "all-electron reference, or neither"
        )
    reference, kind = None, ALL_ELECTRON if all_electron else VALENCE_ONLY
    if aeccar0 is not None:
        reference = aeccar0.data["total"] + aeccar2.data["total"]
        kind = AECCAR
    return bader_charges(
        chgcar.structure,
        chgcar.data["total"],
        reference=reference,
        magnetization=chgcar.data.get("diff"),
        zval=zval,
        reference_kind=kind,
    )


def _nearest_atoms(structure: Structure, frac: np.ndarray):
    """Index of and distance to the nearest atom (periodic) of each point."""
    if len(frac) == 0:
        return np.zeros(0, dtype=int), np.zeros(0)
    distances = structure.lattice.get_all_distances(frac, structure.frac_coords)
    owner = distances.argmin(axis=1)
    return owner, distances[np.arange(len(frac)), owner]
