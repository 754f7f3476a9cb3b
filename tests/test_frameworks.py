import numpy as np
import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError
from oredox.structures.frameworks import (
    make_supercell,
    o3_layered,
    resolve_oxidation_states,
)


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
