"""SQS, pair statistics and Monte Carlo: hand-checked cases and their physics."""

from itertools import combinations

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Structure

from oredox.errors import OredoxInputError
from oredox.structures.clusters import (
    order_quality,
    pair_counts,
    pair_shells,
    shell_radii,
)
from oredox.structures.frameworks import rock_salt
from oredox.structures.seeds import LTNO_CATIONS, ltno_spread, ltno_sqs
from oredox.structures.sqs import compact_supercell, generate_sqs, minimize_contacts
from oredox.structures.sro import (
    anion_environments,
    cation_geometry,
    monte_carlo_sro,
    sro_descriptors,
    zero_tm_tetrahedra_fraction,
)

A = 4.15


def ltno_parent():
    return rock_salt(LTNO_CATIONS, a=A, cell="primitive")


def test_small_cells_count_every_periodic_image():
    # One cation per primitive cell: its 12 nearest neighbours are all itself.
    prim = rock_salt({"Ni": 1.0}, a=A, cell="primitive")
    radii = shell_radii(prim, [0], 4)
    assert radii == pytest.approx(A * np.sqrt([0.5, 1.0, 1.5, 2.0]))
    shells = pair_shells(prim, [0], radii)
    assert list(shells.neighbour) == [0, 0, 0, 0]
    assert list(shells.count) == [12, 6, 24, 12]
    # the cubic cell: 4 cations, 12 first neighbours each, 48 ordered pairs
    cubic = rock_salt({"Ni": 1.0}, a=A)
    cations = [i for i, s in enumerate(cubic) if s.specie.symbol == "Ni"]
    assert list(pair_shells(cubic, cations, radii).bonds) == [48, 24, 96, 48]


def test_l10_correlations_and_warren_cowley_by_hand():
    """CuAu-type L1_0 order on the cation fcc net: A and B (001) planes alternate.

    Each site has 4 like and 8 unlike first neighbours and 6 like second neighbours,
    so with Theta = -cos(pi sigma) (A: -1, B: +1): Gamma_1 = (4 - 8)/12 = -1/3,
    Gamma_2 = +1; alpha_1(A, B) = 1 - (8/12)/0.5 = -1/3; alpha_2(A, A) = 1 - 1/0.5 = -1.
    """
    lattice = Lattice.cubic(A)
    coords = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    structure = Structure(lattice, ["Li", "Li", "Ni", "Ni"], coords)
    radii = A * np.sqrt([0.5, 1.0])
    shells = pair_shells(structure, [0, 1, 2, 3], radii)
    occupation = np.array([0, 0, 1, 1])
    quality = order_quality(shells, occupation, ["Li", "Ni"], np.array([0.5, 0.5]))
    assert quality.mismatch_per_shell == pytest.approx([1 / 3, 1.0])
    alpha = np.array(quality.warren_cowley)
    assert alpha[0, 0, 1] == pytest.approx(-1 / 3)
    assert alpha[1, 0, 0] == pytest.approx(-1.0)
    counts = pair_counts(shells, occupation, 2)
    assert counts[0].sum() == shells.bonds[0] == 48


def test_compact_supercell_is_not_elongated():
    parent = ltno_parent()
    matrix = compact_supercell(parent, 24)
    assert round(abs(np.linalg.det(matrix))) == 24
    compact = Lattice(matrix @ parent.lattice.matrix)
    elongated = Lattice(np.diag([1, 1, 24]) @ parent.lattice.matrix)

    def shortest(lattice):
        reduced = lattice.get_lll_reduced_lattice().matrix
        return min(
            np.linalg.norm(np.array([i, j, k]) @ reduced)
            for i in (-1, 0, 1)
            for j in (-1, 0, 1)
            for k in (-1, 0, 1)
            if (i, j, k) != (0, 0, 0)
        )

    assert shortest(compact) > 7.0
    assert shortest(compact) > 2 * shortest(elongated)


def test_sqs_beats_the_average_random_arrangement():
    sqs = ltno_sqs(n_steps=100_000)
    assert sqs.composition.formula == "Li14 Ti7 Ni3 O24"
    assert sqs.is_ordered
    report = sqs.properties["provenance"]["quality"]
    # the same cell, random arrangements of the same composition
    parent = ltno_parent()
    randoms = [
        generate_sqs(parent, n_cells=24, n_steps=0, seed=s).properties["provenance"][
            "quality"
        ]["cluster_vector_mismatch"]
        for s in range(20)
    ]
    assert report["cluster_vector_mismatch"] < 0.5 * np.mean(randoms)
    assert report["cluster_vector_mismatch"] <= min(randoms)
    assert len(report["warren_cowley_alpha"]) == 4


