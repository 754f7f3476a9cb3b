"""Resumability: a local study killed with SIGKILL at random points completes.

The study (LiCoO2 hex 2x1x1, 6 Li, all 13 configurations relaxed with CHGNet) is started
with ``oredox run``, killed with SIGKILL at a random moment, resumed with ``oredox
run --resume``, killed again, and so on; the last resume runs to the end. Finished
jobs are never run twice (each appears once in the journal), and the store holds
each job's output once and one study document.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from oredox.settings import load_settings
from oredox.store import STUDY_JOB_NAME, get_job_store, list_studies

pytestmark = pytest.mark.slow  # real CHGNet runs, killed and resumed (minutes)

TEMPLATE = {
    "name": "resume test",
    "host": {"o3_formula": "LiCoO2", "supercell": [2, 1, 1]},
    "engine": "chgnet",
    "relax": {"fmax_eV_per_A": 0.1, "max_steps": 60},
    "screening": {"relax_all": True, "rankers": ["ewald"]},
}


def oredox_run(template: Path, work: Path, *extra: str) -> subprocess.Popen:
    command = [str(Path(sys.executable).with_name("oredox")), "run", str(template)]
    command += ["--work-dir", str(work), "--no-progress", "-o", str(work / "h.png")]
    return subprocess.Popen(
        [*command, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, OREDOX_STORE="montydb"),
    )


def journal_of(work: Path) -> Path:
    (journal,) = (work / "runs").glob("*/state.jsonl")
    return journal


def test_sigkill_at_random_points_then_resume(tmp_path):
    template = tmp_path / "resume.yaml"
    template.write_text(yaml.safe_dump(TEMPLATE))
    work = tmp_path / "work"
    rng = random.Random(20261122)
    kills = 0
    process = oredox_run(template, work)
    for _ in range(3):
        time.sleep(rng.uniform(6.0, 30.0))
        if process.poll() is not None:
            break  # finished before this kill
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        if not (work / "runs").exists() or not list(
            (work / "runs").glob("*/state.jsonl")
        ):
            process = oredox_run(template, work)  # killed before the run began
            continue
        process = oredox_run(template, work, "--resume")
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-3000:]
    assert kills >= 1, "the study finished before the first kill; nothing was tested"

    records = [json.loads(line) for line in journal_of(work).read_text().splitlines()]
    resumed = [r for r in records if "resumed" in r]
    print(f"{kills} SIGKILLs, {len(resumed)} resumes")
    assert len(resumed) >= 1
    done = Counter((r["done"], r["index"]) for r in records if r.get("done"))
    assert done and max(done.values()) == 1  # no finished job ran twice
    assert "finished" in records[-1]

    store = get_job_store(load_settings(work_dir=work, store="montydb"))
    studies = list_studies(store)
    assert len(studies) == 1 and studies[0]["n_entries"] == 13
    keys = Counter((d["uuid"], d["index"]) for d in store.query({}, ["uuid", "index"]))
    assert max(keys.values()) == 1  # every output stored once
    assert store.count({"name": STUDY_JOB_NAME}) == 1


def test_resume_of_a_run_killed_after_its_last_job(tmp_path):
    """All jobs done, the journal's end missing: resume returns the stored study."""
    from oredox.workflows.study import run_study
    from oredox.workflows.templates import StudyTemplate

    template = StudyTemplate.model_validate(
        TEMPLATE | {"host": {"o3_formula": "LiCoO2", "supercell": [1, 1, 1]}}
    )
    settings = load_settings(work_dir=tmp_path / "work", store="montydb")
    first = run_study(template, settings=settings, progress=False)
    journal = journal_of(tmp_path / "work")
    lines = journal.read_text().splitlines()
    assert "finished" in lines[-1]
    journal.write_text("\n".join(lines[:-1]) + "\n")  # as if killed just before it
    again = run_study(template, settings=settings, progress=False, resume=True)
    assert again.study_id == first.study_id
    assert again.average_voltage_V == first.average_voltage_V
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    done = Counter((r["done"], r["index"]) for r in records if r.get("done"))
    assert max(done.values()) == 1  # nothing ran again
