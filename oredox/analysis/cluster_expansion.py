"""Cluster expansions of alkali/vacancy energies, fitted with icet and trainstation.

A cluster expansion (CE) writes the energy of an arrangement of alkali ions and
vacancies on a lattice as a sum over clusters (points, pairs, triplets) of effective
cluster interactions (ECIs) times cluster functions of the occupations. oredox uses
icet's :class:`~icet.ClusterSpace` for the orbits and cluster vectors and trainstation's
cross-validated fits; this module adds what a delithiation study needs:

- :func:`lattice_model`: which lattice the CE lives on, read from the host.
  ``"alkali"``: the host's primitive cell with the alkali sites active (alkali or
  vacancy ``X``), every other site fixed (ordered hosts: O3 LiCoO2, honeycomb
  Li2MnO3). ``"cations"``: the parent lattice of the host (all cations replaced by
  one species, then reduced to its primitive cell: rock salt for a DRX cell), every
  cation site taking the alkali, a vacancy or any of the host's other cations, so a
  disordered host whose primitive cell is the whole supercell still has few orbits;
- :func:`ce_atoms`: a configuration of a host supercell as icet's input (vacancies
  as ``X`` at the unrelaxed positions);
- :func:`fit_cluster_expansion`: cluster vectors (plus, by default, the point-charge
  Ewald energy as one more feature, as smol does for ionic systems) fitted to energies
  per lattice site, cross-validated; :class:`CeFit` holds the ECIs and errors.

Units: energies per lattice site of the model (atoms and vacancies: per atom of the
fully lithiated host), eV, errors in meV per site.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from monty.json import MSONable
from pymatgen.core import Structure

from oredox.errors import OredoxInputError

if TYPE_CHECKING:
    from ase import Atoms

VACANCY = "X"  # icet's (and ase's) symbol of an empty site
DEFAULT_CUTOFFS_A = (6.0, 4.5)  # pairs to 6 A, triplets to 4.5 A
MAX_ALKALI_PER_PRIMITIVE = 8  # "auto": beyond this the host cell is disordered
DUMMY_CATION = "Cs"  # stands for every cation while the parent lattice is found
AUTO_METHODS = ("ardr", "least-squares")  # fit_method="auto" keeps the lower CV


@dataclass
class LatticeModel(MSONable):
    """The lattice a cluster expansion lives on.

    Attributes
    ----------
    primitive
        Primitive cell (no oxidation states) whose supercells the configurations are.
    species
        Allowed species per site of ``primitive``: ``[alkali, "X", ...]`` on active
        sites, one species on fixed ones.
    alkali
        The mobile ion.
    cutoffs_A
        icet cutoffs, A: pairs, triplets, ...
    sublattice
        ``"alkali"`` or ``"cations"`` (see the module docstring).
    """

    primitive: Structure
    species: list[list[str]]
    alkali: str
    cutoffs_A: list[float]
    sublattice: str
    _space: Any = field(default=None, init=False, repr=False, compare=False)

    def as_dict(self) -> dict:
        """JSON-ready record (the cluster space is rebuilt from it)."""
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "primitive": self.primitive.as_dict(),
            "species": self.species,
            "alkali": self.alkali,
            "cutoffs_A": list(self.cutoffs_A),
            "sublattice": self.sublattice,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LatticeModel:
        """The model from :meth:`as_dict`."""
        return cls(
            primitive=Structure.from_dict(data["primitive"]),
            species=[list(s) for s in data["species"]],
            alkali=data["alkali"],
            cutoffs_A=list(data["cutoffs_A"]),
            sublattice=data["sublattice"],
        )

    @property
    def cluster_space(self):
        """The icet :class:`~icet.ClusterSpace` (built on first use)."""
        if self._space is None:
            from icet import ClusterSpace
            from pymatgen.io.ase import AseAtomsAdaptor

            atoms = AseAtomsAdaptor.get_atoms(self.primitive)
            self._space = ClusterSpace(atoms, list(self.cutoffs_A), self.species)
        return self._space

    @property
    def n_parameters(self) -> int:
        """Cluster functions (zerolet, points, pairs, ...) of the cluster space."""
        return len(self.cluster_space)

    def orbit_table(self) -> list[dict]:
        """Order, radius (A) and multiplicity of each cluster function, in order."""
        frame = self.cluster_space.as_list
        return [
            {
                "order": int(row["order"]),
                "radius_A": round(float(row["radius"]), 4),
                "multiplicity": int(row["multiplicity"]),
            }
            for row in frame
        ]


def lattice_model(
    host: Structure,
    alkali: str,
    cutoffs_A=DEFAULT_CUTOFFS_A,
    sublattice: str = "auto",
    symprec: float = 1e-3,
) -> LatticeModel:
    """The lattice model of a host supercell (every alkali site occupied).

    Parameters
    ----------
    host
        The fully lithiated host, at its unrelaxed (ideal) positions.
    alkali
        The mobile ion, whose sites may be vacant.
    cutoffs_A
        Pair, triplet, ... cutoffs in A (icet's convention).
    sublattice
        ``"alkali"``, ``"cations"`` or ``"auto"``: ``"alkali"`` when the host's
        primitive cell holds at most :data:`MAX_ALKALI_PER_PRIMITIVE` alkali sites,
        else ``"cations"``.

    Raises
    ------
    OredoxInputError
        If the host has no ``alkali`` site, a cutoff is not positive, or the sublattice
        is unknown.
    """
    if sublattice not in ("auto", "alkali", "cations"):
        raise OredoxInputError(
            f"sublattice must be 'auto', 'alkali' or 'cations', got {sublattice!r}"
        )
    cutoffs = [float(c) for c in cutoffs_A]
    if not cutoffs or any(not np.isfinite(c) or c <= 0 for c in cutoffs):
        raise OredoxInputError(
            f"cutoffs must be positive lengths in A, got {cutoffs_A}"
        )
    plain = host.copy()
    plain.remove_oxidation_states()
    if alkali not in {site.specie.symbol for site in plain}:
        raise OredoxInputError(f"the host has no {alkali} site")
    if sublattice in ("auto", "alkali"):
        primitive = plain.get_primitive_structure(tolerance=symprec * 10)
        n_alkali = sum(site.specie.symbol == alkali for site in primitive)
        if sublattice == "alkali" or n_alkali <= MAX_ALKALI_PER_PRIMITIVE:
            species = [
                [alkali, VACANCY]
                if site.specie.symbol == alkali
                else [site.specie.symbol]
                for site in primitive
            ]
            return LatticeModel(primitive, species, alkali, cutoffs, "alkali")
    return _cation_model(plain, alkali, cutoffs, symprec)


def _cation_model(plain: Structure, alkali: str, cutoffs, symprec) -> LatticeModel:
    """Parent lattice: each cation site takes the alkali, X or a host cation."""
    anions = {
        site.specie.symbol for site in plain if site.specie.symbol in ("O", "F", "S")
    }
    if not anions:
        raise OredoxInputError("the cation sublattice model needs O, F or S anions")
    cations = sorted({s.specie.symbol for s in plain} - anions - {alkali})
    parent = plain.copy()
    parent.replace_species(
        dict.fromkeys([alkali, *cations], DUMMY_CATION)  # type: ignore[arg-type]
    )
    primitive = parent.get_primitive_structure(tolerance=symprec * 10)
    allowed = [alkali, VACANCY, *cations]
    species = [
        allowed if site.specie.symbol == DUMMY_CATION else [site.specie.symbol]
        for site in primitive
    ]
    primitive.replace_species({DUMMY_CATION: alkali})
    return LatticeModel(primitive, species, alkali, list(cutoffs), "cations")


def ce_atoms(host: Structure, vacant: np.ndarray | list[int]) -> Atoms:
    """The ase Atoms of ``host`` (plain species), ``X`` on the ``vacant`` sites."""
    from pymatgen.io.ase import AseAtomsAdaptor

    plain = host.copy()
    plain.remove_oxidation_states()
    atoms = AseAtomsAdaptor.get_atoms(plain)
    symbols = atoms.get_chemical_symbols()
    for i in np.asarray(vacant, dtype=int):
        symbols[int(i)] = VACANCY
    atoms.set_chemical_symbols(symbols)
    return atoms


def cluster_vectors(model: LatticeModel, structures: list[Atoms]) -> np.ndarray:
    """Cluster vectors (n, n_parameters) of structures made by :func:`ce_atoms`.

    Raises
    ------
    OredoxInputError
        If a structure is not a supercell of the model's primitive cell.
    """
    space = model.cluster_space
    rows = []
    for atoms in structures:
        try:
            rows.append(space.get_cluster_vector(atoms))
        except Exception as exc:  # icet raises ValueError / Exception on a bad map
            raise OredoxInputError(
                f"a {len(atoms)}-site structure does not map onto the "
                f"{model.sublattice} lattice model ({exc})"
            ) from exc
    return np.array(rows, dtype=float).reshape(len(rows), len(space))


@dataclass
class CeFit(MSONable):
    """A fitted cluster expansion.

    Attributes
    ----------
    model
        The lattice model.
    parameters
        ECIs (eV per site) of the cluster functions, then the Ewald coefficient
        (dimensionless) when ``ewald``.
    ewald
        Whether the last feature is the point-charge Ewald energy per site.
    cv_rmse_meV_per_site
        Cross-validation root-mean-square error, meV per site.
    train_rmse_meV_per_site
        Error of the final fit on its own training data, meV per site.
    n_structures
        Training energies.
    fit_method
        trainstation's fit method.
    """

    model: LatticeModel
    parameters: list[float]
    ewald: bool
    cv_rmse_meV_per_site: float
    train_rmse_meV_per_site: float
    n_structures: int
    fit_method: str

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Energies per site (eV) of feature rows: cluster vector [+ Ewald per site]."""
        features = np.atleast_2d(np.asarray(features, dtype=float))
        return features @ np.asarray(self.parameters)

    def record(self) -> dict:
        """The fit as a document: errors, and each ECI beside its orbit, in meV."""
        table = self.model.orbit_table()
        ecis = [
            row | {"eci_meV": round(1000 * value, 4)}
            for row, value in zip(table, self.parameters[: len(table)], strict=True)
        ]
        return {
            "sublattice": self.model.sublattice,
            "cutoffs_A": list(self.model.cutoffs_A),
            "fit_method": self.fit_method,
            "n_structures": self.n_structures,
            "n_parameters": len(self.parameters),
            "n_nonzero": int(np.count_nonzero(np.abs(self.parameters) > 1e-12)),
            "cv_rmse_meV_per_site": round(self.cv_rmse_meV_per_site, 4),
            "train_rmse_meV_per_site": round(self.train_rmse_meV_per_site, 4),
            "ewald_coefficient": (
                round(float(self.parameters[-1]), 6) if self.ewald else None
            ),
            "ecis": ecis,
        }


def fit_cluster_expansion(
    model: LatticeModel,
    features: np.ndarray,
    energies_eV_per_site: np.ndarray,
    ewald: bool = True,
    fit_method: str = "auto",
    n_splits: int = 10,
    seed: int = 42,
) -> CeFit:
    """Fit ECIs to energies per site, with k-fold cross-validation (trainstation).

    Parameters
    ----------
    model
        The lattice model the features were computed on.
    features
        (n, n_parameters [+ 1]) cluster vectors, with the Ewald energy per site (eV)
        as the last column when ``ewald``.
    energies_eV_per_site
        Energy per lattice site of each configuration, eV, all from one scheme.
    fit_method
        trainstation's fit method ("ardr", "least-squares", "ridge", ...), or
        ``"auto"``: each of :data:`AUTO_METHODS`, keeping the one with the lower CV
        error (sparse ARDR while the data are few; least squares only once the
        features have full rank, so that its solution is unique).
    n_splits
        Folds of the cross-validation (at most one per structure).

    Raises
    ------
    OredoxInputError
        If there are fewer than 4 structures, or the shapes or values are wrong.
    """
    if fit_method == "auto":
        # least squares only where the data determine every parameter (a single
        # small cell makes cluster functions collinear: its solution is arbitrary)
        rank = np.linalg.matrix_rank(np.atleast_2d(np.asarray(features, float)))
        full = rank == np.shape(features)[-1]
        fits = [
            fit_cluster_expansion(
                model, features, energies_eV_per_site, ewald, method, n_splits, seed
            )
            for method in AUTO_METHODS
            if method != "least-squares" or full
        ]
        return min(fits, key=lambda fit: fit.cv_rmse_meV_per_site)
    from trainstation import CrossValidationEstimator

    A = np.atleast_2d(np.asarray(features, dtype=float))
    y = np.asarray(energies_eV_per_site, dtype=float)
    expected = model.n_parameters + int(ewald)
    if A.shape != (len(y), expected):
        raise OredoxInputError(
            f"features have shape {A.shape}; expected ({len(y)}, {expected})"
        )
    if len(y) < 4:
        raise OredoxInputError(f"a fit needs at least 4 energies, got {len(y)}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
        raise OredoxInputError("features and energies must be finite")
    estimator = CrossValidationEstimator(
        (A, y),
        fit_method=fit_method,
        n_splits=min(n_splits, len(y)),
        seed=seed,
        check_condition=False,
    )
    # an underdetermined early fit is expected (its CV error says how good it is):
    # trainstation's warning about it for every fold would only fill the log
    quiet = logging.getLogger("trainstation")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        estimator.validate()
        estimator.train()
    finally:
        quiet.setLevel(level)
    parameters = np.asarray(estimator.parameters, dtype=float)
    train_rmse = float(np.sqrt(np.mean((A @ parameters - y) ** 2)))
    return CeFit(
        model=model,
        parameters=[float(p) for p in parameters],
        ewald=ewald,
        cv_rmse_meV_per_site=1000 * float(estimator.rmse_validation),
        train_rmse_meV_per_site=1000 * train_rmse,
        n_structures=len(y),
        fit_method=fit_method,
    )


class CellFeatures:
    """Features of alkali/vacancy occupations of one host supercell.

    Parameters
    ----------
    model
        The lattice model (the host must be one of its supercells).
    host
        The fully lithiated host supercell; with oxidation states when ``ewald``.
    alkali_indices
        Host site of each variable alkali site (the order of the occupation columns).
    ewald
        Append the point-charge Ewald energy per site (eV), the removed charge
        compensated evenly on the other cations
        (:class:`~oredox.structures.ewald.DelithiationEwald`).
    """

    def __init__(
        self, model: LatticeModel, host: Structure, alkali_indices, ewald=True
    ):
        self.model = model
        self.host = host
        self.alkali_indices = np.asarray(alkali_indices, dtype=int)
        self.ewald = ewald
        self._ewald = None
        if ewald:
            from oredox.structures.ewald import DelithiationEwald

            self._ewald = DelithiationEwald(host, self.alkali_indices)

    @property
    def n_sites(self) -> int:
        """Lattice sites of the cell (energies are per site)."""
        return len(self.host)

    def features(self, occupied: np.ndarray) -> np.ndarray:
        """(M, n_parameters [+ 1]) features of occupations (M, n_alkali) (1 = Li)."""
        occupied = np.atleast_2d(np.asarray(occupied, dtype=bool))
        atoms = [ce_atoms(self.host, self.alkali_indices[~row]) for row in occupied]
        vectors = cluster_vectors(self.model, atoms)
        if not self.ewald:
            return vectors
        return np.column_stack([vectors, self.ewald_per_site(occupied)])

    def ewald_per_site(self, occupied: np.ndarray) -> np.ndarray:
        """Point-charge Ewald energy per site (eV) of each occupation."""
        occupied = np.atleast_2d(np.asarray(occupied, dtype=bool))
        out = np.empty(len(occupied))
        counts = occupied.sum(axis=1)
        for count in np.unique(counts):
            rows = counts == count
            out[rows] = self._ewald.energies(occupied[rows]) / self.n_sites
        return out

    def cell_energies(self, fit: CeFit, occupied: np.ndarray) -> np.ndarray:
        """CE energies (eV per cell) of occupations: the function a polynomial fits."""
        return fit.predict(self.features(occupied)) * self.n_sites
