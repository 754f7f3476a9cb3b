"""The lowest Ewald arrangements by branch and bound, against ranking every one."""

import tracemalloc
from math import comb

import numpy as np
import pytest

from oredox.errors import OredoxInputError
from oredox.structures.delithiation import (
    BYTES_PER_CONFIGURATION,
    BYTES_PER_VACANCY,
    alkali_symmetry,
    all_masks,
    configurations_to_masks,
    count_configurations,
    enumerate_configurations,
    iter_configurations,
    iter_masks,
    masks_to_occupied,
)
from oredox.structures.ewald import DelithiationEwald
from oredox.structures.frameworks import make_supercell, o3_layered
from oredox.structures.lowest import lowest_ewald
from oredox.workflows.screening import ScreeningSettings, screen_configurations


@pytest.fixture(scope="module")
def licoo2():
    """LiCoO2 2x2x1 conventional: 12 Li sites, a large symmetry group."""
    host = make_supercell(o3_layered("LiCoO2"), (2, 2, 1))
    sym = alkali_symmetry(host)
    return host, sym, DelithiationEwald(host, sym.alkali_indices)


def ranked_all(sym, model, k):
    """Every distinct arrangement of k vacancies ranked: masks and energies (eV)."""
    masks = all_masks(sym, k)
    energies = model.energies(masks_to_occupied(masks, sym.n_sites))
    order = np.argsort(energies, kind="stable")
    return masks[order], energies[order]


@pytest.mark.parametrize("compensation", ["metal", "anion"])
def test_subset_terms_give_the_ewald_energies(licoo2, compensation):
    host, sym, _ = licoo2
    model = DelithiationEwald(host, sym.alkali_indices, compensation)
    rng = np.random.default_rng(1)
    occupied = np.ones((6, sym.n_sites), dtype=bool)
    for row in occupied:
        row[rng.choice(sym.n_sites, 5, replace=False)] = False
    expected = model.energies(occupied)
    for items in ("vacancies", "occupied"):
        offset, single, pair = model.subset_terms(5, items)
        for row, energy in zip(occupied, expected, strict=True):
            chosen = np.flatnonzero(~row if items == "vacancies" else row)
            pairs = np.triu(pair[np.ix_(chosen, chosen)], 1).sum()
            assert offset + single[chosen].sum() + pairs == pytest.approx(
                energy, abs=1e-8
            )


def test_lowest_equals_the_full_ranking_at_every_content(licoo2):
    """Vacancies (k <= 6) and the remaining alkali (k > 6) are searched."""
    _, sym, model = licoo2
    for k in range(sym.n_sites + 1):
        found = lowest_ewald(sym, model, k, 5)
        masks, energies = ranked_all(sym, model, k)
        assert found.distinct == len(masks) == count_configurations(sym, k)
        assert len(found.masks) == min(5, len(masks))
        np.testing.assert_allclose(found.energies_eV, energies[:5], atol=1e-8)
        # each found mask is its orbit's smallest, so it is among the ranked ones
        assert np.array_equal(sym.canonical(found.masks), found.masks)
        assert set(found.masks.tolist()) <= set(masks.tolist())
        # energies strictly below the cut-off belong to the same arrangements
        below = energies[:5] < energies[: len(found.masks)].max() - 1e-6
        assert set(masks[:5][below].tolist()) <= set(found.masks.tolist())


def test_lowest_visits_a_fraction_of_the_tree():
    host = make_supercell(o3_layered("LiCoO2"), (2, 2, 2))  # 24 Li sites
    sym = alkali_symmetry(host)
    model = DelithiationEwald(host, sym.alkali_indices)
    found = lowest_ewald(sym, model, 12, 3)
    assert found.distinct == count_configurations(sym, 12)
    assert found.nodes < comb(24, 12) / 10
    _, energies = ranked_all(sym, model, 12)
    np.testing.assert_allclose(found.energies_eV, energies[:3], atol=1e-8)


