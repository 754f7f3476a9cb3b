"""Symmetry-distinct alkali/vacancy arrangements of a host supercell.

The symmetry group is the full space group of the *fully lithiated* supercell, as spglib
finds it on that cell: point operations combined with every internal translation of the
supercell. Applied to the full host, these operations keep the metal, anion and any
fixed order invariant, so they are exactly the operations under which two vacancy
arrangements are the same structure. Each operation is turned into a permutation of the
alkali sites; the distinct permutations form the group ``G`` that acts on arrangements.

- :func:`count_configurations` counts the orbits of k-vacancy arrangements with
  Burnside's lemma, without enumerating them.
- :func:`iter_masks` streams one representative per orbit with its multiplicity
  (orbit size, so that the multiplicities at one k sum to C(n, k)) as arrays: an
  arrangement is kept when its bit mask is the smallest of its orbit, which needs no
  memory of earlier ones. :func:`iter_configurations` streams the same as
  :class:`Configuration` objects; :func:`enumerate_configurations` collects them
  (refusing lists above a memory estimate) and :func:`all_masks` collects the masks.
- :func:`~oredox.structures.lowest.lowest_ewald` (in :mod:`~oredox.structures.lowest`)
  finds the lowest Ewald energies of a content by branch and bound, without ranking
  every arrangement.
- :func:`~oredox.structures.beam_search.beam_search` (in
  :mod:`~oredox.structures.beam_search`) removes alkali one at a time and keeps the
  lowest-energy distinct arrangements at each content, for cells too large to
  enumerate.

Arrangements are bit masks over the alkali sites (bit i set: site i is vacant), up to
:data:`MAX_ALKALI_SITES` sites (:func:`configurations_to_masks` and
:func:`masks_to_configurations` convert). A configuration's id within a study is
``k<vacancies>-<i>`` (:func:`config_ids`).

Permuting a mask uses one lookup table per byte and symmetry operation; the scanning
loop is compiled with numba in :mod:`~oredox.structures.delithiation_kernels`, imported
on first use: importing this module loads neither numba nor pymatgen's symmetry
analyser (that one only when a symmetry is computed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from math import comb
from typing import TYPE_CHECKING

import numpy as np
from monty.json import MSONable

from oredox.errors import OredoxInputError

if TYPE_CHECKING:
    from pymatgen.core import Structure

MAX_ALKALI_SITES = 62  # bit masks in int64
MAX_RAW_CONFIGURATIONS = 50_000_000  # default limit of exhaustive enumeration
_CHUNK = 1 << 20
# memory of a Configuration in a list, at most: this much plus BYTES_PER_VACANCY for
# each vacancy (its tuple); measured with tracemalloc, CPython 3.11: 187-301 bytes
# each at 5-12 vacancies, 338 over 4.7 M configurations
BYTES_PER_CONFIGURATION = 300
BYTES_PER_VACANCY = 8
MAX_LIST_BYTES = 1 << 30  # enumerate_configurations refuses larger lists


@dataclass(frozen=True)
class Configuration(MSONable):
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

    def __post_init__(self):
        # tuples arrive as lists from JSON (jobflow, the store)
        object.__setattr__(self, "vacancies", tuple(int(v) for v in self.vacancies))


@dataclass(frozen=True)
class AlkaliSymmetry(MSONable):
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

    def __post_init__(self):
        # lists arrive from JSON when the symmetry crosses a job boundary
        indices = tuple(int(i) for i in self.alkali_indices)
        object.__setattr__(self, "alkali_indices", indices)
        perms = np.asarray(self.permutations, dtype=np.int64)
        object.__setattr__(self, "permutations", perms.reshape(-1, len(indices)))

    @property
    def n_sites(self) -> int:
        """Number of alkali sites."""
        return len(self.alkali_indices)

    @cached_property
    def tables(self) -> np.ndarray:
        """Byte lookup tables (n_ops, n_bytes, 256): images of 8 sites at a time."""
        return _byte_tables(self.permutations)

    @cached_property
    def orbit_counts(self) -> tuple[int, ...]:
        """Number of distinct arrangements of k vacancies, k = 0..n (Burnside).

        Permutations of one cycle type fix the same number of arrangements, so the
        polynomial is built once per cycle type.
        """
        n = self.n_sites
        fixed = [0] * (n + 1)
        for lengths, count in Counter(
            tuple(sorted(_cycle_lengths(perm))) for perm in self.permutations
        ).items():
            poly = [1] + [0] * n
            for length in lengths:
                poly = [
                    poly[i] + (poly[i - length] if i >= length else 0)
                    for i in range(n + 1)
                ]
            fixed = [f + count * p for f, p in zip(fixed, poly, strict=True)]
        n_ops = len(self.permutations)
        if any(f % n_ops for f in fixed):
            raise RuntimeError("Burnside sum not divisible by the group order")
        return tuple(f // n_ops for f in fixed)

    def canonical(self, masks: np.ndarray) -> np.ndarray:
        """Smallest mask of each mask's orbit (its canonical representative)."""
        from oredox.structures.delithiation_kernels import canonical

        return canonical(np.asarray(masks, dtype=np.int64), self.tables)

    def multiplicity(self, masks: np.ndarray) -> np.ndarray:
        """Orbit size of each mask: group order over the size of its stabiliser."""
        from oredox.structures.delithiation_kernels import stabilisers

        stab = stabilisers(np.asarray(masks, dtype=np.int64), self.tables)
        return len(self.permutations) // stab


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
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

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
    _check_k(symmetry.n_sites, n_vacancies)
    return symmetry.orbit_counts[n_vacancies]


