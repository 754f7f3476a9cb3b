"""Which oxygen can leave: symmetry-distinct O vacancies and what the cell did after.

Pure functions over pymatgen Structures, for the oxygen-loss study:

- :func:`oxygen_orbits`: every O site orbit of a (delithiated) configuration under its
  own space group, each labelled by its environment from
  :func:`oredox.analysis.environments.oxygen_environments`: the cation shell
  (``"OLi2Co3Vac"``) and the A-O-A' axis counts (``"2 Li-O-Co, 1 Co-O-Vac"``).
- :func:`remove_oxygen`: the vacancy cell of one orbit.
- :func:`vacancy_ewald_energies` and :func:`screen_orbits`: a point-charge Ewald
  screen that keeps the lowest few orbits per environment label.
- :func:`after_oxygen_loss`: O-O dimers (peroxo, superoxo, O2-like) and framework
  changes (TM migration) of a relaxed vacancy cell, as plain data.

Symmetry. The removed alkali sites (``vacancies``) enter the symmetry search as a
species of their own, so the group is that of the configuration (its atoms and its
empty alkali sites), never the host's, and every member of an orbit has the same
environment. spglib runs on the chemical species with their oxidation states;
magnetic moments are ignored.

Ewald screen. The structure's oxidation states are used as point charges. Removing a
neutral O atom (an O2- ion and its two electrons) leaves the cell with a net charge;
it is spread evenly over the transition metals (the two electrons reduce the TMs, as
they do in DFT+U), together with any imbalance the structure already had (a
delithiated cell whose TM states were left at the host's). The cell stays neutral, no
background term is needed, and the convention is the ``"metal"`` compensation of
:class:`oredox.structures.ewald.DelithiationEwald` used when screening Li arrangements.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import replace
from typing import Literal

import numpy as np
import spglib
from pydantic import BaseModel, ConfigDict
from pymatgen.core import Structure

from oredox.analysis.environments import (
    VACANCY,
    _end_order,  # ionic ends first, empty sites last: the order of Axis.label
    is_transition_metal,
    oxygen_environments,
)
from oredox.analysis.framework import check_framework
from oredox.analysis.redox import o_o_pairs
from oredox.errors import OredoxInputError
from oredox.structures.ewald import unit_charge_ewald

# elements never counted as cation neighbours of the analysed anion
ANION_ELEMENTS = frozenset({"O", "F", "S", "Se", "Cl", "N"})
# a vacancy marker closer than this to an atom is a wrong coordinate, not a site
MIN_VACANCY_DISTANCE_A = 0.5


class OxygenOrbit(BaseModel):
    """One orbit of O sites under the configuration's space group.

    Attributes
    ----------
    index
        Representative O site: the lowest structure index of the orbit.
    multiplicity
        Number of O sites of the orbit in this cell.
    equivalent_indices
        Structure indices of every site of the orbit, sorted.
    label
        Environment class: cation shell then A-O-A' axis counts,
        e.g. ``"OLi2Co3Vac | 2 Li-O-Co, 1 Co-O-Vac"``.
    cations
        First-shell cations by element, empty sites as ``"Vac"``.
    axes
        Linear A-O-A' axes by type, e.g. ``{"Li-O-Co": 2, "Co-O-Vac": 1}``.
    wyckoff
        Wyckoff position of the configuration's space group, multiplicity in its
        conventional cell then letter (``"4i"``); None when spglib gives none.
    """

    model_config = ConfigDict(extra="forbid")

    index: int
    multiplicity: int
    equivalent_indices: list[int]
    label: str
    cations: dict[str, int]
    axes: dict[str, int]
    wyckoff: str | None


def oxygen_orbits(
    structure: Structure,
    vacancies: list[list[float]] | None = None,
    symprec: float = 0.01,
    anion: str = "O",
) -> list[OxygenOrbit]:
    """Every O orbit of ``structure`` under its own space group, with its environment.

    Parameters
    ----------
    structure
        An ordered structure, e.g. a delithiated configuration.
    vacancies
        Fractional coordinates of the removed alkali sites: they count as ``"Vac"``
        neighbours (so Vac-O-Vac axes are seen) and as a species of their own in the
        symmetry search.
    symprec
        spglib's distance tolerance, A.
    anion
        The element whose sites are analysed.

    Returns
    -------
    list of OxygenOrbit
        Sorted by label, then by representative index.

    Raises
    ------
    OredoxInputError
        No ``anion`` site, a disordered structure, a vacancy coordinate on an atom, or
        no symmetry found at ``symprec``.
    """
    anion_ids = [i for i, site in enumerate(structure) if site.specie.symbol == anion]
    if not structure.is_ordered:
        raise OredoxInputError(
            "O vacancies need an ordered structure (one species per site); order it "
            "first (e.g. an SQS or an enumerated configuration)"
        )
    if not anion_ids:
        raise OredoxInputError(
            f"the structure {structure.composition.reduced_formula} has no {anion} "
            "site: there is no oxygen to remove"
        )
    markers = _check_vacancies(structure, vacancies)
    environments = oxygen_environments(
        structure, vacancies=markers, anions=ANION_ELEMENTS | {anion}
    )
    by_index = {env.index: env for env in environments}
    dataset = _symmetry_dataset(structure, markers, symprec)
    ratio = abs(np.linalg.det(dataset.std_lattice)) / structure.volume
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    described = {}
    for i in anion_ids:
        env = by_index[i]
        axes = Counter(axis.label for axis in env.axes)
        cations = Counter(end for axis in env.axes for end in axis.ends)
        label = _label(env.label, axes)
        described[label] = (dict(_ordered(cations)), dict(_axis_ordered(axes)))
        # an orbit whose members differ in environment (a tolerance edge) is split
        groups[(int(dataset.equivalent_atoms[i]), label)].append(i)
    orbits = []
    for (_, label), members in groups.items():
        cations, axes = described[label]
        letter = dataset.wyckoffs[members[0]] if dataset.wyckoffs else None
        orbits.append(
            OxygenOrbit(
                index=min(members),
                multiplicity=len(members),
                equivalent_indices=sorted(members),
                label=label,
                cations=cations,
                axes=axes,
                wyckoff=f"{round(len(members) * ratio)}{letter}" if letter else None,
            )
        )
    return sorted(orbits, key=lambda orbit: (orbit.label, orbit.index))


def _check_vacancies(structure: Structure, vacancies) -> list[np.ndarray]:
    """Vacancy coordinates as arrays, each checked to be away from every atom."""
    markers = []
    for v in vacancies or []:
        point = np.asarray(v, dtype=float)
        if point.shape != (3,) or not np.all(np.isfinite(point)):
            raise OredoxInputError(
                f"a vacancy must be three fractional coordinates, not {v!r}"
            )
        distances = structure.lattice.get_all_distances([point], structure.frac_coords)
        if distances.min() < MIN_VACANCY_DISTANCE_A:
            raise OredoxInputError(
                f"vacancy {point.tolist()} is {distances.min():.2f} A from site "
                f"{int(distances.argmin())}: give the coordinates of removed sites only"
            )
        markers.append(point)
    return markers


def _symmetry_dataset(structure: Structure, markers, symprec: float):
    """The spglib dataset of the atoms plus the vacancy markers (markers last)."""
    names = [str(site.specie) for site in structure] + [VACANCY] * len(markers)
    numbers = {name: k + 1 for k, name in enumerate(dict.fromkeys(names))}
    positions = np.array([*structure.frac_coords, *markers])
    cell = (structure.lattice.matrix, positions, [numbers[n] for n in names])
    dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if dataset is None:
        raise OredoxInputError(
            f"spglib found no space group at symprec={symprec} A "
            f"({spglib.get_error_message()}); try a larger symprec"
        )
    return dataset


def _ordered(counts: Counter) -> list[tuple[str, int]]:
    return [(k, int(counts[k])) for k in sorted(counts, key=_end_order)]


def _axis_ordered(counts: Counter) -> list[tuple[str, int]]:
    def key(label: str):
        first, _, second = label.split("-")
        return (_end_order(first), _end_order(second))

    return [(k, int(counts[k])) for k in sorted(counts, key=key)]


def _label(shell: str, axes: Counter) -> str:
    """``"OLi3Co3 | 3 Li-O-Co"``: the cation shell and the axis counts."""
    return f"{shell} | " + ", ".join(f"{n} {name}" for name, n in _axis_ordered(axes))


def remove_oxygen(
    structure: Structure, index: int, label: str | None = None
) -> Structure:
    """A copy of ``structure`` without the O at ``index``: the vacancy cell.

    The removed site is recorded in ``properties["oxygen_vacancy"]``: its ``index``,
    ``species``, ``frac_coords`` and orbit ``label`` (None when not given). Site
    properties (magmom, sublattice) of the other sites are kept.

    Raises
    ------
    OredoxInputError
        ``index`` is out of range or not an O site.
    """
    if not 0 <= index < len(structure):
        raise OredoxInputError(
            f"site {index} does not exist: the structure has {len(structure)} sites"
        )
    site = structure[index]
    if site.specie.symbol != "O":
        raise OredoxInputError(
            f"site {index} is {site.specie}, not O: only an oxygen site can be removed"
        )
    vacancy_cell = structure.copy()
    vacancy_cell.remove_sites([index])
    vacancy_cell.properties = deepcopy(structure.properties)
    vacancy_cell.properties["oxygen_vacancy"] = {
        "index": int(index),
        "species": str(site.specie),
        "frac_coords": [float(x) for x in site.frac_coords],
        "label": label,
    }
    return vacancy_cell


def vacancy_ewald_energies(
    structure: Structure, orbits: Sequence[OxygenOrbit]
) -> dict[int, float]:
    """Point-charge Ewald energy (eV per vacancy cell) of each orbit's vacancy.

    The charges are the structure's oxidation states with the representative O
    removed; the cell's net charge is then spread evenly over the transition metals
    (module docstring). One Ewald sum of the whole cell serves every orbit.

    Returns
    -------
    dict
        Representative index -> energy in eV of the neutral vacancy cell.

    Raises
    ------
    OredoxInputError
        A site without an oxidation state, no transition metal, or an orbit index
        that is not an O site of ``structure``.
    """
    if any(getattr(sp, "oxi_state", None) is None for sp in structure.species):
        raise OredoxInputError(
            "the Ewald screen needs oxidation states on every site; decorate the "
            "structure, e.g. structure.add_oxidation_state_by_element({'Li': 1, "
            "'Mn': 4, 'O': -2}) (any TM imbalance is spread over the TMs)"
        )
    metals = [
        i for i, site in enumerate(structure) if is_transition_metal(site.specie.symbol)
    ]
    if not metals:
        raise OredoxInputError(
            "the Ewald screen puts the two electrons of a removed O on the transition "
            "metals, and this structure has none"
        )
    for orbit in orbits:
        if not (
            0 <= orbit.index < len(structure)
            and structure[orbit.index].specie.symbol == "O"
        ):
            raise OredoxInputError(
                f"orbit index {orbit.index} is not an O site of this structure; "
                "use the orbits of oxygen_orbits(structure)"
            )
    charges = np.array([site.specie.oxi_state for site in structure], dtype=float)
    matrix = unit_charge_ewald(structure)
    energies = {}
    for orbit in orbits:
        q = charges.copy()
        q[orbit.index] = 0.0  # a zero charge is an absent ion
        q[metals] -= q.sum() / len(metals)
        energies[orbit.index] = float(q @ matrix @ q)
    return energies


def screen_orbits(
    structure: Structure,
    orbits: list[OxygenOrbit],
    keep_per_class: int,
    method: Literal["ewald"] = "ewald",
) -> list[OxygenOrbit]:
    """The ``keep_per_class`` lowest-energy orbits of each label, by an Ewald screen.

    For cells where relaxing every orbit costs too much. Energies are those of
    :func:`vacancy_ewald_energies`; ties are broken by the lower index. There is no
    MLIP screen: with the CHGNet engine the flow's relaxations are that step.

    Returns
    -------
    list of OxygenOrbit
        Sorted by label, then by Ewald energy (lowest first).

    Raises
    ------
    OredoxInputError
        ``keep_per_class`` below 1, an unknown ``method``, or what
        :func:`vacancy_ewald_energies` refuses.
    """
    if method != "ewald":
        raise OredoxInputError(f"screen method must be 'ewald', not {method!r}")
    if keep_per_class < 1:
        raise OredoxInputError(
            f"keep_per_class must be 1 or more, not {keep_per_class}"
        )
    energies = vacancy_ewald_energies(structure, orbits)
    per_label: dict[str, list[OxygenOrbit]] = defaultdict(list)
    for orbit in orbits:
        per_label[orbit.label].append(orbit)
    kept = []
    for label in sorted(per_label):
        ranked = sorted(per_label[label], key=lambda o: (energies[o.index], o.index))
        kept += ranked[:keep_per_class]
    return kept


def after_oxygen_loss(
    initial: Structure, relaxed: Structure, contact_A: float = 2.4
) -> dict:
    """What a relaxed vacancy cell did: O-O dimers and framework changes.

    Parameters
    ----------
    initial
        The vacancy cell before relaxation (e.g. from :func:`remove_oxygen`).
    relaxed
        The same cell after relaxation, same sites in the same order.
    contact_A
        O-O pairs shorter than this (A) are reported.

    Returns
    -------
    dict
        ``o_o_pairs``: each pair shorter than ``contact_A`` in the relaxed cell with
        its ``sites``, ``distance_A``, ``initial_distance_A`` and ``class`` (O2-like
        <= 1.26 A, superoxo <= 1.38 A, peroxo <= 1.60 A, else short contact; from
        :func:`oredox.analysis.redox.o_o_pairs`); ``n_pairs_by_class``;
        ``shortest_o_o_A`` (None without two O); ``framework``: ``intact``,
        ``tetrahedral_metals`` (four O or fewer after relaxation but not before),
        ``metals_in_alkali_layer``, ``displaced_metals_A`` (site -> displacement in
        A), ``collapsed_layers_fraction``, ``alkali_layer_spacing_change_fraction``
        (:func:`oredox.analysis.framework.check_framework`),
        ``undercoordinated_before_relaxation`` (metals left with four O or fewer by
        the vacancy itself: the cell is too small) and plain-language ``reasons``;
        ``intact`` ignores the last group; ``oxygen_vacancy``, the
        removed site recorded on ``initial`` (None when absent).

    Raises
    ------
    OredoxInputError
        The two structures do not list the same sites.
    """
    if [s.specie.symbol for s in initial] != [s.specie.symbol for s in relaxed]:
        raise OredoxInputError(
            "initial and relaxed vacancy cells must list the same sites in the same "
            f"order ({initial.composition.formula} vs {relaxed.composition.formula})"
        )
    pairs = []
    for pair in o_o_pairs(relaxed, contact_A):
        a, b = pair["sites"]
        pairs.append(
            {
                "sites": [int(a), int(b)],
                "distance_A": round(pair["distance_A"], 4),
                "initial_distance_A": round(float(initial.get_distance(a, b)), 4),
                "class": pair["class"],
            }
        )
    oxygen = [i for i, site in enumerate(relaxed) if site.specie.symbol == "O"]
    shortest = None
    if len(oxygen) > 1:
        distances = relaxed.distance_matrix[np.ix_(oxygen, oxygen)]
        shortest = round(float(distances[~np.eye(len(oxygen), dtype=bool)].min()), 4)
    # a metal that lost two or more O to this one vacancy (a cell too small along
    # some direction) is four-fold before anything moved: that is not migration
    before = check_framework(initial, initial).tetrahedral_metals
    framework = check_framework(initial, relaxed)
    framework = replace(
        framework,
        tetrahedral_metals=[m for m in framework.tetrahedral_metals if m not in before],
    )
    reasons = framework.reasons()
    if before:
        reasons.append(
            f"metals at sites {before} have four O or fewer before relaxation: the "
            "cell is too small for an isolated vacancy"
        )
    return {
        "o_o_pairs": pairs,
        "n_pairs_by_class": dict(Counter(p["class"] for p in pairs)),
        "shortest_o_o_A": shortest,
        "framework": {
            "intact": framework.intact,
            "tetrahedral_metals": [int(i) for i in framework.tetrahedral_metals],
            "metals_in_alkali_layer": [
                int(i) for i in framework.metals_in_alkali_layer
            ],
            "displaced_metals_A": {
                str(i): float(d) for i, d in framework.displaced_metals.items()
            },
            "collapsed_layers_fraction": list(framework.collapsed_layers),
            "alkali_layer_spacing_change_fraction": list(
                framework.alkali_layer_spacing_change
            ),
            "undercoordinated_before_relaxation": [int(i) for i in before],
            "reasons": reasons,
        },
        "oxygen_vacancy": deepcopy(initial.properties.get("oxygen_vacancy")),
    }
