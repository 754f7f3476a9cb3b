"""How many threads the engines that run inside oredox's process use, and why.

CHGNet's PyTorch starts as many threads as the machine has cores, whether the
process was given them or not; on a busy machine its threads wait for each other
and a relaxation runs many times slower than on one thread. The count is therefore
chosen, by this rule, in this order:

1. ``OREDOX_THREADS`` (``oredox demo --threads N``, ``oredox run --threads N``),
   a whole number above 0, when set: the user's choice, used as given.
   Else ``OMP_NUM_THREADS``, when it holds a whole number above 0.
2. The cores this process was given. Inside a SLURM job: ``SLURM_CPUS_ON_NODE``
   (the CPUs the job holds on this node; oredox's batch step, where the cluster
   worker runs, may use them all), else ``SLURM_CPUS_PER_TASK``. Outside SLURM, or
   with neither set: the cores of the process's CPU affinity
   (``os.sched_getaffinity``; ``os.cpu_count()`` where there is none). Whatever
   the source, at most the cores of the affinity, and at most the CPU quota of the
   process's control group rounded up (:func:`cgroup_cpu_quota`: ``docker --cpus``
   and Kubernetes CPU limits set a quota, not the affinity).
3. Divided by the engine processes that share those cores:
   ``OREDOX_ENGINE_PROCESSES`` when set (whatever the source of step 2); else
   ``SLURM_NTASKS_PER_NODE`` when it is above 1 and neither ``SLURM_CPUS_ON_NODE``
   nor ``SLURM_CPUS_PER_TASK`` holds a count (the cores are then the affinity's, for
   all the node's tasks). With ``SLURM_CPUS_ON_NODE`` as the source nothing is
   divided by ``SLURM_NTASKS_PER_NODE``: the tasks of the job are VASP's MPI ranks,
   started later by ``srun``, and the worker is the batch step's one engine
   process. Never below 1.
4. At most :data:`SMALL_CELL_THREADS` for a cell of fewer than
   :data:`SMALL_CELL_ATOMS` atoms, where more threads were measured no faster.
5. Outside a SLURM job, at most the cores other processes leave free: when more than
   one thread is still on the table, :func:`busy_cores_elsewhere` samples the CPU
   use of the CPUs in this process's affinity for :data:`BUSY_SAMPLE_S` seconds
   while this process sleeps, and the count drops to those CPUs minus the busy
   ones, rounded half up, at least 1. Inside a SLURM job the cores are the job's own
   and the node's load belongs to other jobs, so nothing is sampled.

Where PyTorch is installed (the ``chgnet`` extra, which brings threadpoolctl), the
count goes to PyTorch and to numpy's BLAS: beside two busy processes on a 2-core
machine the demo took 156 / 164 s (min / median of 3) with PyTorch on one thread and
BLAS on its default two, 35.0 / 39.3 s with BLAS on one thread too.

The size cap and step 5 come from measurements on a 2-core machine (2026-12-02,
CHGNet 0.4.2, PyTorch 2.13 CPU, LiCoO2 cells; the full table is in the user guide,
"Threads"). On a quiet machine a second thread speeds a single
``predict_structure`` call up from 4 atoms on (16 atoms: 0.198 s / 0.140 s on 1 / 2
threads), a whole relaxation only from about 24 atoms (15 atoms: 4.98 / 5.75 s;
47 atoms: 15.31 / 11.46 s). While another process used 1.0-1.5 cores, a second
thread made every size 3-4x slower (108 atoms: 2.15 / 6.07 s): hence step 5. The
load is sampled each time the rule is applied; ``OREDOX_THREADS`` fixes the count
whatever happens later.

:func:`apply_engine_threads` sets PyTorch's count (when PyTorch is installed) and
logs the choice with its reason; the local runner
(:func:`~oredox.workflows.execution.run_flow`) calls it once per run with the size
of the largest cell in the flow, the cluster worker
(:func:`~oredox.workflows.cluster.run_worker`) once, without a size.
:func:`engine_threads_applied` applies it for a block of engine calls (CHGNet
screening) and gives PyTorch its previous count back after.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from oredox.errors import OredoxInputError
from oredox.extras import missing_modules
from oredox.workflows.cpu_probe import busy_cores, quota_cores

THREADS_ENV = "OREDOX_THREADS"
PROCESSES_ENV = "OREDOX_ENGINE_PROCESSES"
# below this many atoms, more than SMALL_CELL_THREADS threads were measured slower
SMALL_CELL_ATOMS = 24
SMALL_CELL_THREADS = 1
# seconds of CPU-use sampling when the machine's other load may limit the count
BUSY_SAMPLE_S = 0.2
# where the control groups are mounted (a container sees its own cgroup there)
CGROUP_ROOT = Path("/sys/fs/cgroup")
# the SLURM variables that give the cores, first found wins (module rule, step 2)
SLURM_CORES_ENV = ("SLURM_CPUS_ON_NODE", "SLURM_CPUS_PER_TASK")


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
        Cores of this process's CPU affinity that other processes keep busy
        (:func:`busy_cores_elsewhere`); ``None``: not known (step 5 skipped).
        Ignored inside a SLURM job.

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
        cpus = _affinity_cores()  # the CPUs the load was sampled on
        free = max(1, math.floor(cpus - busy_elsewhere + 0.5))
        if free < threads:
            threads = free
            reason += (
                f"; {threads} as other processes keep {busy_elsewhere:.1f} of the "
                f"{cpus} CPU(s) of its affinity busy"
            )
    return ThreadChoice(threads, reason)


def in_slurm_job(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the process runs inside a SLURM job (its cores are the job's own)."""
    return any(name in environ for name in ("SLURM_JOB_ID", *SLURM_CORES_ENV))