def iter_masks(
    symmetry: AlkaliSymmetry, n_vacancies: int, chunk: int = _CHUNK
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stream the distinct arrangements of ``n_vacancies`` as arrays, smallest first.

    Yields (masks, multiplicities), int64 arrays of at most ``chunk`` entries: the
    vacancy bit mask of each orbit's smallest member and the orbit's size. Memory
    stays at one chunk (16 bytes an arrangement) however many there are, and no
    Python object is made per arrangement.
    """
    from oredox.structures.delithiation_kernels import scan

    n = symmetry.n_sites
    _check_k(n, n_vacancies)
    if n > MAX_ALKALI_SITES:
        raise OredoxInputError(
            f"{n} alkali sites exceed the {MAX_ALKALI_SITES} that bit masks hold; "
            f"use a smaller supercell"
        )
    if n_vacancies == 0:
        yield np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64)
        return
    tables = symmetry.tables
    n_ops = len(symmetry.permutations)
    masks = np.empty(chunk, dtype=np.int64)
    stabilisers = np.empty(chunk, dtype=np.int64)
    mask = (1 << n_vacancies) - 1
    while mask >= 0:
        mask, found = scan(mask, n, tables, chunk, masks, stabilisers)
        if found:
            yield masks[:found].copy(), n_ops // stabilisers[:found]


def all_masks(
    symmetry: AlkaliSymmetry, n_vacancies: int, max_raw: int = MAX_RAW_CONFIGURATIONS
) -> np.ndarray:
    """Vacancy bit masks of every distinct arrangement of ``n_vacancies`` (int64).

    8 bytes an arrangement, against about 340 for a :class:`Configuration`: what
    screening holds when it needs them all. Same limit as
    :func:`enumerate_configurations` on raw arrangements.
    """
    _check_raw(symmetry, n_vacancies, max_raw)
    blocks = [masks for masks, _ in iter_masks(symmetry, n_vacancies)]
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)


def iter_configurations(
    symmetry: AlkaliSymmetry, n_vacancies: int, chunk: int = _CHUNK
) -> Iterator[Configuration]:
    """Stream the symmetry-distinct arrangements of ``n_vacancies``, smallest first.

    Memory stays at one chunk of raw arrangements however many there are; for arrays
    without a Python object per arrangement, use :func:`iter_masks`.
    """
    n = symmetry.n_sites
    for masks, sizes in iter_masks(symmetry, n_vacancies, chunk):
        for m, size in zip(masks.tolist(), sizes.tolist(), strict=True):
            yield Configuration(n_vacancies, _bits(m, n), size)


def enumerate_configurations(
    symmetry: AlkaliSymmetry,
    n_vacancies: int,
    max_raw: int = MAX_RAW_CONFIGURATIONS,
    max_bytes: int = MAX_LIST_BYTES,
) -> list[Configuration]:
    """All symmetry-distinct arrangements of ``n_vacancies`` on the alkali sites.

    The list holds a Python object per arrangement, about
    :data:`BYTES_PER_CONFIGURATION` bytes plus :data:`BYTES_PER_VACANCY` per vacancy
    each; above ``max_bytes`` the call refuses and points to the streaming
    :func:`iter_configurations` and :func:`iter_masks`.

    Returns
    -------
    list of Configuration
        One per orbit, ordered by their smallest bit mask; multiplicities sum to
        C(n_sites, n_vacancies).

    Raises
    ------
    OredoxInputError
        If ``n_vacancies`` is out of range, there are more than ``max_raw`` raw
        arrangements (the message gives the count and points to beam search), or the
        list would need more than ``max_bytes``.
    """
    distinct = _check_raw(symmetry, n_vacancies, max_raw)
    needed = distinct * (BYTES_PER_CONFIGURATION + BYTES_PER_VACANCY * n_vacancies)
    if needed > max_bytes:
        raise OredoxInputError(
            f"a list of the {distinct:,} distinct arrangements of {n_vacancies} "
            f"vacancies on {symmetry.n_sites} sites would take about "
            f"{needed / 2**30:.1f} GiB (limit {max_bytes / 2**30:.1f} GiB); stream "
            "them with iter_configurations or iter_masks, or raise max_bytes"
        )
    return list(iter_configurations(symmetry, n_vacancies))


def _check_raw(symmetry: AlkaliSymmetry, n_vacancies: int, max_raw: int) -> int:
    """Refuse more than ``max_raw`` raw arrangements; the number of distinct ones."""
    n = symmetry.n_sites
    _check_k(n, n_vacancies)
    distinct = count_configurations(symmetry, n_vacancies)
    raw = comb(n, n_vacancies)
    if raw > max_raw:
        raise OredoxInputError(
            f"{raw:,} raw arrangements of {n_vacancies} vacancies on {n} sites "
            f"({distinct:,} distinct) exceed the exhaustive limit of {max_raw:,}; use "
            f"beam_search (the iterative removal of the LTNO study) or raise max_raw"
        )
    return distinct


def enumerate_all(symmetry: AlkaliSymmetry) -> list[Configuration]:
    """Distinct arrangements at every alkali content, from full (k=0) to empty."""
    return [
        config
        for k in range(symmetry.n_sites + 1)
        for config in enumerate_configurations(symmetry, k)
    ]


def config_ids(configurations: Sequence[Configuration]) -> list[str]:
    """``k<vacancies>-<i>``: the i-th of the list with that many vacancies."""
    seen: Counter[int] = Counter()
    ids = []
    for config in configurations:
        ids.append(f"k{config.n_vacancies}-{seen[config.n_vacancies]}")
        seen[config.n_vacancies] += 1
    return ids


def configurations_to_masks(configurations: Sequence[Configuration]) -> np.ndarray:
    """Bit masks (int64) of the configurations: bit i set where site i is vacant."""
    return np.array(
        [sum(1 << i for i in c.vacancies) for c in configurations], dtype=np.int64
    )


def masks_to_configurations(
    symmetry: AlkaliSymmetry, masks: np.ndarray
) -> list[Configuration]:
    """Configurations of bit masks, with their multiplicities under ``symmetry``."""
    masks = np.asarray(masks, dtype=np.int64)
    sizes = symmetry.multiplicity(masks) if len(masks) else []
    n = symmetry.n_sites
    return [
        Configuration(
            n_vacancies=bin(int(m)).count("1"),
            vacancies=_bits(int(m), n),
            multiplicity=int(size),
        )
        for m, size in zip(masks, sizes, strict=True)
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


def masks_to_occupied(masks: np.ndarray, n_sites: int) -> np.ndarray:
    """Boolean occupation (n_masks, n_sites): True where the alkali is present."""
    bits = (np.asarray(masks, dtype=np.int64)[:, None] >> np.arange(n_sites)) & 1
    return bits == 0


def _bits(mask: int, n: int) -> tuple[int, ...]:
    return tuple(i for i in range(n) if (mask >> i) & 1)


def _byte_tables(perms: np.ndarray) -> np.ndarray:
    n_ops, n = perms.shape
    n_bytes = (n + 7) // 8
    tables = np.zeros((n_ops, n_bytes, 256), dtype=np.int64)
    values = np.arange(256)
    for g in range(n_ops):
        for byte in range(n_bytes):
            for bit in range(8):
                site = 8 * byte + bit
                if site >= n:
                    break
                tables[g, byte, (values >> bit) & 1 == 1] |= (
                    np.int64(1) << perms[g, site]
                )
    return tables