def test_lowest_refuses_bad_input_and_a_search_beyond_its_limit(licoo2):
    host, sym, model = licoo2
    with pytest.raises(OredoxInputError, match="n_lowest"):
        lowest_ewald(sym, model, 3, 0)
    with pytest.raises(OredoxInputError, match="cannot remove 13"):
        lowest_ewald(sym, model, 13, 3)
    other = DelithiationEwald(host, sym.alkali_indices[:-1])
    with pytest.raises(OredoxInputError, match="not of the symmetry's alkali"):
        lowest_ewald(sym, other, 3, 3)
    with pytest.raises(OredoxInputError, match=r"passed 50 nodes.*method='beam'"):
        lowest_ewald(sym, model, 6, 3, max_nodes=50)


def test_screening_keeps_the_lowest_of_the_full_ranking(licoo2):
    host, sym, model = licoo2
    settings = ScreeningSettings(
        rankers=["ewald"], ewald_keep=3, lowest=3, window_meV_per_atom=0
    )
    result = screen_configurations(host, sym, settings)
    record = result.record
    assert record["candidates_per_k"] == {
        k: count_configurations(sym, k) for k in range(13)
    }
    assert record["after_ewald_per_k"] == {
        k: min(3, count_configurations(sym, k)) for k in range(13)
    }
    chosen = configurations_to_masks(result.selected)
    for k in range(13):
        pairs = zip(chosen, result.selected, strict=True)
        of_k = [m for m, c in pairs if c.n_vacancies == k]
        _, energies = ranked_all(sym, model, k)
        got = model.energies(masks_to_occupied(np.array(of_k), sym.n_sites))
        np.testing.assert_allclose(np.sort(got), energies[: len(got)], atol=1e-8)


def test_streamed_masks_are_the_configurations(licoo2):
    _, sym, _ = licoo2
    for k in (0, 3, 6):
        blocks = list(iter_masks(sym, k, chunk=7))
        masks = np.concatenate([b for b, _ in blocks])
        sizes = np.concatenate([s for _, s in blocks])
        configs = list(iter_configurations(sym, k))
        assert np.array_equal(masks, configurations_to_masks(configs))
        assert sizes.tolist() == [c.multiplicity for c in configs]
        assert sizes.sum() == comb(sym.n_sites, k)
        assert max(len(b) for b, _ in blocks) <= 7


def test_configuration_lists_refuse_above_their_memory_estimate(licoo2):
    _, sym, _ = licoo2
    distinct = count_configurations(sym, 6)
    with pytest.raises(OredoxInputError, match=r"GiB.*iter_configurations"):
        enumerate_configurations(sym, 6, max_bytes=distinct * 100)
    # the estimate per configuration is not an underestimate, at few vacancies and
    # at many (each vacancy adds to the configuration's tuple)
    big = alkali_symmetry(make_supercell(o3_layered("LiCoO2"), (2, 2, 2)))
    for symmetry, k in ((big, 6), (big, 12)):  # 657 and 10 496 configurations
        all_masks(symmetry, k)  # the symmetry's tables and the compiled loop, untraced
        tracemalloc.start()
        configs = enumerate_configurations(symmetry, k)
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(configs) == count_configurations(symmetry, k)
        estimate = BYTES_PER_CONFIGURATION + BYTES_PER_VACANCY * k
        assert held / len(configs) < estimate


def test_every_orbit_is_found_exactly_once(licoo2):
    """Asked for all of them, the search returns each distinct arrangement once."""
    _, sym, model = licoo2
    for k in range(sym.n_sites + 1):
        distinct = count_configurations(sym, k)
        found = lowest_ewald(sym, model, k, distinct)
        assert len(set(found.masks.tolist())) == len(found.masks) == distinct
        assert set(found.masks.tolist()) == set(all_masks(sym, k).tolist())


def test_ties_at_the_cut_off_resolve_by_mask_order(licoo2):
    """The full ranking's lowest, ties included, ordered by (energy, mask)."""
    _, sym, model = licoo2
    for k in (2, 3, 6, 9):
        masks = all_masks(sym, k)
        energies = model.energies(masks_to_occupied(masks, sym.n_sites))
        key = np.round(energies, 6)
        expected = masks[np.lexsort((masks, key))]
        for n_lowest in (1, 2, 3, 5):
            found = lowest_ewald(sym, model, k, n_lowest)
            assert found.masks.tolist() == expected[:n_lowest].tolist()
