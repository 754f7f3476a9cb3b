"""Cluster-expansion ground states: the occupation polynomial, annealing, brute force.

The cluster expansion is icet's, on the rhombohedral primitive cell of LiCoO2 (one Li
site, pairs to 6 A, triplets to 4.5 A) with fixed random parameters; the supercells
are 2x2x2 (8 Li sites) and 2x2x4 (16 Li sites) of that cell. Every ground state is
checked against icet's own predictions of every arrangement.
"""

import itertools
from math import comb

import numpy as np
import pytest

from oredox.errors import OredoxInputError
from oredox.structures.ce_search import (
    OccupationPolynomial,
    anneal,
    lowest_exhaustive,
    triplet_candidates,
)
from oredox.structures.delithiation import alkali_symmetry, count_configurations
from oredox.structures.ewald import DelithiationEwald
from oredox.structures.frameworks import o3_layered


def all_triplets(n):
    return np.array(list(itertools.combinations(range(n), 3)))


def random_occupations(rng, n_rows, n_sites):
    """Rows with random alkali counts, random sites."""
    counts = rng.integers(0, n_sites + 1, (n_rows, 1))
    return np.argsort(rng.random((n_rows, n_sites)), axis=1) < counts


def one_count_per_call(energies):
    """Wrap an energy function; fail if a call mixes alkali counts (the contract)."""

    def wrapped(occupied):
        assert len(set(occupied.sum(axis=1))) == 1
        return energies(occupied)

    return wrapped


@pytest.fixture(scope="module")
def licoo2_ce():
    """A fixed random icet cluster expansion and a batched energy function maker."""
    pytest.importorskip("icet")
    from icet import ClusterExpansion, ClusterSpace
    from pymatgen.io.ase import AseAtomsAdaptor

    prim = o3_layered("LiCoO2").get_primitive_structure()
    prim.remove_oxidation_states()
    atoms = AseAtomsAdaptor.get_atoms(prim)
    allowed = [["Li", "X"] if a.symbol == "Li" else [a.symbol] for a in atoms]
    space = ClusterSpace(atoms, [6.0, 4.5], allowed)
    ce = ClusterExpansion(space, np.random.default_rng(0).normal(0, 0.05, len(space)))

    def cell(repeat):
        host = prim * repeat
        supercell = AseAtomsAdaptor.get_atoms(host)
        li = np.array([i for i, s in enumerate(host) if s.specie.symbol == "Li"])

        def energies(occupied):
            # icet's predict is cv . ECI per site, vacancies (X) included
            out = []
            for row in occupied:
                symbols = np.array(supercell.get_chemical_symbols(), dtype=object)
                symbols[li[~row]] = "X"
                trial = supercell.copy()
                trial.set_chemical_symbols(list(symbols))
                out.append(ce.predict(trial) * len(trial))
            return np.array(out)

        return host, li, energies

    return ce, atoms, cell


@pytest.fixture(scope="module")
def cell16(licoo2_ce):
    _, _, cell = licoo2_ce
    host, li, energies = cell((2, 2, 4))
    candidates = triplet_candidates(host, li, 4.5)
    polynomial = OccupationPolynomial.from_function(
        one_count_per_call(energies), len(li), triplet_candidates=candidates
    )
    return host, energies, polynomial


def test_energies_of_a_three_site_polynomial_by_hand():
    polynomial = OccupationPolynomial(
        constant=1.0,
        linear=[0.1, 0.2, 0.3],
        pairs=[[0, 0.5, 0], [0.5, 0, 0], [0, 0, 0]],
        triplets=[[0, 1, 2]],
        triplet_values=[-1.0],
    )
    occupied = np.array([[0, 0, 0], [0, 0, 1], [1, 1, 0], [1, 1, 1]], dtype=bool)
    # 1; 1 + 0.3; 1 + 0.1 + 0.2 + 0.5; 1 + 0.6 + 0.5 - 1
    assert polynomial.energies(occupied) == pytest.approx([1.0, 1.3, 1.8, 1.1])
    again = OccupationPolynomial.from_dict(polynomial.as_dict())
    assert again.energies(occupied) == pytest.approx([1.0, 1.3, 1.8, 1.1])


