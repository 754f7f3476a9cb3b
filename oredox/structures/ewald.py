"""Point-charge Ewald energies of many occupations of one set of sites.

pymatgen's ``EwaldSummation`` gives the pairwise energy matrix ``M`` (eV) of a
structure with every candidate site occupied; the energy of any occupation ``o``
(1 = occupied) is then ``o^T M o`` plus a background term that depends only on the
total charge. Ranking arrangements with the same number of ions by this quadratic form
is exact and costs one matrix product for all arrangements at once.
"""

from __future__ import annotations

import numpy as np
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Structure

from oredox.errors import OredoxInputError


class EwaldQuadraticForm:
    """Ewald energies of occupations of the ``variable`` sites of ``structure``.

    Parameters
    ----------
    structure
        Every site occupied, with oxidation states.
    variable
        Indices of the sites whose occupation varies; all others are always present.
    """

    def __init__(self, structure: Structure, variable: list[int]):
        if any(getattr(sp, "oxi_state", None) is None for sp in structure.species):
            raise OredoxInputError("Ewald energies need oxidation states on every site")
        matrix = EwaldSummation(structure).total_energy_matrix
        self.variable = np.asarray(variable, dtype=int)
        fixed = np.setdiff1d(np.arange(len(structure)), self.variable)
        self._vv = matrix[np.ix_(self.variable, self.variable)]
        # Cross terms appear twice in o^T M o (M is symmetric).
        self._vf = 2 * matrix[np.ix_(self.variable, fixed)].sum(axis=1)
        self._ff = matrix[np.ix_(fixed, fixed)].sum()

    def energies(self, occupied: np.ndarray) -> np.ndarray:
        """Energies (eV per cell, up to a constant per ion count) of occupations.

        ``occupied`` is a boolean array (n_arrangements, n_variable) in the order of
        ``variable``.
        """
        occ = np.asarray(occupied, dtype=float)
        return np.einsum("ij,jk,ik->i", occ, self._vv, occ) + occ @ self._vf + self._ff
