"""Layer orderings, stacking and the layered seed cells: geometry checked by hand."""

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError
from oredox.structures.ewald import EwaldQuadraticForm
from oredox.structures.frameworks import o3_layered, p2_layered, rock_salt
from oredox.structures.layer_orderings import enumerate_layer_orderings
from oredox.structures.seeds import li2mno3_honeycomb, nlmo_ribbon, nlmro_ribbon
from oredox.structures.superstructures import (
    capped_honeycomb,
    classify,
    honeycomb,
    named_ordering,
    ribbon,
    stack_p2,
    stacking_variants,
)


def in_layer_neighbours(structure, index, cutoff=3.2):
    """Cations in the same metal layer (same z to 0.1 A) within ``cutoff``."""
    z = structure[index].coords[2]
    return [
        n
        for n in structure.get_neighbors(structure[index], cutoff)
        if abs(n.coords[2] - z) < 0.1 and n.specie.symbol != "O"
    ]


def test_parent_space_groups():
    assert SpacegroupAnalyzer(o3_layered("LiCoO2")).get_space_group_symbol() == "R-3m"
    prim = o3_layered("LiCoO2", cell="primitive")
    assert len(prim) == 4
    assert SpacegroupAnalyzer(prim).get_space_group_symbol() == "R-3m"
    assert SpacegroupAnalyzer(p2_layered()).get_space_group_symbol() == "P6_3/mmc"
    nio = rock_salt({"Ni": 1.0}, a=4.17)
    assert SpacegroupAnalyzer(nio).get_space_group_symbol() == "Fm-3m"
    assert len(nio) == 8


def test_rock_salt_ltno_oxidation_states_and_bad_fractions():
    ltno = rock_salt({"Li": 7 / 12, "Ti": 7 / 24, "Ni": 1 / 8})
    occupancy = {str(sp): round(x, 4) for sp, x in ltno[0].species.items()}
    assert occupancy == {"Li+": 0.5833, "Ti4+": 0.2917, "Ni2+": 0.125}
    with pytest.raises(OredoxInputError, match="must sum to 1"):
        rock_salt({"Li": 0.5, "Ni": 0.4})


def test_p2_prismatic_sites():
    p2 = p2_layered()
    prism = [p for p in p2.site_properties["prism"] if p]
    assert sorted(prism) == ["edge", "edge", "face", "face"]
    # Na_f sits directly between two metal sites (shares faces with their octahedra)
    face = next(i for i, p in enumerate(p2.site_properties["prism"]) if p == "face")
    mn = [n for n in p2.get_neighbors(p2[face], 3.0) if n.specie.symbol == "Mn"]
    assert len(mn) == 2
    assert all(n.nn_distance == pytest.approx(p2.lattice.c / 4) for n in mn)


def test_li2mno3_is_c2m_with_measured_cell():
    structure = li2mno3_honeycomb()
    assert structure.composition.reduced_formula == "Li2MnO3"
    analyzer = SpacegroupAnalyzer(structure, symprec=1e-3)
    assert analyzer.get_space_group_symbol() == "C2/m"
    conv = analyzer.get_conventional_standard_structure()
    a, b, c = conv.lattice.abc
    assert (a, b, c) == pytest.approx((4.93, 8.53, 5.03), abs=0.02)
    assert conv.lattice.beta == pytest.approx(109.3, abs=0.5)
    assert {str(sp) for sp in structure.species} == {"Li+", "Mn4+", "O2-"}


def test_every_honeycomb_li_has_six_mn_in_plane():
    structure = li2mno3_honeycomb()
    in_layer_li = [
        i
        for i, r in enumerate(structure.site_properties["role"])
        if r == "metal_layer_alkali"
    ]
    assert in_layer_li
    for i in in_layer_li:
        neighbours = in_layer_neighbours(structure, i)
        assert len(neighbours) == 6
        assert {n.specie.symbol for n in neighbours} == {"Mn"}


def test_ribbon_neighbours_and_rows():
    structure = nlmo_ribbon()
    assert structure.composition.formula == "Na6 Li2 Mn8 O20"
    assert structure.charge == pytest.approx(0)
    a = 2.87
    for i, site in enumerate(structure):
        if site.specie.symbol != "Li":
            continue
        first = in_layer_neighbours(structure, i, 1.1 * a)
        assert len(first) == 6
        assert {n.specie.symbol for n in first} == {"Mn"}
        # the next Li in the layer: two, at sqrt3 a on opposite sides (a row)
        li = [
            n
            for n in in_layer_neighbours(structure, i, 2.0 * a)
            if n.specie.symbol == "Li"
        ]
        assert len(li) == 2
        assert all(n.nn_distance == pytest.approx(np.sqrt(3) * a) for n in li)
        assert np.allclose(li[0].coords - site.coords, site.coords - li[1].coords)
    # -Li-4Mn-Li- along a1: sites 0..5 along a1 from a Li are Li, Mn x4, Li
    order = ribbon()
    assert [order.is_a((k, 0)) for k in range(6)] == [True] + [False] * 4 + [True]


def test_nlmro_places_one_ru_next_to_two_li():
    structure = nlmro_ribbon()
    assert structure.composition.formula == "Na6 Li2 Mn7 Ru1 O20"
    assert structure.charge == pytest.approx(0)
    assert structure.properties["provenance"]["ru_site"]["in_layer_li_neighbours"] == 2


