"""How many threads the engines that run inside oredox's process use, and why.

CHGNet's PyTorch starts as many threads as the machine has cores, whether the
process was given them or not; on a busy machine its threads wait for each other
and a relaxation runs many times slower than on one thread. The count is therefore
chosen, by this rule, in this order:

1. ``OREDOX_THREADS`` (``oredox demo --threads N``, ``oredox run --threads N``),
   a whole number above 0, when set: the user's choice, used as given.
   Else ``OMP_NUM_THREADS``, when it holds a whole number above 0.
2. The cores this process was given: ``SLURM_CPUS_PER_TASK`` inside a SLURM job
   (at most the cores the process is bound to), else the cores of its CPU affinity
   (``os.sched_getaffinity``; ``os.cpu_count()`` where there is none).
3. Divided by the engine processes that share those cores:
   ``OREDOX_ENGINE_PROCESSES`` when set, else ``SLURM_NTASKS_PER_NODE`` when it is
   above 1 and ``SLURM_CPUS_PER_TASK`` is not set (the cores are the node's, for
   all its tasks); never below 1.
4. At most :data:`SMALL_CELL_THREADS` for a cell of fewer than
   :data:`SMALL_CELL_ATOMS` atoms, where more threads were measured no faster.
5. Outside a SLURM job, at most the cores other processes leave free: when more than
   one thread is still on the table, :func:`busy_cores_elsewhere` samples the
   machine's CPU use for :data:`BUSY_SAMPLE_S` seconds while this process sleeps, and
   the count drops to the given cores minus the busy ones (rounded), at least 1.
   Inside a SLURM job the cores are the job's own and the node's load belongs to
   other jobs, so nothing is sampled.

The size cap comes from this measurement (2026-12-02, a 2-core machine, CHGNet
0.4.2 with its 0.3.0 model, PyTorch 2.13 CPU; LiCoO2 cells, one Li removed for the
relaxations; 1 and 2 threads taken in turn). "Call": one warm
``predict_structure(task="efs")``, median of 11; "relaxation":
``StructOptimizer.relax`` (FIRE, cell too, fmax 0.05 eV/A), median of 3 to 5.
Quiet: other processes used 0.00-0.08 cores meanwhile (1-minute load average
0.7-2.9, this benchmark's own threads included); busy: another process used 1.0-1.5
cores.

| atoms | call, quiet (1 / 2 threads) | call, busy | relaxation, quiet |
|---|---|---|---|
| 4 | 0.055 / 0.043 s | | |
| 16 (15) | 0.198 / 0.140 s | 0.35 / 1.21 s | 4.98 / 5.75 s |
| 24 (23) | | | 7.67 / 7.58 s |
| 32 (31) | 0.478 / 0.334 s | | 9.99 / 8.24 s |
| 48 (47) | 0.686 / 0.479 s | | 15.31 / 11.46 s |
| 108 | 1.250 / 0.990 s | 2.15 / 6.07 s | |
| 192 | 2.485 / 2.418 s | 2.44 / 9.17 s | |

A second thread speeds a single call up from 4 atoms on, but a whole relaxation only
from about 24 atoms; on a busy machine it makes every size 3-4x slower: hence step 5.
The load is sampled once, when the engine starts; a machine that becomes busy later
is not seen (``OREDOX_THREADS`` fixes the count whatever happens).

:func:`apply_engine_threads` sets PyTorch's count (when PyTorch is installed) and
logs the choice with its reason; the local runner
(:func:`~oredox.workflows.execution.run_flow`) calls it once per run with the size
of the largest cell in the flow, the cluster worker
(:func:`~oredox.workflows.cluster.run_worker`) once, without a size.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from oredox.errors import OredoxInputError
from oredox.extras import missing_modules

THREADS_ENV = "OREDOX_THREADS"
PROCESSES_ENV = "OREDOX_ENGINE_PROCESSES"
# below this many atoms, more than SMALL_CELL_THREADS threads were measured slower
SMALL_CELL_ATOMS = 24
SMALL_CELL_THREADS = 1
# seconds of CPU-use sampling when the machine's other load may limit the count
BUSY_SAMPLE_S = 0.2


@dataclass(frozen=True)
class ThreadChoice:
    """A thread count and the rule that decided it.

    Attributes
    ----------
    threads
        Threads for the in-process engine (at least 1).
    reason
        One line: which rule decided, with the values it read.
    """

    threads: int
    reason: str


def engine_threads(
    n_atoms: int | None = None,
    environ: Mapping[str, str] = os.environ,
    busy_elsewhere: float | None = None,
) -> ThreadChoice:
    """The thread count for an engine running in this process (module rule).

    Parameters
    ----------
    n_atoms
        Atoms of the largest cell the engine will compute; ``None``: unknown (no
        size cap).
    environ
        The environment to read (default: this process's).
    busy_elsewhere
        Cores other processes keep busy (:func:`busy_cores_elsewhere`); ``None``:
        not known (step 5 skipped). Ignored inside a SLURM job.

    Returns
    -------
    ThreadChoice
        The count and why.

    Raises
    ------
    OredoxInputError
        ``OREDOX_THREADS`` or ``OREDOX_ENGINE_PROCESSES`` is set but not a whole
        number above 0.
    """
    processes, processes_reason = engine_processes(environ)  # checked in any case
    if THREADS_ENV in environ:
        threads = positive_count(environ[THREADS_ENV], THREADS_ENV)
        return ThreadChoice(threads, f"{THREADS_ENV}={threads}, the user's choice")
    omp = _env_count(environ, "OMP_NUM_THREADS")
    if omp is not None:
        return ThreadChoice(omp, f"OMP_NUM_THREADS={omp}, the user's choice")
    cores, cores_reason = cores_given(environ)
    threads = max(1, cores // processes)
    reason = cores_reason + processes_reason
    small = n_atoms is not None and n_atoms < SMALL_CELL_ATOMS
    if small and threads > SMALL_CELL_THREADS:
        threads = SMALL_CELL_THREADS
        reason += (
            f"; at most {SMALL_CELL_THREADS} for a {n_atoms}-atom cell: below "
            f"{SMALL_CELL_ATOMS} atoms more threads were measured no faster"
        )
    if threads > 1 and busy_elsewhere is not None and not in_slurm_job(environ):
        free = max(1, round(cores - busy_elsewhere))
        if free < threads:
            threads = free
            reason += (
                f"; {threads} as other processes keep {busy_elsewhere:.1f} of the "
                f"{cores} core(s) busy"
            )
    return ThreadChoice(threads, reason)


def in_slurm_job(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the process runs inside a SLURM job (its cores are the job's own)."""
    return "SLURM_JOB_ID" in environ or "SLURM_CPUS_PER_TASK" in environ


def busy_cores_elsewhere(sample_s: float = BUSY_SAMPLE_S) -> float | None:
    """Cores kept busy by other processes, sampled over ``sample_s`` seconds.

    Reads the machine's CPU time from ``/proc/stat`` before and after sleeping (this
    process does nothing meanwhile, so the busy time is others'). ``None`` where
    ``/proc/stat`` cannot be read (not Linux).
    """

    def cpu_times() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:9]]
        idle = values[3] + values[4]  # idle and iowait
        return sum(values) - idle, sum(values)

    try:
        busy_start, total_start = cpu_times()
        time.sleep(sample_s)
        busy_end, total_end = cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    if total_end <= total_start:
        return None
    share = (busy_end - busy_start) / (total_end - total_start)
    return share * (os.cpu_count() or 1)


