"""The progress of a local run, told as it is: jobs, an honest ETA, the running job.

:class:`StudyProgress` shows

- the jobs done out of those known so far: a flow that fans out (the screening
  replaces itself with one relaxation per selected configuration, the statics job
  with the statics the relaxed energies call for) adds its new jobs when they
  exist, and the total grows then;
- an ETA that is the sum, over the known jobs not done, of the mean duration of the
  finished jobs of the same kind (the first word of the job's name: ``relax``,
  ``static``, ``analyse``...), less the running job's elapsed time. It does not
  start again when the total grows, and a kind not yet timed is not guessed: the
  ETA then says how many jobs it leaves out;
- a live line for the running job, refreshed every :data:`REFRESH_S` by a watcher
  thread from the files the calculation writes in its folder
  (:func:`oredox.workflows.live.read_activity`: ionic step, energy, largest force,
  SCF iteration), else its elapsed time alone.

On a terminal these are two tqdm lines; where the stream is not a terminal (a CI
log, ``| tee``), plain lines: one when a job starts or ends, one per
:data:`PLAIN_EVERY_S` at most for the running job, never carriage returns.

:func:`terminal_to_log` sends what third-party code prints (CHGNet's banner,
torch's and pymatgen's warnings, GPAW) to the run's log, file descriptors 1 and 2
included, and hands the progress display the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from oredox.workflows.live import read_activity

REFRESH_S = 1.5
PLAIN_EVERY_S = 60.0
BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}{postfix}]"
)


def job_kind(name: str) -> str:
    """The kind of a job for timing: the first word of its name (``relax``)."""
    words = name.split()
    return words[0] if words else name


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min 05 s``, ``12 min``, ``2 h 05 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 600:
        whole = round(seconds)
        return f"{whole // 60} min {whole % 60:02d} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class JobTimes:
    """Durations of the finished jobs, by kind (:func:`job_kind`)."""

    def __init__(self):
        self.durations_s: dict[str, list[float]] = defaultdict(list)

    def add(self, name: str, seconds: float) -> None:
        """A finished job of ``name`` took ``seconds``."""
        self.durations_s[job_kind(name)].append(seconds)

    def mean_s(self, name: str) -> float | None:
        """Mean duration of the finished jobs of ``name``'s kind (``None``: none)."""
        times = self.durations_s.get(job_kind(name))
        return sum(times) / len(times) if times else None

    def remaining_s(
        self, pending: list[str], running: str | None = None, elapsed_s: float = 0.0
    ) -> tuple[float, int]:
        """Estimated seconds left for ``pending`` and ``running``; jobs not timed.

        A running job counts for its kind's mean less its ``elapsed_s`` (never
        below 0); a job whose kind has not finished once is left out and counted.
        """
        left_s, untimed = 0.0, 0
        for name in pending:
            mean = self.mean_s(name)
            if mean is None:
                untimed += 1
            else:
                left_s += mean
        if running is not None:
            mean = self.mean_s(running)
            if mean is None:
                untimed += 1
            else:
                left_s += max(mean - elapsed_s, 0.0)
        return left_s, untimed


def eta_text(left_s: float, untimed: int, n_left: int) -> str:
    """``ETA ~12 min``; ``ETA > 12 min + 3 jobs not timed yet``; ``ETA ?``."""
    if n_left == 0:
        return "ETA 0 s"
    if untimed == n_left:
        return "ETA ? (no job of these kinds finished yet)"
    if untimed:
        jobs = "job" if untimed == 1 else "jobs"
        return f"ETA > {format_duration(left_s)} + {untimed} {jobs} not timed yet"
    return f"ETA ~{format_duration(left_s)}"


