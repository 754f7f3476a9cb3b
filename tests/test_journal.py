"""The journal of a local run: torn tails, damage, the lock, identity, one study.

Tiny flows of plain jobs, shaped like a study (two jobs, a job that replaces itself by
one more job and the study-document job). Every job counts its runs in a file. A kill
is stood in for by :class:`Killed`, a ``BaseException`` raised inside a job or a
journal write: it escapes ``run_flow`` with nothing more written, as SIGKILL would.
"""

import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from jobflow import Flow, Response, job
from pymatgen.core import Lattice, Structure

from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme, StudyDocument
from oredox.settings import load_settings
from oredox.store import STUDY_JOB_NAME, get_job_store, get_study
from oredox.workflows import execution
from oredox.workflows.execution import (
    LOCK_FILE,
    STATE_FILE,
    new_run_dir,
    new_run_id,
    read_run_record,
    run_flow,
    run_identity,
)
from oredox.workflows.study import run_study, unfinished_run
from oredox.workflows.templates import StudyTemplate


class Killed(BaseException):
    """Stands for SIGKILL: not an ``Exception``, so no job error handler takes it."""


def count(counts: str, name: str) -> None:
    """One more run of ``name``; die here if ``kill-<name>`` says so (once)."""
    with open(Path(counts) / name, "a") as handle:
        handle.write("run\n")
    kill = Path(counts) / f"kill-{name}"
    if kill.exists():
        kill.unlink()
        raise Killed(name)
    wait = Path(counts) / f"wait-{name}"
    if wait.exists():  # hold the run here until the test removes the file
        (Path(counts) / f"started-{name}").touch()
        deadline = time.monotonic() + 120
        while wait.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


@job
def step(counts, name, *inputs):
    count(counts, name)
    return name


@job
def fan_out(counts, study_id, *inputs):
    count(counts, "fan")
    last = step(counts, "c", *inputs)
    study = make_study(counts, study_id, last.output)
    return Response(replace=Flow([last, study], study.output))


@job(name=STUDY_JOB_NAME)
def make_study(counts, study_id, *inputs):
    count(counts, "study")
    cell = Structure(Lattice.cubic(4.0), ["Li", "Co", "O", "O"], [[0, 0, 0]] * 4)
    return StudyDocument(  # the run's id, as the hull flow passes it to its document
        study_id=study_id,
        name="tiny",
        host_formula="LiCoO2",
        framework="O3 layered",
        alkali="Li",
        host_structure=cell,
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        formula_units=1,
        n_alkali_sites=1,
        space_group="R-3m",
        n_symmetry_operations=1,
        configurations_per_x={"1.0": 1},
        energy_scheme=EnergyScheme(
            engine="test",
            engine_version="0",
            functional="PBE",
            relax_fmax_eV_per_A=0.1,
            relax_cell=False,
        ),
        alkali_reference_energy_per_atom_eV=-1.9,
        entries=[],
        hull_config_ids=[],
        voltage_steps=[],
        average_voltage_V=0.0,
    )


def tiny_flow(counts: Path, run_id: str) -> Flow:
    first = step(str(counts), "a")
    second = step(str(counts), "b", first.output)
    fan = fan_out(str(counts), run_id, second.output)
    return Flow([first, second, fan], fan.output)


def runs_of(counts: Path) -> dict[str, int]:
    return {
        path.name: len(path.read_text().splitlines())
        for path in counts.iterdir()
        if path.name in {"a", "b", "fan", "c", "study"}
    }


def records(journal: Path) -> list[dict]:
    """Every line of the journal, each a whole JSON object (else this fails)."""
    data = journal.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def assert_done_once(journal: Path) -> None:
    done = Counter((r["done"], r["index"]) for r in records(journal) if r.get("done"))
    assert done and max(done.values()) == 1


def assert_one_study(store, run_dir: Path) -> dict:
    docs = list(store.query({"name": STUDY_JOB_NAME}, ["uuid", "output.study_id"]))
    assert len(docs) == 1, docs
    assert docs[0]["output"]["study_id"] == read_run_record(run_dir)["run_id"]
    return docs[0]


@pytest.fixture
def counts(tmp_path) -> Path:
    folder = tmp_path / "counts"
    folder.mkdir()
    return folder