def test_from_function_recovers_a_random_cubic_polynomial_exactly():
    rng = np.random.default_rng(3)
    n = 12
    pairs = np.triu(rng.normal(size=(n, n)), 1)
    chosen = np.sort(rng.choice(comb(n, 3), 40, replace=False))
    truth = OccupationPolynomial(
        constant=-2.5,
        linear=rng.normal(size=n),
        pairs=pairs + pairs.T,
        triplets=all_triplets(n)[chosen],
        triplet_values=rng.normal(size=40),
    )
    built = OccupationPolynomial.from_function(
        one_count_per_call(truth.energies), n, triplet_candidates=all_triplets(n)
    )
    assert built.constant == pytest.approx(truth.constant, abs=1e-9)
    assert np.allclose(built.linear, truth.linear, rtol=0, atol=1e-9)
    assert np.allclose(built.pairs, truth.pairs, rtol=0, atol=1e-9)
    assert np.array_equal(built.triplets, truth.triplets)  # the other 180 drop out
    assert np.allclose(built.triplet_values, truth.triplet_values, rtol=0, atol=1e-9)
    occupied = random_occupations(rng, 300, n)
    deviation = built.energies(occupied) - truth.energies(occupied)
    assert np.abs(deviation).max() < 1e-9


def test_from_function_with_pair_candidates_only_fits_those_pairs():
    rng = np.random.default_rng(4)
    n = 6
    chain = np.array([(i, i + 1) for i in range(n - 1)])
    pairs = np.zeros((n, n))
    pairs[chain[:, 0], chain[:, 1]] = rng.normal(size=n - 1)
    truth = OccupationPolynomial(0.0, rng.normal(size=n), pairs + pairs.T, [], [])
    built = OccupationPolynomial.from_function(truth.energies, n, pair_candidates=chain)
    assert np.allclose(built.pairs, truth.pairs, rtol=0, atol=1e-12)
    occupied = random_occupations(rng, 50, n)
    assert np.allclose(built.energies(occupied), truth.energies(occupied), atol=1e-12)


def test_polynomial_of_an_icet_cluster_expansion_matches_its_predictions(licoo2_ce):
    ce, atoms, cell = licoo2_ce
    host, li, energies = cell((2, 2, 2))
    n = len(li)
    assert n == 8
    full = energies(np.ones((1, n), dtype=bool))[0]
    assert full == pytest.approx(8 * ce.predict(atoms) * len(atoms))  # extensive
    polynomial = OccupationPolynomial.from_function(
        one_count_per_call(energies), n, triplet_candidates=all_triplets(n)
    )
    occupied = random_occupations(np.random.default_rng(5), 60, n)
    assert np.abs(polynomial.energies(occupied) - energies(occupied)).max() < 1e-8
    # every non-zero triplet of the expansion lies within the 4.5 A triplet cutoff
    found = {tuple(t) for t in triplet_candidates(host, li, 4.5)}
    assert {tuple(t) for t in polynomial.triplets} <= found


def test_triplet_candidates_give_the_same_polynomial_as_all_triplets(licoo2_ce, cell16):
    _, energies, polynomial = cell16
    n = polynomial.n_sites
    reference = OccupationPolynomial.from_function(
        energies, n, triplet_candidates=all_triplets(n)
    )
    assert len(polynomial.triplets) < comb(n, 3)
    occupied = random_occupations(np.random.default_rng(6), 60, n)
    assert np.abs(polynomial.energies(occupied) - energies(occupied)).max() < 1e-8
    assert np.allclose(
        polynomial.energies(occupied), reference.energies(occupied), atol=1e-9
    )


def test_ewald_energy_with_count_dependent_compensation_is_exactly_quadratic():
    # the compensating metal charges change with the Li count, yet E stays quadratic
    host = o3_layered("LiCoO2").get_primitive_structure() * (2, 2, 2)
    li = [i for i, s in enumerate(host) if s.specie.symbol == "Li"]
    ewald = DelithiationEwald(host, li, "metal")
    polynomial = OccupationPolynomial.from_function(ewald.energies, len(li))
    rng = np.random.default_rng(7)
    for k in range(len(li) + 1):
        occupied = np.argsort(rng.random((10, len(li))), axis=1) < k
        assert np.allclose(
            polynomial.energies(occupied), ewald.energies(occupied), rtol=0, atol=1e-8
        )


def brute_force(energies, n, k):
    """icet's energy of every arrangement of k Li on n sites, sorted."""
    rows = np.zeros((comb(n, k), n), dtype=bool)
    for row, sites in zip(rows, itertools.combinations(range(n), k), strict=True):
        row[list(sites)] = True
    return np.sort(energies(rows))


def distinct(values, tolerance=1e-6):
    kept = [values[0]]
    for v in values[1:]:
        if v - kept[-1] > tolerance:
            kept.append(v)
    return np.array(kept)


