"""Screening: candidates, Ewald and CHGNet ranking, selection, dynamic fan-out."""

import numpy as np
import pytest
from pydantic import ValidationError

from oredox.errors import OredoxInputError
from oredox.schemas import StudyDocument
from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.structures.delithiation import (
    alkali_symmetry,
    count_configurations,
    masks_to_occupied,
)
from oredox.structures.frameworks import make_supercell, o3_layered
from oredox.workflows.execution import run_flow
from oredox.workflows.hull_flow import DelithiationHullMaker
from oredox.workflows.screening import (
    ChgnetSinglePoint,
    ScreeningSettings,
    screen_configurations,
)


def host_cell(supercell=(2, 1, 1), primitive=False):
    cell = "primitive" if primitive else "conventional"
    return make_supercell(o3_layered("LiCoO2", cell=cell), supercell)


def test_ewald_only_screening_selects_per_content():
    host = host_cell((2, 2, 1))
    sym = alkali_symmetry(host)
    settings = ScreeningSettings(
        rankers=["ewald"], ewald_keep=4, lowest=2, window_meV_per_atom=0
    )
    result = screen_configurations(host, sym, settings)
    record = result.record
    assert record["candidates_per_k"] == {
        k: count_configurations(sym, k) for k in range(13)
    }
    assert max(record["after_ewald_per_k"].values()) == 4
    per_k = {}
    for config in result.selected:
        per_k[config.n_vacancies] = per_k.get(config.n_vacancies, 0) + 1
    # end members: one each; elsewhere the two lowest (window 0, Ewald is per content)
    assert per_k[0] == per_k[12] == 1
    assert all(per_k[k] == min(2, count_configurations(sym, k)) for k in range(1, 12))
    assert "x = 0.5000" in record["selection"]


def test_batched_chgnet_equals_one_at_a_time():
    host = host_cell()
    sym = alkali_symmetry(host)
    masks = np.array([0, 0b000011, 0b000101, 0b111111], dtype=np.int64)
    occupied = masks_to_occupied(masks, sym.n_sites)
    batched = ChgnetSinglePoint(host, sym, batch_size=4).energies(occupied)
    single = ChgnetSinglePoint(host, sym, batch_size=1)
    one_by_one = [single.energies(row[None])[0] for row in occupied]
    assert batched == pytest.approx(one_by_one, abs=1e-3)
    # LiCoO2 (Li6Co6O12): CHGNet about -6.9 eV/atom
    assert -7.5 < batched[0] / len(host) < -6.0


def test_ewald_then_chgnet_uses_the_hull_for_selection():
    host = host_cell()
    sym = alkali_symmetry(host)
    settings = ScreeningSettings(
        rankers=["ewald", "chgnet"],
        ewald_keep=3,
        chgnet_keep=2,
        lowest=1,
        window_meV_per_atom=5,
    )
    result = screen_configurations(host, sym, settings)
    assert result.record["after_chgnet_per_k"] == {
        0: 1,
        1: 1,
        2: 2,
        3: 2,
        4: 2,
        5: 1,
        6: 1,
    }
    reasons = list(result.record["reasons"].values())
    assert all(r.startswith("lowest") or "above the hull" in r for r in reasons)
    assert not any("composition" in r for r in reasons)
    assert {c.n_vacancies for c in result.selected} == set(range(7))


def test_beam_candidates_for_a_large_cell():
    host = host_cell((2, 2, 2))  # 24 Li: 66 336 distinct, beam keeps a few per content
    sym = alkali_symmetry(host)
    settings = ScreeningSettings(
        method="beam", beam_width=3, rankers=["ewald"], lowest=1, window_meV_per_atom=0
    )
    result = screen_configurations(host, sym, settings)
    assert max(result.record["candidates_per_k"].values()) <= 3
    assert len(result.selected) == 25