@pytest.fixture
def store(isolated_settings):
    return get_job_store(load_settings())


def killed_run(counts, store, work, label="tiny", at="b", identity=None) -> Path:
    run_dir = new_run_dir(work, label)
    (counts / f"kill-{at}").touch()
    with pytest.raises(Killed):
        identity = {**(identity or {}), "run_id": new_run_id()}
        flow = tiny_flow(counts, identity["run_id"])
        run_flow(flow, store, run_dir, False, identity=identity)
    return run_dir


def test_torn_last_line_is_cut_off_and_finished_jobs_do_not_rerun(
    counts, store, isolated_settings
):
    run_dir = killed_run(counts, store, isolated_settings)
    journal = run_dir / STATE_FILE
    whole = journal.read_bytes()
    torn = b'{"done": "0f9c2a51-7d'  # death mid-write: half a line
    journal.write_bytes(whole + torn)

    (counts / "kill-c").touch()
    with pytest.raises(Killed):
        run_flow(None, store, run_dir, progress=False, resume=True)
    after = journal.read_bytes()
    assert after.startswith(whole) and torn not in after
    resumed = records(journal)[len(whole.splitlines())]
    assert resumed["dropped_torn_bytes"] == len(torn)

    journal.write_bytes(after + b'{"parent": "1e')  # torn again, then resume again
    run_flow(None, store, run_dir, progress=False, resume=True)
    # a finished before the first kill, fan before the second: neither ran again
    assert runs_of(counts) == {"a": 1, "b": 2, "fan": 1, "c": 2, "study": 1}
    assert_done_once(journal)
    assert "finished" in records(journal)[-1]
    assert_one_study(store, run_dir)


