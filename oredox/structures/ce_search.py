"""Lowest-energy alkali/vacancy arrangements of one supercell under a cluster expansion.

On a fixed supercell, a cluster expansion up to triplets (plus, if wanted, an Ewald
energy) is a cubic polynomial of the occupations o in {0, 1}^n of its n alkali sites
(1 = alkali present), eV per supercell, t = (a, b, c) with a < b < c:
E(o) = constant + sum_i linear_i o_i + sum_{i<j} pairs_ij o_i o_j + sum_t value_t o_a
o_b o_c (:class:`OccupationPolynomial`). :func:`anneal` searches it by compiled
canonical Monte Carlo, keeping the fields h_i = dE/do_i: swapping occupied i with empty
j changes E by h_j - h_i - pairs_ij - sum_{t = (i, j, k)} value_t o_k, and an accepted
swap updates h in O(n + triplets of i and j). :func:`lowest_exhaustive` evaluates every
arrangement, or every symmetry-distinct one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from math import comb

import numba
import numpy as np
from monty.json import MSONable
from pymatgen.core import Structure

from oredox.errors import OredoxInputError
from oredox.structures.delithiation import (
    AlkaliSymmetry,
    iter_masks,
    masks_to_occupied,
)

BOLTZMANN_EV_PER_K = 8.617333262e-5
DEFAULT_TEMPERATURES_K = np.geomspace(2000.0, 10.0, 30)
MAX_ARRANGEMENTS = 10_000_000  # default limit of lowest_exhaustive
_ROWS = 1 << 16  # rows per call of an energy function or per evaluation chunk

EnergyFunction = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class OccupationPolynomial(MSONable):
    """Energy (eV per supercell) of the occupations of n sites, up to triplets.

    Attributes
    ----------
    constant
        Energy with every site empty, eV.
    linear
        (n,) energy of each site occupied alone, less ``constant``, eV.
    pairs
        (n, n) pair coefficients, eV, symmetric with a zero diagonal (each pair counts
        once in the energy).
    triplets, triplet_values
        (m, 3) increasing site indices and (m,) coefficients, eV.
    """

    constant: float
    linear: np.ndarray
    pairs: np.ndarray
    triplets: np.ndarray
    triplet_values: np.ndarray

    def __post_init__(self):
        # lists arrive from JSON when the polynomial crosses a job boundary
        n = len(self.linear)
        pairs = np.asarray(self.pairs, dtype=float).reshape(n, n)
        triplets = np.asarray(self.triplets, dtype=np.int64).reshape(-1, 3)
        values = np.asarray(self.triplet_values, dtype=float).reshape(-1)
        if np.abs(pairs - pairs.T).max(initial=0) > 1e-12 or np.diag(pairs).any():
            raise OredoxInputError("pairs must be symmetric with a zero diagonal")
        if len(values) != len(triplets) or np.any(
            (triplets < 0) | (triplets >= n) | (np.diff(triplets, append=n) <= 0)
        ):
            raise OredoxInputError(f"need one value per triplet a < b < c < {n}")
        linear = np.asarray(self.linear, dtype=float)
        converted = (float(self.constant), linear, pairs, triplets, values)
        for name, value in zip(self.__dataclass_fields__, converted, strict=True):
            object.__setattr__(self, name, value)

    @property
    def n_sites(self) -> int:
        """Number of variable sites."""
        return len(self.linear)

    def energies(self, occupied: np.ndarray) -> np.ndarray:
        """Energies (eV per supercell) of occupations: bool (M, n), True = occupied."""
        occ = np.atleast_2d(np.asarray(occupied, dtype=bool))
        if occ.shape[1] != self.n_sites:
            raise OredoxInputError(f"give occupations of {self.n_sites} sites")
        out = _triplet_sums(occ, self.triplets, self.triplet_values) + self.constant
        for start in range(0, len(occ), _ROWS):
            x = occ[start : start + _ROWS].astype(float)
            pair = 0.5 * np.einsum("ij,ij->i", x @ self.pairs, x)
            out[start : start + _ROWS] += x @ self.linear + pair
        return out

    @classmethod
    def from_function(
        cls,
        energies: EnergyFunction,
        n_sites: int,
        pair_candidates: np.ndarray | None = None,
        triplet_candidates: np.ndarray | None = None,
        drop_below_eV: float = 1e-12,
    ) -> OccupationPolynomial:
        """The polynomial of ``energies`` by inclusion-exclusion (Moebius inversion).

        With E(ij) the energy with sites i and j alone occupied: c0 = E(empty),
        c_i = E(i) - c0, c_ij = E(ij) - c0 - c_i - c_j, c_ijk = E(ijk) - (c0 + c_i +
        c_j + c_k + c_ij + c_ik + c_jk). Exact for a function with no four-body term
        and no pair or triplet outside the candidates, e.g. a cluster expansion up to
        triplets plus an Ewald energy whose compensating charges are linear in the
        alkali count.

        Parameters
        ----------
        energies
            Batched: bool (M, n_sites), True = alkali present, to (M,) eV per
            supercell. Each call gets at most 65536 rows, all with the same number
            (0, 1, 2 or 3) of alkali, as e.g. ``DelithiationEwald.energies`` needs.
        n_sites
            Number of variable sites.
        pair_candidates, triplet_candidates
            (p, 2) pairs and (m, 3) triplets of sites that may have a non-zero
            coefficient; None: every pair, no triplet (see :func:`triplet_candidates`).
        drop_below_eV
            Smaller triplet coefficients are dropped.
        """
        n = int(n_sites)
        c0 = _call(energies, np.zeros((1, n), dtype=bool))[0]
        linear = _call(energies, np.eye(n, dtype=bool)) - c0
        if pair_candidates is None:
            pair_candidates = np.transpose(np.triu_indices(n, 1))
        a, b = _site_tuples(pair_candidates, 2, n).T
        pairs = np.zeros((n, n))
        pair_energies = _call(energies, _rows(np.stack([a, b], axis=1), n))
        pairs[a, b] = pairs[b, a] = pair_energies - c0 - linear[a] - linear[b]
        triplets = _site_tuples(triplet_candidates, 3, n)
        a, b, c = triplets.T
        lower = c0 + linear[triplets].sum(axis=1) + pairs[a, b] + pairs[a, c]
        values = _call(energies, _rows(triplets, n)) - lower - pairs[b, c]
        kept = np.abs(values) >= drop_below_eV
        return cls(c0, linear, pairs, triplets[kept], values[kept])


def triplet_candidates(
    structure: Structure, site_indices, cutoff_A: float, tol_A: float = 1e-5
) -> np.ndarray:
    """Triplets of distinct sites whose distances (periodic images) are <= ``cutoff_A``.

    As a cluster space's triplet cutoff (icet's) measures them. Returns (m, 3) int,
    indices into ``site_indices`` (not into ``structure``), rows increasing and sorted.
    """
    sites = [int(i) for i in site_indices]
    position = {site: k for k, site in enumerate(sites)}
    reach = cutoff_A + tol_A
    centres, points, images, _ = structure.get_neighbor_list(
        reach, sites=[structure[i] for i in sites]
    )
    cart = structure.lattice.get_cartesian_coords(
        structure.frac_coords[points] + images
    )
    found = set()
    for k in range(len(sites)):
        mine = [e for e in np.flatnonzero(centres == k) if points[e] in position]
        for e, f in itertools.combinations(mine, 2):
            triplet = {k, position[points[e]], position[points[f]]}
            if len(triplet) == 3 and np.linalg.norm(cart[e] - cart[f]) <= reach:
                found.add(tuple(sorted(triplet)))
    return np.array(sorted(found), dtype=np.int64).reshape(-1, 3)


def anneal(
    polynomial: OccupationPolynomial,
    n_occupied: int,
    temperatures_K=None,
    sweeps_per_temperature: int = 20,
    seed: int = 0,
    keep: int = 10,
    restarts: int = 4,
    energy_tolerance_eV: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest arrangements of ``n_occupied`` alkali by simulated annealing.

    Canonical Monte Carlo: a trial step swaps a random occupied site with a random
    empty one, accepted with probability min(1, exp(-dE / k_B T)); each restart starts
    from a random arrangement and makes ``sweeps_per_temperature * n_sites`` trial
    steps at each temperature. The single swaps away from the kept arrangements are
    then tried too (annealing visits few states near the lowest).

    Parameters
    ----------
    polynomial
        Energy of the supercell, eV per supercell.
    n_occupied, keep
        Number of alkali present; number of lowest distinct arrangements returned.
    temperatures_K
        The ladder, K; None: 30 temperatures from 2000 K to 10 K, geometric.
    sweeps_per_temperature, restarts, seed
        Trial swaps per site at each temperature; independent anneals, pooled; the
        same seed gives the same result.
    energy_tolerance_eV
        Arrangements closer in energy count as one (symmetry-equivalent copies have
        equal energies); 0 keeps every distinct occupation.

    Returns
    -------
    occupied, energies_eV
        bool (k, n_sites), k <= ``keep``, lowest first; (k,) eV per supercell.
    """
    n = polynomial.n_sites
    ladder = DEFAULT_TEMPERATURES_K if temperatures_K is None else temperatures_K
    temperatures = np.asarray(ladder, dtype=float).reshape(-1)
    _check_content(n_occupied, n, keep)
    if not len(temperatures) or not np.all(
        (temperatures > 0) & (temperatures < np.inf)
    ):
        raise OredoxInputError("give a non-empty ladder of positive temperatures (K)")
    if min(sweeps_per_temperature, restarts) < 1 or not energy_tolerance_eV >= 0:
        raise OredoxInputError(
            "sweeps_per_temperature, restarts >= 1 and energy_tolerance_eV >= 0, got "
            f"{sweeps_per_temperature}, {restarts}, {energy_tolerance_eV}"
        )
    rng, tolerance = np.random.default_rng(seed), float(energy_tolerance_eV)
    zobrist = rng.integers(-(2**62), 2**62, n, dtype=np.int64)
    # energies (less the constant), hashes, occupations, count
    best = (np.empty(keep), np.empty(keep, np.int64), np.zeros((keep, n), np.uint8))
    best += (np.zeros(1, dtype=np.int64),)
    terms = (polynomial.linear, polynomial.pairs, *_triplets_by_site(polynomial))
    betas = 1.0 / (BOLTZMANN_EV_PER_K * temperatures)
    steps = sweeps_per_temperature * n
    for restart in range(restarts):
        occ = np.zeros(n, dtype=np.uint8)
        occ[rng.choice(n, n_occupied, replace=False)] = 1
        seeds = (seed * 7919 + restart, zobrist)
        _anneal_kernel(occ, terms, betas, steps, *seeds, tolerance, best)
    _polish(terms, zobrist, tolerance, best)
    occupied = best[2][: best[3][0]].astype(bool)
    energies = polynomial.energies(occupied)
    order = np.argsort(energies, kind="stable")
    return occupied[order], energies[order]


