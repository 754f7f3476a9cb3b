"""CHGNet single points by model-call batch size: warm wall time and peak memory.

The screening benchmark's cells (``bench_delithiation.py --only chgnet``): the first
``--cells`` (40) distinct Li/vacancy arrangements of LiCoO2 hex 2x2x1 (48 atoms),
through ``oredox.workflows.chgnet_points.ChgnetSinglePoint.energies`` (CHGNet
``predict_structure``, task ``"e"``) with each batch size of ``--batch-sizes``
(1, 4, 16) and ``--threads`` torch threads (1).

Each (batch size, repeat) runs in a fresh child process, so its peak resident memory
(``ru_maxrss``) belongs to that setting alone. In the child, the model is loaded and
one warm-up call (the first batch) is made, untimed; then all cells are timed. The
batch sizes are interleaved across ``--repeats`` rounds (their order rotates each
round). Reported per batch size: the min / median warm wall time, the largest peak
RSS in MB (10^6 bytes; Python, torch, pymatgen and the model included), the model
load time, and the load average; the energies of every batch size must agree with
the first's to 1e-5 eV/atom, or the script exits with an error after writing its
JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from measured import load_now, positive_int, spread, write_results

TOLERANCE_EV_PER_ATOM = 1e-5


def child(batch_size: int, threads: int, n_cells: int) -> None:
    """One setting in this fresh process: prints its timings, memory and energies."""
    import torch

    torch.set_num_threads(threads)
    from bench_delithiation import chgnet_cells

    from oredox.workflows.chgnet_points import ChgnetSinglePoint

    host, sym, occupied = chgnet_cells(n_cells)
    screener = ChgnetSinglePoint(host, sym, batch_size=batch_size)
    start = time.perf_counter()
    screener.model  # noqa: B018 (loads the model)
    load_s = time.perf_counter() - start
    screener.energies(occupied[:batch_size])  # warm-up call, untimed
    start = time.perf_counter()
    energies = screener.energies(occupied)
    warm_s = time.perf_counter() - start
    n_atoms = np.array([len(s) for s in screener.structures(occupied)])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    out = {
        "warm_s": warm_s,
        "model_load_s": load_s,
        "peak_rss_MB": peak_kib * 1024 / 1e6,
        "torch_threads": torch.get_num_threads(),
        "energies_eV_per_atom": (energies / n_atoms).tolist(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def run_child(batch_size: int, threads: int, n_cells: int) -> dict:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--batch-sizes",
        str(batch_size),
        "--threads",
        str(threads),
        "--cells",
        str(n_cells),
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env)
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        raise SystemExit(f"batch size {batch_size} failed:\n{done.stderr[-4000:]}")
    return json.loads(results[-1][len("RESULT ") :])


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, not {text!r}"
        )
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=positive_ints, default=[1, 4, 16])
    parser.add_argument("--threads", type=positive_int, default=1, help="torch threads")
    parser.add_argument(
        "--cells", type=positive_int, default=40, help="arrangements computed"
    )
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results" / "chgnet_batch.json",
    )
    args = parser.parse_args()
    if args.child:
        child(args.batch_sizes[0], args.threads, args.cells)
        return
    sizes = args.batch_sizes
    load_start = os.getloadavg()
    runs = {size: [] for size in sizes}
    for repeat in range(args.repeats):
        shift = repeat % len(sizes)
        for size in sizes[shift:] + sizes[:shift]:
            out = run_child(size, args.threads, args.cells)
            out["loadavg"] = os.getloadavg()
            runs[size].append(out)
            print(
                f"round {repeat + 1}, batch size {size:3d}: warm "
                f"{out['warm_s']:.2f} s, peak RSS {out['peak_rss_MB']:.0f} MB, "
                f"model load {out['model_load_s']:.2f} s [{load_now()}]"
            )
    reference = np.array(runs[sizes[0]][0]["energies_eV_per_atom"])
    rows = {}
    worst = 0.0
    for size in sizes:
        warm = [r["warm_s"] for r in runs[size]]
        diff = max(
            float(np.abs(np.array(r["energies_eV_per_atom"]) - reference).max())
            for r in runs[size]
        )
        worst = max(worst, diff)
        rows[str(size)] = {
            "warm_s": spread(warm),
            "peak_rss_MB_max": max(r["peak_rss_MB"] for r in runs[size]),
            "model_load_s": spread([r["model_load_s"] for r in runs[size]]),
            "max_energy_diff_eV_per_atom": diff,
            "runs": [
                {k: v for k, v in r.items() if k != "energies_eV_per_atom"}
                for r in runs[size]
            ],
        }
        print(
            f"batch size {size:3d}: warm min / median {min(warm):.2f} / "
            f"{statistics.median(warm):.2f} s, peak RSS "
            f"{rows[str(size)]['peak_rss_MB_max']:.0f} MB, energies within "
            f"{diff:.1e} eV/atom of batch size {sizes[0]} [{load_now()}]"
        )
    write_results(
        args.json,
        load_start,
        repeats=args.repeats,
        torch_threads=args.threads,
        cells=f"first {args.cells} arrangements of LiCoO2 hex 2x2x1 (48 atoms)",
        energies_agree=worst <= TOLERANCE_EV_PER_ATOM,
        tolerance_eV_per_atom=TOLERANCE_EV_PER_ATOM,
        by_batch_size=rows,
    )
    if worst > TOLERANCE_EV_PER_ATOM:
        raise SystemExit(
            f"energies differ across batch sizes by {worst:.2e} eV/atom "
            f"(> {TOLERANCE_EV_PER_ATOM})"
        )


if __name__ == "__main__":
    main()
