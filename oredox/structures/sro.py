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
from functools import partial
from itertools import combinations

import numba
import numpy as np
from pymatgen.core import Structure
from pymatgen.core.periodic_table import get_el_sp
from pymatgen.optimization.neighbors import find_points_in_spheres

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
    count = shells.count.astype(np.float64)
    kernel_args = (shells.pointer, shells.neighbour, shells.shell, count, eci)

    def energy(occ):
        q = charges[occ]
        counts = pair_counts(shells, occ, len(species))
        return float(
            q @ coupling @ q + 2 * q @ fixed_potential + 0.5 * np.sum(counts * eci)
        )

    geometry = cation_geometry(cell, sites, float(shells.radii[0]))  # once per cell
    describe = partial(sro_descriptors, cell, shells, sites, species, geometry=geometry)

    initial = (energy(occupation), describe(occupation, conc))
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
        descriptors.append(describe(occ, conc))
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
    geometry: CationGeometry | None = None,
) -> dict:
    """Warren-Cowley alpha, anion-environment histogram and 0-TM tetrahedra fraction.

    Works on any ordered rock-salt-type structure; the optional arguments let the
    Monte Carlo reuse its neighbour lists and tetrahedra (:func:`cation_geometry`).
    """
    if sites is None:
        sites = [i for i, s in enumerate(structure) if s.specie.oxi_state > 0]
    if species is None:
        present = [str(structure[i].specie) for i in sites]
        species = sorted(set(present), key=lambda sp: get_el_sp(sp).Z)
        occupation = np.array([species.index(sp) for sp in present])
        concentrations = np.bincount(occupation) / len(occupation)
    if shells is None:
        radii = shell_radii(structure, sites, 4)
        shells = pair_shells(structure, sites, radii)
    occupation = np.asarray(occupation)
    quality = order_quality(shells, occupation, species, concentrations)
    if geometry is None:
        geometry = cation_geometry(structure, sites, float(shells.radii[0]))
    alkali = np.array([get_el_sp(sp).symbol in ALKALI_ELEMENTS for sp in species])
    is_alkali = alkali[occupation]
    return {
        "warren_cowley_alpha": quality.warren_cowley,
        "shell_radii_A": quality.shell_radii_A,
        "species": species,
        "anion_environments": _histogram(geometry.anion_cations, is_alkali),
        "zero_tm_tetrahedra_fraction": _zero_tm(geometry.tetrahedra, is_alkali),
    }


@dataclass(frozen=True)
class CationGeometry:
    """Neighbour tables of a cell, fixed while its cations are rearranged.

    Attributes
    ----------
    tetrahedra
        Nearest-neighbour cation tetrahedra, shape (n, 4), as positions in the cation
        site list; every tetrahedron of the periodic cell once.
    anion_cations
        The six nearest cations of each anion (within 3.5 A, every periodic image
        counted), shape (n_anions, 6), as positions in the cation site list;
        ``n_cations`` pads the row of an anion with fewer.
    """

    tetrahedra: np.ndarray
    anion_cations: np.ndarray


def cation_geometry(
    structure: Structure, cation_sites: list[int], nn_distance: float
) -> CationGeometry:
    """:class:`CationGeometry` of ``structure``: computed once per lattice."""
    return CationGeometry(
        tetrahedra=_tetrahedra(structure, cation_sites, nn_distance),
        anion_cations=_anion_cations(structure, cation_sites),
    )


def anion_environments(
    structure: Structure, cation_sites: list[int]
) -> dict[str, float]:
    """Fraction of anions with n alkali among their 6 nearest cations, keyed 'n'."""
    table = _anion_cations(structure, cation_sites)
    return _histogram(table, _alkali_mask(structure, cation_sites))


def zero_tm_tetrahedra_fraction(
    structure: Structure, cation_sites: list[int], nn_distance: float
) -> float:
    """Fraction of nearest-neighbour cation tetrahedra with no transition metal.

    Tetrahedra are the 4-cliques of the cation nearest-neighbour graph (fcc: two per
    cation), periodic images included; a tetrahedron is 0-TM when its four cations are
    all alkali (Li, Na).
    """
    tetrahedra = _tetrahedra(structure, cation_sites, nn_distance)
    return _zero_tm(tetrahedra, _alkali_mask(structure, cation_sites))


