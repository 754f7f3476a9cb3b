"""Running a flow on this machine, with progress, a log file and a journal.

Jobs run one after another in their own folders under the run directory, as with
jobflow's ``run_locally``, but every step is journaled (``state.jsonl``) so that a
run killed at any point resumes where it stopped (``resume=True``). The loop tells
the progress display (:class:`~oredox.workflows.progress.StudyProgress`) of each
job's start and end and of the jobs a fan-out adds (a job that replaces itself
with new jobs), so nothing in the flow knows it is being watched; the display
reads the running job's folder for its ionic steps and SCF iterations. What the
engines print (CHGNet announces itself on every load, torch warns, GPAW writes)
goes to ``run.log`` in the run folder, file descriptors 1 and 2 included, instead
of the terminal. Beside the journal: ``run.json`` (the run's id and identity) and
``run.lock`` (``flock``). Before the first job, PyTorch's thread count is set by
the rule of :mod:`oredox.workflows.threads` for the flow's largest cell, and the
choice written to ``run.log``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import traceback
import warnings
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

from jobflow import Flow, Response
from monty.json import MontyDecoder

from oredox.errors import OredoxInputError, OredoxRunError
from oredox.store import STUDY_JOB_NAME, remove_other_study_documents
from oredox.workflows.progress import StudyProgress, terminal_to_log
from oredox.workflows.threads import (
    apply_engine_threads,
    engine_threads,
    largest_cell_atoms,
)

if TYPE_CHECKING:
    from jobflow import JobStore


class _LogHandler(logging.Handler):
    """Write jobflow's and oredox's log records to the run's log, time-stamped."""

    def __init__(self, log_file):
        super().__init__(level=logging.INFO)
        self.log_file = log_file

    def emit(self, record: logging.LogRecord) -> None:
        self.log_file.write(f"{datetime.now(UTC).isoformat()} {record.getMessage()}\n")
        self.log_file.flush()


def run_flow(
    flow: Flow,
    store: JobStore,
    run_dir: Path,
    progress: bool = True,
    description: str = "jobs",
    resume: bool = False,
    identity: dict | None = None,
) -> dict:
    """Run ``flow`` locally into ``store``; resumable after any interruption.

    Job folders, ``run.log``, ``run.json`` and ``state.jsonl`` go to ``run_dir``. The
    state file records the flow, every flow a job added (dynamic fan-out) and every
    finished job, each line written and flushed before the next step, so that a run
    killed at any point (SIGKILL included) continues with ``resume=True`` on the same
    folder: the finished jobs are skipped, the rest run. A job cut off mid-way runs
    again and overwrites its own output (jobflow keys outputs by uuid and index); a
    flow built with the run's id (``identity["run_id"]``, the study document's
    ``study_id``) stores one study: a document job run again replaces any earlier
    copy. ``identity`` (:func:`run_identity`) is recorded in
    ``run.json`` when the run starts, and checked when it resumes. The folder is
    locked while the run lasts.

    Returns
    -------
    dict
        ``{job uuid: {index: Response}}`` of the jobs run in this call, plus the
        outputs of the skipped jobs, read back from the store, as Responses.

    Raises
    ------
    OredoxInputError
        If another process is running this folder, or ``resume`` finds no run of this
        ``identity`` there (or a journal damaged before its last line), or the
        thread settings (``OREDOX_THREADS``, ``OREDOX_ENGINE_PROCESSES``) are bad.
    OredoxRunError
        If any job failed; the message points to the log.
    """
    engine_threads()  # bad thread settings: refused before anything is touched
    if resume:  # run.json never changes: checked before anything is touched
        record = read_run_record(run_dir)
        problem = identity_mismatch(record, identity or {}, run_dir)
        if problem:
            raise OredoxInputError(problem)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _run_lock(run_dir):
        state = _RunState(run_dir / STATE_FILE)
        if resume:
            flow = state.load()
            description = f"{description} (resumed)"
        else:
            if (run_dir / RUN_FILE).exists() or state.path.exists():
                raise OredoxInputError(f"{run_dir} already holds a run")
            record = {"run_id": new_run_id(), "started": _now(), **(identity or {})}
            _write_atomically(run_dir / RUN_FILE, json.dumps(record, indent=1) + "\n")
            state.start(flow)
        return _run_logged(
            flow, store, run_dir, state, record["run_id"], progress, description
        )


