"""The demo flow end to end with CHGNet on a 4-Li cell (6 relaxations, about 1 min)."""

import json
import sys

import pytest

from oredox.cli import main
from oredox.settings import load_settings
from oredox.store import get_job_store, get_study, list_studies
from oredox.workflows.demo import run_demo


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    settings = load_settings(work_dir=work / "work", store="montydb")
    png = work / "hull.png"
    study = run_demo(
        formula="LiCoO2",
        primitive=True,
        supercell=(2, 2, 1),
        settings=settings,
        png=png,
        progress=False,
    )
    return study, settings, png


@pytest.mark.slow
def test_every_li_content_and_end_members_on_hull(demo_run):
    study, _, _ = demo_run
    assert study.n_alkali_sites == 4
    assert study.formula_units == 4
    # Rhombohedral 2x2x1 cell: 1, 1, 2, 1, 1 distinct arrangements for 0..4 vacancies
    assert study.configurations_per_x == {
        "1.0000": 1,
        "0.7500": 1,
        "0.5000": 2,
        "0.2500": 1,
        "0.0000": 1,
    }
    hull = study.hull_entries()
    assert hull[0].x == 0.0
    assert hull[-1].x == 1.0
    assert all(entry.converged for entry in study.entries)
    for entry in study.entries:
        assert entry.structure.composition["Li"] == entry.n_alkali
        assert entry.e_above_hull_per_fu_eV >= 0


@pytest.mark.slow
def test_voltage_is_physical(demo_run):
    study, _, _ = demo_run
    assert 2.5 < study.average_voltage_V < 5.0
    voltages = [step.voltage_V for step in study.voltage_steps]
    assert voltages == sorted(voltages, reverse=True)  # a convex hull
    # SCIENCE.md formula between the end members equals the average voltage
    e = {entry.x: entry.energy_per_fu_eV for entry in study.hull_entries()}
    mu = study.alkali_reference_energy_per_atom_eV
    assert study.average_voltage_V == pytest.approx(-(e[1.0] - e[0.0] - mu))
    # bcc Li from CHGNet sits near its MP energy (about -1.9 eV/atom)
    assert -2.1 < mu < -1.7


@pytest.mark.slow
def test_stored_document_equals_written_and_is_queryable(demo_run, monkeypatch, capsys):
    study, settings, png = demo_run
    store = get_job_store(settings)
    rows = list_studies(store)
    assert [row["study_id"] for row in rows] == [study.study_id]
    stored = get_study(store, study.study_id)
    assert stored.model_dump(mode="json") == study.model_dump(mode="json")
    assert stored.entries[3].structure == study.entries[3].structure
    outputs = store.query({"name": "oredox study document"}, load=True)
    assert len(list(outputs)) == 1
    assert study.energy_scheme.engine == "chgnet"
    assert study.software["chgnet"] != "not installed"
    assert png.stat().st_size > 20_000

    monkeypatch.setenv("OREDOX_WORK_DIR", str(settings.work_dir))
    monkeypatch.setattr(sys, "argv", ["oredox", "query", study.study_id[:10], "--json"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["study_id"] == study.study_id
    assert shown["average_voltage_V"] == pytest.approx(study.average_voltage_V)
    assert len(shown["voltage_steps"]) == len(study.voltage_steps)


@pytest.mark.slow
def test_each_entry_leads_to_its_relaxation_task_document(demo_run):
    from atomate2.forcefields.schemas import ForceFieldTaskDocument

    from oredox.documents import relax_task_document

    study, settings, _ = demo_run
    store = get_job_store(settings)
    store.connect()
    uuids = [entry.relax_job_uuid for entry in study.entries]
    assert None not in uuids and len(set(uuids)) == len(uuids)
    for entry in study.entries:
        doc = relax_task_document(store, study, entry.config_id)
        assert isinstance(doc, ForceFieldTaskDocument)
        # the hull's energy is that relaxation's final energy, in eV per cell
        assert doc.output.energy == pytest.approx(entry.energy_eV)
        assert len(doc.structure) == len(entry.structure)
