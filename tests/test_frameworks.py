import numpy as np
import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError
from oredox.structures.frameworks import (
    make_supercell,
    o3_layered,
    p2_layered,
    resolve_oxidation_states,
)
from oredox.structures.p2 import p2_cell_size, p2_host


def test_licoo2_is_r3m_with_labels_and_oxidation_states():
    s = o3_layered("LiCoO2")
    assert SpacegroupAnalyzer(s).get_space_group_symbol() == "R-3m"
    assert s.composition.reduced_formula == "LiCoO2"
    assert len(s) == 12
    assert s.lattice.a == pytest.approx(2.816)
    assert s.lattice.c == pytest.approx(14.05)
    assert {str(sp) for sp in s.species} == {"Li+", "Co3+", "O2-"}
    labels = dict(
        zip(
            (site.specie.symbol for site in s),
            s.site_properties["sublattice"],
            strict=True,
        )
    )
    assert labels == {"Li": "alkali", "Co": "metal", "O": "anion"}
    assert s.charge == pytest.approx(0)


def test_co_o_distance_is_octahedral():
    s = o3_layered("LiCoO2")
    co = next(i for i, site in enumerate(s) if site.specie.symbol == "Co")
    neighbours = s.get_neighbors(s[co], 2.3)
    assert len(neighbours) == 6
    # LiCoO2 Co-O is 1.92 A; z_O = 0.2604 with a = 2.816, c = 14.05 gives about that
    assert np.mean([n.nn_distance for n in neighbours]) == pytest.approx(1.92, abs=0.03)


def test_oxidation_state_inference_and_override():
    assert resolve_oxidation_states("LiNiO2") == {"Li": 1.0, "Ni": 3.0, "O": -2.0}
    with pytest.raises(OredoxInputError, match="not charge balanced"):
        resolve_oxidation_states("LiCoO2", {"Co": 4})


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("NaMgO2", "not charge balanced"),
        ("CoO2", "no Li, Na or K"),
        ("LiCoO3", "does not fit the O3 layered framework"),
        ("Li2CoO2", "does not fit the O3 layered framework"),
        ("LiXxO2", "cannot read formula"),
    ],
)
def test_bad_hosts_raise_clear_errors(formula, message):
    with pytest.raises(OredoxInputError, match=message):
        o3_layered(formula)


def test_supercell_validation():
    s = o3_layered("LiCoO2")
    assert len(make_supercell(s, (2, 1, 1))) == 24
    assert len(make_supercell(s, [[1, 1, 0], [-1, 1, 0], [0, 0, 1]])) == 24
    with pytest.raises(OredoxInputError, match="determinant 0"):
        make_supercell(s, (2, 0, 1))
    with pytest.raises(OredoxInputError, match="3 integers"):
        make_supercell(s, (1.5, 1, 1))


def test_p2_host_at_two_thirds_is_balanced_with_mn3_and_mn4():
    host = p2_host("NaMnO2", 0.67)
    assert host.composition.formula == "Na4 Mn6 O12"
    assert host.charge == pytest.approx(0)
    states = sorted(s.oxi_state for s in host.species if s.symbol == "Mn")
    # Mn averages 4 - 2/3 = 10/3: four Mn3+ and two Mn4+
    assert states == [3, 3, 3, 3, 4, 4]
    provenance = host.properties["provenance"]
    assert provenance["alkali_per_metal"] == pytest.approx(2 / 3)
    # every Na on an edge-sharing prism: Na_f sits c/4 = 2.78 A from two Mn
    assert provenance["prisms_occupied"] == {"edge": 4, "face": 0}
    na = [i for i, site in enumerate(host) if site.specie.symbol == "Na"]
    for i in na:
        mn = [n for n in host.get_neighbors(host[i], 3.0) if n.specie.symbol == "Mn"]
        assert not mn
    assert provenance["alkali_layer"]["ewald_gap_eV"] > 0.1


def test_p2_host_at_full_alkali_keeps_p63mmc_with_na_e():
    host = p2_host("NaMnO2", 1)
    assert host.composition.formula == "Na2 Mn2 O4"
    assert {str(s) for s in host.species} == {"Na+", "Mn3+", "O2-"}
    assert SpacegroupAnalyzer(host).get_space_group_symbol() == "P6_3/mmc"
    assert host.properties["provenance"]["prisms_occupied"] == {"edge": 2, "face": 0}


def test_p2_ni_mn_honeycomb_at_two_thirds_is_ni2_mn4():
    from oredox.structures.layer_orderings import fill_alkali_sites
    from oredox.structures.superstructures import honeycomb, stack_p2

    cell = stack_p2(p2_layered("NaMnO2"), honeycomb(), (0, 0), in_layer="Ni")
    host, _ = fill_alkali_sites(cell, 4)  # 4 Na per 6 metals: Na2/3Ni1/3Mn2/3O2
    assert host.composition.formula == "Na4 Mn4 Ni2 O12"
    assert {str(s) for s in host.species} == {"Na+", "Ni2+", "Mn4+", "O2-"}
    assert host.charge == pytest.approx(0)


@pytest.mark.parametrize(
    ("formula", "alkali", "states", "message"),
    [
        ("NaMnO2", 2 / 3, {"Mn": 4}, "not charge balanced with Mn4+"),
        ("NaMgO2", 2 / 3, None, "Mg takes only"),
        ("NaMnO2", 0.65, None, "choose a nearby content such as 2/3"),
        ("NaMnO2", 0, None, "in (0, 1]"),
        ("NaMnO2", 2 / 3, {"Na": 2}, "oxidation state of Mn only"),
    ],
)
def test_p2_host_refuses_what_cannot_balance(formula, alkali, states, message):
    with pytest.raises(OredoxInputError, match=message.replace("(", r"\(")):
        p2_host(formula, alkali, oxidation_states=states)


def test_p2_cell_size_is_the_smallest_that_holds_the_content():
    assert p2_cell_size(2 / 3) == (3, 4)
    assert p2_cell_size(0.67) == (3, 4)
    assert p2_cell_size(0.5) == (1, 1)
    assert p2_cell_size(0.6) == (5, 6)
    assert p2_cell_size(0.75) == (2, 3)
