"""Symmetry-distinct O vacancies, the Ewald screen and the after-loss checks.

Orbit counts are checked on cells where they can be counted by hand: LiCoO2 (R-3m, O
at 6c: one orbit), Li2MnO3 (C2/m, O at 4i and 8j), and LiCoO2 2x1x1 with one Li
removed, where the six O-alkali bonds of the empty site fall on the four O two by two
(2 O with one Vac, 2 O with two).
"""

import json
from collections import Counter

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.analysis.environments import is_transition_metal
from oredox.analysis.oxygen_vacancies import (
    after_oxygen_loss,
    oxygen_orbits,
    remove_oxygen,
    screen_orbits,
    vacancy_ewald_energies,
)
from oredox.errors import OredoxInputError
from oredox.structures.frameworks import o3_layered
from oredox.structures.seeds import li2mno3_honeycomb


def _without(structure, index):
    """The configuration with one site removed and that site's coordinates."""
    cell = structure.copy()
    cell.remove_sites([index])
    return cell, [structure[index].frac_coords.tolist()]


def test_licoo2_primitive_has_one_orbit_of_two():
    orbits = oxygen_orbits(o3_layered("LiCoO2", cell="primitive"))
    assert len(orbits) == 1
    (orbit,) = orbits
    assert orbit.multiplicity == 2 and orbit.equivalent_indices == [1, 2]
    assert orbit.wyckoff == "6c"  # R-3m, hexagonal setting
    assert orbit.cations == {"Li": 3, "Co": 3}
    assert orbit.axes == {"Li-O-Co": 3}
    assert orbit.label == "OLi3Co3 | 3 Li-O-Co"


@pytest.mark.parametrize(
    "cell, sizes", [("primitive", [2, 4]), ("conventional", [4, 8])]
)
def test_li2mno3_orbits_are_the_4i_and_8j_sites(cell, sizes):
    structure = li2mno3_honeycomb()
    if cell == "conventional":
        structure = SpacegroupAnalyzer(structure).get_conventional_standard_structure()
    assert len(structure) == {"primitive": 12, "conventional": 24}[cell]
    orbits = oxygen_orbits(structure)
    assert sorted(o.multiplicity for o in orbits) == sizes
    assert sorted(o.wyckoff for o in orbits) == ["4i", "8j"]
    # every O of Li2MnO3: 2 Mn + 1 Li in the metal layer, 3 Li across
    for orbit in orbits:
        assert orbit.cations == {"Li": 4, "Mn": 2}
        assert orbit.axes == {"Li-O-Li": 1, "Li-O-Mn": 2}
    covered = sorted(i for o in orbits for i in o.equivalent_indices)
    assert covered == [i for i, s in enumerate(structure) if s.specie.symbol == "O"]


@pytest.mark.parametrize("give_vacancy", [True, False])
def test_one_li_removed_splits_the_o_orbit(give_vacancy):
    host = o3_layered("LiCoO2", cell="primitive").make_supercell(
        [2, 1, 1], in_place=False
    )
    assert len(oxygen_orbits(host)) == 1
    lithium = [i for i, s in enumerate(host) if s.specie.symbol == "Li"]
    cell, vacancy = _without(host, lithium[0])
    orbits = oxygen_orbits(cell, vacancies=vacancy if give_vacancy else None)
    assert len(orbits) > 1
    per_label = Counter()
    for orbit in orbits:
        per_label[orbit.label] += orbit.multiplicity
        assert "Vac" in orbit.label and orbit.cations["Vac"] >= 1
        assert orbit.axes.get("Co-O-Vac", 0) == orbit.cations["Vac"]
    assert per_label == {
        "OLi2Co3Vac | 2 Li-O-Co, 1 Co-O-Vac": 2,
        "OLiCo3Vac2 | 1 Li-O-Co, 2 Co-O-Vac": 2,
    }
    assert [o.label for o in orbits] == sorted(o.label for o in orbits)


