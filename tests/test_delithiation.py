"""Enumeration counts against independent brute force, Burnside and StructureMatcher."""

from itertools import combinations
from math import comb

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError
from oredox.structures.delithiation import (
    alkali_symmetry,
    apply_configuration,
    count_configurations,
    enumerate_all,
    enumerate_configurations,
)
from oredox.structures.frameworks import make_supercell, o3_layered

CELLS = {
    "hex 1x1x1": (False, (1, 1, 1)),
    "hex 2x1x1": (False, (2, 1, 1)),
    "rh 2x2x1": (True, (2, 2, 1)),
    "rh 2x2x2": (True, (2, 2, 2)),
    "hex 2x2x1": (False, (2, 2, 1)),
}


def host_cell(primitive, supercell):
    s = o3_layered("LiCoO2")
    if primitive:
        s = s.get_primitive_structure()
    return make_supercell(s, supercell)


def brute_force_counts(host):
    """Orbits of vacancy sets under the host's symmetry, computed the slow, plain way.

    The site permutations come from pymatgen SymmOps applied site by site and matched
    with ``is_periodic_image``, independently of oredox's vectorised mapping.
    """
    li = [i for i, site in enumerate(host) if site.specie.symbol == "Li"]
    ops = SpacegroupAnalyzer(host, symprec=1e-3).get_symmetry_operations(
        cartesian=False
    )
    perms = []
    for op in ops:
        perm = {}
        for i in li:
            image = op.operate(host[i].frac_coords)
            perm[i] = next(
                j
                for j in li
                if host[j].is_periodic_image(
                    type(host[j])(host[j].species, image, host.lattice), tolerance=1e-3
                )
            )
        perms.append(perm)
    counts = []
    for k in range(len(li) + 1):
        seen, orbits = set(), 0
        for vacant in combinations(li, k):
            key = frozenset(vacant)
            if key in seen:
                continue
            orbits += 1
            seen.update(frozenset(p[i] for i in vacant) for p in perms)
        counts.append(orbits)
    return counts


@pytest.mark.parametrize("cell", list(CELLS))
def test_counts_match_brute_force_and_burnside(cell):
    host = host_cell(*CELLS[cell])
    sym = alkali_symmetry(host)
    counts = [len(enumerate_configurations(sym, k)) for k in range(sym.n_sites + 1)]
    assert counts == brute_force_counts(host)
    assert counts == [count_configurations(sym, k) for k in range(sym.n_sites + 1)]


def test_known_counts_by_hand():
    # Hexagonal LiCoO2 cell: its 3 Li (one per layer) are related by the R centring
    # translations, so every Li content has exactly one arrangement. Without the
    # internal translations k=1 would split into 2 (the point group alone keeps the
    # z = 1/2 Li apart from the z = 1/6, 5/6 pair).
    sym = alkali_symmetry(host_cell(False, (1, 1, 1)))
    assert [len(enumerate_configurations(sym, k)) for k in range(4)] == [1, 1, 1, 1]
    # Doubling along a: 6 Li, 2 per layer. k=1: 1 (all Li equivalent). k=2: the pair in
    # one layer, or a pair in two different layers where the second Li sits above the
    # first's in-plane position modulo the doubling (two distinct offsets): 3.
    sym = alkali_symmetry(host_cell(False, (2, 1, 1)))
    assert [len(enumerate_configurations(sym, k)) for k in range(7)] == [
        1,
        1,
        3,
        3,
        3,
        1,
        1,
    ]


def test_multiplicities_sum_to_binomials():
    sym = alkali_symmetry(host_cell(False, (2, 2, 1)))
    for k in range(sym.n_sites + 1):
        configs = enumerate_configurations(sym, k)
        assert sum(c.multiplicity for c in configs) == comb(sym.n_sites, k)
        assert all(len(c.vacancies) == k for c in configs)


def test_representatives_distinct_by_structure_matcher():
    """Representatives are distinct structures; every raw arrangement matches one."""
    host = host_cell(False, (2, 1, 1))
    sym = alkali_symmetry(host)
    matcher = StructureMatcher(
        primitive_cell=False, scale=False, attempt_supercell=False
    )
    for k in (2, 3):
        reps = [
            apply_configuration(host, sym, c) for c in enumerate_configurations(sym, k)
        ]
        groups = matcher.group_structures(reps)
        assert len(groups) == len(reps)
        raw = []
        for vacant in combinations(range(sym.n_sites), k):
            s = host.copy()
            s.remove_sites([sym.alkali_indices[i] for i in vacant])
            raw.append(s)
        assert len(matcher.group_structures(raw)) == len(reps)


def test_enumerate_all_covers_every_content():
    sym = alkali_symmetry(host_cell(False, (2, 1, 1)))
    configs = enumerate_all(sym)
    assert sorted({c.n_vacancies for c in configs}) == list(range(7))
    assert len(configs) == 13


def test_no_alkali_and_bad_k():
    host = host_cell(False, (1, 1, 1))
    with pytest.raises(OredoxInputError, match="no Na sites"):
        alkali_symmetry(host, "Na")
    sym = alkali_symmetry(host)
    with pytest.raises(OredoxInputError, match=r"choose 0\.\.3"):
        enumerate_configurations(sym, 4)
    with pytest.raises(OredoxInputError, match=r"choose 0\.\.3"):
        count_configurations(sym, -1)


def test_permutations_form_a_group():
    sym = alkali_symmetry(host_cell(True, (2, 2, 2)))
    perms = {tuple(p) for p in sym.permutations}
    assert tuple(range(sym.n_sites)) in perms
    for p in sym.permutations:
        for q in sym.permutations[:5]:
            assert tuple(np.asarray(p)[q]) in perms