def _run_logged(flow, store, run_dir, state, run_id, progress, description) -> dict:
    """Run with the progress display and ``run.log``; raise if jobs did not finish."""
    log_path = run_dir / "run.log"
    loggers = [
        logging.getLogger(name)
        for name in ("jobflow.core.job", "jobflow.managers.local", "oredox")
    ]
    with open(log_path, "a") as log_file:
        handler = _LogHandler(log_file)
        saved = [(lg, lg.level, lg.propagate) for lg in loggers]
        for lg in loggers:
            lg.addHandler(handler)
            lg.setLevel(logging.INFO)
            lg.propagate = False
        try:
            with (
                terminal_to_log(log_file) as terminal,
                StudyProgress(description, terminal if progress else None) as shown,
            ):
                apply_engine_threads(largest_cell_atoms(flow))  # logged to run.log
                shown.add(_keyed(flow))
                for added in state.added.values():
                    shown.add(_keyed(added))
                responses, errored = _run_resumable(
                    flow, store, run_dir, state, shown, run_id
                )
        finally:
            for lg, level, propagate in saved:
                lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate
    if errored:
        logging.getLogger(__name__).warning("%d job(s) failed", len(errored))
    # every job of the flow, inside nested flows too (an engine pair's relaxation)
    missing = [name for (uuid, _), name in _keyed(flow) if uuid not in responses]
    if missing:
        raise OredoxRunError(
            f"{len(missing)} of {len(flow.job_uuids)} jobs did not finish "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); "
            f"see {log_path}"
        )
    state.finish()
    return responses


STATE_FILE = "state.jsonl"
RUN_FILE = "run.json"
LOCK_FILE = "run.lock"


def new_run_id() -> str:
    """A fresh run id (32 hex digits); a local run's study document carries it."""
    return uuid4().hex


def run_identity(name: str, template: dict, engine: str) -> dict:
    """What makes two runs the same study: name, template content hash, engine.

    ``template`` is the template as JSON data (``model_dump(mode="json")``); its hash
    is the sha256 of its canonical JSON (sorted keys, no spaces).
    """
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return {"name": name, "template_sha256": digest, "engine": engine}


def identity_mismatch(record: dict, identity: dict, folder: Path) -> str | None:
    """Why the run recorded in ``record`` (``run.json``) is not of ``identity``."""
    name = identity.get("name")
    if name is not None and record.get("name") != name:
        return f"the run in {folder} is of {record.get('name')!r}, not of {name!r}"
    sha = identity.get("template_sha256")
    if sha is not None and record.get("template_sha256") != sha:
        return (
            f"the template {name!r} changed since the run in {folder} started "
            f"(content hash {str(record.get('template_sha256'))[:12]} then, "
            f"{sha[:12]} now); run it anew without --resume, or restore the template"
        )
    engine = identity.get("engine")
    if engine is not None and record.get("engine") != engine:
        return (
            f"the run in {folder} used the engine {record.get('engine')}, not "
            f"{engine}; resume it with --engine {record.get('engine')}"
        )
    return None


def read_run_record(run_dir: Path, missing_ok: bool = False) -> dict | None:
    """The run's ``run.json`` (``None`` where absent and ``missing_ok``)."""
    path = run_dir / RUN_FILE
    if missing_ok and not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OredoxInputError(
            f"no run record {path} ({type(exc).__name__}; no run, or one started by "
            f"an older oredox): it cannot resume; start a new run"
        ) from None
    if not isinstance(record, dict) or "run_id" not in record:
        raise OredoxInputError(f"{path} holds no run_id")
    return record