def test_exhaustive_limit_and_bad_settings():
    host = host_cell((2, 2, 2))
    sym = alkali_symmetry(host)
    # listing every arrangement (relax_all) is bounded by max_raw ...
    with pytest.raises(OredoxInputError, match="beam_search"):
        screen_configurations(
            host, sym, ScreeningSettings(max_raw=1000, relax_all=True)
        )
    # ... the branch-and-bound search of the lowest Ewald energies by max_nodes
    with pytest.raises(OredoxInputError, match="method='beam'"):
        screen_configurations(
            host, sym, ScreeningSettings(max_nodes=100, rankers=["ewald"])
        )
    with pytest.raises(ValidationError, match="rankers"):
        ScreeningSettings(rankers=["dft"])
    with pytest.raises(ValidationError, match="method"):
        ScreeningSettings(method="random")
    with pytest.raises(ValidationError, match="at least one ranker"):
        ScreeningSettings(rankers=[])


@pytest.mark.slow
def test_flow_fans_out_to_the_selected_relaxations(isolated_settings):
    """Screen by Ewald, relax one per content with CHGNet: the flow learns its size."""
    host = host_cell((2, 2, 1), primitive=True)  # 4 Li, 6 distinct configurations
    maker = DelithiationHullMaker(
        screening=ScreeningSettings(rankers=["ewald"], lowest=1, window_meV_per_atom=0)
    )
    flow = maker.make(host, [[2, 0, 0], [0, 2, 0], [0, 0, 1]])
    # only the host relaxation and the screening are known in advance
    assert [job.name for job in flow] == [
        "relax host",
        "screen delithiated configurations",
    ]
    store = get_job_store(load_settings())
    run_dir = isolated_settings / "run"
    responses = run_flow(flow, store, run_dir, progress=False)
    study = next(
        r.output
        for by in responses.values()
        for r in by.values()
        if isinstance(r.output, StudyDocument)
    )
    assert sorted(e.x for e in study.entries) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert study.screening["after_ewald_per_k"]["2"] == 2
    assert all(not e.framework_flags for e in study.entries)
    log = (run_dir / "run.log").read_text()
    # 4 relaxations (x = 1 is the host's), Li metal, statics job, jobflow's output job
    assert "fan-out: 7 new jobs" in log
    assert "fan-out: 2 new jobs" in log  # CHGNet: no statics, the document job
    assert study.statics == []


@pytest.mark.slow
def test_chgnet_relax_ranker_lowers_energies():
    host = host_cell()
    sym = alkali_symmetry(host)
    occupied = masks_to_occupied(np.array([0b000011, 0b000101], dtype=np.int64), 6)
    screener = ChgnetSinglePoint(host, sym)
    single = screener.energies(occupied)
    relaxed = screener.relaxed_energies(occupied, fmax=0.1, steps=60)
    assert np.all(relaxed <= single + 1e-4)
    assert np.all(relaxed > single - 3.0)  # a short relaxation, not a new phase


def test_model_calls_bound_structures_and_atoms():
    from oredox.workflows.chgnet_points import model_calls

    cells = [host_cell((1, 1, 1))] * 5  # 12 atoms each
    sizes = [len(c) for c in model_calls(cells, 4, None)]
    assert sizes == [4, 1]
    sizes = [len(c) for c in model_calls(cells, 4, 30)]  # two cells fit in 30 atoms
    assert sizes == [2, 2, 1]
    big = host_cell((2, 2, 1))  # more atoms than the bound: goes alone
    assert [len(c) for c in model_calls([big, big], 16, len(big) - 1)] == [1, 1]
    assert model_calls([], 4, 30) == []


def test_feasibility_checks_the_path_the_screening_takes():
    from oredox.workflows.screening import check_feasible

    host = host_cell((2, 2, 2))  # 24 Li: 2 704 156 raw arrangements at half filling
    sym = alkali_symmetry(host)
    # the lowest-N search has no raw limit ...
    check_feasible(sym, ScreeningSettings(max_raw=1000, rankers=["ewald"]), host)
    # ... but its node limit, searched once at the hardest content
    with pytest.raises(OredoxInputError, match="passed 100 nodes"):
        check_feasible(sym, ScreeningSettings(max_nodes=100, rankers=["ewald"]), host)
    # every arrangement listed: the raw limit
    for settings in (
        ScreeningSettings(max_raw=1000, relax_all=True),
        ScreeningSettings(max_raw=1000, rankers=["chgnet", "ewald"]),
    ):
        with pytest.raises(OredoxInputError, match="beam_search"):
            check_feasible(sym, settings, host)