def test_capped_honeycomb_puts_metal_above_and_below_every_a():
    parent = p2_layered("NaMnO2")
    for structure, capped in (
        (capped_honeycomb(parent, "Mg"), True),
        (stack_p2(parent, honeycomb(), (0, 0), "Mg"), False),
    ):
        mg = [i for i, s in enumerate(structure) if s.specie.symbol == "Mg"]
        for i in mg:
            vertical = [
                n
                for n in structure.get_neighbors(structure[i], 5.6)
                if n.specie.symbol in ("Mg", "Mn")
                and np.allclose(n.coords[:2], structure[i].coords[:2], atol=1e-3)
            ]
            assert len(vertical) == 2
            expected = {"Mn"} if capped else {"Mg"}
            assert {n.specie.symbol for n in vertical} == expected
    with pytest.raises(OredoxInputError, match="ABC-stacked"):
        capped_honeycomb(
            o3_layered("LiMnO2", oxidation_states={"Mn": 3}, cell="primitive")
        )


def test_classifier_and_enumeration_ranking():
    assert classify(honeycomb()) == "honeycomb"
    assert classify(ribbon()) == "ribbon"
    third = enumerate_layer_orderings(1 / 3, max_sites=6)
    assert third[0].motif == "honeycomb"
    assert third[0].ordering.n_sites == 3
    fifth = enumerate_layer_orderings(1 / 5, max_sites=5)
    assert [r.motif for r in fifth] == ["ribbon", "stripe"]
    half = enumerate_layer_orderings(1 / 2, max_sites=4)
    # A/M 1:1 on a triangular net: straight stripes are the point-charge ground state
    assert half[0].motif == "stripe"
    labels = {"honeycomb", "ribbon", "stripe", "zigzag", "dispersed", "other"}
    assert {r.motif for r in third + fifth + half} <= labels
    energies = [r.ewald_eV_per_site for r in third]
    assert energies == sorted(energies)


def test_named_ordering_checks_ratio():
    assert named_ordering("ribbon", 0.2).n_sites == 5
    with pytest.raises(OredoxInputError, match="cannot exist at A1/3; use honeycomb"):
        named_ordering("ribbon", 1 / 3)
    with pytest.raises(OredoxInputError, match="unknown ordering"):
        named_ordering("herringbone")


def test_stacking_variants_of_honeycomb_in_p2():
    variants = stacking_variants(p2_layered("NaMnO2"), honeycomb(), in_layer="Li")
    groups = sorted(v.space_group for v in variants)
    # A over A (P6_3/mcm) and A capped by M (P6_322)
    assert groups == ["P6_3/mcm", "P6_322"]


def test_ewald_quadratic_form_equals_full_ewald():
    """Differences between arrangements with the same ion count match pymatgen."""
    structure = nlmo_ribbon()
    na = [i for i, s in enumerate(structure) if s.specie.symbol == "Na"]
    form = EwaldQuadraticForm(structure, na)
    rng = np.random.default_rng(0)
    occupations = np.array(
        [rng.permutation([True] * 4 + [False] * 2) for _ in range(5)]
    )
    quadratic = form.energies(occupations)
    full = []
    for occ in occupations:
        s = structure.copy()
        s.remove_sites([na[k] for k in range(len(na)) if not occ[k]])
        full.append(EwaldSummation(s).total_energy)
    assert np.ptp(full) > 0.1  # the arrangements really differ
    assert quadratic - quadratic[0] == pytest.approx(
        np.subtract(full, full[0]), abs=1e-6
    )
    everything = form.energies(np.ones((1, len(na)), dtype=bool))[0]
    assert everything == pytest.approx(EwaldSummation(structure).total_energy, abs=1e-6)


def test_house_limn6_cell():
    from oredox.structures.seeds import house_honeycomb

    structure = house_honeycomb()
    assert structure.composition.formula == "Na6 Li2 Mn6 O16"
    assert structure.charge == pytest.approx(0)
    for i, site in enumerate(structure):
        if site.specie.symbol == "Li":
            first = in_layer_neighbours(structure, i, 1.1 * 2.87)
            assert {n.specie.symbol for n in first} == {"Mn"}
            assert len(first) == 6
            li = [
                n
                for n in in_layer_neighbours(structure, i, 2.1 * 2.87)
                if n.specie.symbol == "Li"
            ]
            assert all(n.nn_distance == pytest.approx(2 * 2.87) for n in li)
    assert named_ordering("limn6-2x2", 0.25).n_sites == 4


def test_metal_net_of_layered_cells():
    from oredox.structures.frameworks import make_supercell
    from oredox.structures.superstructures import metal_net

    net = metal_net(make_supercell(o3_layered("LiCoO2"), (2, 1, 1)))
    assert len(net) == 6
    assert sorted({layer for _, _, layer in net}) == [0, 1, 2]
    for layer in range(3):
        points = sorted(p for _, p, lay in net if lay == layer)
        assert points == [(0, 0), (1, 0)]
    ribbon_net = metal_net(nlmo_ribbon())
    assert len(ribbon_net) == 10
    assert sorted({layer for _, _, layer in ribbon_net}) == [0, 1]


def test_li2mno3_stacking_polytypes():
    """One-, two- and three-layer honeycomb stackings: C2/m, C2/c and P3_112."""
    parent = o3_layered("LiMnO2", a=2.845, c=14.24, cell="primitive")
    variants = stacking_variants(parent, honeycomb(), max_period=3)
    groups = {v.space_group: len(v.structure) for v in variants}
    assert groups["C2/m"] == 12
    assert groups["C2/c"] == 24
    assert groups.get("P3_112", groups.get("P3_212")) == 36
    for v in variants:
        assert v.structure.composition.reduced_formula == "Li2MnO3"
