"""Supercells of a host with a cap on their size.

:func:`make_supercell` refuses a cell above :func:`default_max_atoms` sites before it
allocates it; both are importable from :mod:`oredox.structures.frameworks` too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from pymatgen.core import Structure

from oredox.errors import OredoxInputError

MAX_ATOMS = 5000  # sites; OREDOX_MAX_ATOMS raises it


def make_supercell(
    structure: Structure, scaling: Sequence, max_atoms: int | None = None
) -> Structure:
    """A copy of ``structure`` repeated by ``scaling`` (3 integers or a 3x3 matrix).

    ``max_atoms`` (default :func:`default_max_atoms`) caps the sites of the result:
    a 1000 x 1000 x 1000 supercell is refused before 22 GiB are allocated.

    Raises
    ------
    OredoxInputError
        If the matrix is not integer, not 3x3, does not have a positive determinant,
        or the cell would exceed ``max_atoms`` sites.
    """
    matrix = np.array(scaling, dtype=float)
    if matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3) or not np.allclose(matrix, np.round(matrix)):
        raise OredoxInputError(
            f"supercell must be 3 integers or a 3x3 integer matrix, got {scaling!r}"
        )
    det = round(np.linalg.det(matrix))
    if det < 1:
        raise OredoxInputError(
            f"supercell matrix {matrix.astype(int).tolist()} has determinant {det}; it "
            f"must be positive (e.g. 2 1 1)"
        )
    limit = max_atoms if max_atoms is not None else default_max_atoms()
    if det * len(structure) > limit:
        raise OredoxInputError(
            f"supercell {matrix.astype(int).tolist()} of a {len(structure)}-site cell "
            f"has {det * len(structure):,} sites, more than the limit of {limit:,}; "
            f"choose a smaller supercell or raise the limit (OREDOX_MAX_ATOMS)"
        )
    return structure.make_supercell(matrix.astype(int), in_place=False)


def default_max_atoms() -> int:
    """The largest cell oredox builds: ``OREDOX_MAX_ATOMS`` or 5000 sites."""
    text = os.environ.get("OREDOX_MAX_ATOMS", "").strip()
    try:
        return int(text) if text else MAX_ATOMS
    except ValueError:
        raise OredoxInputError(
            f"OREDOX_MAX_ATOMS must be a whole number, got {text!r}"
        ) from None
