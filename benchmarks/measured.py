"""What every benchmark records beside its timings: spreads, load average, one JSON.

Benchmarks run interleaved repeats and report the min and median of each side; the
load average beside each figure, and at the start and end of the run, says how busy
the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from datetime import date
from pathlib import Path


def spread(values: list[float]) -> dict:
    """``{"min": ..., "median": ...}`` of repeated timings (or rates)."""
    return {"min": min(values), "median": statistics.median(values)}


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (``--repeats`` and the like)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, not {text!r}")
    return value


def load_now() -> str:
    """The 1-, 5- and 15-minute load averages now, printed beside each figure."""
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_results(path: Path, load_start: tuple[float, ...], **fields) -> None:
    """Write ``fields`` with the date and the load average at start and end to ``path``.

    Prints the load average and the path, as every benchmark's last lines.
    """
    load_end = os.getloadavg()
    print(f"load average: start {load_start}, end {load_end}")
    record = {
        "date": date.today().isoformat(),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
        **fields,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))
    print(f"results: {path}")


def tree_revision(tree: Path) -> str:
    """The short commit of a checkout, '+changes' when its oredox/ differs from it."""
    git = ["git", "-C", str(tree)]
    rev = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "oredox"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return rev + ("+changes" if dirty else "")
