"""The engine thread rule: each branch, the --threads option, PyTorch's count."""

from __future__ import annotations

import logging
import os
import sys

import pytest
from jobflow import Flow, job
from pymatgen.core import Lattice, Structure

from oredox.cli import main
from oredox.errors import OredoxInputError
from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.workflows import threads as threads_module
from oredox.workflows.cluster import run_worker
from oredox.workflows.execution import run_flow
from oredox.workflows.threads import (
    SMALL_CELL_ATOMS,
    SMALL_CELL_THREADS,
    apply_engine_threads,
    engine_threads,
    largest_cell_atoms,
)

BIG = SMALL_CELL_ATOMS + 100  # a cell the size cap leaves alone


@pytest.fixture
def cores(monkeypatch):
    """Pretend this process is bound to ``n`` cores: ``cores(n)``."""

    def bind(n: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)))

    return bind


@pytest.fixture
def no_override(monkeypatch):
    """No OREDOX_THREADS now, and whatever a test sets there is undone after it."""
    monkeypatch.setenv("OREDOX_THREADS", "undone")  # records the value to restore
    monkeypatch.delenv("OREDOX_THREADS")


@pytest.fixture
def torch_threads():
    """PyTorch's thread count, restored after the test."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_the_user_override_wins_over_everything(cores):
    cores(8)
    environ = {
        "OREDOX_THREADS": "3",
        "OMP_NUM_THREADS": "5",
        "SLURM_CPUS_PER_TASK": "4",
        "OREDOX_ENGINE_PROCESSES": "2",
    }
    choice = engine_threads(4, environ)  # a tiny cell: no cap on the user's choice
    assert choice.threads == 3
    assert "OREDOX_THREADS=3" in choice.reason


@pytest.mark.parametrize("value", ["0", "-2", "two", "", "1.5"])
def test_a_bad_override_is_one_clear_error(value):
    with pytest.raises(OredoxInputError, match="OREDOX_THREADS must be a whole"):
        engine_threads(None, {"OREDOX_THREADS": value})


def test_omp_num_threads_is_the_users_choice_too(cores):
    cores(8)
    assert engine_threads(BIG, {"OMP_NUM_THREADS": "1"}).threads == 1
    # not a count: ignored, as the cores decide
    assert engine_threads(BIG, {"OMP_NUM_THREADS": "many"}).threads == 8


def test_slurm_cpus_per_task_are_the_cores_given(cores):
    cores(16)
    choice = engine_threads(BIG, {"SLURM_CPUS_PER_TASK": "4"})
    assert (choice.threads, choice.reason) == (4, "SLURM_CPUS_PER_TASK=4")
    cores(2)  # bound to fewer cores than SLURM says: the binding decides
    choice = engine_threads(BIG, {"SLURM_CPUS_PER_TASK": "4"})
    assert choice.threads == 2
    assert "bound to 2" in choice.reason


def test_without_slurm_the_affinity_decides(cores, monkeypatch):
    cores(3)
    choice = engine_threads(BIG, {})
    assert choice.threads == 3
    assert "affinity" in choice.reason
    monkeypatch.delattr(os, "sched_getaffinity")  # a platform without it
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    assert engine_threads(BIG, {}).threads == 5


def test_engine_processes_share_the_cores(cores):
    cores(8)
    choice = engine_threads(BIG, {"OREDOX_ENGINE_PROCESSES": "4"})
    assert choice.threads == 2
    assert "OREDOX_ENGINE_PROCESSES=4" in choice.reason
    # SLURM's tasks share the node's cores when no cores per task are given
    assert engine_threads(BIG, {"SLURM_NTASKS_PER_NODE": "4"}).threads == 2
    both = {"SLURM_NTASKS_PER_NODE": "4", "SLURM_CPUS_PER_TASK": "2"}
    assert engine_threads(BIG, both).threads == 2  # 2 cores per task, not 2 / 4
    with pytest.raises(OredoxInputError, match="OREDOX_ENGINE_PROCESSES"):
        engine_threads(BIG, {"OREDOX_ENGINE_PROCESSES": "0"})


def test_never_below_one_thread(cores):
    cores(2)
    choice = engine_threads(BIG, {"OREDOX_ENGINE_PROCESSES": "8"})
    assert choice.threads == 1


def test_small_cells_are_capped(cores):
    cores(8)
    small = engine_threads(SMALL_CELL_ATOMS - 1, {})
    assert small.threads == SMALL_CELL_THREADS
    assert f"{SMALL_CELL_ATOMS - 1}-atom cell" in small.reason
    assert engine_threads(SMALL_CELL_ATOMS, {}).threads == 8
    assert engine_threads(None, {}).threads == 8  # size unknown: no cap


def _structure(n_cells: int) -> Structure:
    cell = Structure(Lattice.cubic(3.0), ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cell.make_supercell([n_cells, 1, 1])
    return cell


@job
def count_sites(structure, extra=None):
    return len(structure)


def test_other_processes_busy_cores_limit_the_count_outside_slurm(cores):
    cores(2)
    assert engine_threads(BIG, {}, busy_elsewhere=0.3).threads == 2
    busy = engine_threads(BIG, {}, busy_elsewhere=2.0)  # two busy processes
    assert busy.threads == 1
    assert "other processes keep 2.0 of the 2 core(s) busy" in busy.reason
    cores(8)
    assert engine_threads(BIG, {}, busy_elsewhere=2.6).threads == 5
    # a SLURM job's cores are its own: the node's load is other jobs'
    slurm = {"SLURM_JOB_ID": "7", "SLURM_CPUS_PER_TASK": "4"}
    assert engine_threads(BIG, slurm, busy_elsewhere=8.0).threads == 4
    # the user's choice stands
    assert engine_threads(BIG, {"OREDOX_THREADS": "6"}, 8.0).threads == 6


def test_busy_cores_are_sampled_from_proc_stat(monkeypatch):
    busy = threads_module.busy_cores_elsewhere(0.05)
    if os.path.exists("/proc/stat"):
        assert 0 <= busy <= (os.cpu_count() or 1) + 1e-9
    else:
        assert busy is None
    monkeypatch.setattr("builtins.open", _unreadable)
    assert threads_module.busy_cores_elsewhere(0.0) is None


def _unreadable(*args, **kwargs):
    raise OSError("no /proc here")


def test_apply_samples_the_load_only_when_the_rule_could_give_more_than_one(
    monkeypatch, cores, torch_threads
):
    cores(2)
    for name in ("OREDOX_THREADS", "OMP_NUM_THREADS", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    sampled = []

    def busy(sample_s=0.2):
        sampled.append(sample_s)
        return 2.0

    monkeypatch.setattr(threads_module, "busy_cores_elsewhere", busy)
    assert apply_engine_threads(BIG).threads == 1  # two busy processes: one thread
    assert len(sampled) == 1
    assert apply_engine_threads(SMALL_CELL_ATOMS - 1).threads == 1  # no sampling
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert apply_engine_threads(BIG).threads == 2  # the user's choice: no sampling
    assert len(sampled) == 1


def test_the_largest_cell_of_a_flow_counts_nested_flows_and_kwargs():
    small = count_sites(_structure(1))
    big = count_sites(_structure(1), extra={"cells": [_structure(5)]})
    after = count_sites(small.output)  # another job's output: not a structure yet
    assert largest_cell_atoms(Flow([small, Flow([big, after])])) == 10
    assert largest_cell_atoms(Flow([count_sites(small.output)])) is None


def test_apply_sets_pytorchs_count_and_logs_why(monkeypatch, torch_threads, caplog):
    monkeypatch.setenv("OREDOX_THREADS", "3")
    with caplog.at_level(logging.INFO, logger=threads_module.__name__):
        choice = apply_engine_threads(4)
        assert apply_engine_threads(4) == choice  # again: the same
    assert torch_threads.get_num_threads() == 3
    assert "PyTorch threads: 3 (OREDOX_THREADS=3" in caplog.text
    monkeypatch.setenv("OREDOX_THREADS", "1")
    assert apply_engine_threads().threads == torch_threads.get_num_threads() == 1


def test_apply_without_pytorch_sets_nothing(monkeypatch, torch_threads):
    monkeypatch.setattr(threads_module, "missing_modules", lambda *a: ["torch"])
    before = torch_threads.get_num_threads()
    monkeypatch.setenv("OREDOX_THREADS", str(before + 1))
    assert apply_engine_threads().threads == before + 1
    assert torch_threads.get_num_threads() == before


def test_a_local_run_sets_and_logs_the_threads(
    isolated_settings, monkeypatch, torch_threads
):
    monkeypatch.setenv("OREDOX_THREADS", "2")
    store = get_job_store(load_settings())
    run_dir = isolated_settings / "run"
    run_flow(Flow([count_sites(_structure(2))]), store, run_dir, progress=False)
    assert torch_threads.get_num_threads() == 2
    assert "PyTorch threads: 2 (OREDOX_THREADS=2" in (run_dir / "run.log").read_text()


def test_bad_thread_settings_stop_a_local_run_before_it_starts(
    isolated_settings, monkeypatch
):
    monkeypatch.setenv("OREDOX_ENGINE_PROCESSES", "some")
    store = get_job_store(load_settings())
    with pytest.raises(OredoxInputError, match="OREDOX_ENGINE_PROCESSES"):
        run_flow(Flow([count_sites(_structure(1))]), store, isolated_settings / "r")
    assert not (isolated_settings / "r").exists()


def test_the_worker_refuses_bad_thread_settings(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OREDOX_THREADS", "none")
    assert run_worker(["-l", str(tmp_path / "launchpad.yaml"), "singleshot"]) == 2
    assert "oredox worker: OREDOX_THREADS must be" in capsys.readouterr().err


def _cli(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["oredox", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


@pytest.mark.parametrize("command", [["demo"], ["run", "demo-chgnet"]])
@pytest.mark.parametrize("value", ["0", "two"])
def test_a_bad_threads_option_is_one_line_and_exit_2(
    monkeypatch, capsys, isolated_settings, no_override, command, value
):
    assert _cli(monkeypatch, *command, "--threads", value) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--threads" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert "OREDOX_THREADS" not in os.environ
    assert not isolated_settings.exists()


class _ReachedError(Exception):
    """Raised by the fake study runners: the command got that far."""


@pytest.mark.parametrize(
    ("command", "runner"),
    [
        (["demo"], "oredox.workflows.demo.run_demo"),
        (["run", "demo-chgnet"], "oredox.workflows.study.run_study"),
    ],
)
def test_the_threads_option_reaches_the_rule(
    monkeypatch, isolated_settings, no_override, cores, command, runner
):
    cores(8)
    seen = []

    def fake_runner(*args, **kwargs):
        seen.append(engine_threads(4))
        raise _ReachedError

    monkeypatch.setattr(runner, fake_runner)
    with pytest.raises(_ReachedError):
        _cli(monkeypatch, *command, "--threads", "3")
    assert seen[0].threads == 3
    assert "OREDOX_THREADS=3" in seen[0].reason