class StudyProgress:
    """Jobs done of those known, an ETA by kind, and the running job's live line.

    Parameters
    ----------
    description
        The bar's label (the study's name).
    stream
        Where to draw: a terminal gets tqdm lines, anything else plain lines;
        ``None`` shows nothing (the state is kept all the same).
    unit
        What is counted (``jobs``; the dry run counts ``steps``).
    clock
        Seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        description: str,
        stream: TextIO | None,
        unit: str = "jobs",
        clock=time.monotonic,
    ):
        self.description = description
        self.unit = unit
        self.stream = stream
        self.clock = clock
        self.mode = "off" if stream is None else "plain"
        if stream is not None and _is_terminal(stream):
            self.mode = "tty"
        self.times = JobTimes()
        self.known: dict[tuple, str] = {}
        self.pending: dict[tuple, str] = {}
        self.done = 0
        self.failed = 0
        # (key, name, start time, folder) of the job running now
        self.running: tuple[tuple, str, float, Path | None] | None = None
        self.activity = ""
        self.started_at = clock()
        self._last_plain = -PLAIN_EVERY_S
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        self._bar = self._line = None
        if self.mode == "tty":
            self._bar = tqdm(
                total=0,
                desc=description,
                file=stream,
                bar_format=BAR_FORMAT,
                unit=unit,
                dynamic_ncols=True,
                mininterval=0,
                position=0,
            )
            self._line = tqdm(
                total=0,
                file=stream,
                bar_format="  {desc}",
                dynamic_ncols=True,
                mininterval=0,
                position=1,
                leave=False,
            )

    def __enter__(self) -> StudyProgress:
        if self.mode != "off":
            self._thread = threading.Thread(
                target=self._watch, name="oredox-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, exc_type, *rest) -> None:
        self.close(stopped=exc_type is not None)

    def add(self, jobs: list[tuple[tuple, str]]) -> None:
        """Jobs now known (``(key, name)``; keys already known are not counted)."""
        with self._lock:
            for key, name in jobs:
                if key not in self.known:
                    self.known[key] = name
                    self.pending[key] = name
            self._render()

    def start(self, key: tuple, name: str, folder: Path | None = None) -> None:
        """The job ``key`` starts (in ``folder``, watched for its activity)."""
        with self._lock:
            self.known.setdefault(key, name)
            self.pending.pop(key, None)
            self.running = (key, name, self.clock(), folder)
            self.activity = ""
            self._plain(f"{name}: started")
            self._render()

    def finish(self, key: tuple, ok: bool = True) -> None:
        """The job ``key`` ended: the running one (timed), or one not run here.

        A job not started here was done by an earlier run (``ok``) or skipped
        because a job it needs failed (not ``ok``); neither is timed.
        """
        with self._lock:
            name = self.known.get(key, "job")
            self.pending.pop(key, None)
            self.done += 1
            self.failed += not ok
            if self.running is not None and self.running[0] == key:
                elapsed_s = self.clock() - self.running[2]
                if ok:
                    self.times.add(name, elapsed_s)
                self.running = None
                self.activity = ""
                verb = "done" if ok else "failed"
                self._plain(f"{name}: {verb} in {format_duration(elapsed_s)}")
            elif not ok:
                self._plain(f"{name}: not run (a job it needs failed)")
            self._render()

    def eta(self) -> str:
        """The ETA of the known jobs not done (see :func:`eta_text`)."""
        with self._lock:
            running = elapsed_s = None
            if self.running is not None:
                running, elapsed_s = self.running[1], self.clock() - self.running[2]
            left_s, untimed = self.times.remaining_s(
                list(self.pending.values()), running, elapsed_s or 0.0
            )
            n_left = len(self.pending) + (running is not None)
            return eta_text(left_s, untimed, n_left)

    def live_line(self) -> str:
        """The running job: ``relax k1-0 (3 min): step 3: E ... eV; SCF 12 ...``."""
        with self._lock:
            if self.running is None:
                return ""
            _, name, start, _ = self.running
            line = f"{name} ({format_duration(self.clock() - start)})"
            return f"{line}: {self.activity}" if self.activity else line

    def poll(self) -> None:
        """Read the running job's folder once; refresh (the watcher's step)."""
        with self._lock:
            folder = None if self.running is None else self.running[3]
        activity = None
        if folder is not None:
            with contextlib.suppress(OSError, ValueError):
                activity = read_activity(folder)
        with self._lock:
            if self.running is not None and self.running[3] == folder:
                self.activity = activity.describe() if activity is not None else ""
            due = self.clock() - self._last_plain >= PLAIN_EVERY_S
            if self.mode == "plain" and due and self.running is not None:
                self._plain(self.live_line())
            self._render()

    def close(self, stopped: bool = False) -> None:
        """Stop the watcher; leave the bar's last state on the terminal.

        ``stopped``: the run ended by an exception (an interrupt, a crash), so it
        is not called finished.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._line is not None:
                self._line.close()
                self._line = None
            if self._bar is not None:
                self._render()
                self._bar.close()
                self._bar = None
            elif self.mode == "plain" and self.known:
                complete = self.done == len(self.known) and not self.failed
                self._plain("finished" if complete and not stopped else "stopped")

    def _watch(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self.poll()

    def _counts(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.done}/{len(self.known)} {self.unit}{failed}"

    def _render(self) -> None:
        if self._bar is None:
            return
        try:
            self._bar.total = len(self.known)
            self._bar.n = self.done
            failed = f"{self.failed} failed, " if self.failed else ""
            self._bar.set_postfix_str(f"{failed}{self.eta()}", refresh=False)
            self._bar.refresh()
            if self._line is not None:
                live = self.live_line() or "waiting"
                self._line.set_description_str(live, refresh=True)
        except (OSError, ValueError):  # the terminal went away: the study goes on
            self._display_lost()

    def _plain(self, message: str) -> None:
        if self.mode != "plain":
            return
        elapsed = format_duration(self.clock() - self.started_at)
        try:
            print(
                f"{self.description} [{self._counts()}, {elapsed}, {self.eta()}] "
                f"{message}",
                file=self.stream,
                flush=True,
            )
        except (OSError, ValueError):  # a closed pipe (| head): the study goes on
            self._display_lost()
            return
        self._last_plain = self.clock()

    def _display_lost(self) -> None:
        """The stream cannot be written any more: show nothing from now on."""
        self.mode = "off"
        self._bar = self._line = None


def _is_terminal(stream: TextIO) -> bool:
    """A terminal with a width (one that reports 0 columns draws no bar)."""
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    try:
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):  # no descriptor: trust isatty
        return True


