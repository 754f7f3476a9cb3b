"""Beam search over alkali/vacancy arrangements, for cells too large to enumerate.

:func:`beam_search` is the LTNO study's "iterative removal": starting from the full
cell it removes one alkali at a time, scores every symmetry-distinct child of the
arrangements kept so far and keeps the ``beam_width`` lowest
(:class:`ScoredConfiguration`). Arrangements, their symmetry and their bit masks are
those of :mod:`~oredox.structures.delithiation`, which enumerates them exhaustively.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from oredox.errors import OredoxInputError
from oredox.structures.delithiation import (
    AlkaliSymmetry,
    Configuration,
    _bits,
    _check_k,
    masks_to_occupied,
)


@dataclass(frozen=True)
class ScoredConfiguration:
    """A configuration and the energy (eV per cell) it was ranked by."""

    configuration: Configuration
    energy_eV: float


def beam_search(
    symmetry: AlkaliSymmetry,
    energy: Callable[[np.ndarray], np.ndarray],
    beam_width: int = 5,
    max_vacancies: int | None = None,
) -> dict[int, list[ScoredConfiguration]]:
    """Remove alkali one at a time, keeping the ``beam_width`` lowest at each step.

    The LTNO study's "iterative removal": from the full cell, every distinct child of
    every kept arrangement (one more vacancy) is scored and the best ``beam_width``
    distinct ones are kept for the next step.

    Parameters
    ----------
    symmetry
        Alkali sites and their symmetry.
    energy
        Scores arrangements of one alkali count: takes a boolean occupation array
        (n_arrangements, n_sites), returns energies in eV (e.g.
        ``DelithiationEwald(...).energies`` or a CHGNet single point).
    beam_width
        Arrangements kept per alkali content.
    max_vacancies
        Stop after this many removals (default: all).

    Returns
    -------
    dict
        Vacancy count -> kept arrangements, lowest energy first.
    """
    n = symmetry.n_sites
    if beam_width < 1:
        raise OredoxInputError(f"beam width must be at least 1, not {beam_width}")
    last = n if max_vacancies is None else max_vacancies
    _check_k(n, last)
    level = np.zeros(1, dtype=np.int64)
    scores = np.asarray(energy(masks_to_occupied(level, n)), dtype=float)
    kept = {0: [ScoredConfiguration(Configuration(0, (), 1), float(scores[0]))]}
    bits = np.int64(1) << np.arange(n, dtype=np.int64)
    for k in range(1, last + 1):
        children = (level[:, None] | bits[None, :])[(level[:, None] & bits) == 0]
        children = np.unique(symmetry.canonical(children))
        scores = np.asarray(energy(masks_to_occupied(children, n)), dtype=float)
        order = np.argsort(scores, kind="stable")[:beam_width]
        level = children[order]
        sizes = symmetry.multiplicity(level)
        kept[k] = [
            ScoredConfiguration(
                Configuration(k, _bits(int(m), n), int(size)), float(scores[i])
            )
            for m, size, i in zip(level, sizes, order, strict=True)
        ]
    return kept
