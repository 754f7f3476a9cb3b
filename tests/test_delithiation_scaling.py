"""Streaming enumeration, Burnside counts, beam search, incremental Ewald energies."""

from math import comb

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Species
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.errors import OredoxInputError
from oredox.structures.beam_search import beam_search
from oredox.structures.delithiation import (
    alkali_symmetry,
    count_configurations,
    enumerate_all,
    enumerate_configurations,
    iter_configurations,
    masks_to_occupied,
)
from oredox.structures.ewald import DelithiationEwald
from oredox.structures.frameworks import make_supercell, o3_layered
from oredox.structures.seeds import li2mno3_honeycomb


def masks_of(configs):
    return np.array([sum(1 << i for i in c.vacancies) for c in configs], dtype=np.int64)


@pytest.fixture(scope="module")
def li16mn8o24():
    conv = SpacegroupAnalyzer(li2mno3_honeycomb()).get_conventional_standard_structure()
    return conv.make_supercell([1, 1, 2], in_place=False)


def test_li16mn8o24_counts_equal_burnside(li16mn8o24):
    assert li16mn8o24.composition.formula == "Li16 Mn8 O24"
    sym = alkali_symmetry(li16mn8o24)
    counts = [len(enumerate_configurations(sym, k)) for k in range(17)]
    assert counts == [count_configurations(sym, k) for k in range(17)]
    assert sum(counts) == len(enumerate_all(sym))
    for k in (4, 8):
        assert sum(c.multiplicity for c in enumerate_configurations(sym, k)) == comb(
            16, k
        )


def test_larger_cell_counts_equal_burnside():
    host = make_supercell(o3_layered("LiCoO2"), (2, 2, 2))  # 24 Li, 288 permutations
    sym = alkali_symmetry(host)
    assert len(sym.permutations) == 288
    for k in (1, 6, 12):
        configs = list(iter_configurations(sym, k))
        assert len(configs) == count_configurations(sym, k)
        assert sum(c.multiplicity for c in configs) == comb(24, k)


def test_streaming_in_small_chunks_gives_the_same_orbits():
    sym = alkali_symmetry(make_supercell(o3_layered("LiCoO2"), (2, 2, 1)))
    whole = list(iter_configurations(sym, 6))
    chunked = list(iter_configurations(sym, 6, chunk=5))
    assert whole == chunked
    masks = masks_of(whole)
    assert np.all(np.diff(masks) > 0)  # smallest mask first
    assert np.array_equal(sym.canonical(masks), masks)  # each is its orbit's minimum


def test_raw_count_limit_points_to_beam_search():
    sym = alkali_symmetry(make_supercell(o3_layered("LiCoO2"), (2, 2, 2)))
    with pytest.raises(
        OredoxInputError, match=r"2,704,156 raw arrangements .* beam_search"
    ):
        enumerate_configurations(sym, 12, max_raw=1_000_000)


@pytest.mark.parametrize("compensation", ["metal", "anion"])
def test_ewald_energies_equal_pymatgen_with_compensating_charges(compensation):
    host = make_supercell(o3_layered("LiCoO2"), (2, 1, 1))
    sym = alkali_symmetry(host)
    model = DelithiationEwald(host, sym.alkali_indices, compensation)
    for config in enumerate_configurations(sym, 2):
        occupied = masks_to_occupied(masks_of([config]), sym.n_sites)
        ours = model.energies(occupied)[0]
        q_fixed = model.fixed_charges(2)
        s = host.copy()
        for site, q in zip(model.fixed, q_fixed, strict=True):
            s.replace(int(site), Species(s[int(site)].specie.symbol, q))
        s.remove_sites([sym.alkali_indices[i] for i in config.vacancies])
        assert s.charge == pytest.approx(0, abs=1e-9)
        assert ours == pytest.approx(EwaldSummation(s).total_energy, abs=1e-6)


def test_beam_search_reaches_the_exhaustive_minimum():
    host = make_supercell(o3_layered("LiCoO2"), (2, 2, 1))
    sym = alkali_symmetry(host)
    model = DelithiationEwald(host, sym.alkali_indices)
    beam = beam_search(sym, model.energies, beam_width=3)
    assert sorted(beam) == list(range(13))
    for k in range(13):
        configs = enumerate_configurations(sym, k)
        energies = model.energies(masks_to_occupied(masks_of(configs), sym.n_sites))
        assert beam[k][0].energy_eV == pytest.approx(energies.min(), abs=1e-8)
        assert 1 <= len(beam[k]) <= min(3, len(configs))  # only kept parents breed
        assert [s.energy_eV for s in beam[k]] == sorted(s.energy_eV for s in beam[k])
        best = configs[int(np.argmin(energies))]
        assert beam[k][0].configuration.multiplicity == best.multiplicity
    with pytest.raises(OredoxInputError, match="beam width"):
        beam_search(sym, model.energies, beam_width=0)
