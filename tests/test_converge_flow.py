"""The converged-hull loop as a workflow: template, search of the host cell, a real run.

The fast tests check the pieces against exact answers (a known expansion, every
arrangement); the slow ones run the loop with CHGNet through ``oredox run``, kill it in
the middle of the loop and resume it.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import yaml

from oredox.analysis.ce_loop import ConvergeSettings
from oredox.analysis.cluster_expansion import fit_cluster_expansion
from oredox.errors import OredoxInputError
from oredox.settings import load_settings
from oredox.store import STUDY_JOB_NAME, get_job_store, get_study, list_studies
from oredox.workflows.converge_flow import (
    ConvergedHullMaker,
    cell_polynomial,
    host_features,
    search_host,
)
from oredox.workflows.hull_flow import DelithiationHullMaker
from oredox.workflows.templates import template_from_data

TEMPLATE = {
    "name": "converge test",
    "host": {"o3_formula": "LiCoO2", "supercell": [2, 1, 1]},
    "engine": "chgnet",
    "relax": {"fmax_eV_per_A": 0.1, "max_steps": 60},
    # one arrangement per content (7 of the 13), then one more per iteration until
    # the budget of 10 or the last arrangement: a wide window keeps candidates coming
    "screening": {"rankers": ["ewald"], "lowest": 1, "window_meV_per_atom": 0.0},
    "converge": {
        "candidates_per_iteration": 1,
        "window_meV_per_atom": 100.0,
        "max_calculations": 10,
    },
}


def test_a_converge_section_makes_the_converged_hull_maker():
    template = template_from_data(TEMPLATE)
    maker = template.maker()
    assert isinstance(maker, ConvergedHullMaker)
    assert maker.converge.candidates_per_iteration == 1
    plain = template_from_data({k: v for k, v in TEMPLATE.items() if k != "converge"})
    assert type(plain.maker()) is DelithiationHullMaker
    with pytest.raises(OredoxInputError, match="converge"):
        template_from_data(TEMPLATE | {"converge": {"window": 3}})
    with pytest.raises(OredoxInputError, match="at most two cutoffs"):
        template_from_data(TEMPLATE | {"converge": {"cutoffs_A": [6, 5, 4]}})
    again = template_from_data(yaml.safe_load(template.to_yaml()))
    assert again == template


@pytest.fixture(scope="module")
def hex221():
    """LiCoO2 hex 2x2x1 (12 Li sites), its maker, and a fit of a known expansion."""
    template = template_from_data(
        TEMPLATE | {"host": {"o3_formula": "LiCoO2", "supercell": [2, 2, 1]}}
    )
    maker = template.maker()
    host = template.study_host(maker)
    cell = host_features(maker, host)
    rng = np.random.default_rng(5)
    occupied = rng.random((40, host.symmetry.n_sites)) < rng.random((40, 1))
    rows = cell.features(occupied)
    energies = rows @ np.concatenate(
        [rng.normal(0, 0.01, cell.model.n_parameters), [0.05]]
    )
    fit = fit_cluster_expansion(cell.model, rows, energies, fit_method="least-squares")
    return maker, host, cell, fit


def test_the_polynomial_of_the_host_cell_is_the_cluster_expansion(hex221):
    maker, host, cell, fit = hex221
    polynomial = cell_polynomial(cell, fit, maker.converge.cutoffs_A)
    rng = np.random.default_rng(11)
    occupied = rng.random((50, host.symmetry.n_sites)) < rng.random((50, 1))
    np.testing.assert_allclose(
        polynomial.energies(occupied), cell.cell_energies(fit, occupied), atol=1e-8
    )


@pytest.mark.parametrize("limit", [10**6, 1])  # enumeration, then Monte Carlo
def test_the_search_finds_the_lowest_arrangement_of_each_content(hex221, limit):
    maker, host, cell, fit = hex221
    maker = ConvergedHullMaker(
        engine=maker.engine,
        screening=maker.screening,
        converge=maker.converge.model_copy(update={"exhaustive_limit": limit}),
    )
    polynomial = cell_polynomial(cell, fit, maker.converge.cutoffs_A)
    n = host.symmetry.n_sites
    configs, energies, method = search_host(maker, host, polynomial, [3, 6])
    assert method == ("enumeration" if limit > 1 else "monte carlo")
    for k in (3, 6):
        brute = np.ones((len(list(combinations(range(n), k))), n), dtype=bool)
        for row, vacant in zip(brute, combinations(range(n), k), strict=True):
            row[list(vacant)] = False
        lowest = cell.cell_energies(fit, brute).min()
        found = [
            e for cfg, e in zip(configs, energies, strict=True) if cfg.n_vacancies == k
        ]
        assert min(found) == pytest.approx(lowest, abs=1e-8)
        assert found == sorted(found)


def oredox_run(template: Path, work: Path, *extra: str) -> subprocess.Popen:
    command = [str(Path(sys.executable).with_name("oredox")), "run", str(template)]
    command += ["--work-dir", str(work), "--no-progress", "-o", str(work / "h.png")]
    return subprocess.Popen(
        [*command, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, OREDOX_STORE="montydb", OMP_NUM_THREADS="1"),
    )


def wait_for_line(journal_glob, work: Path, text: str, process, timeout_s=600):
    """Wait until a journal line contains ``text`` (or the process ends)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        for journal in work.glob(journal_glob):
            if any(text in line for line in journal.read_text().splitlines()):
                return True
        if process.poll() is not None:
            return False
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_the_loop_runs_killed_and_resumed_to_its_own_stop(tmp_path):
    template = tmp_path / "converge.yaml"
    template.write_text(yaml.safe_dump(TEMPLATE))
    work = tmp_path / "work"
    process = oredox_run(template, work)
    # the first iteration has replaced itself with a relaxation and "converge 1"
    reached = wait_for_line("runs/*/state.jsonl", work, '"converge 1"', process)
    assert reached, process.communicate()[0][-3000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    process = oredox_run(template, work, "--resume")
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-3000:]

    (journal,) = work.glob("runs/*/state.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert any("resumed" in r for r in records)
    done = Counter((r["done"], r["index"]) for r in records if r.get("done"))
    assert max(done.values()) == 1  # no finished job ran twice
    store = get_job_store(load_settings(work_dir=work, store="montydb"))
    (row,) = list_studies(store)
    study = get_study(store, row["study_id"])
    assert store.count({"name": STUDY_JOB_NAME}) == 1
    loop = study.convergence
    iterations = loop["iterations"]
    assert [it["iteration"] for it in iterations] == list(range(len(iterations)))
    assert len(iterations) >= 2 and loop["stop"] == iterations[-1]["stop"]
    # the budget, or every searched arrangement done (an unconverged one is not
    # sent again)
    assert loop["stop"].split(":")[0] in ("budget", "converged"), loop["stop"]
    # each candidate relaxed once and became an entry; the budget holds
    added = [key for it in iterations for key in it["candidates"]]
    labels = [e.config_id for e in study.entries]
    assert len(added) == len(set(added)) == loop["n_from_loop"] >= 1
    assert set(added) <= set(labels)
    assert len(labels) == loop["n_relaxations"] <= 10
    assert loop["fit"]["n_structures"] >= 7
    assert ConvergeSettings.model_validate(loop["settings"]).max_calculations == 10


def test_a_dry_run_writes_the_screened_inputs_and_says_the_loop_decides_later(
    tmp_path,
):
    from oredox.workflows.study import dry_run

    folders = dry_run(template_from_data(TEMPLATE), tmp_path / "inputs")
    record = json.loads((tmp_path / "inputs" / "screening.json").read_text())
    assert len(folders) == 8  # one configuration per content (7) and the Li metal
    assert record["converge"]["settings"]["max_calculations"] == 10
    assert "up to 3 more relaxations" in record["converge"]["note"]


def test_a_loop_that_cannot_fit_stops_with_the_reason_and_the_study_goes_on(hex221):
    from oredox.workflows.converge_flow import converge_step
    from oredox.workflows.hull_flow import STATICS_JOB_NAME
    from oredox.workflows.study_document import Relaxation

    maker, host, _cell, _fit = hex221
    scheme = maker.engine.energy_scheme()
    from oredox.structures.delithiation import enumerate_configurations

    picked = [enumerate_configurations(host.symmetry, k)[0] for k in (0, 6, 12)]
    starts = maker.starts(host, picked)
    relaxations = [
        Relaxation(
            label=f"k{c.n_vacancies}-0",
            initial=start,
            energy_eV=-100.0 - c.n_vacancies,
            structure=start,
            converged=True,
            energy_scheme=scheme,
            configuration=c,
        )
        for c, start in zip(picked, starts, strict=True)
    ]
    response = converge_step.original(
        host=host,
        relaxations=relaxations,
        alkali_reference=relaxations[0],
        screening={},
        hull_maker=maker,
        energy_scheme=scheme,
        parent=None,
        history=[],
    )
    (statics,) = response.replace.jobs
    assert statics.name == STATICS_JOB_NAME
    record = statics.function_kwargs["convergence"]
    assert record["stop"].startswith("error: the cluster expansion needs 4")
    assert record["n_relaxations"] == 3 and record["iterations"] == []


FIREWORKS_SCRIPT = """
import json, sys
from fireworks import LaunchPad
from fireworks.core.rocket_launcher import rapidfire
from jobflow.managers.fireworks import flow_to_workflow
from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.workflows.templates import template_from_data

template = template_from_data(json.loads(sys.argv[1]))
store = get_job_store(load_settings(work_dir=sys.argv[2], store="montydb"))
launchpad = LaunchPad(name="oredox_fw_test")
launchpad.reset("", require_password=False)
launchpad.add_wf(flow_to_workflow(template.flow(), store=store))
rapidfire(launchpad, nlaunches=0, sleep_time=0, strm_lvl="ERROR")
fws = [launchpad.get_fw_by_id(i) for i in launchpad.get_fw_ids()]
print(json.dumps({"fireworks": [[fw.name, fw.state] for fw in fws]}))
"""


@pytest.mark.slow
def test_the_loop_runs_on_fireworks_unchanged(tmp_path):
    """The same flow through FireWorks: each iteration's replace adds Fireworks.

    FireWorks reads its mongomock setting when it is imported: a fresh process.
    """
    (tmp_path / "launchpad.json").write_text("{}")
    data = TEMPLATE | {"converge": TEMPLATE["converge"] | {"max_calculations": 9}}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FIREWORKS_SCRIPT,
            json.dumps(data),
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=dict(
            os.environ,
            MONGOMOCK_SERVERSTORE_FILE=str(tmp_path / "launchpad.json"),
            OMP_NUM_THREADS="1",
        ),
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    fireworks = json.loads(done.stdout.splitlines()[-1])["fireworks"]
    names = {name for name, _ in fireworks}
    assert {"converge 0", "converge 1"} <= names
    assert all(state == "COMPLETED" for _, state in fireworks), fireworks
    store = get_job_store(load_settings(work_dir=tmp_path / "work", store="montydb"))
    store.connect()
    (doc,) = list(store.query({"name": STUDY_JOB_NAME}))
    loop = doc["output"]["convergence"]
    iterations = loop["iterations"]
    assert [it["iteration"] for it in iterations] == list(range(len(iterations)))
    assert len(iterations) >= 2 and loop["n_relaxations"] <= 9
    assert loop["stop"].split(":")[0] in ("budget", "converged")