def cores_given(environ: Mapping[str, str] = os.environ) -> tuple[int, str]:
    """The cores this process was given, and where that number comes from."""
    affinity = _affinity_cores()
    slurm = _env_count(environ, "SLURM_CPUS_PER_TASK")
    if slurm is None:
        return affinity, f"{affinity} core(s) in this process's CPU affinity"
    if slurm > affinity:
        return affinity, (
            f"SLURM_CPUS_PER_TASK={slurm}, but this process is bound to {affinity} "
            "core(s)"
        )
    return slurm, f"SLURM_CPUS_PER_TASK={slurm}"


def engine_processes(environ: Mapping[str, str] = os.environ) -> tuple[int, str]:
    """The engine processes sharing this process's cores, and why (``""``: one)."""
    if PROCESSES_ENV in environ:
        processes = positive_count(environ[PROCESSES_ENV], PROCESSES_ENV)
        return processes, f" shared by {PROCESSES_ENV}={processes} processes"
    per_node = _env_count(environ, "SLURM_NTASKS_PER_NODE")
    if per_node is not None and per_node > 1 and "SLURM_CPUS_PER_TASK" not in environ:
        return per_node, f" shared by SLURM_NTASKS_PER_NODE={per_node} tasks"
    return 1, ""


def positive_count(value: str | int, name: str) -> int:
    """``value`` as a whole number above 0; else an error naming ``name``."""
    try:
        count = int(str(value).strip())
    except ValueError:
        count = 0
    if count < 1:
        raise OredoxInputError(
            f"{name} must be a whole number of threads above 0, got {str(value)!r}"
        )
    return count


