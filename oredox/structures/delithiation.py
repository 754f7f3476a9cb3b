"""Symmetry-distinct alkali/vacancy arrangements of a host supercell.

The symmetry group is the full space group of the *fully lithiated* supercell, as spglib
finds it on that cell: point operations combined with every internal translation of the
supercell. Applied to the full host, these operations keep the metal, anion and any
fixed order invariant, so they are exactly the operations under which two vacancy
arrangements are the same structure. Each operation is turned into a permutation of the
alkali sites; the distinct permutations form the group ``G`` that acts on arrangements.

- :func:`count_configurations` counts the orbits of k-vacancy arrangements with
  Burnside's lemma, without enumerating them.
- :func:`enumerate_configurations` lists one representative per orbit with its
  multiplicity (orbit size, so that the multiplicities at one k sum to C(n, k)).

Arrangements are bit masks over the alkali sites (bit i set: site i is vacant), which
keeps the orbit reduction vectorised. This exhaustive method is for cells of up to
:data:`MAX_ALKALI_SITES` alkali sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError

MAX_ALKALI_SITES = 24
MAX_RAW_CONFIGURATIONS = 2_000_000


@dataclass(frozen=True)
class Configuration:
    """One symmetry-distinct arrangement of vacancies on the alkali sites.

    Attributes
    ----------
    n_vacancies
        Number of alkali removed from the host supercell.
    vacancies
        Indices into ``alkali_indices`` of the vacant sites (the orbit's smallest mask).
    multiplicity
        Number of arrangements in the orbit (symmetry-equivalent copies).
    """

    n_vacancies: int
    vacancies: tuple[int, ...]
    multiplicity: int


@dataclass(frozen=True)
class AlkaliSymmetry:
    """The alkali sites of a host and the permutations of them by its symmetry.

    Attributes
    ----------
    alkali
        Element symbol of the mobile ion (Li, Na).
    alkali_indices
        Site indices of the alkali in the host structure, in order.
    permutations
        Array (n_ops, n_sites): operation g sends alkali site i to
        ``permutations[g, i]``.
        Distinct permutations only; the identity is included.
    space_group
        International symbol of the host supercell.
    """

    alkali: str
    alkali_indices: tuple[int, ...]
    permutations: np.ndarray
    space_group: str

    @property
    def n_sites(self) -> int:
        """Number of alkali sites."""
        return len(self.alkali_indices)


def alkali_symmetry(
    host: Structure, alkali: str = "Li", symprec: float = 1e-3
) -> AlkaliSymmetry:
    """Find the alkali sites of ``host`` and how its symmetry permutes them.

    Parameters
    ----------
    host
        The fully lithiated (sodiated) supercell.
    alkali
        The mobile element.
    symprec
        Symmetry tolerance in A passed to spglib.

    Raises
    ------
    OredoxInputError
        If ``host`` has no ``alkali`` site.
    """
    indices = tuple(i for i, site in enumerate(host) if site.specie.symbol == alkali)
    if not indices:
        raise OredoxInputError(
            f"the host supercell {host.composition.reduced_formula} has no {alkali} "
            f"sites: nothing to remove"
        )
    analyzer = SpacegroupAnalyzer(host, symprec=symprec)
    frac = host.frac_coords[list(indices)]
    lattice = host.lattice
    perms = set()
    for op in analyzer.get_symmetry_operations(cartesian=False):
        image = op.operate_multi(frac)
        diff = image[:, None, :] - frac[None, :, :]
        diff -= np.round(diff)
        dist = np.linalg.norm(lattice.get_cartesian_coords(diff), axis=-1)
        target = dist.argmin(axis=1)
        if dist[np.arange(len(frac)), target].max() > 10 * symprec + 1e-6:
            raise RuntimeError(
                "a symmetry operation does not map the alkali sites onto themselves; "
                "report this with the host structure"
            )
        perms.add(tuple(int(t) for t in target))
    return AlkaliSymmetry(
        alkali=alkali,
        alkali_indices=indices,
        permutations=np.array(sorted(perms), dtype=np.int64),
        space_group=analyzer.get_space_group_symbol(),
    )


def count_configurations(symmetry: AlkaliSymmetry, n_vacancies: int) -> int:
    """Number of symmetry-distinct arrangements of ``n_vacancies`` (Burnside's lemma).

    The count is the average over the group of the number of arrangements each
    permutation fixes; a permutation fixes an arrangement iff every cycle is wholly
    vacant or wholly occupied, so it fixes the coefficient of t^k in the product over
    its cycles of (1 + t^len).
    """
    n = symmetry.n_sites
    _check_k(n, n_vacancies)
    fixed = 0
    for perm in symmetry.permutations:
        poly = np.zeros(n + 1, dtype=object)
        poly[0] = 1
        for length in _cycle_lengths(perm):
            shifted = np.zeros_like(poly)
            shifted[length:] = poly[: n + 1 - length]
            poly = poly + shifted
        fixed += int(poly[n_vacancies])
    n_ops = len(symmetry.permutations)
    if fixed % n_ops:
        raise RuntimeError("Burnside sum not divisible by the group order")
    return fixed // n_ops


def enumerate_configurations(
    symmetry: AlkaliSymmetry, n_vacancies: int
) -> list[Configuration]:
    """All symmetry-distinct arrangements of ``n_vacancies`` on the alkali sites.

    Returns
    -------
    list of Configuration
        One per orbit, ordered by their smallest bit mask; multiplicities sum to
        C(n_sites, n_vacancies).

    Raises
    ------
    OredoxInputError
        If ``n_vacancies`` is out of range or the cell is too large for exhaustive
        enumeration.
    """
    n = symmetry.n_sites
    _check_k(n, n_vacancies)
    if n > MAX_ALKALI_SITES or comb(n, n_vacancies) > MAX_RAW_CONFIGURATIONS:
        raise OredoxInputError(
            f"{comb(n, n_vacancies)} raw arrangements of {n_vacancies} vacancies on "
            f"{n} sites are too many to enumerate exhaustively here; use a smaller "
            f"supercell"
        )
    occupied = np.zeros((comb(n, n_vacancies), n), dtype=bool)
    for row, vacant in enumerate(combinations(range(n), n_vacancies)):
        occupied[row, list(vacant)] = True
    weights = 1 << np.arange(n, dtype=np.int64)
    masks = occupied.astype(np.int64) @ weights
    canonical = masks.copy()
    for perm in symmetry.permutations:
        image = np.zeros_like(occupied)
        image[:, perm] = occupied  # a vacancy on site i moves to site perm[i]
        np.minimum(canonical, image.astype(np.int64) @ weights, out=canonical)
    orbits, sizes = np.unique(canonical, return_counts=True)
    return [
        Configuration(
            n_vacancies=n_vacancies,
            vacancies=tuple(i for i in range(n) if (int(mask) >> i) & 1),
            multiplicity=int(size),
        )
        for mask, size in zip(orbits, sizes, strict=True)
    ]


def enumerate_all(symmetry: AlkaliSymmetry) -> list[Configuration]:
    """Distinct arrangements at every alkali content, from full (k=0) to empty."""
    return [
        config
        for k in range(symmetry.n_sites + 1)
        for config in enumerate_configurations(symmetry, k)
    ]


def apply_configuration(
    host: Structure, symmetry: AlkaliSymmetry, config: Configuration
) -> Structure:
    """The host with the vacancies of ``config`` removed (a new Structure)."""
    structure = host.copy()
    structure.remove_sites([symmetry.alkali_indices[i] for i in config.vacancies])
    return structure


def _check_k(n_sites: int, n_vacancies: int) -> None:
    if not 0 <= n_vacancies <= n_sites:
        raise OredoxInputError(
            f"cannot remove {n_vacancies} of {n_sites} alkali sites; "
            f"choose 0..{n_sites}"
        )


def _cycle_lengths(perm: np.ndarray) -> list[int]:
    seen = np.zeros(len(perm), dtype=bool)
    lengths = []
    for start in range(len(perm)):
        if seen[start]:
            continue
        length, i = 0, start
        while not seen[i]:
            seen[i] = True
            i = perm[i]
            length += 1
        lengths.append(length)
    return lengths
