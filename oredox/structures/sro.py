"""Short-range order in disordered rock salts: canonical Monte Carlo, SRO descriptors.

:func:`monte_carlo_sro` equilibrates the cation sublattice of a supercell at a
temperature with swaps (composition fixed) under the point-charge Ewald energy of the
formal charges, screened by a dielectric constant, plus a pair cluster expansion when
one is given (effective pair interactions per shell and species pair), and returns
snapshots with their descriptors (:func:`sro_descriptors`):

- Warren-Cowley alpha per cation shell and species pair;
- the histogram of anion environments: anions with n alkali and 6 - n other cations
  among their six nearest cations;
- the fraction of 0-TM tetrahedra: tetrahedra of four mutually nearest cations with no
  transition metal, the Li percolation channels of Ji et al. 2019.

The energy is E = q^T J q with J the Ewald matrix for unit charges (eV), so a swap of
charges at sites i and j changes it by 2 d (phi_i - phi_j) + d^2 (J_ii + J_jj - 2 J_ij),
with d = q_j - q_i and phi = J q; only an accepted swap updates phi (O(N)).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations

import numba
import numpy as np
from pymatgen.core import Structure

from oredox.errors import OredoxInputError
from oredox.structures.clusters import (
    order_quality,
    pair_counts,
    pair_shells,
    shell_radii,
)
from oredox.structures.ewald import unit_charge_ewald
from oredox.structures.frameworks import ALKALI_ELEMENTS
from oredox.structures.sqs import ordering_cell

BOLTZMANN_EV_PER_K = 8.617333262e-5


@dataclass(frozen=True)
class SroResult:
    """Monte Carlo snapshots and their short-range-order descriptors.

    Attributes
    ----------
    snapshots
        Ordered structures sampled after equilibration.
    energies_eV
        Energy of each snapshot (screened Ewald plus pair interactions), eV per cell,
        without the constant anion-anion Ewald term.
    descriptors
        :func:`sro_descriptors` of each snapshot.
    initial_energy_eV, initial_descriptors
        The same for the random starting arrangement.
    acceptance
        Fraction of proposed swaps accepted.
    swaps_per_second
        Proposed swaps per second of the compiled Monte Carlo loop (descriptor and
        snapshot time excluded; the first call of a session also compiles it).
    """

    snapshots: list[Structure]
    energies_eV: list[float]
    descriptors: list[dict]
    initial_energy_eV: float
    initial_descriptors: dict
    acceptance: float
    swaps_per_second: float


def monte_carlo_sro(
    structure: Structure,
    temperature_K: float = 1500.0,
    n_cells: int | None = None,
    supercell_matrix=None,
    n_sweeps: int = 2000,
    n_snapshots: int = 5,
    dielectric: float = 10.0,
    seed: int = 0,
    pair_interactions: dict[tuple[str, str, int], float] | None = None,
    ewald: bool = True,
) -> SroResult:
    """Canonical Monte Carlo of the disordered cation sublattice at ``temperature_K``.

    Parameters
    ----------
    structure
        Disordered parent (e.g. :func:`oredox.structures.frameworks.rock_salt`) whose
        species carry oxidation states.
    temperature_K
        Temperature of the Boltzmann factor (synthesis temperature for DRX).
    n_cells, supercell_matrix
        Size in parent cells (compact supercell) or an explicit matrix.
    n_sweeps
        Swaps per site; the first half equilibrates, snapshots are taken evenly over
        the second half.
    dielectric
        Screening of the formal-charge Ewald energy (the bare one orders far too
        strongly at synthesis temperatures).
    seed
        Random seed; the same seed gives the same snapshots.
    pair_interactions
        A pair cluster expansion: effective pair interactions in eV per bond, keyed
        ``(species a, species b, shell)`` with shells counted from 1 (nearest
        neighbours), e.g. ``{("Ti", "Ti", 1): 0.08}``; missing pairs are 0. Added to
        the screened Ewald energy (or alone with ``ewald=False``).
    ewald
        Include the screened point-charge Ewald energy.
    """
    if not ewald and not pair_interactions:
        raise OredoxInputError("no energy: keep ewald=True or give pair_interactions")
    if not (temperature_K > 0 and dielectric > 0):
        raise OredoxInputError("temperature and dielectric constant must be positive")
    if n_sweeps < 1 or n_snapshots < 1:
        raise OredoxInputError(
            f"give at least one sweep and one snapshot, got {n_sweeps}, {n_snapshots}"
        )
    prepared = ordering_cell(structure, n_cells, supercell_matrix)
    cell, sites = prepared.cell, prepared.sites
    species, conc = prepared.species, prepared.concentrations
    charges = np.array([_charge(s) for s in species])
    coupling, fixed_potential = _ewald_coupling(cell, sites)
    coupling *= (1.0 if ewald else 0.0) / dielectric
    fixed_potential *= (1.0 if ewald else 0.0) / dielectric

    occupation = prepared.random_occupation(seed)
    q = charges[occupation]
    eci = _pair_interaction_array(pair_interactions or {}, species)
    radii = shell_radii(structure, prepared.parent_sites, max(4, len(eci)))
    shells = pair_shells(cell, sites, radii)
    eci = np.pad(eci, ((0, len(radii) - len(eci)), (0, 0), (0, 0)))
    kernel_args = (
        shells.pointer,
        shells.neighbour,
        shells.shell,
        shells.count.astype(np.float64),
        eci,
    )

    def energy(occ):
        q = charges[occ]
        counts = pair_counts(shells, occ, len(species))
        return float(
            q @ coupling @ q + 2 * q @ fixed_potential + 0.5 * np.sum(counts * eci)
        )

    def describe(occ):
        ordered = prepared.occupy(occ)
        return sro_descriptors(
            ordered,
            shells=shells,
            sites=sites,
            species=species,
            occupation=occ,
            concentrations=conc,
        )

    initial = (energy(occupation), describe(occupation))
    beta = 1.0 / (BOLTZMANN_EV_PER_K * temperature_K)
    n_steps = n_sweeps * len(sites)
    half = n_steps // 2
    chunk = max(1, half // max(n_snapshots, 1))
    phi = coupling @ q + fixed_potential
    occ = occupation.copy()
    start = time.perf_counter()
    accepted = _metropolis(occ, q, phi, coupling, beta, half, seed, *kernel_args)
    elapsed = time.perf_counter() - start
    snapshots, energies, descriptors = [], [], []
    for k in range(n_snapshots):
        start = time.perf_counter()
        accepted += _metropolis(
            occ, q, phi, coupling, beta, chunk, seed + 1 + k, *kernel_args
        )
        elapsed += time.perf_counter() - start
        snapshots.append(prepared.occupy(occ))
        energies.append(energy(occ))
        descriptors.append(describe(occ))
    total = half + chunk * n_snapshots
    for snap in snapshots:
        snap.properties["provenance"] = {
            "method": "canonical Monte Carlo (screened point-charge Ewald)",
            "temperature_K": temperature_K,
            "dielectric": dielectric,
            "n_sweeps": n_sweeps,
            "seed": seed,
        }
    return SroResult(
        snapshots=snapshots,
        energies_eV=energies,
        descriptors=descriptors,
        initial_energy_eV=initial[0],
        initial_descriptors=initial[1],
        acceptance=accepted / total,
        swaps_per_second=total / elapsed,
    )


def sro_descriptors(
    structure: Structure,
    shells=None,
    sites=None,
    species=None,
    occupation=None,
    concentrations=None,
) -> dict:
    """Warren-Cowley alpha, anion-environment histogram and 0-TM tetrahedra fraction.

    Works on any ordered rock-salt-type structure; the optional arguments let the
    Monte Carlo reuse its neighbour lists.
    """
    cation_sites = (
        [i for i, s in enumerate(structure) if s.specie.oxi_state > 0]
        if sites is None
        else sites
    )
    if species is None:
        species = sorted(
            {structure[i].specie for i in cation_sites}, key=lambda sp: sp.Z
        )
        species = [str(sp) for sp in species]
        occupation = np.array(
            [species.index(str(structure[i].specie)) for i in cation_sites]
        )
        concentrations = np.bincount(occupation, minlength=len(species)) / len(
            occupation
        )
    if shells is None:
        radii = shell_radii(structure, cation_sites, 4)
        shells = pair_shells(structure, cation_sites, radii)
    quality = order_quality(shells, np.asarray(occupation), species, concentrations)
    nn = float(shells.radii[0])
    return {
        "warren_cowley_alpha": quality.warren_cowley,
        "shell_radii_A": quality.shell_radii_A,
        "species": species,
        "anion_environments": anion_environments(structure, cation_sites),
        "zero_tm_tetrahedra_fraction": zero_tm_tetrahedra_fraction(
            structure, cation_sites, nn
        ),
    }


def anion_environments(
    structure: Structure, cation_sites: list[int]
) -> dict[str, float]:
    """Fraction of anions with n alkali among their 6 nearest cations, keyed 'n'."""
    cations = set(cation_sites)
    histogram: dict[str, int] = {}
    anions = [i for i in range(len(structure)) if i not in cations]
    for i in anions:
        neighbours = sorted(
            (
                n
                for n in structure.get_neighbors(structure[i], 3.5)
                if n.index in cations
            ),
            key=lambda n: n.nn_distance,
        )[:6]
        n_alkali = sum(n.specie.symbol in ALKALI_ELEMENTS for n in neighbours)
        histogram[str(n_alkali)] = histogram.get(str(n_alkali), 0) + 1
    return {k: v / len(anions) for k, v in sorted(histogram.items())}


def zero_tm_tetrahedra_fraction(
    structure: Structure, cation_sites: list[int], nn_distance: float
) -> float:
    """Fraction of nearest-neighbour cation tetrahedra with no transition metal.

    Tetrahedra are the 4-cliques of the cation nearest-neighbour graph (fcc: two per
    cation), periodic images included; a tetrahedron is 0-TM when its four cations are
    all alkali (Li, Na).
    """
    tol = 0.05 * nn_distance
    is_alkali = {i: structure[i].specie.symbol in ALKALI_ELEMENTS for i in cation_sites}
    cation_set = set(cation_sites)
    centroids = {}
    for i in cation_sites:
        neighbours = [
            n
            for n in structure.get_neighbors(structure[i], nn_distance + tol)
            if n.index in cation_set
        ]
        for a, b, c in combinations(neighbours, 3):
            if (
                abs(np.linalg.norm(a.coords - b.coords) - nn_distance) < tol
                and abs(np.linalg.norm(a.coords - c.coords) - nn_distance) < tol
                and abs(np.linalg.norm(b.coords - c.coords) - nn_distance) < tol
            ):
                centre = (structure[i].coords + a.coords + b.coords + c.coords) / 4
                frac = structure.lattice.get_fractional_coords(centre) % 1.0
                key = tuple(np.round(frac, 3) % 1.0)
                members = (i, a.index, b.index, c.index)
                centroids[key] = all(is_alkali[m] for m in members)
    if not centroids:
        raise OredoxInputError("no cation tetrahedra found: is this a rock-salt cell?")
    return sum(centroids.values()) / len(centroids)


def _charge(species: str) -> float:
    from pymatgen.core import Species

    oxi = Species.from_str(species).oxi_state
    if oxi is None:
        raise OredoxInputError(f"{species} has no oxidation state; Ewald needs charges")
    return float(oxi)


def _ewald_coupling(cell: Structure, sites: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Unit-charge Ewald couplings among ``sites`` and the potential of the fixed ions.

    Returns J (sites x sites, eV per unit charge squared, E = q^T J q convention) and
    the fixed-ion term f with E_cross = 2 q . f.
    """
    matrix = unit_charge_ewald(cell)
    fixed = [i for i in range(len(cell)) if i not in set(sites)]
    fixed_charges = np.array([cell[i].specie.oxi_state for i in fixed], dtype=float)
    coupling = matrix[np.ix_(sites, sites)]
    fixed_potential = matrix[np.ix_(sites, fixed)] @ fixed_charges
    return np.ascontiguousarray(coupling), fixed_potential