def busy_cores_elsewhere(sample_s: float | None = None) -> float | None:
    """Cores of this process's CPU affinity kept busy by other processes.

    Reads ``/proc/stat`` before and after sleeping ``sample_s`` seconds (``None``:
    :data:`BUSY_SAMPLE_S`); this process does nothing meanwhile, so the busy time is
    others' (:func:`busy_cores`). ``None`` where ``/proc/stat`` cannot be read (not
    Linux) or tells nothing.
    """
    if sample_s is None:
        sample_s = BUSY_SAMPLE_S
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):  # no affinity on this platform
        cpus = set()
    try:
        before = Path("/proc/stat").read_text()
        time.sleep(sample_s)
        after = Path("/proc/stat").read_text()
    except OSError:
        return None
    return busy_cores(before, after, cpus)


def cores_given(environ: Mapping[str, str] = os.environ) -> tuple[int, str]:
    """The cores this process was given, and where that number comes from.

    Step 2 of the module rule: a SLURM variable (:data:`SLURM_CORES_ENV`, the first
    that holds a count), else the CPU affinity; at most the affinity and the CPU
    quota (:func:`cgroup_cpu_quota`).
    """
    affinity = _affinity_cores()
    cores, reason = affinity, f"{affinity} core(s) in this process's CPU affinity"
    slurm = _slurm_cores(environ)
    if slurm is not None:
        name, count = slurm
        if count <= affinity:
            cores, reason = count, f"{name}={count}"
        else:
            reason = f"{name}={count}, but this process is bound to {affinity} core(s)"
    quota = cgroup_cpu_quota()
    if quota is not None and quota[0] < cores:
        cores = quota[0]
        reason += f", but {quota[1]} allows {cores}"
    return cores, reason


