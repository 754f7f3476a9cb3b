"""Special quasirandom structures (SQS) and minimum-contact orderings on one sublattice.

:func:`generate_sqs` picks a compact supercell (:func:`compact_supercell`), places the
species of the disordered sublattice at their exact counts, and anneals swaps to bring
the pair correlations of the first shells (every periodic image counted) to those of
the random alloy. A swap changes only the pair counts around the two sites, so each
step costs O(neighbours) instead of a new cluster vector: the annealing loop is
compiled with numba. :func:`minimize_contacts` uses the same machinery to spread chosen
species apart (fewest like pairs in the first shell), the "cations as homogeneously
distributed as possible" cell of the LTNO study.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numba
import numpy as np
from pymatgen.core import Lattice, Structure

from oredox.errors import OredoxInputError
from oredox.structures.clusters import (
    OrderQuality,
    correlation_pairs,
    disordered_sites,
    order_quality,
    pair_counts,
    pair_shells,
    point_functions,
    random_correlations,
    shell_radii,
)
from oredox.structures.frameworks import default_max_atoms

MODE_SQS = 0
MODE_CONTACTS = 1


def compact_supercell(parent: Structure, n_cells: int) -> np.ndarray:
    """Integer matrix of the most compact supercell of ``n_cells`` parent cells.

    Every Hermite normal form of determinant ``n_cells`` is scored by the shortest
    lattice vector of the supercell (the shortest periodic image distance, to be
    maximised), then by the spread of its reduced vector lengths (to be minimised).

    Returns
    -------
    numpy.ndarray
        3x3 integers, rows are the supercell vectors in units of the parent's.
    """
    if n_cells < 1:
        raise OredoxInputError(f"a supercell needs at least one cell, not {n_cells}")
    best, best_score = None, None
    for hnf in _hermite_normal_forms_3d(n_cells):
        lattice = Lattice(hnf @ parent.lattice.matrix)
        lengths = sorted(lattice.get_lll_reduced_lattice().abc)
        score = (
            round(_shortest_vector(lattice), 4),
            -round(lengths[2] / lengths[0], 4),
        )
        if best_score is None or score > best_score:
            best, best_score = hnf, score
    reduced = Lattice(best @ parent.lattice.matrix).get_lll_reduced_lattice()
    # express the reduced vectors in the parent basis (integers)
    matrix = np.rint(reduced.matrix @ np.linalg.inv(parent.lattice.matrix)).astype(int)
    if np.linalg.det(matrix) < 0:
        matrix[0] *= -1
    return matrix


def generate_sqs(
    structure: Structure,
    n_cells: int | None = None,
    supercell_matrix=None,
    n_shells: int = 4,
    n_steps: int = 200_000,
    t_start: float = 0.05,
    t_stop: float = 1e-4,
    seed: int = 0,
) -> Structure:
    """Special quasirandom structure of a disordered ``structure``.

    Parameters
    ----------
    structure
        Parent with one disordered sublattice (partial occupancies), e.g.
        ``rock_salt({"Li": 7/12, "Ti": 7/24, "Ni": 1/8})``; ordered sites stay fixed.
    n_cells, supercell_matrix
        Size in parent cells (a compact supercell is chosen) or an explicit matrix.
    n_shells
        Pair shells whose correlations are matched (every periodic image counted).
    n_steps, t_start, t_stop
        Annealing swaps and the exponential temperature schedule (in units of the
        mismatch).
    seed
        Random seed; the same seed gives the same structure.

    Returns
    -------
    Structure
        Ordered, with ``properties["provenance"]`` holding the method, parameters,
        seed and the :class:`~oredox.structures.clusters.OrderQuality` report.
    """
    _check_steps(n_steps)
    prepared, shells, occupation = _setup(
        structure, n_cells, supercell_matrix, n_shells, seed
    )
    species, conc = prepared.species, prepared.concentrations
    target = random_correlations(conc, n_shells)
    best, objective = _run(
        occupation,
        shells,
        len(species),
        MODE_SQS,
        target,
        np.zeros((n_shells, len(species), len(species))),
        n_steps,
        t_start,
        t_stop,
        seed,
    )
    quality = order_quality(shells, best, species, conc)
    return _finish(
        prepared,
        best,
        quality,
        {
            "method": "sqs",
            "n_shells": n_shells,
            "n_steps": n_steps,
            "t_start": t_start,
            "t_stop": t_stop,
            "seed": seed,
            "objective": float(objective),
        },
    )


def minimize_contacts(
    structure: Structure,
    spread: list[str],
    n_cells: int | None = None,
    supercell_matrix=None,
    n_steps: int = 200_000,
    t_start: float = 0.5,
    t_stop: float = 1e-3,
    seed: int = 0,
) -> Structure:
    """Order the sublattice with the fewest first-shell contacts among ``spread``.

    For LTNO, ``spread=["Ti", "Ni"]`` places the transition metals as far from each
    other as the cell allows (minimum TM-TM nearest-neighbour pairs), the ground-state
    rule of Li et al. 2022. Same outputs as :func:`generate_sqs`; the provenance adds
    ``first_shell_contacts`` (ordered pairs, each bond counted twice).
    """
    _check_steps(n_steps)
    prepared, shells, occupation = _setup(structure, n_cells, supercell_matrix, 1, seed)
    species, conc = prepared.species, prepared.concentrations
    symbols = [s.rstrip("+-0123456789") for s in species]
    unknown = set(spread) - set(symbols)
    if unknown:
        raise OredoxInputError(f"{sorted(unknown)} not on the sublattice ({symbols})")
    weights = np.zeros((1, len(species), len(species)))
    chosen = [symbols.index(s) for s in spread]
    for a, b in product(chosen, chosen):
        weights[0, a, b] = 1.0
    best, objective = _run(
        occupation,
        shells,
        len(species),
        MODE_CONTACTS,
        np.zeros((1, len(correlation_pairs(len(species))))),
        weights,
        n_steps,
        t_start,
        t_stop,
        seed,
    )
    counts = pair_counts(shells, best, len(species))
    contacts = int(sum(counts[0, a, b] for a, b in product(chosen, chosen)))
    radii = shell_radii(structure, prepared.parent_sites, 4)
    quality = order_quality(
        pair_shells(prepared.cell, prepared.sites, radii), best, species, conc
    )
    return _finish(
        prepared,
        best,
        quality,
        {
            "method": "minimum contacts",
            "spread": list(spread),
            "first_shell_contacts": contacts,
            "n_steps": n_steps,
            "seed": seed,
            "objective": float(objective),
        },
    )


@dataclass(frozen=True)
class OrderingCell:
    """A supercell of a disordered parent, ready to be occupied.

    Attributes
    ----------
    cell
        The supercell (disordered sites still partial).
    parent_sites
        Disordered sites of the parent (for the pair-shell radii).
    sites
        Disordered sites of the supercell, in order.
    species
        Their species, by atomic number.
    concentrations
        Species fractions on the sublattice.
    counts
        Exact number of each species in the supercell.
    """

    cell: Structure
    parent_sites: list[int]
    sites: list[int]
    species: list[str]
    concentrations: np.ndarray
    counts: np.ndarray

    def random_occupation(self, seed: int) -> np.ndarray:
        """Species indices at the exact counts, randomly placed."""
        rng = np.random.default_rng(seed)
        return rng.permutation(np.repeat(np.arange(len(self.species)), self.counts))

    def occupy(self, occupation: np.ndarray) -> Structure:
        """The ordered supercell for ``occupation`` (site properties kept)."""
        structure = self.cell.copy()
        for site, sigma in zip(self.sites, occupation, strict=True):
            structure.replace(
                site, self.species[sigma], properties=structure[site].properties
            )
        return structure


def ordering_cell(
    structure: Structure, n_cells: int | None = None, supercell_matrix=None
) -> OrderingCell:
    """Supercell of ``structure`` whose disordered sites hold exact species counts.

    Raises
    ------
    OredoxInputError
        No size given, or a site count that makes some species count fractional.
    """
    parent_sites, species, conc = disordered_sites(structure)
    if supercell_matrix is None:
        if n_cells is None:
            raise OredoxInputError("give n_cells or supercell_matrix")
        if n_cells < 1:
            raise OredoxInputError(f"n_cells must be at least 1, got {n_cells}")
        limit = default_max_atoms()
        if n_cells * len(structure) > limit:  # before the cell search, not after
            raise OredoxInputError(
                f"{n_cells} cells of {len(structure)} sites exceed the limit of "
                f"{limit:,} sites; choose fewer or raise OREDOX_MAX_ATOMS"
            )
        supercell_matrix = compact_supercell(structure, n_cells)
    cell = structure.make_supercell(np.asarray(supercell_matrix), in_place=False)
    sites = [i for i, site in enumerate(cell) if not site.is_ordered]
    exact = conc * len(sites)
    counts = np.round(exact).astype(np.int64)
    if counts.sum() != len(sites) or np.any(np.abs(exact - counts) > 0.02):
        detail = ", ".join(f"{s} {c:.3f}" for s, c in zip(species, exact, strict=True))
        raise OredoxInputError(
            f"{len(sites)} sites cannot hold these concentrations exactly ({detail}); "
            f"choose a cell whose site count makes every count an integer"
        )
    return OrderingCell(cell, parent_sites, sites, species, conc, counts)


def _check_steps(n_steps: int) -> None:
    if n_steps < 0:
        raise OredoxInputError(f"the number of swaps must be >= 0, got {n_steps}")


def _setup(structure, n_cells, supercell_matrix, n_shells, seed):
    if n_shells < 1:
        raise OredoxInputError(f"match at least one pair shell, got {n_shells}")
    prepared = ordering_cell(structure, n_cells, supercell_matrix)
    radii = shell_radii(structure, prepared.parent_sites, n_shells)
    shells = pair_shells(prepared.cell, prepared.sites, radii)
    return prepared, shells, prepared.random_occupation(seed)


def _run(
    occupation, shells, n_species, mode, target, weights, n_steps, t_start, t_stop, seed
):
    if len(np.unique(occupation)) < 2:
        return occupation, 0.0
    theta = point_functions(n_species)
    pairs = np.array(correlation_pairs(n_species), dtype=np.int64).reshape(-1, 2)
    counts = pair_counts(shells, occupation, n_species).astype(np.float64)
    return _anneal(
        occupation.copy(),
        counts,
        shells.pointer,
        shells.neighbour,
        shells.shell,
        shells.count.astype(np.float64),
        shells.bonds.astype(np.float64),
        theta,
        pairs,
        np.asarray(target, dtype=np.float64),
        np.asarray(weights, dtype=np.float64),
        mode,
        n_steps,
        t_start,
        t_stop,
        seed,
    )


def _finish(prepared: OrderingCell, occupation, quality: OrderQuality, provenance):
    structure = prepared.occupy(occupation)
    structure.properties["provenance"] = {**provenance, "quality": quality.as_dict()}
    return structure


@numba.njit(cache=True)
def _objective(counts, bonds, theta, pairs, target, weights, mode):
    total = 0.0
    n_shells, n_species, _ = counts.shape
    for s in range(n_shells):
        if mode == MODE_SQS:
            for f in range(pairs.shape[0]):
                m, n = pairs[f, 0], pairs[f, 1]
                gamma = 0.0
                for a in range(n_species):
                    for b in range(n_species):
                        gamma += counts[s, a, b] * theta[m, a] * theta[n, b]
                total += abs(gamma / bonds[s] - target[s, f])
        else:
            for a in range(n_species):
                for b in range(n_species):
                    total += weights[s, a, b] * counts[s, a, b]
    return total


@numba.njit(cache=True)
def _change(counts, occ, pointer, neighbour, shell, count, site, new):
    old = occ[site]
    for e in range(pointer[site], pointer[site + 1]):
        k, s, c = neighbour[e], shell[e], count[e]
        if k == site:
            counts[s, old, old] -= c
            counts[s, new, new] += c
        else:
            x = occ[k]
            counts[s, old, x] -= c
            counts[s, x, old] -= c
            counts[s, new, x] += c
            counts[s, x, new] += c
    occ[site] = new


@numba.njit(cache=True)
def _anneal(
    occ,
    counts,
    pointer,
    neighbour,
    shell,
    count,
    bonds,
    theta,
    pairs,
    target,
    weights,
    mode,
    n_steps,
    t_start,
    t_stop,
    seed,
):
    np.random.seed(seed)
    n = occ.shape[0]
    current = _objective(counts, bonds, theta, pairs, target, weights, mode)
    best = current
    best_occ = occ.copy()
    ratio = t_stop / t_start
    for step in range(n_steps):
        temperature = t_start * ratio ** (step / n_steps)
        i = np.random.randint(n)
        j = np.random.randint(n)
        while occ[j] == occ[i]:
            j = np.random.randint(n)
        a, b = occ[i], occ[j]
        _change(counts, occ, pointer, neighbour, shell, count, i, b)
        _change(counts, occ, pointer, neighbour, shell, count, j, a)
        trial = _objective(counts, bonds, theta, pairs, target, weights, mode)
        delta = trial - current
        if delta <= 0 or np.random.random() < np.exp(-delta / temperature):
            current = trial
            if current < best - 1e-12:
                best = current
                best_occ[:] = occ
        else:
            _change(counts, occ, pointer, neighbour, shell, count, j, b)
            _change(counts, occ, pointer, neighbour, shell, count, i, a)
    return best_occ, best


def _shortest_vector(lattice: Lattice) -> float:
    reduced = lattice.get_lll_reduced_lattice().matrix
    return min(
        np.linalg.norm(np.array(c) @ reduced)
        for c in product((-1, 0, 1), repeat=3)
        if any(c)
    )


def _hermite_normal_forms_3d(n: int):
    for a in range(1, n + 1):
        if n % a:
            continue
        for c in range(1, n // a + 1):
            if (n // a) % c:
                continue
            f = n // (a * c)
            for b in range(c):
                for d in range(f):
                    for e in range(f):
                        yield np.array([[a, 0, 0], [b, c, 0], [d, e, f]])
