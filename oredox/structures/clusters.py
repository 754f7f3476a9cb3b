"""Pair shells with every periodic image, pair statistics and their quality metrics.

One description of chemical order serves every generator (SQS, Monte Carlo, ordered
cells), so their quality is reported the same way:

- pair shells: the distinct distances between sites of the ordering sublattice, found
  in the parent cell; in a supercell every periodic image is counted (a site can be
  its own neighbour in a small cell; counting each pair once at its minimum image, as
  sqsgenerator does, is wrong there);
- ordered pair counts ``N[s, a, b]`` per shell ``s`` and species ``a``, ``b``;
- cluster-vector mismatch: pair correlation functions in the orthogonal trigonometric
  point-function basis of van de Walle (the one ATAT and icet use), compared with the
  random alloy at the same concentrations and summed over the shells;
- Warren-Cowley alpha per shell and species pair: ``1 - P(b | a) / c_b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure
from pymatgen.optimization.neighbors import find_points_in_spheres

from oredox.errors import OredoxInputError

DISTANCE_TOL = 1e-3  # A; distances closer than this are one shell


@dataclass(frozen=True)
class PairShells:
    """Neighbour lists of the ordering sites of a supercell, shell by shell.

    Attributes
    ----------
    radii
        Shell distances in A.
    pointer, neighbour, shell, count
        CSR lists: for site ``i`` the entries ``pointer[i]:pointer[i + 1]`` give a
        neighbour index (into the ordering sites, possibly ``i`` itself), its shell and
        how many periodic images of it sit at that distance.
    bonds
        Ordered pairs per shell (sum of counts).
    """

    radii: np.ndarray
    pointer: np.ndarray
    neighbour: np.ndarray
    shell: np.ndarray
    count: np.ndarray
    bonds: np.ndarray


def shell_radii(parent: Structure, sites: list[int], n_shells: int) -> np.ndarray:
    """The first ``n_shells`` distinct distances (A) between ``sites`` of ``parent``."""
    lattice, frac = parent.lattice, parent.frac_coords[sites]
    points = lattice.get_cartesian_coords(frac)
    centres = [lattice.get_cartesian_coords(f) for f in frac]  # rounded as before
    # a sphere a little wider than the volume per site; grown until enough shells
    cutoff = 1.5 * (lattice.volume / len(sites)) ** (1 / 3) + 1.0
    while True:
        distances = _sphere_neighbours(lattice, points, centres, cutoff)[2]
        radii = _distinct(np.sort(distances[distances > DISTANCE_TOL]))
        if len(radii) >= n_shells:
            return np.array(radii[:n_shells])
        cutoff *= 1.5


def pair_shells(
    structure: Structure, sites: list[int], radii: np.ndarray
) -> PairShells:
    """Neighbour lists of ``sites`` in ``structure`` at the distances ``radii``."""
    radii = np.asarray(radii, dtype=float)
    n_sites, n_shells = len(sites), len(radii)
    cart = structure.lattice.get_cartesian_coords(structure.frac_coords[sites])
    centre, point, dist = _sphere_neighbours(
        structure.lattice, cart, cart, radii[-1] + DISTANCE_TOL
    )
    close = np.abs(dist[:, None] - radii[None, :]) < DISTANCE_TOL
    found = close.any(axis=1)
    # one entry per (site, neighbour, shell), sorted, counting the periodic images
    key = (centre[found] * n_sites + point[found]) * n_shells
    key, count = np.unique(key + close[found].argmax(axis=1), return_counts=True)
    site = key // (n_sites * n_shells)
    shell = key % n_shells
    bonds = np.bincount(shell, weights=count, minlength=n_shells)
    return PairShells(
        radii=radii,
        pointer=np.concatenate([[0], np.cumsum(np.bincount(site, minlength=n_sites))]),
        neighbour=key // n_shells % n_sites,
        shell=shell,
        count=count.astype(np.int64),
        bonds=bonds.astype(np.int64),
    )


def _sphere_neighbours(lattice, points, centres, cutoff: float):
    """(centre, point, distance) of ``points`` images near ``centres``.

    Every periodic image within ``cutoff`` (Cartesian, A), zero distances included.
    """
    centre, point, _, distance = find_points_in_spheres(
        np.ascontiguousarray(points, dtype=float),
        np.ascontiguousarray(centres, dtype=float),
        r=float(cutoff),
        pbc=np.ascontiguousarray(lattice.pbc, dtype=np.int64),
        lattice=np.ascontiguousarray(lattice.matrix, dtype=float),
        tol=1e-8,
    )
    return centre.astype(np.int64), point.astype(np.int64), distance


def pair_counts(
    shells: PairShells, occupation: np.ndarray, n_species: int
) -> np.ndarray:
    """Ordered pair counts ``N[s, a, b]`` (both directions of every bond)."""
    counts = np.zeros((len(shells.radii), n_species, n_species), dtype=np.int64)
    site = np.repeat(np.arange(len(occupation)), np.diff(shells.pointer))
    np.add.at(
        counts,
        (shells.shell, occupation[site], occupation[shells.neighbour]),
        shells.count,
    )
    return counts


def point_functions(n_species: int) -> np.ndarray:
    """Orthogonal point functions Theta_m(sigma), shape (M - 1, M) (van de Walle).

    Theta_m = -cos(2 pi ceil(m/2) sigma / M) for odd m, -sin(...) for even m.
    """
    sigma = np.arange(n_species)
    rows = []
    for m in range(1, n_species):
        k = (m + 1) // 2
        trig = np.cos if m % 2 else np.sin
        rows.append(-trig(2 * np.pi * k * sigma / n_species))
    return np.array(rows)


def correlation_pairs(n_species: int) -> list[tuple[int, int]]:
    """The (m, n), m <= n, index pairs of pair correlation functions."""
    return [(m, n) for m in range(n_species - 1) for n in range(m, n_species - 1)]


def pair_correlations(counts: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Pair correlation functions per shell, shape (n_shells, n_functions)."""
    n_species = counts.shape[1]
    theta = point_functions(n_species)
    probability = counts / bonds[:, None, None]
    return np.array(
        [
            [theta[m] @ p @ theta[n] for m, n in correlation_pairs(n_species)]
            for p in probability
        ]
    )