def apply_engine_threads(n_atoms: int | None = None) -> ThreadChoice:
    """Choose the count (:func:`engine_threads`) and give it to PyTorch; log it.

    When the rule leaves more than one thread outside a SLURM job, the machine's
    load is sampled first (step 5 of the module rule, :data:`BUSY_SAMPLE_S`
    seconds). PyTorch is imported only where it is installed (the ``chgnet`` extra);
    without it nothing is set.
    """
    choice = engine_threads(n_atoms)
    if choice.threads > 1 and not in_slurm_job() and _rule_decides():
        choice = engine_threads(n_atoms, busy_elsewhere=busy_cores_elsewhere())
    logger = logging.getLogger(__name__)
    if missing_modules("chgnet", ("torch",)):
        logger.info("threads: %d (%s); PyTorch is not installed", *_parts(choice))
        return choice
    import torch

    torch.set_num_threads(choice.threads)
    logger.info("PyTorch threads: %d (%s)", *_parts(choice))
    return choice


def largest_cell_atoms(flow) -> int | None:
    """The most atoms of any structure given to a job of ``flow`` (nested flows too).

    ``None`` where no job is given a structure (its input is another job's output).
    """
    from pymatgen.core import Structure

    def sizes(value, depth: int = 0):
        if isinstance(value, Structure):
            yield len(value)
        elif depth < 4 and isinstance(value, list | tuple):
            for item in value:
                yield from sizes(item, depth + 1)
        elif depth < 4 and isinstance(value, dict):
            for item in value.values():
                yield from sizes(item, depth + 1)

    found = []
    pending = [flow]
    while pending:
        item = pending.pop()
        if hasattr(item, "function_args"):  # a job
            found += sizes([item.function_args, item.function_kwargs])
        else:  # a flow
            pending += list(item.jobs)
    return max(found, default=None)


def _rule_decides(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether no user setting (OREDOX_THREADS, OMP_NUM_THREADS) fixes the count."""
    return THREADS_ENV not in environ and _env_count(environ, "OMP_NUM_THREADS") is None


def _parts(choice: ThreadChoice) -> tuple[int, str]:
    return choice.threads, choice.reason


def _affinity_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


def _env_count(environ: Mapping[str, str], name: str) -> int | None:
    """``environ[name]`` as a whole number above 0; unset or anything else: None."""
    try:
        value = int(environ.get(name, "").strip())
    except ValueError:
        return None
    return value if value > 0 else None