def lowest_exhaustive(
    polynomial: OccupationPolynomial,
    symmetry: AlkaliSymmetry | None,
    n_occupied: int,
    keep: int = 10,
    max_arrangements: int = MAX_ARRANGEMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest arrangements of ``n_occupied`` alkali, every arrangement evaluated.

    Parameters
    ----------
    polynomial
        Energy, eV per supercell, sites in the order of ``symmetry.alkali_indices``.
    symmetry
        Symmetry of the host supercell: one arrangement per orbit; None: every
        combination (symmetry-equivalent copies included).
    n_occupied, keep
        Number of alkali present; number of lowest arrangements returned.
    max_arrangements
        Refuse when C(n_sites, n_occupied) is larger.

    Returns
    -------
    occupied, energies_eV
        bool (k, n_sites), k <= ``keep``, lowest first; (k,) eV per supercell.
    """
    n = polynomial.n_sites
    _check_content(n_occupied, n, keep)
    raw = comb(n, n_occupied)
    if raw > max_arrangements:
        raise OredoxInputError(
            f"{raw:,} arrangements of {n_occupied} alkali on {n} sites exceed "
            f"max_arrangements={max_arrangements:,}; use anneal or raise the limit"
        )
    if symmetry is not None and symmetry.n_sites != n:
        raise OredoxInputError(f"the symmetry is of {symmetry.n_sites} sites, not {n}")
    if symmetry is not None:  # streamed: one chunk of masks at a time
        blocks = (
            masks_to_occupied(masks, n)
            for masks, _ in iter_masks(symmetry, n - n_occupied)
        )
    else:
        blocks = _combination_blocks(n, n_occupied)
    best_occ, best_energy = np.zeros((0, n), dtype=bool), np.zeros(0)
    for block in blocks:  # running merge: memory stays at one block
        occ = np.concatenate([best_occ, block])
        energies = np.concatenate([best_energy, polynomial.energies(block)])
        order = np.argsort(energies, kind="stable")[:keep]
        best_occ, best_energy = occ[order], energies[order]
    return best_occ, best_energy


def _check_content(n_occupied: int, n: int, keep: int) -> None:
    if not 0 <= n_occupied <= n or keep < 1:
        message = f"need 0 <= alkali <= {n} and keep >= 1, got {n_occupied}, {keep}"
        raise OredoxInputError(message)


def _combination_blocks(n: int, k: int):
    """Every arrangement of k occupied among n sites, in bool blocks of rows."""
    combos = itertools.combinations(range(n), k)
    while chunk := list(itertools.islice(combos, _ROWS)):
        yield _rows(np.array(chunk, dtype=np.int64).reshape(len(chunk), k), n)


def _call(energies: EnergyFunction, occupied: np.ndarray) -> np.ndarray:
    out = np.empty(len(occupied))
    for start in range(0, len(occupied), _ROWS):
        block = occupied[start : start + _ROWS]
        values = np.asarray(energies(block), dtype=float).reshape(-1)
        if values.shape != (len(block),) or not np.all(np.isfinite(values)):
            raise OredoxInputError("the energy function must return (M,) finite eV")
        out[start : start + _ROWS] = values
    return out


def _rows(tuples: np.ndarray, n: int) -> np.ndarray:
    occ = np.zeros((len(tuples), n), dtype=bool)
    np.put_along_axis(occ, tuples, True, axis=1)
    return occ


def _site_tuples(candidates, size: int, n: int) -> np.ndarray:
    tuples = np.asarray([] if candidates is None else candidates, dtype=np.int64)
    tuples = np.sort(tuples.reshape(-1, size), axis=1)
    if np.any((tuples < 0) | (tuples >= n)) or np.any(np.diff(tuples, axis=1) == 0):
        raise OredoxInputError(f"clusters need distinct sites in 0..{n - 1}")
    return np.unique(tuples, axis=0)


def _triplets_by_site(polynomial: OccupationPolynomial):
    """Each site's triplets as (pointer, the two other sites, value), CSR order."""
    site, triplets = polynomial.triplets.reshape(-1), polynomial.triplets
    others = triplets[:, [[1, 2], [0, 2], [0, 1]]].reshape(-1, 2)
    order = np.argsort(site, kind="stable")
    pointer = np.cumsum([0, *np.bincount(site, minlength=polynomial.n_sites)])
    values = np.repeat(polynomial.triplet_values, 3)[order]
    return pointer, np.ascontiguousarray(others[order]), values


@numba.njit(cache=True)
def _triplet_sums(occ, triplets, values):
    out = np.zeros(occ.shape[0])
    for r in range(occ.shape[0]):
        for t in range(triplets.shape[0]):
            a, b, c = triplets[t]
            out[r] += values[t] * (occ[r, a] & occ[r, b] & occ[r, c])
    return out


@numba.njit(cache=True)
def _fields(occ, terms):
    """Site fields h (dE/do_i) and the energy less the constant, eV."""
    linear, pairs, pointer, others, values = terms
    h = linear.copy()
    energy = 0.0
    for i in range(occ.shape[0]):
        pair_part = np.sum(pairs[i] * occ)
        triplet_part = 0.0
        for e in range(pointer[i], pointer[i + 1]):
            triplet_part += values[e] * occ[others[e, 0]] * occ[others[e, 1]]
        h[i] += pair_part + triplet_part
        energy += occ[i] * (linear[i] + 0.5 * pair_part + triplet_part / 3.0)
    return h, energy


@numba.njit(cache=True)
def _flip(occ, h, terms, site, sign):
    """Set ``site`` occupied (sign +1) or empty (-1) and update the fields."""
    _, pairs, pointer, others, values = terms
    occ[site] = 1 if sign > 0 else 0
    h += sign * pairs[site]
    for e in range(pointer[site], pointer[site + 1]):
        a, b = others[e, 0], others[e, 1]
        h[a] += sign * values[e] * occ[b]
        h[b] += sign * values[e] * occ[a]


@numba.njit(cache=True)
def _remember(occ, energy, code, tolerance, best):
    """Keep ``occ`` if among the lowest distinct; return the bar to enter next."""
    best_energy, best_hash, best_occ, n_best = best
    count, capacity = n_best[0], best_energy.shape[0]
    worst, known = 0, False
    for s in range(count):
        same = best_hash[s] == code and np.all(best_occ[s] == occ)
        known = known or same or abs(best_energy[s] - energy) <= tolerance
        if best_energy[s] > best_energy[worst]:
            worst = s
    if not known and (count < capacity or energy < best_energy[worst]):
        slot = count if count < capacity else worst
        n_best[0] = max(count, slot + 1)
        best_energy[slot], best_hash[slot] = energy, code
        best_occ[slot, :] = occ
    return np.inf if n_best[0] < capacity else best_energy.max()


@numba.njit(cache=True)
def _swap_change(occ, h, terms, i, j):
    """Energy change (eV) of emptying occupied site i and filling empty site j."""
    _, pairs, pointer, others, values = terms
    delta = h[j] - h[i] - pairs[i, j]
    for e in range(pointer[i], pointer[i + 1]):  # triplets holding both i and j
        if others[e, 0] == j:
            delta -= values[e] * occ[others[e, 1]]
        elif others[e, 1] == j:
            delta -= values[e] * occ[others[e, 0]]
    return delta


@numba.njit(cache=True)
def _anneal_kernel(occ, terms, betas, steps_per_beta, seed, zobrist, tolerance, best):
    """Anneal ``occ`` in place down ``betas`` (1/eV); record the lowest in ``best``."""
    np.random.seed(seed)  # noqa: NPY002
    full, empty = np.flatnonzero(occ), np.flatnonzero(occ == 0)
    code = np.int64(0)
    for i in full:
        code ^= zobrist[i]
    for beta in betas:
        h, energy = _fields(occ, terms)  # from scratch: no drift between temperatures
        threshold = _remember(occ, energy, code, tolerance, best)
        for _ in range(steps_per_beta * (full.size > 0 and empty.size > 0)):
            a = np.random.randint(full.size)  # noqa: NPY002
            b = np.random.randint(empty.size)  # noqa: NPY002
            i, j = full[a], empty[b]
            delta = _swap_change(occ, h, terms, i, j)
            if delta > 0 and np.random.random() >= np.exp(-beta * delta):  # noqa: NPY002
                continue
            _flip(occ, h, terms, i, -1)
            _flip(occ, h, terms, j, 1)
            full[a], empty[b] = j, i
            energy += delta
            code ^= zobrist[i] ^ zobrist[j]
            if energy < threshold:
                threshold = _remember(occ, energy, code, tolerance, best)


@numba.njit(cache=True)
def _polish(terms, zobrist, tolerance, best):
    """Offer every single swap away from each kept arrangement to ``best``."""
    best_energy, best_hash, best_occ, n_best = best
    threshold = np.inf if n_best[0] < best_energy.shape[0] else best_energy.max()
    for s in range(n_best[0]):
        occ, base, code = best_occ[s].copy(), best_energy[s], best_hash[s]
        h, _ = _fields(occ, terms)
        for i in np.flatnonzero(occ):
            for j in np.flatnonzero(occ == 0):
                energy = base + _swap_change(occ, h, terms, i, j)
                if energy < threshold:
                    occ[i], occ[j] = 0, 1
                    swapped = code ^ zobrist[i] ^ zobrist[j]
                    threshold = _remember(occ, energy, swapped, tolerance, best)
                    occ[i], occ[j] = 1, 0