def test_sqs_is_deterministic_with_a_seed():
    parent = ltno_parent()
    a = generate_sqs(parent, n_cells=24, n_steps=20_000, seed=7)
    b = generate_sqs(parent, n_cells=24, n_steps=20_000, seed=7)
    assert [str(s.specie) for s in a] == [str(s.specie) for s in b]


def test_site_counts_that_do_not_fit():
    with pytest.raises(OredoxInputError, match="32 sites cannot hold"):
        generate_sqs(rock_salt(LTNO_CATIONS, a=A), supercell_matrix=np.eye(3) * 2)
    with pytest.raises(OredoxInputError, match="no site has partial occupancy"):
        generate_sqs(rock_salt({"Ni": 1.0}), n_cells=2)


def test_spread_cell_has_fewer_tm_contacts_than_random():
    spread = ltno_spread(n_steps=100_000)
    contacts = spread.properties["provenance"]["first_shell_contacts"]
    parent = ltno_parent()
    random_cells = [
        minimize_contacts(parent, ["Ti", "Ni"], n_cells=24, n_steps=0, seed=s)
        for s in range(10)
    ]
    random_contacts = [
        c.properties["provenance"]["first_shell_contacts"] for c in random_cells
    ]
    assert contacts < min(random_contacts)
    with pytest.raises(OredoxInputError, match="not on the sublattice"):
        minimize_contacts(parent, ["Mn"], n_cells=24)


def test_tetrahedra_and_anion_environments_by_hand():
    # all-Li rock salt: every tetrahedron is 0-TM; NiO: none; 2 tetrahedra per cation
    for cations, expected in (({"Li": 1.0}, 1.0), ({"Ni": 1.0}, 0.0)):
        s = rock_salt(cations, anion="F" if "Li" in cations else "O", a=A)
        cation_sites = [i for i, site in enumerate(s) if site.specie.oxi_state > 0]
        assert zero_tm_tetrahedra_fraction(s, cation_sites, A / np.sqrt(2)) == expected
    sqs = ltno_sqs(n_steps=20_000)
    descriptors = sro_descriptors(sqs)
    assert sum(descriptors["anion_environments"].values()) == pytest.approx(1.0)
    # 24 O, each with 6 cations; mean Li count = 6 * 14/24 = 3.5
    mean_li = sum(int(n) * f for n, f in descriptors["anion_environments"].items())
    assert mean_li == pytest.approx(3.5)


@pytest.fixture(scope="module")
def mc_result():
    parent = rock_salt(LTNO_CATIONS, a=A)  # cubic cell, 4 cations
    return monte_carlo_sro(
        parent,
        1500,
        supercell_matrix=np.diag([3, 2, 2]),
        n_sweeps=400,
        n_snapshots=3,
        seed=3,
    )


def test_monte_carlo_lowers_ewald_energy_and_orders_high_valent_cations(mc_result):
    result = mc_result
    assert max(result.energies_eV) < result.initial_energy_eV - 10
    species = result.descriptors[0]["species"]
    ti = species.index("Ti4+")
    li = species.index("Li+")
    before = np.array(result.initial_descriptors["warren_cowley_alpha"])
    after = np.array(result.descriptors[-1]["warren_cowley_alpha"])
    # Ti4+ avoid each other and seek Li+ as first neighbours under electrostatics
    assert after[0, ti, ti] > before[0, ti, ti] + 0.2
    assert after[0, ti, li] < before[0, ti, li]
    assert 0 < result.acceptance < 1


def test_monte_carlo_energy_matches_pymatgen_ewald(mc_result):
    """Energy differences along the run equal pymatgen's Ewald (screened by 10)."""
    result = mc_result
    full = [EwaldSummation(s).total_energy / 10 for s in result.snapshots]
    assert np.subtract(full, full[0]) == pytest.approx(
        np.subtract(result.energies_eV, result.energies_eV[0]), abs=1e-6
    )


def test_monte_carlo_is_deterministic(mc_result):
    again = monte_carlo_sro(
        rock_salt(LTNO_CATIONS, a=A),
        1500,
        supercell_matrix=np.diag([3, 2, 2]),
        n_sweeps=400,
        n_snapshots=3,
        seed=3,
    )
    assert again.energies_eV == mc_result.energies_eV