@pytest.mark.parametrize("k", [4, 8, 12])
def test_anneal_finds_the_brute_force_ground_state_of_16_sites(cell16, k):
    _, energies, polynomial = cell16
    truth = brute_force(energies, 16, k)
    occupied, found = anneal(polynomial, k, keep=4, seed=k)
    assert found[0] == pytest.approx(truth[0], abs=1e-8)
    assert np.all(occupied.sum(axis=1) == k)
    assert np.all(np.diff(found) > 1e-6)  # distinct, lowest first
    assert np.allclose(found, energies(occupied), atol=1e-8)
    # the single-swap neighbours of the lowest complete the list here
    assert np.allclose(found, distinct(truth)[:4], atol=1e-8)


def test_anneal_on_8_sites_at_every_content(licoo2_ce):
    _, _, cell = licoo2_ce
    _, _, energies = cell((2, 2, 2))
    polynomial = OccupationPolynomial.from_function(
        energies, 8, triplet_candidates=all_triplets(8)
    )
    for k in range(9):
        _, found = anneal(polynomial, k, keep=2, restarts=2, seed=1)
        assert found[0] == pytest.approx(brute_force(energies, 8, k)[0], abs=1e-8)


def test_anneal_is_reproducible_and_tolerance_zero_keeps_copies(cell16):
    _, _, polynomial = cell16
    first = anneal(polynomial, 8, keep=5, seed=11)
    second = anneal(polynomial, 8, keep=5, seed=11)
    assert np.array_equal(first[0], second[0])
    occupied, found = anneal(polynomial, 8, keep=5, seed=11, energy_tolerance_eV=0)
    assert len({tuple(row) for row in occupied}) == 5
    assert found[1] - found[0] < 1e-9  # symmetry-equivalent copies of the lowest


def test_lowest_exhaustive_with_and_without_symmetry_agree(cell16):
    host, _, polynomial = cell16
    symmetry = alkali_symmetry(host)
    for k in range(17):
        with_sym = lowest_exhaustive(polynomial, symmetry, k, keep=100_000)
        without = lowest_exhaustive(polynomial, None, k, keep=3)
        assert with_sym[1][0] == pytest.approx(without[1][0], abs=1e-10)
        assert len(with_sym[1]) == count_configurations(symmetry, 16 - k)
        assert np.all(with_sym[0].sum(axis=1) == k)
    everything = lowest_exhaustive(polynomial, None, 8, keep=20_000)
    assert len(everything[1]) == comb(16, 8)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda p: anneal(p, 5, keep=1), "alkali"),
        (lambda p: anneal(p, -1), "alkali"),
        (lambda p: anneal(p, 2, keep=0), "keep"),
        (lambda p: anneal(p, 2, temperatures_K=[]), "temperatures"),
        (lambda p: anneal(p, 2, temperatures_K=[300, -5]), "temperatures"),
        (lambda p: anneal(p, 2, sweeps_per_temperature=0), "sweeps"),
        (lambda p: anneal(p, 2, energy_tolerance_eV=-1), "tolerance"),
        (lambda p: lowest_exhaustive(p, None, 7), "alkali"),
        (lambda p: lowest_exhaustive(p, None, 2, max_arrangements=5), "anneal"),
        (lambda p: p.energies(np.ones((2, 3), dtype=bool)), "4 sites"),
        (lambda p: OccupationPolynomial(0, [0, 0], [[0, 1], [2, 0]], [], []), "pairs"),
        (
            lambda p: OccupationPolynomial(
                0, [0] * 3, np.zeros((3, 3)), [[0, 0, 1]], [1]
            ),
            "triplet",
        ),
        (
            lambda p: OccupationPolynomial.from_function(
                lambda o: np.zeros(len(o) + 1), 3
            ),
            "finite",
        ),
        (
            lambda p: OccupationPolynomial.from_function(
                p.energies, 4, triplet_candidates=[[0, 1, 1]]
            ),
            "distinct",
        ),
    ],
)
def test_bad_inputs_are_refused(call, words):
    polynomial = OccupationPolynomial(0.0, np.ones(4), np.zeros((4, 4)), [], [])
    with pytest.raises(OredoxInputError, match=words):
        call(polynomial)


def test_bad_symmetry_size_is_refused(cell16):
    _, _, polynomial = cell16
    small = alkali_symmetry(o3_layered("LiCoO2").get_primitive_structure() * (2, 2, 2))
    with pytest.raises(OredoxInputError, match="symmetry"):
        lowest_exhaustive(polynomial, small, 8)
