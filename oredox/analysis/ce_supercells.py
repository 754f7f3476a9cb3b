"""Ground states of a cluster expansion over every supercell up to N primitive cells.

A study computes one supercell; the orderings its hull can hold are those that fit in
it. A fitted cluster expansion can be searched over every supercell of the lattice
model's primitive cell up to ``max_size`` primitive cells (icet's
``enumerate_structures``: every symmetry-distinct alkali/vacancy arrangement of every
cell shape, without supercells of smaller ones), and its predicted hull compared with
the study's. :func:`other_supercells` lists the predicted ground states that lie below
the study cell's hull: orderings the study cannot represent, with the cell that holds
them.

Ordered hosts only (the ``"alkali"`` lattice model): in a disordered host the other
cations' arrangement is part of the cell and a supercell of the parent lattice would
change it. Energies per lattice site, eV; distances below the hull in meV per site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from oredox.analysis.cluster_expansion import (
    VACANCY,
    CeFit,
    CellFeatures,
    LatticeModel,
)
from oredox.analysis.hull import lower_hull
from oredox.errors import OredoxInputError

MAX_SUPERCELL_SIZE = 12  # primitive cells; icet's enumeration grows steeply beyond


@dataclass(frozen=True)
class SupercellArrangement:
    """One arrangement of the universe.

    Attributes
    ----------
    label
        ``s<size>-<index>``: the index-th arrangement of cells of ``size`` primitive
        cells, in icet's enumeration order.
    size
        Primitive cells in the supercell.
    c
        Alkali fraction of the alkali sites.
    host
        The supercell with every alkali site filled, with oxidation states.
    occupied
        Alkali present (True) on each alkali site of ``host``, in site order.
    matrix
        Supercell matrix relative to the primitive cell.
    """

    label: str
    size: int
    c: float
    host: Structure
    occupied: np.ndarray
    matrix: list[list[int]]


def supercell_universe(
    model: LatticeModel, max_size: int, oxidation_states: dict[str, float]
) -> list[SupercellArrangement]:
    """Every arrangement of the alkali sites in every supercell of 1..``max_size``.

    ``oxidation_states`` per element (the host's, averaged where an element has
    several) charge the filled supercells for the Ewald feature.

    Raises
    ------
    OredoxInputError
        For a cation-lattice model, or a size outside 1..:data:`MAX_SUPERCELL_SIZE`.
    """
    from icet.tools import enumerate_structures
    from pymatgen.io.ase import AseAtomsAdaptor

    if model.sublattice != "alkali":
        raise OredoxInputError(
            "other supercells are searched for ordered hosts (the alkali lattice "
            "model) only: a disordered host's cation order belongs to its cell"
        )
    if not 1 <= max_size <= MAX_SUPERCELL_SIZE:
        raise OredoxInputError(
            f"max_primitive_cells must be 1..{MAX_SUPERCELL_SIZE}, got {max_size}"
        )
    primitive = AseAtomsAdaptor.get_atoms(model.primitive)
    inverse = np.linalg.inv(primitive.cell.array)
    out = []
    for size in range(1, max_size + 1):
        arrangements = enumerate_structures(primitive, [size], model.species)
        for index, atoms in enumerate(arrangements):
            symbols = atoms.get_chemical_symbols()
            filled = atoms.copy()
            filled.set_chemical_symbols(
                [model.alkali if s == VACANCY else s for s in symbols]
            )
            host = AseAtomsAdaptor.get_structure(filled)
            host.add_oxidation_state_by_element(oxidation_states)
            alkali = [i for i, s in enumerate(symbols) if s in (model.alkali, VACANCY)]
            occupied = np.array([symbols[i] == model.alkali for i in alkali])
            matrix = np.rint(atoms.cell.array @ inverse).astype(int).tolist()
            out.append(
                SupercellArrangement(
                    f"s{size}-{index}",
                    size,
                    float(occupied.mean()),
                    host,
                    occupied,
                    matrix,
                )
            )
    return out


def universe_features(
    model: LatticeModel, universe: list[SupercellArrangement], ewald: bool = True
) -> np.ndarray:
    """Feature rows (cluster vector [+ Ewald per site]) of every arrangement."""
    rows = []
    for item in universe:
        alkali = [i for i, s in enumerate(item.host) if s.specie.symbol == model.alkali]
        cell = CellFeatures(model, item.host, alkali, ewald=ewald)
        rows.append(cell.features(item.occupied[None, :])[0])
    return np.array(rows)


def mean_oxidation_states(structure: Structure) -> dict[str, float]:
    """Oxidation state per element, averaged over its sites."""
    states: dict[str, list[float]] = {}
    for site in structure:
        oxi = getattr(site.specie, "oxi_state", None)
        if oxi is None:
            raise OredoxInputError("the host needs oxidation states on every site")
        states.setdefault(site.specie.symbol, []).append(float(oxi))
    return {element: float(np.mean(values)) for element, values in states.items()}


def other_supercells(
    fit: CeFit,
    universe: list[SupercellArrangement],
    features: np.ndarray,
    study_c: np.ndarray,
    study_energy: np.ndarray,
    tolerance_meV: float,
) -> list[dict]:
    """Predicted ground states of the universe below the study cell's hull.

    ``study_c`` and ``study_energy`` (eV per site) are the study cell's hull points
    (computed energies, predictions where not computed). Returns, lowest first, the
    universe's predicted hull vertices more than ``tolerance_meV`` (meV per site)
    below the study's hull at their content, each with its cell.
    """
    predicted = fit.predict(features)
    c = np.array([item.c for item in universe])
    vertices = lower_hull(c, predicted)
    order = np.argsort(study_c, kind="stable")
    hull_rows = lower_hull(study_c[order], study_energy[order])
    hull_c = study_c[order][hull_rows]
    hull_e = study_energy[order][hull_rows]
    found = []
    for i in vertices:
        if not hull_c.min() <= c[i] <= hull_c.max():
            continue  # outside the study's contents
        below = 1000 * (np.interp(c[i], hull_c, hull_e) - predicted[i])
        if below > tolerance_meV:
            item = universe[i]
            found.append(
                {
                    "label": item.label,
                    "c": round(item.c, 6),
                    "primitive_cells": item.size,
                    "supercell_matrix": item.matrix,
                    "below_study_hull_meV_per_atom": round(float(below), 3),
                }
            )
    return sorted(found, key=lambda row: -row["below_study_hull_meV_per_atom"])
