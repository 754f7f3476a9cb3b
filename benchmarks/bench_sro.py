"""SRO Monte Carlo end to end: before and after the descriptor tables, 384-atom LTNO.

``monte_carlo_sro`` on the cell of ``bench_mc.py`` (rock-salt Li1.17Ti0.58Ni0.25O2,
192 cations + 192 O, 1500 K, Ewald screened by 10, seed 1), with 2000 sweeps and one
snapshot (``oredox structure sro``) or five (the function's default), and
``sro_descriptors`` of its last snapshot alone. "Before" is ``oredox.structures.sro``
and ``oredox.structures.clusters`` as of ``--before`` (the commit before the
descriptors were computed from tables built once per cell), loaded from git beside
the installed package; the warm-up compiles both Monte Carlo loops. Runs are
interleaved, ``--repeats`` times (min and median), with the load average at start and
end; both versions must return the same energies and descriptors.

Run: ``.venv/bin/python benchmarks/bench_sro.py``
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cells import DIELECTRIC, TEMPERATURE, ltno_primitive
from measured import spread, write_results

from oredox.structures import sro
from oredox.structures.sqs import compact_supercell

BEFORE = "01e7188a19d97b42019f0a2fa601f77512045fc5"
REPO = Path(__file__).resolve().parent.parent


def load_before(revision: str, folder: Path):
    """``sro`` as of ``revision``, importing the ``clusters`` of that revision."""

    def source(path: str) -> str:
        return subprocess.run(
            ["git", "show", f"{revision}:{path}"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    modules = {
        "before_clusters": source("oredox/structures/clusters.py"),
        "before_sro": source("oredox/structures/sro.py").replace(
            "oredox.structures.clusters", "before_clusters"
        ),
    }
    for name, text in modules.items():
        path = folder / f"{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules["before_sro"]


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweeps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", default=BEFORE, help="git revision of 'before'")
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "sro.json"
    )
    args = parser.parse_args()
    load_start = os.getloadavg()
    prim = ltno_primitive()
    matrix = compact_supercell(prim, 192)
    folder = Path(tempfile.mkdtemp(prefix="bench_sro_"))
    versions = {"before": load_before(args.before, folder), "after": sro}

    def run(module, n_snapshots):
        return module.monte_carlo_sro(
            prim,
            TEMPERATURE,
            supercell_matrix=matrix,
            n_sweeps=args.sweeps,
            n_snapshots=n_snapshots,
            dielectric=DIELECTRIC,
            seed=1,
        )

    results = {name: run(module, 1) for name, module in versions.items()}  # warm-up
    snapshot = results["after"].snapshots[-1]
    n_cations = sum(site.specie.symbol != "O" for site in snapshot)
    kinds = {
        "monte_carlo_sro_1_snapshot": 1,
        "monte_carlo_sro_5_snapshots": 5,
        "sro_descriptors": None,
    }
    times = {(name, kind): [] for name in versions for kind in kinds}
    mc_loop = []
    for _ in range(args.repeats):
        for name, module in versions.items():
            for kind, n_snapshots in kinds.items():
                if n_snapshots is None:
                    elapsed, result = timed(module.sro_descriptors, snapshot)
                else:
                    elapsed, result = timed(run, module, n_snapshots)
                times[name, kind].append(elapsed)
                results[name, kind] = result
        # one snapshot: the loop proposes 2 * (n_steps // 2) swaps
        proposals = 2 * (args.sweeps * n_cations // 2)
        mc_loop.append(
            proposals / results["after", "monte_carlo_sro_1_snapshot"].swaps_per_second
        )
    for kind in list(kinds)[:2]:
        before, after = results["before", kind], results["after", kind]
        assert before.energies_eV == after.energies_eV
        assert before.initial_descriptors == after.initial_descriptors
        assert before.descriptors == after.descriptors
    assert results["before", "sro_descriptors"] == results["after", "sro_descriptors"]

    median = {key: spread(values)["median"] for key, values in times.items()}
    ratio = {kind: median["before", kind] / median["after", kind] for kind in kinds}
    print(
        f"{len(snapshot)}-atom LTNO cell, {args.sweeps} sweeps, {args.repeats} "
        f"interleaved repeats, s (min / median); before = {args.before[:7]}; "
        "same energies and descriptors"
    )
    for kind in kinds:
        b, a = times["before", kind], times["after", kind]
        print(
            f"{kind:28s} before {min(b):.3f} / {median['before', kind]:.3f}"
            f"  after {min(a):.3f} / {median['after', kind]:.3f}"
            f"  ratio {ratio[kind]:.1f}x"
        )
    print(
        f"its Monte Carlo loop alone (1 snapshot): {min(mc_loop):.3f} / "
        f"{spread(mc_loop)['median']:.3f} s"
    )
    write_results(
        args.json,
        load_start,
        before_revision=args.before,
        sweeps=args.sweeps,
        n_atoms=len(snapshot),
        before_s={kind: spread(times["before", kind]) for kind in kinds},
        after_s={kind: spread(times["after", kind]) for kind in kinds},
        ratio_median=ratio,
        mc_loop_1_snapshot_s=spread(mc_loop),
    )


if __name__ == "__main__":
    main()
