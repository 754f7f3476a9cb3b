"""The oxygen-loss workflow: flow, document, store, command line, bad input.

The host study is a recorded one (``tests/data/studies/licoo2_chgnet_demo.json.gz``,
LiCoO2 rhombohedral 2x2x1, CHGNet; README there), put into a fresh embedded store as
the study job would; the end-to-end test relaxes real O vacancies of it with CHGNet.
"""

import gzip
import json
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from jobflow import job, run_locally

from oredox.cli import main
from oredox.errors import OredoxInputError
from oredox.schemas import StudyDocument
from oredox.settings import load_settings
from oredox.store import STUDY_JOB_NAME, get_job_store
from oredox.workflows.oxygen_flow import (
    OxygenVacancyMaker,
    o2_molecule,
    select_configurations,
)

RECORDED = Path(__file__).parent / "data" / "studies" / "licoo2_chgnet_demo.json.gz"


def recorded_study() -> StudyDocument:
    return StudyDocument.model_validate_json(gzip.open(RECORDED).read())


@job(name=STUDY_JOB_NAME)
def _stored(study: StudyDocument) -> StudyDocument:
    """The study job's name and output, for a study made elsewhere."""
    return study


def store_study(settings, study: StudyDocument) -> None:
    run_locally(_stored(study), store=get_job_store(settings), log=False)


def without_oxygen(study: StudyDocument) -> StudyDocument:
    """The recorded study with its host's O replaced by S (a host without O)."""
    host = study.host_structure.copy()
    host.replace_species({"O2-": "S2-"})
    return study.model_copy(
        update={"study_id": uuid4().hex, "host_structure": host, "name": "LiCoS2"}
    )


def count_documents(settings) -> int:
    return get_job_store(settings).docs_store.count()


