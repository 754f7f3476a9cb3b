"""Wall time of ``oredox demo --primitive --supercell 2 2 1``, before and after.

Each run is a fresh process: ``python -c RUNNER demo --primitive --supercell 2 2 1
--work-dir <temporary folder> --png <in it> --no-progress`` (CHGNet engine, the
embedded store: every ``OREDOX_*`` variable is removed and ``OREDOX_CONFIG_FILE`` set
empty, so no settings file is read). Two code revisions, the same ``.venv`` python:

- ``before``: revision ``--before-rev`` (a35d32c) in a git worktree that the script
  adds under a temporary folder (``git worktree add --detach``) and removes at the
  end, put on PYTHONPATH;
- ``after``: this working tree, put on PYTHONPATH.

The child prints ``oredox.__file__``; the script stops unless it lies in the
revision's tree. Thread variables (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``NUMBA_NUM_THREADS``) are removed from the child's
environment: the default thread behaviour is what is measured. Two conditions:

- ``quiet``: nothing else started by the script;
- ``loaded``: two busy processes (``python -c "while True: pass"``), started before
  the run and killed after it.

Each revision first runs once quiet and untimed (its numba disk cache is then warm,
as for a user's second run; ``--no-warmup`` skips this), then ``--repeats`` rounds
run every (condition, revision) pair, the order rotating each round. Recorded per
run: wall time, exit code (``timeout`` past ``--timeout`` seconds) and the load
average; per pair the min / median of the runs that exited 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measured import load_now, positive_int, spread, tree_revision, write_results

ROOT = Path(__file__).resolve().parents[1]
DEMO_ARGS = ["demo", "--primitive", "--supercell", "2", "2", "1", "--no-progress"]
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
BUSY = "while True: pass"
GIT_WORKTREE = ["git", "-C", str(ROOT), "worktree"]

# the child: says which oredox it imported, then runs the command line
RUNNER = """
import sys
import oredox
print("OREDOX_FILE " + oredox.__file__, file=sys.stderr, flush=True)
from oredox.cli import main
sys.argv = ["oredox", *sys.argv[1:]]
main()
"""


def child_env(tree: Path) -> dict:
    """The environment of a demo run of ``tree``: no thread or oredox variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in THREAD_VARIABLES and not k.startswith("OREDOX_")
    }
    env["OREDOX_CONFIG_FILE"] = ""
    env["PYTHONPATH"] = str(tree)
    return env


def run_demo(tree: Path, timeout_s: float) -> dict:
    """One demo run of ``tree`` in a fresh process and a fresh work folder."""
    with tempfile.TemporaryDirectory(prefix="oredox-bench-demo-") as work:
        command = [
            sys.executable,
            "-c",
            RUNNER,
            *DEMO_ARGS,
            "--work-dir",
            work,
            "--png",
            str(Path(work) / "hull.png"),
        ]
        load_before = os.getloadavg()
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=child_env(tree),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
            rc = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            rc = "timeout"
        wall_s = time.perf_counter() - start
    files = [
        line.split(" ", 1)[1]
        for line in stderr.splitlines()
        if line.startswith("OREDOX_FILE ")
    ]
    if not files or not Path(files[0]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(
            f"the demo run of {tree} imported oredox from {files or 'nowhere'}:\n"
            f"{stderr[-3000:]}"
        )
    return {
        "wall_s": wall_s,
        "rc": rc,
        "oredox_file": files[0],
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "output_tail": "" if rc == 0 else (stdout + stderr)[-2000:],
    }


def run_condition(tree: Path, condition: str, timeout_s: float) -> dict:
    """One demo run, with two busy processes around it when ``loaded``."""
    busy = []
    if condition == "loaded":
        busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        return run_demo(tree, timeout_s)
    finally:
        for process in busy:
            process.kill()
            process.wait()


def choices(text: str, allowed: tuple[str, ...]) -> list[str]:
    values = [v for v in text.split(",") if v]
    wrong = [v for v in values if v not in allowed]
    if wrong or not values:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a comma-separated subset of {','.join(allowed)}"
        )
    return values


def measure(trees: dict, conditions: list, repeats: int, timeout_s: float, warmup):
    """Warm-ups, then the interleaved rounds; prints each run as it ends."""
    warm = {}
    if warmup:
        for name, tree in trees.items():
            warm[name] = run_demo(tree, timeout_s)
            print(
                f"warm-up {name:6s}: {warm[name]['wall_s']:.1f} s, rc "
                f"{warm[name]['rc']} [{load_now()}]"
            )
    pairs = [(c, r) for c in conditions for r in trees]
    runs = {f"{r} {c}": [] for c, r in pairs}
    for repeat in range(repeats):
        shift = repeat % len(pairs)
        for condition, name in pairs[shift:] + pairs[:shift]:
            out = run_condition(trees[name], condition, timeout_s)
            runs[f"{name} {condition}"].append(out)
            print(
                f"round {repeat + 1}, {name:6s} {condition:6s}: "
                f"{out['wall_s']:.1f} s, rc {out['rc']} [{load_now()}]"
            )
            if out["rc"] != 0:
                print(out["output_tail"])
    return warm, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument(
        "--conditions",
        type=lambda t: choices(t, ("quiet", "loaded")),
        default=["quiet", "loaded"],
        help="quiet, loaded or both (comma-separated)",
    )
    parser.add_argument(
        "--revisions",
        type=lambda t: choices(t, ("before", "after")),
        default=["before", "after"],
        help="before, after or both (comma-separated)",
    )
    parser.add_argument("--before-rev", default="a35d32c", help="the 'before' commit")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per run (900)"
    )
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "demo.json"
    )
    args = parser.parse_args()
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="oredox-bench-before-") as scratch:
        trees, worktree = {}, None
        if "before" in args.revisions:
            worktree = Path(scratch) / "before"
            add = [*GIT_WORKTREE, "add", "--detach", "-q", str(worktree)]
            subprocess.run([*add, args.before_rev], check=True)
            trees["before"] = worktree
        if "after" in args.revisions:
            trees["after"] = ROOT
        try:
            commits = {name: tree_revision(tree) for name, tree in trees.items()}
            print("revisions: " + ", ".join(f"{k} {v}" for k, v in commits.items()))
            warm, runs = measure(
                trees, args.conditions, args.repeats, args.timeout, not args.no_warmup
            )
        finally:
            if worktree is not None:
                subprocess.run(
                    [*GIT_WORKTREE, "remove", "--force", str(worktree)],
                    check=False,
                )
    rows = {}
    for key, values in runs.items():
        ok = [r["wall_s"] for r in values if r["rc"] == 0]
        rows[key] = {
            "wall_s": spread(ok) if ok else None,
            "failed_runs": len(values) - len(ok),
            "runs": values,
        }
        text = f"{min(ok):.1f} / {statistics.median(ok):.1f} s" if ok else "no success"
        print(f"{key:15s} min / median {text}, {len(values) - len(ok)} failed")
    write_results(
        args.json,
        load_start,
        repeats=args.repeats,
        command="oredox " + " ".join(DEMO_ARGS),
        revisions=commits,
        cpu_count=os.cpu_count(),
        warmup=warm,
        by_revision_and_condition=rows,
    )


if __name__ == "__main__":
    main()