def random_correlations(concentrations: np.ndarray, n_shells: int) -> np.ndarray:
    """Pair correlations of the ideal random alloy at ``concentrations``."""
    theta = point_functions(len(concentrations))
    mean = theta @ concentrations
    row = [mean[m] * mean[n] for m, n in correlation_pairs(len(concentrations))]
    return np.tile(row, (n_shells, 1))


def warren_cowley(counts: np.ndarray, concentrations: np.ndarray) -> np.ndarray:
    """Warren-Cowley alpha[s, a, b] = 1 - P_s(b | a) / c_b (0 for a random alloy)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        conditional = counts / counts.sum(axis=2, keepdims=True)
        alpha = 1 - conditional / concentrations[None, None, :]
    return np.nan_to_num(alpha)


@dataclass(frozen=True)
class OrderQuality:
    """How random (or how ordered) an arrangement is, shell by shell.

    Attributes
    ----------
    species
        Species order of the arrays (by atomic number).
    shell_radii_A
        Pair-shell distances.
    mismatch
        Sum over shells and correlation functions of |Gamma - Gamma_random|.
    mismatch_per_shell
        The same per shell.
    warren_cowley
        Warren-Cowley alpha per shell s and species pair (a, b):
        ``warren_cowley[s][a][b]``.
    """

    species: list[str]
    shell_radii_A: list[float]
    mismatch: float
    mismatch_per_shell: list[float]
    warren_cowley: list[list[list[float]]]

    def as_dict(self) -> dict:
        """Plain JSON-ready form."""
        return {
            "species": self.species,
            "shell_radii_A": self.shell_radii_A,
            "cluster_vector_mismatch": self.mismatch,
            "mismatch_per_shell": self.mismatch_per_shell,
            "warren_cowley_alpha": self.warren_cowley,
        }


def order_quality(
    shells: PairShells,
    occupation: np.ndarray,
    species: list[str],
    concentrations: np.ndarray | None = None,
) -> OrderQuality:
    """Cluster-vector mismatch and Warren-Cowley alpha of one arrangement.

    ``concentrations`` default to those of ``occupation`` itself.
    """
    n_species = len(species)
    if concentrations is None:
        concentrations = np.bincount(occupation, minlength=n_species) / len(occupation)
    counts = pair_counts(shells, occupation, n_species)
    diff = np.abs(
        pair_correlations(counts, shells.bonds)
        - random_correlations(concentrations, len(shells.radii))
    )
    return OrderQuality(
        species=list(species),
        shell_radii_A=[float(r) for r in shells.radii],
        mismatch=float(diff.sum()),
        mismatch_per_shell=[float(x) for x in diff.sum(axis=1)],
        warren_cowley=warren_cowley(counts, concentrations).round(6).tolist(),
    )


def _distinct(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in values:
        if not out or v - out[-1] > DISTANCE_TOL:
            out.append(v)
    return out


def disordered_sites(structure: Structure) -> tuple[list[int], list[str], np.ndarray]:
    """Sites with partial occupancy, their species (by Z) and the concentrations.

    Raises
    ------
    OredoxInputError
        If no site is disordered, or disordered sites do not share one species set.
    """
    sites = [i for i, site in enumerate(structure) if not site.is_ordered]
    if not sites:
        raise OredoxInputError(
            "no site has partial occupancy: give a disordered structure (e.g. "
            "rock_salt({'Li': 0.5, 'Ni': 0.5})) for SQS or Monte Carlo"
        )
    compositions = {
        tuple(sorted((str(sp), round(x, 6)) for sp, x in structure[i].species.items()))
        for i in sites
    }
    if len(compositions) > 1:
        raise OredoxInputError(
            "the disordered sites have different compositions; one ordering "
            "sublattice at a time is supported"
        )
    occupancy = structure[sites[0]].species
    vacancy = 1 - sum(occupancy.values())
    if vacancy > 1e-6:
        raise OredoxInputError("partial occupancies with vacancies are not supported")
    ordered = sorted(occupancy.items(), key=lambda kv: kv[0].Z)
    species = [str(sp) for sp, _ in ordered]
    concentrations = np.array([x for _, x in ordered]) / sum(occupancy.values())
    return sites, species, concentrations
