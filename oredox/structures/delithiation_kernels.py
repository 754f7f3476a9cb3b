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


@numba.njit(cache=True)
def _sum_smallest(values, count):
    """Sum of the ``count`` smallest entries of ``values``."""
    return np.sort(values)[:count].sum()


@numba.njit(cache=True)
def _lex_smaller_image(subset, tables):
    """Whether an operation maps ``subset`` to a lexicographically smaller set.

    Sets compare as their sorted site lists: A < B when the smallest site of the
    symmetric difference is in A.
    """
    for op in range(tables.shape[0]):
        image = permute_mask(subset, tables, op)
        differ = image ^ subset
        if differ and (differ & -differ) & image:
            return True
    return False


@numba.njit(cache=True)
def lowest_subsets(
    single,
    pair,
    m,
    tables,
    capacity,
    tolerance,
    max_nodes,
    out_masks,
    out_energy,
):
    """Branch and bound: the ``capacity`` lowest orbits of m-subsets of n items.

    The energy of a subset S of the n items is ``sum(single[S]) + sum over pairs
    u < v in S of pair[u, v]``, the same for every member of an orbit under
    ``tables``. Each orbit is found once, as its lexicographically smallest member
    (sorted site lists compared): items are added in increasing index order, and a
    partial set P is abandoned when an operation maps P to a smaller set, since
    every completion of P then has a smaller image too (the |P| smallest sites of
    the image of a completion are at most those of the image of P).

    A node with chosen set C, last item l and r items still to add is also cut when
    its lower bound exceeds the ``capacity``-th lowest energy found so far by more
    than ``tolerance``. The bound adds to the energy of C the r smallest values of
    ``g[w] + cheapest[w] / 2`` over w > l, where ``g[w] = single[w] + sum of
    pair[u, w] over u in C`` and ``cheapest[w]`` is the sum of the r - 1 smallest
    ``pair[w, t]`` over t > l: the pairs among the r added items, counted once from
    each end, cost at least half the sum of each item's r - 1 cheapest pairs.

    Returns (found, nodes visited, complete); ``out_masks`` and ``out_energy``
    (capacity,) receive the subsets' bit masks and energies, unordered. ``complete``
    is False when ``max_nodes`` was reached first (the result is then not exact).
    """
    n = single.shape[0]
    # cheapest[w, s, j]: sum of the j smallest pair[w, t] over t >= s, t != w
    cheapest = np.zeros((n, n + 1, n))
    for w in range(n):
        for s in range(n):
            row = np.sort(np.delete(pair[w, s:], w - s) if w >= s else pair[w, s:])
            cheapest[w, s, 1 : len(row) + 1] = np.cumsum(row)
    g = np.empty((m + 1, n))
    g[0, :] = single
    partial = np.zeros(m + 1)
    masks = np.zeros(m + 1, dtype=np.int64)
    cursor = np.zeros(m + 1, dtype=np.int64)
    bound_terms = np.empty(n)
    found = 0
    worst = np.inf  # the capacity-th lowest energy found so far
    nodes = 0
    depth = 0
    entering = True
    while depth >= 0:
        if entering:
            nodes += 1
            if nodes > max_nodes:
                return found, nodes, False
            remaining = m - depth
            first = cursor[depth - 1] + 1 if depth > 0 else 0
            cut = n - first < remaining or (
                depth > 0 and _lex_smaller_image(masks[depth], tables)
            )
            if not cut and remaining == 0:  # a leaf, its orbit's smallest member
                energy = partial[depth]
                if energy <= worst + tolerance:
                    if found < capacity:
                        out_masks[found] = masks[depth]
                        out_energy[found] = energy
                        found += 1
                    else:
                        top = 0
                        for i in range(1, capacity):
                            if out_energy[i] > out_energy[top]:
                                top = i
                        if energy < out_energy[top]:
                            out_masks[top] = masks[depth]
                            out_energy[top] = energy
                    if found == capacity:
                        highest = out_energy[0]
                        for i in range(1, capacity):
                            highest = max(highest, out_energy[i])
                        worst = highest
                cut = True
            if not cut and worst < np.inf:
                count = n - first
                for i in range(count):
                    w = first + i
                    bound_terms[i] = (
                        g[depth, w] + 0.5 * cheapest[w, first, remaining - 1]
                    )
                bound = partial[depth] + _sum_smallest(bound_terms[:count], remaining)
                cut = bound > worst + tolerance
            if cut:
                entering = False
                depth -= 1
                continue
            cursor[depth] = first - 1
            entering = False
        # the next child of the node at this depth
        remaining = m - depth
        cursor[depth] += 1
        w = cursor[depth]
        if w > n - remaining:
            depth -= 1
            continue
        partial[depth + 1] = partial[depth] + g[depth, w]
        for t in range(w + 1, n):
            g[depth + 1, t] = g[depth, t] + pair[w, t]
        masks[depth + 1] = masks[depth] | (np.int64(1) << w)
        depth += 1
        entering = True
    return found, nodes, True