def test_pair_cluster_expansion_alone_separates_transition_metals():
    """A repulsive TM-TM nearest-neighbour interaction (no Ewald) removes TM contacts.

    The reported energy must be J times the number of TM-TM nearest-neighbour bonds.
    """
    j = 0.2
    tm_pairs = {("Ti", "Ti", 1): j, ("Ti", "Ni", 1): j, ("Ni", "Ni", 1): j}
    parent = rock_salt(LTNO_CATIONS, a=A)
    result = monte_carlo_sro(
        parent,
        300,
        supercell_matrix=np.diag([3, 2, 2]),
        n_sweeps=300,
        n_snapshots=2,
        seed=1,
        ewald=False,
        pair_interactions=tm_pairs,
    )

    def tm_bonds(structure):
        cations = [i for i, s in enumerate(structure) if s.specie.symbol != "O"]
        bonds = 0
        for i in cations:
            if structure[i].specie.symbol in ("Ti", "Ni"):
                bonds += sum(
                    n.specie.symbol in ("Ti", "Ni")
                    for n in structure.get_neighbors(structure[i], A * 0.75)
                )
        return bonds // 2

    for snapshot, energy in zip(result.snapshots, result.energies_eV, strict=True):
        assert energy == pytest.approx(j * tm_bonds(snapshot))
    # At 300 K (J / kT = 7.7) the Monte Carlo reaches the fewest TM-TM bonds this cell
    # allows (42 % TM on fcc cannot avoid contacts), the number the contact annealer
    # finds independently.
    fewest = minimize_contacts(
        parent,
        ["Ti", "Ni"],
        supercell_matrix=np.diag([3, 2, 2]),
        n_steps=200_000,
        seed=2,
    )
    fewest_bonds = fewest.properties["provenance"]["first_shell_contacts"] // 2
    assert fewest_bonds == tm_bonds(fewest)
    assert min(result.energies_eV) == pytest.approx(j * fewest_bonds)
    assert result.initial_energy_eV > j * fewest_bonds + 1.0
    with pytest.raises(OredoxInputError, match="no energy"):
        monte_carlo_sro(parent, 1000, supercell_matrix=np.diag([3, 2, 2]), ewald=False)
    with pytest.raises(OredoxInputError, match="species must be among"):
        monte_carlo_sro(
            parent,
            1000,
            supercell_matrix=np.diag([3, 2, 2]),
            pair_interactions={("Mn", "Ti", 1): 0.1},
        )


def _reference_anion_environments(structure, cation_sites):
    """The per-anion neighbour search the descriptors used before their tables."""
    cations = set(cation_sites)
    histogram = {}
    anions = [i for i in range(len(structure)) if i not in cations]
    for i in anions:
        neighbours = sorted(
            (
                n
                for n in structure.get_neighbors(structure[i], 3.5)
                if n.index in cations
            ),
            key=lambda n: n.nn_distance,
        )[:6]
        n_alkali = sum(n.specie.symbol in ("Li", "Na") for n in neighbours)
        histogram[str(n_alkali)] = histogram.get(str(n_alkali), 0) + 1
    return {k: v / len(anions) for k, v in sorted(histogram.items())}


def _reference_zero_tm_fraction(structure, cation_sites, nn_distance):
    """The triple loop over neighbours, tetrahedra told apart by their centroid."""
    tol = 0.05 * nn_distance
    alkali = {i: structure[i].specie.symbol in ("Li", "Na") for i in cation_sites}
    centroids = {}
    for i in cation_sites:
        neighbours = [
            n
            for n in structure.get_neighbors(structure[i], nn_distance + tol)
            if n.index in alkali
        ]
        for a, b, c in combinations(neighbours, 3):
            edges = (a.coords - b.coords, a.coords - c.coords, b.coords - c.coords)
            if all(abs(np.linalg.norm(e) - nn_distance) < tol for e in edges):
                centre = (structure[i].coords + a.coords + b.coords + c.coords) / 4
                frac = structure.lattice.get_fractional_coords(centre) % 1.0
                members = (i, a.index, b.index, c.index)
                centroids[tuple(np.round(frac, 3) % 1.0)] = all(
                    alkali[m] for m in members
                )
    return sum(centroids.values()) / len(centroids), len(centroids)


def _li_rich_primitive():
    return rock_salt(
        {"Li": 2 / 3, "Ni": 1 / 3},
        a=A,
        oxidation_states={"Li": 1, "Ni": 4},
        cell="primitive",
    )


