"""Local execution: progress from jobflow log records; failures name the log."""

import pytest
from jobflow import Flow, job

from oredox.errors import OredoxRunError
from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.workflows.execution import new_run_dir, run_flow


@job
def add(a, b):
    return a + b


@job
def explode(value):
    raise ValueError(f"no good: {value}")


def test_run_flow_runs_jobs_into_the_store(isolated_settings):
    store = get_job_store(load_settings())
    first = add(1, 2)
    second = add(first.output, 10)
    responses = run_flow(
        Flow([first, second]), store, isolated_settings / "run", progress=False
    )
    assert responses[second.uuid][1].output == 13
    assert store.query_one({"uuid": second.uuid})["output"] == 13
    assert (isolated_settings / "run" / "run.log").read_text().count(
        "Finished job"
    ) == 2


def test_failed_job_raises_with_log_and_skips_dependents(isolated_settings):
    store = get_job_store(load_settings())
    ok = add(1, 1)
    bad = explode(ok.output)
    after = add(bad.output, 1)
    run_dir = isolated_settings / "run"
    with pytest.raises(OredoxRunError, match=r"2 of 3 jobs did not finish") as err:
        run_flow(Flow([ok, bad, after]), store, run_dir, progress=False)
    assert str(run_dir / "run.log") in str(err.value)
    assert "no good: 2" in (run_dir / "run.log").read_text()
    assert store.query_one({"uuid": ok.uuid})["output"] == 2
    assert store.query_one({"uuid": after.uuid}) is None


def test_new_run_dir_is_unique_and_safe(isolated_settings):
    a = new_run_dir(isolated_settings, "demo LiCoO2/../x")
    b = new_run_dir(isolated_settings, "demo LiCoO2/../x")
    assert a != b
    assert a.parent == isolated_settings / "runs"
    assert "/" not in a.name