def test_vac_o_vac_axes_are_seen_only_with_the_removed_sites():
    # Li2MnO3 without its Li: the Li-O-Li axis of every O becomes Vac-O-Vac
    structure = li2mno3_honeycomb()
    lithium = [i for i, s in enumerate(structure) if s.specie.symbol == "Li"]
    vacancies = [structure[i].frac_coords.tolist() for i in lithium]
    cell = structure.copy()
    cell.remove_sites(lithium)
    orbits = oxygen_orbits(cell, vacancies=vacancies)
    assert sorted(o.wyckoff for o in orbits) == ["4i", "8j"]
    for orbit in orbits:
        assert orbit.cations == {"Mn": 2, "Vac": 4}
        assert orbit.axes == {"Mn-O-Vac": 2, "Vac-O-Vac": 1}
        assert orbit.label == "OMn2Vac4 | 2 Mn-O-Vac, 1 Vac-O-Vac"
    # without the removed sites an empty axis is invisible
    for orbit in oxygen_orbits(cell):
        assert orbit.axes == {"Mn-O-Vac": 2}


def test_structure_without_oxygen_is_refused():
    lif = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.03), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    with pytest.raises(OredoxInputError, match="no O site"):
        oxygen_orbits(lif)


def test_vacancy_on_an_atom_is_refused():
    structure = o3_layered("LiCoO2", cell="primitive")
    with pytest.raises(OredoxInputError, match="removed sites only"):
        oxygen_orbits(structure, vacancies=[structure[0].frac_coords.tolist()])


def test_remove_oxygen_records_the_site_and_refuses_other_species():
    structure = o3_layered("LiCoO2", cell="primitive")
    orbit = oxygen_orbits(structure)[0]
    cell = remove_oxygen(structure, orbit.index, label=orbit.label)
    assert cell.composition.reduced_formula == "LiCoO"
    assert len(cell) == len(structure) - 1
    record = cell.properties["oxygen_vacancy"]
    assert record["species"] == "O2-" and record["label"] == orbit.label
    assert np.allclose(record["frac_coords"], structure[orbit.index].frac_coords)
    assert "oxygen_vacancy" not in structure.properties
    assert cell.site_properties["sublattice"].count("anion") == 1
    cobalt = next(i for i, s in enumerate(structure) if s.specie.symbol == "Co")
    with pytest.raises(OredoxInputError, match="not O"):
        remove_oxygen(structure, cobalt)
    with pytest.raises(OredoxInputError, match="does not exist"):
        remove_oxygen(structure, len(structure))


def _direct_ewald(structure, index):
    """Ewald energy (eV) of the vacancy cell, TMs compensating evenly, summed anew."""
    cell = remove_oxygen(structure, index)
    charges = np.array([s.specie.oxi_state for s in cell], dtype=float)
    metals = [i for i, s in enumerate(cell) if is_transition_metal(s.specie.symbol)]
    charges[metals] -= charges.sum() / len(metals)
    cell.remove_oxidation_states()
    cell.add_oxidation_state_by_site(charges.tolist())
    assert abs(cell.charge) < 1e-9
    return EwaldSummation(cell).total_energy


def test_screen_keeps_the_lowest_ewald_orbits_per_label():
    host = li2mno3_honeycomb()
    cell, vacancy = _without(host, 1)  # one Li of the Li layer
    orbits = oxygen_orbits(cell, vacancies=vacancy)
    labels = Counter(o.label for o in orbits)
    assert len(orbits) == 3 and sorted(labels.values()) == [1, 2]
    energies = vacancy_ewald_energies(cell, orbits)
    direct = {o.index: _direct_ewald(cell, o.index) for o in orbits}
    for index, energy in energies.items():
        assert energy == pytest.approx(direct[index], abs=2e-3)
    kept = screen_orbits(cell, orbits, keep_per_class=1)
    assert len(kept) == len(labels)
    for orbit in kept:
        same = [o.index for o in orbits if o.label == orbit.label]
        assert direct[orbit.index] == min(direct[i] for i in same)
    assert screen_orbits(cell, orbits, keep_per_class=5) == sorted(
        orbits, key=lambda o: (o.label, direct[o.index])
    )


def test_screen_refuses_bad_requests():
    structure = li2mno3_honeycomb()
    orbits = oxygen_orbits(structure)
    with pytest.raises(OredoxInputError, match="keep_per_class"):
        screen_orbits(structure, orbits, keep_per_class=0)
    bare = structure.copy()
    bare.remove_oxidation_states()
    with pytest.raises(OredoxInputError, match="oxidation states"):
        screen_orbits(bare, orbits, keep_per_class=1)