def journal_finished(path: Path) -> bool:
    """Whether the journal at ``path`` ends with its ``finished`` record."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        tail = handle.read()
    lines = tail[: tail.rfind(b"\n") + 1].splitlines()  # complete lines only
    with contextlib.suppress(ValueError, IndexError, TypeError):
        return "finished" in dict(json.loads(lines[-1]))
    return False


@contextlib.contextmanager
def _run_lock(run_dir: Path):
    """An exclusive ``flock`` on ``run.lock`` (our pid in it), never waited for."""
    with open(run_dir / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            raise OredoxInputError(
                f"run {run_dir} is already running (pid {pid})"
            ) from None
        try:
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _RunState:
    """The append-only journal of a local run (one JSON object per line)."""

    def __init__(self, path: Path):
        self.path = path
        self.done: set[tuple[str, int]] = set()
        # keyed by the (uuid, index) of the job that added them: the flow jobflow
        # adds reuses that uuid with the next index for its output job
        self.added: dict[tuple[str, int], Flow] = {}

    def start(self, flow: Flow) -> None:
        if self.path.exists():
            raise OredoxInputError(f"{self.path.parent} already holds a run")
        # the first line appears whole or not at all (a kill cannot cut it)
        line = json.dumps({"flow": flow.as_dict()}, default=_json_default) + "\n"
        _write_atomically(self.path, line)

    def load(self) -> Flow:
        """The flow; ``done``, ``added``; a torn last line cut off the file first."""
        if not self.path.exists():
            raise OredoxInputError(f"no run to resume in {self.path.parent}")
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())
        flow = None
        for number, line in enumerate(data[:end].split(b"\n")[:-1], start=1):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise OredoxInputError(
                    f"{self.path}, line {number}: not a JSON record; the journal is "
                    f"damaged before its last line and the run cannot resume safely"
                )
            if "flow" in record and "parent" not in record:
                flow = Flow.from_dict(record["flow"])
            elif "parent" in record:
                key = (record["parent"], record["index"])
                self.added[key] = Flow.from_dict(record["flow"])
            elif record.get("done") is not None:
                self.done.add((record["done"], record["index"]))
        if flow is None:
            raise OredoxInputError(f"{self.path} holds no flow")
        resumed = {"resumed": _now(), "done": None}
        if end < len(data):
            resumed["dropped_torn_bytes"] = len(data) - end
        self._write(resumed)
        return flow

    def n_added(self) -> int:
        return sum(len(f.job_uuids) for f in self.added.values())

    def add(self, parent: str, index: int, flow: Flow) -> None:
        self.added[(parent, index)] = flow
        self._write({"parent": parent, "index": index, "flow": flow.as_dict()})

    def mark_done(self, uuid: str, index: int) -> None:
        self.done.add((uuid, index))
        self._write({"done": uuid, "index": index})

    def finish(self) -> None:
        self._write({"finished": _now()})

    def _write(self, record: dict) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record, default=_json_default) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _write_atomically(path: Path, text: str) -> None:
    """``path`` appears with ``text`` whole, or not at all (write, fsync, rename)."""
    partial = path.with_name(f"{path.name}.partial")
    with open(partial, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _json_default(value):
    from monty.json import jsanitize

    return jsanitize(value, strict=True, allow_bson=False, enum_values=True)


def _keyed(flow: Flow) -> list[tuple[tuple[str, int], str]]:
    """``((uuid, index), name)`` of every job of ``flow``, nested flows included.

    jobflow warns that jobs without links between them come in no fixed order;
    the order does not matter here, and the warning would reach the terminal.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Some jobs are not connected")
        return [((job.uuid, job.index), job.name) for job, _ in flow.iterflow()]


def _run_resumable(flow, store, run_dir: Path, state: _RunState, shown, run_id: str):
    """The local loop of jobflow with a journal: skip finished jobs, record the rest.

    ``shown`` (:class:`~oredox.workflows.progress.StudyProgress`) hears of every
    job's start and end and of the jobs each fan-out adds.
    """
    from jobflow.core.reference import OnMissing

    store.connect()
    responses: dict = defaultdict(dict)
    errored: set[str] = set()
    logger = logging.getLogger("jobflow.managers.local")

    def run_job(job, parents) -> bool:
        key = (job.uuid, job.index)
        if key in state.done:
            output = store.get_output(job.uuid, which=job.index, load=False)
            output = MontyDecoder().process_decoded(output)
            responses[job.uuid][job.index] = Response(output=output)
            if key in state.added:
                shown.add(_keyed(state.added[key]))
            shown.finish(key)
            if key in state.added:
                return run_flow_jobs(state.added[key])
            return True
        if parents & errored and job.config.on_missing_references == OnMissing.ERROR:
            errored.add(job.uuid)
            shown.finish(key, ok=False)
            return False
        job_dir = run_dir / f"job_{datetime.now(UTC):%Y-%m-%d-%H-%M-%S-%f}"
        job_dir.mkdir()
        shown.start(key, job.name, job_dir)
        try:
            with contextlib.chdir(job_dir):
                response = job.run(store=store)
        except Exception:
            logger.info(f"{job.name} failed with exception:\n{traceback.format_exc()}")
            errored.add(job.uuid)
            shown.finish(key, ok=False)
            return False
        if job.name == STUDY_JOB_NAME:  # one study per run: drop earlier copies
            remove_other_study_documents(store, run_id, job.uuid, job.index)
        responses[job.uuid][job.index] = response
        if response.replace is not None:
            state.add(job.uuid, job.index, response.replace)
            shown.add(_keyed(response.replace))
        state.mark_done(job.uuid, job.index)
        shown.finish(key)
        if response.replace is not None:
            return run_flow_jobs(response.replace)
        return True

    def run_flow_jobs(sub_flow) -> bool:
        ok = True
        for job, parents in sub_flow.iterflow():
            ok = run_job(job, set(parents)) and ok
        return ok

    run_flow_jobs(flow)
    return responses, errored


def new_run_dir(work_dir: Path, label: str) -> Path:
    """A fresh folder ``work_dir/runs/<UTC time>-<label>`` for one run."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    safe = safe_label(label)
    if not safe.strip("_"):
        raise OredoxInputError("run label must contain letters or digits")
    return work_dir / "runs" / f"{stamp}-{safe}"


def safe_label(label: str) -> str:
    """``label`` with every character but letters, digits, - and _ as _."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)