@numba.njit(cache=True)
def _metropolis(
    occ, q, phi, coupling, beta, n_steps, seed, pointer, neighbour, shell, count, eci
):
    np.random.seed(seed)
    n = occ.shape[0]
    pairs = np.any(eci != 0.0)  # Ewald alone: no neighbour loops (5x faster)
    accepted = 0
    for _ in range(n_steps):
        i = np.random.randint(n)
        j = np.random.randint(n)
        while occ[j] == occ[i]:  # every step proposes a real swap
            j = np.random.randint(n)
        d = q[j] - q[i]
        delta = 2 * d * (phi[i] - phi[j]) + d * d * (
            coupling[i, i] + coupling[j, j] - 2 * coupling[i, j]
        )
        if pairs:
            a, b = occ[i], occ[j]
            delta += _site_change(occ, pointer, neighbour, shell, count, eci, i, b)
            occ[i] = b
            delta += _site_change(occ, pointer, neighbour, shell, count, eci, j, a)
            occ[i] = a
        if delta <= 0 or np.random.random() < np.exp(-beta * delta):
            for k in range(n):
                phi[k] += d * (coupling[k, i] - coupling[k, j])
            q[i], q[j] = q[j], q[i]
            occ[i], occ[j] = occ[j], occ[i]
            accepted += 1
    return accepted