@contextlib.contextmanager
def terminal_to_log(log_file: TextIO):
    """Send all output to ``log_file``; yield a stream on the terminal for progress.

    Python's ``sys.stdout`` and ``sys.stderr`` and the process's file descriptors 1
    and 2 point at ``log_file`` inside the block (C extensions and code that writes
    to ``sys.__stdout__`` write there); the stream yielded writes to where
    ``stderr`` went before. Where the descriptors cannot be duplicated (no real
    file behind them), only ``sys.stdout`` and ``sys.stderr`` are redirected, and
    the stream is the former ``sys.stderr``. Python warnings are written to
    ``log_file`` too, one line each.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    log_file.flush()
    with warnings.catch_warnings():
        warnings.showwarning = _to_log(log_file)
        try:
            saved = _duplicate_descriptors()
        except OSError:
            terminal = sys.stderr
            with (
                contextlib.redirect_stdout(log_file),
                contextlib.redirect_stderr(log_file),
            ):
                yield terminal
            return
        with _descriptors_to(log_file, saved) as terminal:
            yield terminal


def _duplicate_descriptors() -> tuple[int, int]:
    """Copies of file descriptors 1 and 2 (none left open when one fails)."""
    first = os.dup(1)
    try:
        return first, os.dup(2)
    except OSError:
        os.close(first)
        raise


@contextlib.contextmanager
def _descriptors_to(log_file: TextIO, saved: tuple[int, int]):
    """File descriptors 1 and 2 (``saved``: copies of them) point at ``log_file``."""
    terminal = os.fdopen(os.dup(saved[1]), "w", buffering=1, errors="replace")
    try:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        with contextlib.redirect_stdout(log_file), contextlib.redirect_stderr(log_file):
            yield terminal
    finally:
        for stream in (sys.__stdout__, sys.__stderr__, log_file):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        terminal.close()


def _to_log(log_file):
    """A ``warnings.showwarning`` that writes to the run log, not the terminal."""

    def show(message, category, filename, lineno, file=None, line=None):
        log_file.write(f"{category.__name__}: {message} ({filename}:{lineno})\n")

    return show
