"""Running a flow on this machine, with a progress bar and a log file.

Jobs run with jobflow's ``run_locally`` in their own folders under the work directory.
Progress is read from jobflow's own "Finished job" log records, so nothing in the flow
knows it is being watched; a job that replaces itself with new jobs logs "fan-out: N
new jobs" and the bar's total grows by N. What the engines print (CHGNet announces
itself on every load) goes to ``run.log`` in the run folder instead of the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from oredox.errors import OredoxInputError, OredoxRunError

if TYPE_CHECKING:
    from jobflow import Flow, JobStore


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
) -> dict:
    """Run ``flow`` locally into ``store``; job folders and ``run.log`` in ``run_dir``.

    Returns
    -------
    dict
        jobflow's responses, ``{job uuid: {index: Response}}``.

    Raises
    ------
    OredoxRunError
        If any job failed; the message points to the log.
    """
    from jobflow import run_locally

    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "run.log"
    loggers = [
        logging.getLogger(name)
        for name in ("jobflow.core.job", "jobflow.managers.local", "oredox")
    ]
    with (
        open(log_path, "a") as log_file,
        tqdm(
            total=len(flow), desc=description, unit="job", disable=not progress
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
                responses = run_locally(
                    flow,
                    log=False,
                    store=store,
                    create_folders=True,
                    root_dir=run_dir,
                    ensure_success=False,
                )
        finally:
            for lg, level, propagate in saved:
                lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate
    missing = [j.name for j in flow.jobs if j.uuid not in responses]
    if missing:
        raise OredoxRunError(
            f"{len(missing)} of {len(flow)} jobs did not finish "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); "
            f"see {log_path}"
        )
    return responses


def _to_log(log_file):
    """A ``warnings.showwarning`` that writes to the run log, not the terminal."""

    def show(message, category, filename, lineno, file=None, line=None):
        log_file.write(f"{category.__name__}: {message} ({filename}:{lineno})\n")

    return show


def new_run_dir(work_dir: Path, label: str) -> Path:
    """A fresh folder ``work_dir/runs/<UTC time>-<label>`` for one run."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)
    if not safe:
        raise OredoxInputError("run label must contain letters or digits")
    return work_dir / "runs" / f"{stamp}-{safe}"