@numba.njit(cache=True)
def _site_change(occ, pointer, neighbour, shell, count, eci, site, new):
    """Pair-energy change (eV) when ``site`` takes species ``new``, others fixed."""
    old = occ[site]
    delta = 0.0
    for e in range(pointer[site], pointer[site + 1]):
        k, s, c = neighbour[e], shell[e], count[e]
        if k == site:  # bonds to its own images: each listed once per direction
            delta += 0.5 * c * (eci[s, new, new] - eci[s, old, old])
        else:
            delta += c * (eci[s, new, occ[k]] - eci[s, old, occ[k]])
    return delta


def _pair_interaction_array(
    pair_interactions: dict[tuple[str, str, int], float], species: list[str]
) -> np.ndarray:
    """J[shell, a, b] (eV per bond, symmetric) from ``{(a, b, shell): J}``."""
    symbols = [sp.rstrip("+-0123456789") for sp in species]
    n_shells = max((key[2] for key in pair_interactions), default=0)
    eci = np.zeros((n_shells, len(species), len(species)))
    for key, value in pair_interactions.items():
        if len(key) != 3 or key[2] < 1:
            raise OredoxInputError(
                f"pair interaction key {key!r} must be (species, species, shell >= 1)"
            )
        a, b, shell = key
        if a not in symbols or b not in symbols:
            raise OredoxInputError(f"pair {a}-{b}: species must be among {symbols}")
        i, j = symbols.index(a), symbols.index(b)
        eci[shell - 1, i, j] = eci[shell - 1, j, i] = float(value)
    return eci