def _histogram(anion_cations: np.ndarray, is_alkali: np.ndarray) -> dict:
    n_alkali = np.append(is_alkali, False)[anion_cations].sum(axis=1)
    histogram = np.bincount(n_alkali)
    return {str(n): int(k) / len(n_alkali) for n, k in enumerate(histogram) if k}


def _zero_tm(tetrahedra: np.ndarray, is_alkali: np.ndarray) -> float:
    return int(np.all(is_alkali[tetrahedra], axis=1).sum()) / len(tetrahedra)


def _alkali_mask(structure: Structure, sites: list[int]) -> np.ndarray:
    return np.array([structure[i].specie.symbol in ALKALI_ELEMENTS for i in sites])


def _tetrahedra(
    structure: Structure, cation_sites: list[int], nn_distance: float
) -> np.ndarray:
    """Cation nearest-neighbour 4-cliques (edges within 5 % of ``nn_distance``).

    Each periodic tetrahedron once: from its member first by (site, lattice image).
    """
    frac = structure.frac_coords[list(cation_sites)]
    cart = structure.lattice.get_cartesian_coords(frac)
    tol = 0.05 * nn_distance
    centre, point, image, _ = _neighbours(structure, cart, cart, nn_distance + tol)
    slot, width = _slots(centre)
    shape = (len(cation_sites), max(width, 3))
    valid, later = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    site = np.zeros(shape, dtype=np.int64)
    position = np.zeros((*shape, 3))
    valid[centre, slot] = True
    site[centre, slot] = point
    position[centre, slot] = cart[point] + image @ structure.lattice.matrix
    # the centre comes first when each neighbour has a higher (site, image)
    x, y, z = image.T
    later_image = (x > 0) | ((x == 0) & ((y > 0) | ((y == 0) & (z > 0))))
    later[centre, slot] = (point > centre) | ((point == centre) & later_image)
    edge = np.linalg.norm(position[:, :, None] - position[:, None], axis=-1)
    adjacent = (np.abs(edge - nn_distance) < tol) & valid[:, :, None] & valid[:, None]
    a, b, c = np.array(list(combinations(range(shape[1]), 3))).T
    keep = adjacent[:, a, b] & adjacent[:, a, c] & adjacent[:, b, c]
    owner, triple = np.nonzero(keep & later[:, a] & later[:, b] & later[:, c])
    if len(owner) == 0:
        raise OredoxInputError("no cation tetrahedra found: is this a rock-salt cell?")
    members = (site[owner, a[triple]], site[owner, b[triple]], site[owner, c[triple]])
    return np.column_stack([owner, *members])


def _anion_cations(structure: Structure, cation_sites: list[int]) -> np.ndarray:
    """The six nearest cations (within 3.5 A) of every non-cation site."""
    cations = set(cation_sites)
    anions = [i for i in range(len(structure)) if i not in cations]
    cart = structure.cart_coords
    centre, point, _, distance = _neighbours(
        structure, cart[anions], cart[list(cation_sites)], 3.5
    )
    order = np.lexsort((distance, centre))  # by anion, then distance
    centre, point = centre[order], point[order]
    slot, _ = _slots(centre)
    table = np.full((len(anions), 6), len(cation_sites), dtype=np.int64)
    table[centre[slot < 6], slot[slot < 6]] = point[slot < 6]
    return table


def _slots(centre: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each entry within its centre (entries grouped by centre), max count."""
    counts = np.bincount(centre) if len(centre) else np.zeros(1, dtype=np.int64)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(len(centre)) - first, int(counts.max())


def _neighbours(structure: Structure, centres, points, cutoff: float):
    """(centre, point, image, distance) of the ``points`` images within ``cutoff``.

    Cartesian input (A), every periodic image, zero distances excluded; grouped by
    centre.
    """
    lattice = structure.lattice
    found = find_points_in_spheres(
        *(np.ascontiguousarray(x, dtype=float) for x in (points, centres)),
        r=cutoff,
        pbc=np.array(lattice.pbc, dtype=np.int64),
        lattice=np.ascontiguousarray(lattice.matrix, dtype=float),
        tol=1e-8,
    )
    near = np.flatnonzero(found[3] > 1e-8)
    near = near[np.argsort(found[0][near], kind="stable")]
    centre, point, image, distance = (x[near] for x in found)
    return centre.astype(np.int64), point.astype(np.int64), np.rint(image), distance


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