def test_a_damaged_line_before_the_last_stops_the_resume(
    counts, store, isolated_settings
):
    run_dir = killed_run(counts, store, isolated_settings, at="c")
    journal = run_dir / STATE_FILE
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) > 3
    lines[2] = lines[2][: len(lines[2]) // 2] + b"\n"
    journal.write_bytes(b"".join(lines))
    before = journal.read_bytes()
    message = rf"{re.escape(str(journal))}, line 3: not a JSON record"
    with pytest.raises(OredoxInputError, match=message):
        run_flow(None, store, run_dir, progress=False, resume=True)
    assert journal.read_bytes() == before  # nothing dropped, nothing appended
    assert runs_of(counts) == {"a": 1, "b": 1, "fan": 1, "c": 1}


RESUME = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.workflows.execution import run_flow
run_flow(None, get_job_store(load_settings()), Path({run_dir!r}), False, resume=True)
"""


def test_a_second_resume_of_a_running_run_fails_at_once(
    counts, store, isolated_settings
):
    run_dir = killed_run(counts, store, isolated_settings)
    (counts / "wait-c").touch()
    script = RESUME.format(tests=str(Path(__file__).parent), run_dir=str(run_dir))
    first = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (counts / "started-c").exists():
            assert first.poll() is None, first.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the first resume never reached c"
            time.sleep(0.05)
        journal = (run_dir / STATE_FILE).read_bytes()
        started = time.monotonic()
        with pytest.raises(
            OredoxInputError, match=rf"already running \(pid {first.pid}\)"
        ):
            run_flow(None, store, run_dir, progress=False, resume=True)
        assert time.monotonic() - started < 5
        assert (run_dir / STATE_FILE).read_bytes() == journal  # it wrote nothing
    finally:
        (counts / "wait-c").unlink()
        output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output[-3000:]
    assert runs_of(counts) == {"a": 1, "b": 2, "fan": 1, "c": 1, "study": 1}
    assert_done_once(run_dir / STATE_FILE)
    assert_one_study(store, run_dir)
    assert (run_dir / LOCK_FILE).exists()  # released, not removed
    run_flow(None, store, run_dir, progress=False, resume=True)  # free again


def template(name: str, **changes) -> StudyTemplate:
    host = {"o3_formula": "LiCoO2", "supercell": [1, 1, 1]}
    return StudyTemplate.model_validate({"name": name, "host": host, **changes})


def identity_of(study: StudyTemplate, engine: str = "chgnet") -> dict:
    return run_identity(study.name, study.model_dump(mode="json"), engine)


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_resume_finds_the_run_of_this_template_only(tmp_path, store, isolated_settings):
    settings = load_settings()
    demo, mine = template("demo-LiCoO2"), template("LiCoO2")
    demo_counts, my_counts = tmp_path / "demo", tmp_path / "mine"
    demo_counts.mkdir()
    my_counts.mkdir()
    demo_dir = killed_run(
        demo_counts, store, isolated_settings, demo.name, identity=identity_of(demo)
    )
    demo_files = files_of(demo_dir)
    assert demo_dir.name.endswith("-demo-LiCoO2")  # the name ends like LiCoO2's

    with pytest.raises(OredoxInputError, match="no unfinished run of 'LiCoO2'"):
        run_study(mine, settings=settings, progress=False, resume=True)
    assert files_of(demo_dir) == demo_files

    my_dir = killed_run(
        my_counts, store, isolated_settings, mine.name, identity=identity_of(mine)
    )
    record = read_run_record(my_dir)
    assert record["name"] == "LiCoO2" and record["engine"] == "chgnet"
    assert record["template_sha256"] == identity_of(mine)["template_sha256"]

    my_files = files_of(my_dir)
    changed = template("LiCoO2", description="now with a description")
    message = rf"template 'LiCoO2' changed since the run in {re.escape(str(my_dir))}"
    with pytest.raises(OredoxInputError, match=message):
        run_study(changed, settings=settings, progress=False, resume=True)
    with pytest.raises(OredoxInputError, match="used the engine chgnet, not vasp"):
        unfinished_run(isolated_settings, identity_of(mine, "vasp"))
    with pytest.raises(OredoxInputError, match="changed since the run"):  # direct
        run_flow(None, store, my_dir, False, resume=True, identity=identity_of(changed))
    assert files_of(my_dir) == my_files  # refused before anything was touched

    study = run_study(mine, settings=settings, progress=False, resume=True)
    assert study.study_id == record["run_id"]
    assert runs_of(my_counts) == {"a": 1, "b": 2, "fan": 1, "c": 1, "study": 1}
    assert runs_of(demo_counts) == {"a": 1, "b": 1}
    assert files_of(demo_dir) == demo_files
    assert_one_study(store, my_dir)
    with pytest.raises(OredoxInputError, match="no unfinished run of 'LiCoO2'"):
        run_study(mine, settings=settings, progress=False, resume=True)


def test_one_study_per_run_after_a_kill_between_store_and_journal(
    counts, store, isolated_settings, monkeypatch
):
    mark_done = execution._RunState.mark_done

    def killed_after_the_study_is_stored(self, uuid, index):
        if store.query_one({"uuid": uuid, "name": STUDY_JOB_NAME}) is not None:
            raise Killed("after the study document was stored")
        mark_done(self, uuid, index)

    monkeypatch.setattr(
        execution._RunState, "mark_done", killed_after_the_study_is_stored
    )
    run_dir = new_run_dir(isolated_settings, "tiny")
    with pytest.raises(Killed):
        run_id = new_run_id()
        run_flow(
            tiny_flow(counts, run_id),
            store,
            run_dir,
            progress=False,
            identity={"run_id": run_id},
        )
    monkeypatch.undo()
    first = assert_one_study(store, run_dir)

    run_flow(None, store, run_dir, progress=False, resume=True)
    assert runs_of(counts) == {"a": 1, "b": 1, "fan": 1, "c": 1, "study": 2}
    assert assert_one_study(store, run_dir)["uuid"] == first["uuid"]
    assert_done_once(run_dir / STATE_FILE)

    # worse: the journal lost the fan-out, which reruns and makes a new study job
    journal = run_dir / STATE_FILE
    kept = records(journal)
    cut = next(i for i, r in enumerate(kept) if "parent" in r)
    journal.write_text("".join(json.dumps(r) + "\n" for r in kept[:cut]))
    run_flow(None, store, run_dir, progress=False, resume=True)
    assert runs_of(counts) == {"a": 1, "b": 1, "fan": 2, "c": 2, "study": 3}
    last = assert_one_study(store, run_dir)
    assert last["uuid"] != first["uuid"]
    run_id = read_run_record(run_dir)["run_id"]
    assert get_study(store, run_id).study_id == run_id