def _octahedron():
    """CoO6 in an 8 A box plus one extra O far away (to be removed)."""
    r = 1.9
    cart = [
        [0, 0, 0],
        [r, 0, 0],
        [-r, 0, 0],
        [0, r, 0],
        [0, -r, 0],
        [0, 0, r],
        [0, 0, -r],
        [3.5, 3.5, 3.5],
    ]
    return Structure(
        Lattice.cubic(8.0),
        ["Co"] + ["O"] * 7,
        np.array(cart) + 2.0,
        coords_are_cartesian=True,
    )


def test_after_oxygen_loss_reports_a_peroxo_pair():
    initial = remove_oxygen(_octahedron(), 7, label="test")
    relaxed = initial.copy()
    # bring the +x and +y O of the octahedron to 1.45 A, symmetrically
    a, b = 1, 3
    middle = (relaxed[a].coords + relaxed[b].coords) / 2
    along = (relaxed[a].coords - relaxed[b].coords) / initial.get_distance(a, b)
    relaxed.replace(a, "O", middle + 0.725 * along, coords_are_cartesian=True)
    relaxed.replace(b, "O", middle - 0.725 * along, coords_are_cartesian=True)
    result = after_oxygen_loss(initial, relaxed)
    json.dumps(result)
    assert result["n_pairs_by_class"] == {"peroxo": 1}
    (pair,) = result["o_o_pairs"]
    assert pair["sites"] == [a, b] and pair["distance_A"] == pytest.approx(1.45)
    assert pair["initial_distance_A"] == pytest.approx(1.9 * 2**0.5, abs=1e-3)
    assert result["shortest_o_o_A"] == pytest.approx(1.45)
    assert result["framework"]["intact"] and result["framework"]["reasons"] == []
    assert result["oxygen_vacancy"]["label"] == "test"


def test_after_oxygen_loss_of_an_unchanged_cell_reports_nothing():
    host = o3_layered("LiCoO2").make_supercell([2, 2, 1], in_place=False)
    initial = remove_oxygen(host, oxygen_orbits(host)[0].index)
    result = after_oxygen_loss(initial, initial.copy())
    assert result["o_o_pairs"] == [] and result["shortest_o_o_A"] > 2.4
    assert result["framework"]["intact"] and result["framework"]["reasons"] == []
    with pytest.raises(OredoxInputError, match="same sites"):
        after_oxygen_loss(initial, host)


def test_a_cell_too_small_for_a_vacancy_is_said_not_migration():
    # hexagonal LiCoO2 is one Co wide in-plane: each O binds three images of one Co,
    # which the vacancy leaves three-fold before anything relaxes
    host = o3_layered("LiCoO2")
    initial = remove_oxygen(host, oxygen_orbits(host)[0].index)
    framework = after_oxygen_loss(initial, initial.copy())["framework"]
    assert len(framework["undercoordinated_before_relaxation"]) == 1
    assert framework["tetrahedral_metals"] == [] and framework["intact"]
    assert "too small" in framework["reasons"][0]


def test_after_oxygen_loss_sees_a_metal_move_into_the_lithium_layer():
    host = o3_layered("LiCoO2")
    initial = remove_oxygen(host, oxygen_orbits(host)[0].index)
    relaxed = initial.copy()
    cobalt = next(i for i, s in enumerate(relaxed) if s.specie.symbol == "Co")
    lithium = next(i for i, s in enumerate(relaxed) if s.specie.symbol == "Li")
    # swap a Co and a Li: the Co now sits in the Li layer
    target = relaxed[lithium].frac_coords.copy()
    relaxed.replace(cobalt, "Co", target)
    relaxed.replace(lithium, "Li", initial[cobalt].frac_coords)
    result = after_oxygen_loss(initial, relaxed)
    assert cobalt in result["framework"]["metals_in_alkali_layer"]
    assert not result["framework"]["intact"]


def test_ewald_screen_ranks_o_next_to_more_vacancies_first():
    # removing an O2- costs less where fewer cations surround it: in LiCoO2 2x1x1
    # with one Li out, the O with two empty neighbours screens below those with one
    host = o3_layered("LiCoO2", cell="primitive").make_supercell(
        [2, 1, 1], in_place=False
    )
    lithium = next(i for i, s in enumerate(host) if s.specie.symbol == "Li")
    cell, vacancy = _without(host, lithium)
    orbits = oxygen_orbits(cell, vacancies=vacancy)
    energies = vacancy_ewald_energies(cell, orbits)
    by_vacancies = {o.cations["Vac"]: energies[o.index] for o in orbits}
    assert by_vacancies[2] < by_vacancies[1] - 1.0  # eV per cell