@pytest.mark.parametrize(
    "parent, matrix, seed",
    [
        (ltno_parent, np.diag([1, 1, 24]), 2),  # elongated: images along the long axis
        (lambda: rock_salt(LTNO_CATIONS, a=A), np.diag([3, 2, 2]), 5),
        (_li_rich_primitive, np.diag([1, 1, 3]), 1),  # a site next to its own images
    ],
)
def test_tetrahedra_and_anion_tables_match_the_neighbour_search(parent, matrix, seed):
    cell = generate_sqs(parent(), supercell_matrix=matrix, n_steps=0, seed=seed)
    sites = [i for i, site in enumerate(cell) if site.specie.oxi_state > 0]
    nn = A / np.sqrt(2)
    fraction, n_tetrahedra = _reference_zero_tm_fraction(cell, sites, nn)
    assert n_tetrahedra == 2 * len(sites)  # fcc: two tetrahedra per cation
    assert len(cation_geometry(cell, sites, nn).tetrahedra) == n_tetrahedra
    assert zero_tm_tetrahedra_fraction(cell, sites, nn) == fraction
    assert 0 < fraction < 1  # both kinds of tetrahedra present: the test can fail
    assert anion_environments(cell, sites) == _reference_anion_environments(cell, sites)
    descriptors = sro_descriptors(cell)
    assert descriptors["zero_tm_tetrahedra_fraction"] == fraction
    assert descriptors["anion_environments"] == anion_environments(cell, sites)


def test_one_site_cell_has_two_tetrahedra_among_its_own_images():
    cell = rock_salt({"Li": 1.0}, anion="F", a=A, cell="primitive")
    assert len(cation_geometry(cell, [0], A / np.sqrt(2)).tetrahedra) == 2
    assert _reference_zero_tm_fraction(cell, [0], A / np.sqrt(2)) == (1.0, 2)
    assert anion_environments(cell, [0]) == {"6": 1.0}


def test_monte_carlo_descriptors_equal_those_of_its_snapshots(mc_result):
    for snapshot, descriptors in zip(
        mc_result.snapshots, mc_result.descriptors, strict=True
    ):
        again = sro_descriptors(snapshot)
        for key in ("anion_environments", "zero_tm_tetrahedra_fraction", "species"):
            assert descriptors[key] == again[key]
        assert descriptors["warren_cowley_alpha"] == again["warren_cowley_alpha"]


def _reference_pair_shells(structure, sites, n_shells):
    """Shells and neighbour lists found one site at a time, as before the tables."""
    lattice, frac = structure.lattice, structure.frac_coords[sites]
    distances = []
    for f in frac:
        found = lattice.get_points_in_sphere(frac, lattice.get_cartesian_coords(f), 8)
        distances.extend(d for _, d, _, _ in found if d > 1e-3)
    radii = []
    for d in sorted(distances):
        if not radii or d - radii[-1] > 1e-3:
            radii.append(d)
    radii = np.array(radii[:n_shells])
    lists = []
    for f in frac:
        found = lattice.get_points_in_sphere(
            frac, lattice.get_cartesian_coords(f), radii[-1] + 1e-3
        )
        counted = {}
        for _, d, j, _ in found:
            for s in np.flatnonzero(np.abs(radii - d) < 1e-3)[:1]:
                counted[(int(j), int(s))] = counted.get((int(j), int(s)), 0) + 1
        lists.append(sorted(counted.items()))
    return radii, lists


@pytest.mark.parametrize(
    "structure",
    [
        lambda: generate_sqs(ltno_parent(), n_cells=24, n_steps=0, seed=1),
        lambda: Structure(
            Lattice.from_parameters(3.1, 4.7, 5.3, 71, 83, 101),
            ["Li", "Ni", "Li", "Co"],
            [[0, 0, 0], [0.3, 0.5, 0.1], [0.6, 0.2, 0.7], [0.9, 0.85, 0.4]],
        ),
    ],
)
def test_pair_shells_match_the_search_one_site_at_a_time(structure):
    cell = structure()
    sites = [i for i, site in enumerate(cell) if site.specie.symbol != "O"]
    radii, lists = _reference_pair_shells(cell, sites, 4)
    assert np.array_equal(shell_radii(cell, sites, 4), radii)  # to the last bit
    shells = pair_shells(cell, sites, radii)
    for i, expected in enumerate(lists):
        entries = range(shells.pointer[i], shells.pointer[i + 1])
        found = [
            ((shells.neighbour[e], shells.shell[e]), shells.count[e]) for e in entries
        ]
        assert found == expected