def run_cli(monkeypatch, args: list[str]) -> int:
    monkeypatch.setattr(sys, "argv", ["oredox", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


# --- the flow, made without running it ---------------------------------------------


def test_hull_vertices_by_default_each_orbit_one_relaxation():
    study = recorded_study()
    maker = OxygenVacancyMaker.for_study(study)
    flow = maker.make(study)
    names = [j.name for j in flow.jobs]
    assert names[-1] == "oredox oxygen document"
    relaxed = {name.split()[1] for name in names[:-1]}
    assert relaxed == set(study.hull_config_ids)
    # the pristine host keeps one O orbit (8 equivalent O); one Li out splits it
    assert sum(name.startswith("relax k0-0 ") for name in names) == 1
    assert sum(name.startswith("relax k1-0 ") for name in names) > 1
    assert maker.fmax_eV_per_A == study.energy_scheme.relax_fmax_eV_per_A
    # the mp2020 reference needs no O2 molecule from the engine
    assert "relax O2" not in names
    o2 = OxygenVacancyMaker.for_study(study, reference="engine-o2").make(study)
    assert "relax O2" in [j.name for j in o2.jobs]


def test_screen_keeps_one_per_class_and_every_class():
    study = recorded_study()

    def labels(maker):
        hosts = maker.make(study).jobs[-1].function_kwargs["hosts"]
        return {h.config_id: [o["label"] for o in h.orbits] for h in hosts}

    every = labels(OxygenVacancyMaker.for_study(study))
    screened = labels(OxygenVacancyMaker.for_study(study, keep_per_class=1))
    assert every.keys() == screened.keys()
    for config_id, kept in screened.items():
        assert sorted(kept) == sorted(set(every[config_id]))
    assert sum(map(len, screened.values())) < sum(map(len, every.values()))


def test_configurations_by_x_or_id_and_their_errors():
    study = recorded_study()
    chosen = select_configurations(study, x_values=[0.5, 1.0])
    assert [e.x for e in chosen] == [1.0, 0.5]
    # of the two configurations at x = 0.5, the hull vertex
    assert chosen[1].config_id in study.hull_config_ids
    assert [e.config_id for e in select_configurations(study, ["k2-1"])] == ["k2-1"]
    with pytest.raises(OredoxInputError, match=r"no configuration at x = 0\.3"):
        select_configurations(study, x_values=[0.3])
    with pytest.raises(OredoxInputError, match="no configuration k9-0"):
        select_configurations(study, ["k9-0"])
    with pytest.raises(OredoxInputError, match="not both"):
        select_configurations(study, ["k0-0"], [1.0])


def test_refuses_a_host_without_oxygen_and_another_scheme():
    study = recorded_study()
    with pytest.raises(OredoxInputError, match="has no oxygen"):
        OxygenVacancyMaker.for_study(without_oxygen(study))
    with pytest.raises(OredoxInputError, match="another energy scheme"):
        OxygenVacancyMaker.for_study(study, engine="vasp")
    maker = OxygenVacancyMaker()
    with pytest.raises(OredoxInputError, match="has no oxygen"):
        maker.make_for_structures({"sulfide": without_oxygen(study).host_structure})
    with pytest.raises(OredoxInputError, match="unknown O reference"):
        OxygenVacancyMaker(reference="janaf")


def test_flow_serialises_for_fireworks_and_the_journal():
    from jobflow import Flow
    from jobflow.managers.fireworks import flow_to_workflow

    study = recorded_study()
    flow = OxygenVacancyMaker.for_study(study).make(study, x_values=[0.5])
    from monty.json import MontyDecoder, MontyEncoder

    # through JSON as FireWorks and jobflow-remote store it: every object typed
    again = MontyDecoder().decode(json.dumps(flow, cls=MontyEncoder))
    assert isinstance(again, Flow)
    assert [j.name for j in again.jobs] == [j.name for j in flow.jobs]
    assert type(again.jobs[0].maker) is type(flow.jobs[0].maker)
    workflow = flow_to_workflow(flow)
    assert len(workflow.fws) == len(flow.jobs) == 3  # two orbits at x = 0.5


def test_o2_molecule_is_a_triplet_in_a_box():
    o2 = o2_molecule()
    assert o2.lattice.abc == pytest.approx((10.0, 10.0, 10.0))
    assert o2.get_distance(0, 1) == pytest.approx(1.21)
    assert o2.site_properties["magmom"] == [1.0, 1.0]


# --- bad input on the command line: one error line, nothing written ------------------


@pytest.fixture
def stored(tmp_path):
    settings = load_settings(work_dir=tmp_path / "work", store="montydb")
    study = recorded_study()
    sulfide = without_oxygen(study)
    store_study(settings, study)
    store_study(settings, sulfide)
    return settings, study, sulfide


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-study"], "no study 'no-such-study'"),
        (["SULFIDE"], "has no oxygen"),
        (["STUDY", "--engine", "vasp"], "another energy scheme"),
        (["STUDY", "--x", "0.3"], "no configuration at x = 0.3"),
        (["STUDY", "--reference", "janaf"], "unknown O reference"),
        (["STUDY", "--png", "loss", "--format", "docx"], "docx"),
        (["STUDY", "--png", "loss.png", "--dpi", "0"], "dpi"),
    ],
)
def test_bad_input_one_error_line_nothing_written(
    stored, monkeypatch, capsys, args, message
):
    settings, study, sulfide = stored
    ids = {"STUDY": study.study_id, "SULFIDE": sulfide.study_id}
    args = [ids.get(a, a) for a in args]
    before = count_documents(settings)
    code = run_cli(monkeypatch, ["oxygen", *args, "--work-dir", str(settings.work_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error:") and message in err
    assert len(err.strip().splitlines()) == 1
    assert count_documents(settings) == before
    assert not (settings.work_dir / "runs").exists()


def test_query_oxygen_of_a_study_without_one(stored, monkeypatch, capsys):
    settings, study, _ = stored
    code = run_cli(
        monkeypatch,
        ["query", study.study_id, "--oxygen", "--work-dir", str(settings.work_dir)],
    )
    assert code == 2
    assert "no oxygen-loss document" in capsys.readouterr().err


# --- CHGNet end to end ---------------------------------------------------------------


@pytest.mark.slow
def test_chgnet_oxygen_loss_end_to_end(stored, monkeypatch, capsys, tmp_path):
    """x = 1 and x = 0 of LiCoO2 (one O orbit each): relaxed, stored, queried."""
    from oredox.store_oxygen import OXYGEN_JOB_NAME, get_oxygen_document

    settings, study, _ = stored
    work = str(settings.work_dir)
    png = tmp_path / "oxygen.png"
    args = ["oxygen", study.study_id[:10], "--x", "1,0", "--work-dir", work]
    code = run_cli(monkeypatch, [*args, "--no-progress", "--png", str(png)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "first O to leave" in out and "MP2020 fitted" in out

    store = get_job_store(settings)
    docs = list(store.query({"name": OXYGEN_JOB_NAME}))
    assert len(docs) == 1
    document = get_oxygen_document(store, study.study_id)
    assert document.study_id == study.study_id
    assert document.energy_scheme == study.energy_scheme
    reference = document.oxygen_reference
    assert reference.method == "MP2020 fitted"
    assert "MP2020" in reference.description
    assert [host.x for host in document.hosts] == [1.0, 0.0]
    entries = {e.config_id: e for e in study.entries}
    for host in document.hosts:
        assert host.host_energy_eV == entries[host.config_id].energy_eV
        assert len(host.vacancies) == host.n_orbits == 1  # every orbit relaxed
        vacancy = host.vacancies[0]
        assert vacancy.multiplicity == host.n_oxygen
        assert len(vacancy.structure) == len(entries[host.config_id].structure) - 1
        # E_f = E(defect) - E(host) + mu_O + correction, by hand
        by_hand = (
            vacancy.energy_eV
            - host.host_energy_eV
            + reference.mu_o_eV
            + reference.correction_eV_per_O
        )
        assert vacancy.formation_energy_O_rich_eV == pytest.approx(by_hand)
        assert -3.0 < vacancy.formation_energy_O_rich_eV < 6.0
        assert vacancy.release_delta_mu_o_threshold_eV == pytest.approx(
            -vacancy.formation_energy_O_rich_eV
        )
        assert "framework" in vacancy.after_loss
    assert document.failed == []
    # O leaves the charged (CoO2) cell more easily than the lithiated one
    e_f = [host.lowest_formation_energy_O_rich_eV for host in document.hosts]
    assert e_f[1] < e_f[0]
    assert png.stat().st_size > 20_000

    for query in (study.study_id, document.oxygen_id[:8]):
        code = run_cli(
            monkeypatch, ["query", query, "--oxygen", "--json", "--work-dir", work]
        )
        shown = json.loads(capsys.readouterr().out)
        assert code == 0 and shown["oxygen_id"] == document.oxygen_id


@pytest.mark.parametrize("preset", ["mp", "ltno-2022"])
def test_vasp_vacancy_inputs_keep_the_study_scheme_and_moments(preset):
    """A VASP study's vacancy relaxations: its preset, ISPIN 2, moments by the rule.

    No VASP here and no recorded run of a vacancy cell: the inputs each relaxation
    would run are generated (POTCAR.spec) and checked, as the dry run does.
    """
    import warnings

    from oredox.schemas import scheme_id
    from oredox.workflows.engines import VaspEngine

    study = recorded_study()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ltno-2022 gives Co no U: said elsewhere
        scheme = VaspEngine(preset=preset).energy_scheme(0.02, study.host_structure)
    study = study.model_copy(
        update={"energy_scheme": scheme, "energy_scheme_id": scheme_id(scheme)}
    )
    # MP's fitted O2 holds for MP's settings only: U(Ni) 6.4 at 600 eV needs its own
    reference = "mp2020" if preset == "mp" else "engine-o2"
    maker = OxygenVacancyMaker.for_study(study, reference=reference)
    assert maker.engine.preset.name == preset  # read from the study's scheme
    if preset != "mp":
        with pytest.raises(OredoxInputError, match=r"mp2020 O reference .* does not"):
            OxygenVacancyMaker.for_study(study).make(study, x_values=[0.5])
    flow = maker.make(study, x_values=[0.5])
    relax = next(j for j in flow.jobs if j.name.startswith("relax k"))
    start = relax.function_args[0]
    (entry,) = select_configurations(study, x_values=[0.5])
    assert len(start) == len(entry.structure) - 1  # one O removed
    inputs = relax.maker.input_set_generator.get_input_set(start, potcar_spec=True)
    incar = inputs.incar
    assert incar["ISPIN"] == 2 and incar["ISMEAR"] == 0  # Gaussian: an oxide
    assert incar["EDIFFG"] == -0.02 and incar["ENCUT"] == scheme.encut_eV
    by_element = {}
    written = inputs.poscar.structure  # sorted by element, as MAGMOM
    for site, moment in zip(written, incar["MAGMOM"], strict=True):
        by_element.setdefault(site.specie.symbol, set()).add(moment)
    assert by_element["Li"] == {0.0} and by_element["O"] == {0.0}
    assert by_element["Co"] == {0.6}  # low-spin Co3+ start, as the host's
    symbols = inputs.poscar.site_symbols
    u_values = incar.get("LDAUU") or [0.0] * len(symbols)  # no U at all: no tags
    u_co = dict(zip(symbols, u_values, strict=True))["Co"]
    assert u_co == (3.32 if preset == "mp" else 0.0)
    # the study's POTCARs (its scheme's), one per element of the sorted POSCAR
    assert sorted(str(inputs["POTCAR.spec"]).split()) == scheme.potcars


def test_the_mp2020_reference_is_refused_before_any_gpaw_job():
    from oredox.workflows.engines import GpawEngine

    study = recorded_study()
    scheme = GpawEngine().energy_scheme(0.05, study.host_structure)
    study = study.model_copy(update={"energy_scheme": scheme})
    with pytest.raises(OredoxInputError, match="use --reference engine-o2"):
        OxygenVacancyMaker.for_study(study).make(study)
    flow = OxygenVacancyMaker.for_study(study, reference="engine-o2").make(study)
    assert "relax O2" in [j.name for j in flow.jobs]


def test_a_relaxed_o2_must_still_be_a_molecule():
    from oredox.errors import OredoxRunError
    from oredox.workflows.oxygen_document import check_o2_molecule

    check_o2_molecule(o2_molecule())  # 1.21 A in a 10 A box
    apart = o2_molecule(bond_A=2.5)
    with pytest.raises(OredoxRunError, match=r"O-O bond of 2\.500 A"):
        check_o2_molecule(apart)
    squeezed = o2_molecule(box_A=3.0)
    with pytest.raises(OredoxRunError, match=r"box of 3\.00 A"):
        check_o2_molecule(squeezed)


def test_submitting_oxygen_loss_is_checked_like_a_study(tmp_path):
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    from oredox.workflows.cluster import ClusterProfile
    from oredox.workflows.oxygen_run import submit_oxygen

    profile = ClusterProfile(name="test", partition="debug", walltime="00:10:00")
    given = JobStore(MemoryStore("mine"), additional_stores={"data": MemoryStore("b")})
    python_store = load_settings(store=given, work_dir=tmp_path)
    with pytest.raises(OredoxInputError, match="given in Python cannot reach a batch"):
        submit_oxygen("any", profile, python_store, queue=False)
    settings = load_settings(work_dir=tmp_path)
    with pytest.raises(OredoxInputError, match="needs --worker"):
        submit_oxygen("any", profile, settings, via="jobflow-remote")
    with pytest.raises(OredoxInputError, match="fireworks or jobflow-remote"):
        submit_oxygen("any", profile, settings, via="slurm")
