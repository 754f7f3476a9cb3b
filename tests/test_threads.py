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
    busy_cores,
    cgroup_cpu_quota,
    engine_threads,
    engine_threads_applied,
    largest_cell_atoms,
    quota_cores,
)

BIG = SMALL_CELL_ATOMS + 100  # a cell the size cap leaves alone


@pytest.fixture
def cores(monkeypatch, tmp_path):
    """Pretend this process is bound to ``n`` cores, under no CPU quota: cores(n)."""
    monkeypatch.setattr(threads_module, "CGROUP_ROOT", tmp_path / "no-cgroup")

    def bind(n: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)))

    return bind


@pytest.fixture
def quota(monkeypatch, tmp_path):
    """A cgroup v2 ``cpu.max`` holding ``text`` is this process's: ``quota(text)``."""
    root = tmp_path / "cgroup"
    root.mkdir()
    monkeypatch.setattr(threads_module, "CGROUP_ROOT", root)

    def write(text: str) -> None:
        (root / "cpu.max").write_text(text)

    return write


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


def test_inside_slurm_the_cpus_the_job_holds_on_the_node_come_first(cores):
    cores(16)
    batch_step = {  # the batch step of a job laid out for VASP: 8 ranks of 1 CPU
        "SLURM_JOB_ID": "7",
        "SLURM_CPUS_ON_NODE": "8",
        "SLURM_CPUS_PER_TASK": "1",
        "SLURM_NTASKS_PER_NODE": "8",
    }
    choice = engine_threads(BIG, batch_step)  # one worker: not divided by 8 tasks
    assert (choice.threads, choice.reason) == (8, "SLURM_CPUS_ON_NODE=8")
    shared = {**batch_step, "OREDOX_ENGINE_PROCESSES": "2"}  # the user's word divides
    assert engine_threads(BIG, shared).threads == 4
    cores(6)  # bound to fewer: the binding decides
    choice = engine_threads(BIG, batch_step)
    assert choice.threads == 6
    assert "SLURM_CPUS_ON_NODE=8, but this process is bound to 6" in choice.reason
    # not a count: SLURM_CPUS_PER_TASK decides
    cores(16)
    not_a_count = {**batch_step, "SLURM_CPUS_ON_NODE": "", "SLURM_CPUS_PER_TASK": "3"}
    assert engine_threads(BIG, not_a_count).threads == 3


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
    on_node = {"SLURM_NTASKS_PER_NODE": "4", "SLURM_CPUS_ON_NODE": "8"}
    assert engine_threads(BIG, on_node).threads == 8  # the batch step's one worker
    with pytest.raises(OredoxInputError, match="whole number of processes above 0"):
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


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", None),
        ("200000 100000\n", 2),
        ("150000 100000", 2),  # 1.5 cores: rounded up
        ("50000 100000", 1),
        ("", None),
        ("max", None),
        ("two 100000", None),
        ("200000 0", None),
    ],
)
def test_a_cgroup_v2_quota_in_whole_cores(cpu_max, expected):
    assert quota_cores(cpu_max=cpu_max) == expected


def test_a_cgroup_v1_quota_in_whole_cores():
    assert quota_cores(cfs_quota_us="-1\n", cfs_period_us="100000\n") is None
    assert quota_cores(cfs_quota_us="300000\n", cfs_period_us="100000\n") == 3
    assert quota_cores(cfs_quota_us="250000", cfs_period_us="100000") == 3
    assert quota_cores(cfs_quota_us="", cfs_period_us="100000") is None


