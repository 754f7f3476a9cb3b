"""Running a flow on this machine, with a progress bar, a log file and a journal.

Jobs run one after another in their own folders under the run directory, as with
jobflow's ``run_locally``, but every step is journaled (``state.jsonl``) so that a
run killed at any point resumes where it stopped (``resume=True``). Progress is read
from jobflow's own "Finished job" log records, so nothing in the flow knows it is
being watched; a job that replaces itself with new jobs logs "fan-out: N new jobs"
and the bar's total grows by N. What the engines print (CHGNet announces itself on
every load) goes to ``run.log`` in the run folder instead of the terminal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import traceback
import warnings
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jobflow import Flow, Response
from monty.json import MontyDecoder
from tqdm.auto import tqdm

from oredox.errors import OredoxInputError, OredoxRunError

if TYPE_CHECKING:
    from jobflow import JobStore


class _ProgressHandler(logging.Handler):
    """Advance a progress bar on each job that jobflow reports as started/finished."""

    def __init__(self, bar: tqdm, log_file):
        super().__init__(level=logging.INFO)
        self.bar = bar
        self.log_file = log_file

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.log_file.write(f"{datetime.now(UTC).isoformat()} {message}\n")
        self.log_file.flush()
        if message.startswith("fan-out: "):  # a job replaced itself by new jobs
            self.bar.total += int(message.split()[1])
            self.bar.refresh()
        elif message.startswith("Starting job - "):
            job_name = message.removeprefix("Starting job - ").rsplit(" (", 1)[0]
            self.bar.set_postfix_str(job_name)
        elif message.startswith("Finished job - "):
            self.bar.update(1)


def run_flow(
    flow: Flow,
    store: JobStore,
    run_dir: Path,
    progress: bool = True,
    description: str = "jobs",
    resume: bool = False,
) -> dict:
    """Run ``flow`` locally into ``store``; resumable after any interruption.

    Job folders, ``run.log`` and ``state.jsonl`` go to ``run_dir``. The state file
    records the flow, every flow a job added (dynamic fan-out) and every finished job,
    each line written and flushed before the next step, so that a run killed at any
    point (SIGKILL included) continues with ``resume=True`` on the same folder: the
    finished jobs are skipped, the rest run. A job cut off mid-way runs again and
    overwrites its own output (jobflow keys outputs by uuid and index), so no
    document is stored twice.

    Returns
    -------
    dict
        ``{job uuid: {index: Response}}`` of the jobs run in this call, plus the
        outputs of the skipped jobs, read back from the store, as Responses.

    Raises
    ------
    OredoxRunError
        If any job failed; the message points to the log.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "run.log"
    state = _RunState(run_dir / STATE_FILE)
    if resume:
        flow = state.load()
        description = f"{description} (resumed)"
    else:
        state.start(flow)
    loggers = [
        logging.getLogger(name)
        for name in ("jobflow.core.job", "jobflow.managers.local", "oredox")
    ]
    with (
        open(log_path, "a") as log_file,
        tqdm(
            total=len(flow) + state.n_added(),
            desc=description,
            unit="job",
            disable=not progress,
        ) as bar,
    ):
        handler = _ProgressHandler(bar, log_file)
        saved = [(lg, lg.level, lg.propagate) for lg in loggers]
        for lg in loggers:
            lg.addHandler(handler)
            lg.setLevel(logging.INFO)
            lg.propagate = False
        try:
            with contextlib.redirect_stdout(log_file), warnings.catch_warnings():
                warnings.showwarning = _to_log(log_file)
                responses, errored = _run_resumable(flow, store, run_dir, state, bar)
        finally:
            for lg, level, propagate in saved:
                lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate
    if errored:
        logging.getLogger(__name__).warning("%d job(s) failed", len(errored))
    missing = [j.name for j in flow.jobs if j.uuid not in responses]
    if missing:
        raise OredoxRunError(
            f"{len(missing)} of {len(flow)} jobs did not finish "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); "
            f"see {log_path}"
        )
    state.finish()
    return responses


STATE_FILE = "state.jsonl"


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
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"flow": flow.as_dict()}, default=_json_default))
        with open(partial, "a") as handle:
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)

    def load(self) -> Flow:
        if not self.path.exists():
            raise OredoxInputError(f"no run to resume in {self.path.parent}")
        flow = None
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break  # a line cut off by the kill: everything before it holds
            if "flow" in record and "parent" not in record:
                flow = Flow.from_dict(record["flow"])
            elif "parent" in record:
                key = (record["parent"], record["index"])
                self.added[key] = Flow.from_dict(record["flow"])
            elif record.get("done") is not None:
                self.done.add((record["done"], record["index"]))
        if flow is None:
            raise OredoxInputError(f"{self.path} holds no flow")
        self._write({"resumed": datetime.now(UTC).isoformat(), "done": None})
        return flow

    def n_added(self) -> int:
        return sum(len(f) for f in self.added.values())

    def add(self, parent: str, index: int, flow: Flow) -> None:
        self.added[(parent, index)] = flow
        self._write({"parent": parent, "index": index, "flow": flow.as_dict()})

    def mark_done(self, uuid: str, index: int) -> None:
        self.done.add((uuid, index))
        self._write({"done": uuid, "index": index})

    def finish(self) -> None:
        self._write({"finished": datetime.now(UTC).isoformat()})

    def _write(self, record: dict) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record, default=_json_default) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _json_default(value):
    from monty.json import jsanitize

    return jsanitize(value, strict=True, allow_bson=False, enum_values=True)


def _run_resumable(flow, store, run_dir: Path, state: _RunState, bar):
    """The local loop of jobflow with a journal: skip finished jobs, record the rest."""
    from jobflow.core.reference import OnMissing

    store.connect()
    responses: dict = defaultdict(dict)
    errored: set[str] = set()
    logger = logging.getLogger("jobflow.managers.local")

    def run_job(job, parents) -> bool:
        if (job.uuid, job.index) in state.done:
            output = store.get_output(job.uuid, which=job.index, load=False)
            output = MontyDecoder().process_decoded(output)
            responses[job.uuid][job.index] = Response(output=output)
            bar.update(1)
            if (job.uuid, job.index) in state.added:
                return run_flow_jobs(state.added[(job.uuid, job.index)])
            return True
        if parents & errored and job.config.on_missing_references == OnMissing.ERROR:
            errored.add(job.uuid)
            return False
        job_dir = run_dir / f"job_{datetime.now(UTC):%Y-%m-%d-%H-%M-%S-%f}"
        job_dir.mkdir()
        try:
            with contextlib.chdir(job_dir):
                response = job.run(store=store)
        except Exception:
            logger.info(f"{job.name} failed with exception:\n{traceback.format_exc()}")
            errored.add(job.uuid)
            return False
        responses[job.uuid][job.index] = response
        if response.replace is not None:
            state.add(job.uuid, job.index, response.replace)
        state.mark_done(job.uuid, job.index)
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


def _to_log(log_file):
    """A ``warnings.showwarning`` that writes to the run log, not the terminal."""

    def show(message, category, filename, lineno, file=None, line=None):
        log_file.write(f"{category.__name__}: {message} ({filename}:{lineno})\n")

    return show


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
