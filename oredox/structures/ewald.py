"""Point-charge Ewald energies of many occupations of one set of sites.

- :class:`EwaldQuadraticForm`: fixed charges, occupations of some sites vary.
- :func:`unit_charge_ewald` : the Ewald matrix J of a cell for unit charges, so that
  E = q^T J q for any neutral set of charges q (used by the Monte Carlo).
- :class:`DelithiationEwald`: energies of alkali/vacancy arrangements of a host with
  the removed charge compensated on the metals or on the anions.


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
        pair = np.sum((occ @ self._vv) * occ, axis=1)
        return pair + occ @ self._vf + self._ff


def unit_charge_ewald(structure: Structure) -> np.ndarray:
    """Ewald matrix J (eV) of ``structure``'s sites for unit charges.

    For any charges q with zero sum, ``q @ J @ q`` is their Ewald energy (the
    background term of a charged cell drops out).
    """
    probe = Structure(structure.lattice, ["H"] * len(structure), structure.frac_coords)
    probe.add_oxidation_state_by_element({"H": 1})
    return EwaldSummation(probe, compute_forces=False).total_energy_matrix


class DelithiationEwald:
    """Point-charge Ewald energies of alkali/vacancy arrangements of a host, eV.

    Removing k alkali ions removes k positive charges; ``compensation`` puts them back
    evenly on the other cations (``"metal"``: TM oxidation) or on the anions
    (``"anion"``: oxygen holes), so every arrangement is charge neutral and energies at
    one k are comparable. With o the alkali occupation (1 = present),
    E(o) = o^T J_aa o + 2 o . (J_af q_f) + q_f^T J_ff q_f, q_f the fixed-site charges
    at that k.

    Parameters
    ----------
    host
        The fully lithiated host with oxidation states.
    alkali_indices
        Sites that may be vacant (all the alkali of the enumeration).
    compensation
        ``"metal"`` or ``"anion"``.
    """

    def __init__(self, host: Structure, alkali_indices, compensation: str = "metal"):
        if compensation not in ("metal", "anion"):
            raise OredoxInputError("compensation must be 'metal' or 'anion'")
        if any(getattr(sp, "oxi_state", None) is None for sp in host.species):
            raise OredoxInputError("Ewald energies need oxidation states on every site")
        self.alkali = np.asarray(alkali_indices, dtype=int)
        self.fixed = np.setdiff1d(np.arange(len(host)), self.alkali)
        charges = np.array([site.specie.oxi_state for site in host], dtype=float)
        if abs(charges.sum()) > 1e-6:
            raise OredoxInputError("the host must be charge neutral")
        self.q_alkali = charges[self.alkali]
        self.q_fixed = charges[self.fixed]
        sign = 1 if compensation == "metal" else -1
        self.carriers = np.flatnonzero(sign * self.q_fixed > 0)
        j = unit_charge_ewald(host)
        self.j_aa = j[np.ix_(self.alkali, self.alkali)] * np.outer(
            self.q_alkali, self.q_alkali
        )
        self._j_af = j[np.ix_(self.alkali, self.fixed)] * self.q_alkali[:, None]
        self._j_ff = j[np.ix_(self.fixed, self.fixed)]

    def fixed_charges(self, n_removed: int) -> np.ndarray:
        """Charges of the non-alkali sites after removing ``n_removed`` alkali."""
        q = self.q_fixed.copy()
        removed_charge = n_removed * self.q_alkali.mean()
        q[self.carriers] += removed_charge / len(self.carriers)
        return q

    def energies(self, occupied: np.ndarray) -> np.ndarray:
        """Energies (eV per cell) of occupations (n, n_alkali) of one alkali count."""
        occ = np.asarray(occupied, dtype=float)
        counts = occ.sum(axis=1)
        if np.ptp(counts) > 0:
            raise OredoxInputError("energies() takes arrangements of one alkali count")
        q_f = self.fixed_charges(round(len(self.alkali) - counts[0]))
        field = self._j_af @ q_f
        constant = q_f @ self._j_ff @ q_f
        pair = np.sum((occ @ self.j_aa) * occ, axis=1)
        return pair + 2 * occ @ field + constant

    def subset_terms(
        self, n_removed: int, items: str = "vacancies"
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """The energies of ``n_removed`` vacancies as sums over chosen sites, eV.

        For a set S of ``items`` (the vacant sites, or the occupied ones), the energy
        of the arrangement is ``offset + single[S].sum() + sum of pair[u, v] over
        pairs u < v in S``: the form a branch and bound over subsets needs
        (:func:`oredox.structures.lowest.lowest_ewald`).

        Returns
        -------
        offset, single, pair
            eV; eV per site (n_alkali,); eV per pair (n_alkali, n_alkali).
        """
        if items not in ("vacancies", "occupied"):
            raise OredoxInputError("items must be 'vacancies' or 'occupied'")
        q_f = self.fixed_charges(n_removed)
        field = self._j_af @ q_f
        constant = float(q_f @ self._j_ff @ q_f)
        diagonal = np.diag(self.j_aa)
        pair = 2 * self.j_aa
        if items == "occupied":
            return constant, diagonal + 2 * field, pair
        row = self.j_aa.sum(axis=1)
        offset = float(self.j_aa.sum() + 2 * field.sum()) + constant
        return offset, diagonal - 2 * row - 2 * field, pair