def test_the_cgroup_quota_is_read_from_v2_or_v1_files(tmp_path):
    assert cgroup_cpu_quota(tmp_path) is None  # no files: no quota
    v1 = tmp_path / "cpu,cpuacct"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("400000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    cores, where = cgroup_cpu_quota(tmp_path)
    assert cores == 4 and "cpu.cfs_quota_us" in where
    (tmp_path / "cpu.max").write_text("max 100000\n")  # v2 wins: no quota
    assert cgroup_cpu_quota(tmp_path) is None


def test_a_cpu_quota_caps_the_cores_and_says_so(cores, quota):
    cores(8)
    quota("200000 100000\n")  # docker --cpus 2: the affinity still shows 8
    choice = engine_threads(BIG, {})
    assert choice.threads == 2
    assert "8 core(s) in this process's CPU affinity" in choice.reason
    assert "CPU quota" in choice.reason and "cpu.max allows 2" in choice.reason
    slurm = {"SLURM_JOB_ID": "7", "SLURM_CPUS_ON_NODE": "4"}
    assert engine_threads(BIG, slurm).threads == 2
    quota("1200000 100000\n")  # 12 cores: more than the affinity, not deciding
    choice = engine_threads(BIG, {})
    assert (choice.threads, choice.reason) == (
        8,
        "8 core(s) in this process's CPU affinity",
    )


def _structure(n_cells: int) -> Structure:
    cell = Structure(Lattice.cubic(3.0), ["Li", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cell.make_supercell([n_cells, 1, 1])
    return cell


@job
def count_sites(structure, extra=None):
    return len(structure)


def test_other_processes_busy_cores_limit_the_count_outside_slurm(cores, quota):
    cores(2)
    assert engine_threads(BIG, {}, busy_elsewhere=0.3).threads == 2
    busy = engine_threads(BIG, {}, busy_elsewhere=2.0)  # two busy processes
    assert busy.threads == 1
    assert "other processes keep 2.0 of the 2 CPU(s) of its affinity busy" in (
        busy.reason
    )
    cores(8)
    assert engine_threads(BIG, {}, busy_elsewhere=2.6).threads == 5
    # 4.5 free cores round half up to 5 (round() would give 4)
    assert engine_threads(BIG, {}, busy_elsewhere=3.5).threads == 5
    # a SLURM job's cores are its own: the node's load is other jobs'
    slurm = {"SLURM_JOB_ID": "7", "SLURM_CPUS_PER_TASK": "4"}
    assert engine_threads(BIG, slurm, busy_elsewhere=8.0).threads == 4
    # the user's choice stands
    assert engine_threads(BIG, {"OREDOX_THREADS": "6"}, 8.0).threads == 6
    # a quota of 2 of 8 CPUs: others' load counts against the 8 the sample covered
    quota("200000 100000\n")
    assert engine_threads(BIG, {}, busy_elsewhere=3.0).threads == 2
    assert engine_threads(BIG, {}, busy_elsewhere=7.0).threads == 1


def _proc_stat(cpus: dict[str, tuple[int, int, int, int]]) -> str:
    """A /proc/stat text: per line (user, system, idle, iowait); other fields 0."""
    lines = [
        f"{name} {user} 0 {system} {idle} {iowait} 0 0 0 0 0"
        for name, (user, system, idle, iowait) in cpus.items()
    ]
    return "\n".join([*lines, "intr 1 2 3", "ctxt 99", "cpufreq x y"]) + "\n"


BEFORE = _proc_stat(
    {
        "cpu": (1000, 400, 4000, 100),
        "cpu0": (100, 100, 1000, 0),
        "cpu1": (100, 100, 1000, 0),
        "cpu2": (400, 100, 1000, 50),
        "cpu3": (400, 100, 1000, 50),
    }
)
AFTER = _proc_stat(  # 100 ticks per CPU later
    {
        "cpu": (1150, 450, 4180, 120),  # 200 busy of 400
        "cpu0": (200, 100, 1000, 0),  # 100 busy
        "cpu1": (100, 100, 1100, 0),  # idle
        "cpu2": (430, 120, 1030, 70),  # 50 busy, 30 idle, 20 iowait
        "cpu3": (420, 130, 1050, 50),  # 50 busy
    }
)


def test_busy_cores_count_only_the_cpus_of_the_affinity():
    assert busy_cores(BEFORE, AFTER, {0, 1, 2, 3}) == pytest.approx(2.0)
    assert busy_cores(BEFORE, AFTER, {0}) == pytest.approx(1.0)
    assert busy_cores(BEFORE, AFTER, {1}) == pytest.approx(0.0)
    assert busy_cores(BEFORE, AFTER, {1, 2}) == pytest.approx(0.5)  # iowait is idle
    assert busy_cores(BEFORE, AFTER, {0, 2, 3, 9}) == pytest.approx(2.0)  # 9: absent


def test_busy_cores_of_renumbered_cpus_come_from_the_cpu_line():
    # no cpuN is in the affinity: the cpu line's share (200 / 400) times 4 lines
    assert busy_cores(BEFORE, AFTER, {16, 17}) == pytest.approx(2.0)
    assert busy_cores(BEFORE, AFTER, set()) == pytest.approx(2.0)


def test_busy_cores_need_time_to_pass_and_cpu_lines():
    assert busy_cores(BEFORE, BEFORE, {0, 1}) is None
    assert busy_cores(BEFORE, BEFORE, {16}) is None
    assert busy_cores("intr 1\n", "intr 2\n", {0}) is None
    assert busy_cores("", AFTER, {0}) is None


def test_busy_cores_are_sampled_from_proc_stat_at_call_time(monkeypatch):
    texts = iter([BEFORE, AFTER])
    slept = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(threads_module.Path, "read_text", lambda self: next(texts))
    monkeypatch.setattr(threads_module.time, "sleep", slept.append)
    monkeypatch.setattr(threads_module, "BUSY_SAMPLE_S", 0.01)  # read when called
    assert threads_module.busy_cores_elsewhere() == pytest.approx(1.0)
    assert slept == [0.01]
    monkeypatch.setattr(threads_module.Path, "read_text", _unreadable)
    assert threads_module.busy_cores_elsewhere(0.0) is None


def _unreadable(*args, **kwargs):
    raise OSError("no /proc here")


def test_apply_samples_the_load_only_when_the_rule_could_give_more_than_one(
    monkeypatch, cores, torch_threads
):
    cores(2)
    outside_slurm = (
        "OREDOX_THREADS",
        "OMP_NUM_THREADS",
        "SLURM_JOB_ID",
        "SLURM_CPUS_PER_TASK",
        "SLURM_CPUS_ON_NODE",
        "SLURM_NTASKS_PER_NODE",
    )
    for name in outside_slurm:
        monkeypatch.delenv(name, raising=False)
    sampled = []

    def busy(sample_s=None):
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
    assert "PyTorch and BLAS threads: 3 (OREDOX_THREADS=3" in caplog.text
    monkeypatch.setenv("OREDOX_THREADS", "1")
    assert apply_engine_threads().threads == torch_threads.get_num_threads() == 1


def test_the_rule_applied_for_a_block_restores_pytorchs_count(
    monkeypatch, torch_threads
):
    torch_threads.set_num_threads(3)
    monkeypatch.setenv("OREDOX_THREADS", "2")
    with engine_threads_applied(BIG) as choice:
        assert choice.threads == torch_threads.get_num_threads() == 2
    assert torch_threads.get_num_threads() == 3
    with pytest.raises(_ReachedError), engine_threads_applied(None):
        assert torch_threads.get_num_threads() == 2
        raise _ReachedError
    assert torch_threads.get_num_threads() == 3  # after an error too
    monkeypatch.setenv("OREDOX_THREADS", "zero")  # refused before anything is set
    with pytest.raises(OredoxInputError), engine_threads_applied(BIG):
        pass
    assert torch_threads.get_num_threads() == 3


def test_the_rule_applied_for_a_block_without_pytorch_touches_nothing(
    monkeypatch, torch_threads
):
    monkeypatch.setattr(threads_module, "missing_modules", lambda *a: ["torch"])
    torch_threads.set_num_threads(3)
    monkeypatch.setenv("OREDOX_THREADS", "2")
    with engine_threads_applied(BIG) as choice:
        assert choice.threads == 2
        torch_threads.set_num_threads(1)  # not the rule's: left as it is after
    assert torch_threads.get_num_threads() == 1


def test_tests_run_on_one_thread_unless_they_say_otherwise():
    assert os.environ["OREDOX_THREADS"] == "1"  # conftest: no load sampling


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
    log = (run_dir / "run.log").read_text()
    assert "PyTorch and BLAS threads: 2 (OREDOX_THREADS=2" in log


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


def test_the_count_reaches_numpys_blas_and_is_restored(monkeypatch, torch_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        info = threadpoolctl.threadpool_info()
        return {p["num_threads"] for p in info if p["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("numpy has no BLAS thread pool here")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        monkeypatch.setenv("OREDOX_THREADS", "1")
        with threads_module.engine_threads_applied(None):
            assert blas_threads() == {1}
        assert blas_threads() == {2}