def cgroup_cpu_quota(root: Path | None = None) -> tuple[int, str] | None:
    """The CPU quota of this process's control group, in whole cores, and its file.

    Reads cgroup v2's ``cpu.max`` under ``root`` (``None``: :data:`CGROUP_ROOT`),
    else cgroup v1's ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (in ``cpu/`` or
    ``cpu,cpuacct/``). That is the quota of the cgroup mounted there, which is a
    container's own (``docker --cpus``, Kubernetes limits); a quota set on a
    deeper cgroup of the host is not read. ``None``: no quota, or none readable.
    """
    root = CGROUP_ROOT if root is None else root
    v2 = _read_or_none(root / "cpu.max")
    if v2 is not None:
        cores = quota_cores(cpu_max=v2)
        return None if cores is None else (cores, f"the CPU quota in {root}/cpu.max")
    for folder in (root / "cpu", root / "cpu,cpuacct"):
        quota = _read_or_none(folder / "cpu.cfs_quota_us")
        period = _read_or_none(folder / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            cores = quota_cores(cfs_quota_us=quota, cfs_period_us=period)
            where = f"the CPU quota in {folder}/cpu.cfs_quota_us"
            return None if cores is None else (cores, where)
    return None


def engine_processes(environ: Mapping[str, str] = os.environ) -> tuple[int, str]:
    """The engine processes sharing this process's cores, and why (``""``: one)."""
    if PROCESSES_ENV in environ:
        processes = positive_count(environ[PROCESSES_ENV], PROCESSES_ENV, "processes")
        return processes, f" shared by {PROCESSES_ENV}={processes} processes"
    per_node = _env_count(environ, "SLURM_NTASKS_PER_NODE")
    if per_node is not None and per_node > 1 and _slurm_cores(environ) is None:
        return per_node, f" shared by SLURM_NTASKS_PER_NODE={per_node} tasks"
    return 1, ""


def positive_count(value: str | int, name: str, unit: str = "threads") -> int:
    """``value`` as a whole number above 0; else an error naming ``name``, ``unit``."""
    try:
        count = int(str(value).strip())
    except ValueError:
        count = 0
    if count < 1:
        raise OredoxInputError(
            f"{name} must be a whole number of {unit} above 0, got {str(value)!r}"
        )
    return count


def apply_engine_threads(n_atoms: int | None = None) -> ThreadChoice:
    """Choose the count (:func:`engine_threads`), give it to PyTorch and BLAS; log it.

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
    _set_blas_threads(choice.threads)
    logger.info("PyTorch and BLAS threads: %d (%s)", *_parts(choice))
    return choice


def _set_blas_threads(threads: int | None):
    """Limit numpy's BLAS libraries to ``threads`` (None: leave them); a limiter.

    ``None`` where threadpoolctl is missing. The returned limiter's
    ``restore_original_limits()`` gives each library back its own count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # nothing to limit with
        return None
    return threadpool_limits(limits=threads, user_api="blas")


@contextmanager
def engine_threads_applied(n_atoms: int | None = None) -> Iterator[ThreadChoice]:
    """The rule applied for a block (:func:`apply_engine_threads`), then undone.

    Inside the ``with`` block PyTorch and BLAS have the count of the rule for
    ``n_atoms`` atoms (``None``: no size cap); after it, also after an error, the
    counts they had before. Without PyTorch nothing is set nor restored. Each entry
    may sample the load (:data:`BUSY_SAMPLE_S` seconds): wrap a batch of engine
    calls, not each.

    Yields
    ------
    ThreadChoice
        The count used inside the block, and why.
    """
    before = blas = None
    if not missing_modules("chgnet", ("torch",)):
        import torch

        before = torch.get_num_threads()
        blas = _set_blas_threads(None)  # records each library's count, sets nothing
    choice = apply_engine_threads(n_atoms)
    try:
        yield choice
    finally:
        if before is not None:
            torch.set_num_threads(before)
        if blas is not None:
            blas.restore_original_limits()


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


def _slurm_cores(environ: Mapping[str, str]) -> tuple[str, int] | None:
    """The first of :data:`SLURM_CORES_ENV` that holds a count, and the count."""
    for name in SLURM_CORES_ENV:
        count = _env_count(environ, name)
        if count is not None:
            return name, count
    return None


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
