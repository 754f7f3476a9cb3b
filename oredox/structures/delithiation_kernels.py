"""The compiled loops of :mod:`~oredox.structures.delithiation`.

Bit masks over the alkali sites (bit i set: site i is vacant) are permuted with one
lookup table per byte and symmetry operation (``tables[g, byte, value]``, built by
:class:`~oredox.structures.delithiation.AlkaliSymmetry`). The loops are compiled with
numba and cached on disk; they live apart so that importing
:mod:`~oredox.structures.delithiation` does not import numba: it imports this module in
the functions that run a loop.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def permute_mask(mask, tables, g):
    """The image of ``mask`` under symmetry operation ``g``."""
    image = 0
    byte = 0
    while mask:
        image |= tables[g, byte, mask & 255]
        mask >>= 8
        byte += 1
    return image


@numba.njit(cache=True)
def scan(mask, n, tables, capacity, out_masks, out_stab):
    """Walk k-subsets from ``mask`` (Gosper's hack); keep orbit minima.

    Returns the next mask to scan (-1 when done) and how many were written.
    """
    n_ops = tables.shape[0]
    limit = np.int64(1) << n
    found = 0
    while mask < limit and found < capacity:
        stab = 0
        smallest = True
        for g in range(n_ops):
            image = permute_mask(mask, tables, g)
            if image < mask:
                smallest = False
                break
            if image == mask:
                stab += 1
        if smallest:
            out_masks[found] = mask
            out_stab[found] = stab
            found += 1
        low = mask & -mask
        ripple = mask + low
        mask = (((ripple ^ mask) >> 2) // low) | ripple
    return (mask if mask < limit else -1), found


@numba.njit(cache=True)
def canonical(masks, tables):
    """Smallest image of each mask over the group (its orbit's representative)."""
    out = masks.copy()
    for i in range(masks.shape[0]):
        for g in range(tables.shape[0]):
            image = permute_mask(masks[i], tables, g)
            out[i] = min(out[i], image)
    return out


@numba.njit(cache=True)
def stabilisers(masks, tables):
    """Number of operations that map each mask onto itself."""
    out = np.zeros(masks.shape[0], dtype=np.int64)
    for i in range(masks.shape[0]):
        for g in range(tables.shape[0]):
            if permute_mask(masks[i], tables, g) == masks[i]:
                out[i] += 1
    return out
