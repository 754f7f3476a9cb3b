"""Cold start: wall time of a fresh ``oredox`` process, before and after lazy imports.

Each case is a new process, timed from start to exit:

- ``oredox --help`` and ``oredox --version`` (the console script);
- a one-shot enumeration: a process that imports oredox, builds the 2x2x1 supercell
  of hexagonal O3 LiCoO2 (12 Li sites) and enumerates its symmetry-distinct Li/vacancy
  arrangements at every Li content (``alkali_symmetry`` then ``enumerate_all``);
- the same enumeration with CASM (libcasm-configuration, in its own virtual
  environment): every occupation of the Li sites made canonical under the supercell's
  factor group, the distinct ones counted (``ConfigEnumAllOccupations``, installed
  with libcasm-configuration, does the same; ``bench_enumeration.py`` times it).

"before" runs the same Python on a checkout of the commit before the lazy imports
(``git worktree add /tmp/cold-before <rev>``, put first on PYTHONPATH); "after" is this
checkout. Every process runs once untimed first (numba's disk cache is then warm, as
for a user's second run), then the cases run interleaved ``--repeats`` times; the min
and median are reported with the load average. The three enumerations must give the
same counts at every content, or the script stops.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_enumeration import casm_cell, default_casm_python
from measured import spread, tree_revision, write_results

from oredox.structures.frameworks import make_supercell, o3_layered

ROOT = Path(__file__).resolve().parents[1]
SUPERCELL = (2, 2, 1)

# the one-shot oredox process: prints the number of distinct arrangements per vacancy
ONESHOT = """
import json
SUPERCELL = %SUPERCELL%
from oredox.structures.delithiation import alkali_symmetry, enumerate_all
from oredox.structures.frameworks import make_supercell, o3_layered

host = make_supercell(o3_layered("LiCoO2"), SUPERCELL)
sym = alkali_symmetry(host)
counts = [0] * (sym.n_sites + 1)
for config in enumerate_all(sym):
    counts[config.n_vacancies] += 1
print(json.dumps(counts))
""".replace("%SUPERCELL%", repr(SUPERCELL))

# the one-shot CASM process on the primitive cell and supercell matrix of argv[1]
CASM = """
import json, sys
import numpy as np
import libcasm.configuration as casmconfig
import libcasm.xtal as xtal

data = json.loads(open(sys.argv[1]).read())
xprim = xtal.Prim(
    lattice=xtal.Lattice(np.array(data["lattice"]).T),
    coordinate_frac=np.array(data["frac"]).T,
    occ_dof=data["occ_dof"],
)
supercell = casmconfig.Supercell(casmconfig.Prim(xprim), np.array(data["T"]))
config = casmconfig.Configuration(supercell)
sites = [i for i, n in enumerate(supercell.n_occupants()) if n == 2]
n = len(sites)
distinct = [set() for _ in range(n + 1)]
occupation = np.zeros(supercell.n_sites, dtype=int)
for mask in range(1 << n):
    for bit, site in enumerate(sites):
        occupation[site] = (mask >> bit) & 1
    config.set_occupation(occupation)
    canonical = casmconfig.make_canonical_configuration(config)
    distinct[bin(mask).count("1")].add(canonical.occupation.tobytes())
print(json.dumps([len(d) for d in distinct]))
"""


def casm_input(path: Path) -> None:
    """Write CASM's prim and supercell matrix of the cell oredox enumerates."""
    supercell = make_supercell(o3_layered("LiCoO2"), SUPERCELL)
    path.write_text(json.dumps(casm_cell(supercell)))


def run(command: list[str], env: dict) -> tuple[float, str]:
    """Wall time of one process (s) and its stdout; stops the script if it fails."""
    start = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, default=Path("/tmp/cold-before"))
    parser.add_argument("--casm-python", type=Path, default=default_casm_python())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results" / "coldstart.json",
    )
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "100"}
    console_script = str(Path(sys.executable).parent / "oredox")
    trees = {"after": ROOT}
    if (args.before / "oredox").is_dir():
        trees["before"] = args.before.resolve()
    else:
        print(f"no checkout at {args.before}: 'before' skipped")
    cases = {}
    for label, tree in trees.items():
        tree_env = {**env, "PYTHONPATH": str(tree)}
        cases[f"oredox --help ({label})"] = ([console_script, "--help"], tree_env)
        cases[f"oredox --version ({label})"] = ([console_script, "--version"], tree_env)
        cases[f"one-shot enumeration ({label})"] = (
            [sys.executable, "-c", ONESHOT],
            tree_env,
        )
    casm_version = None
    with tempfile.TemporaryDirectory() as scratch:
        if args.casm_python.exists():
            cell = Path(scratch) / "casm_cell.json"
            casm_input(cell)
            cases["one-shot enumeration (CASM)"] = (
                [str(args.casm_python), "-c", CASM, str(cell)],
                env,
            )
            casm_version = run(
                [
                    str(args.casm_python),
                    "-c",
                    "from importlib.metadata import version; "
                    "print(version('libcasm-configuration'))",
                ],
                env,
            )[1].strip()
        else:
            print(f"no {args.casm_python}: CASM skipped")
        load_start = os.getloadavg()
        counts = {}
        for name, (command, case_env) in cases.items():  # untimed: warm caches
            _, out = run(command, case_env)
            if name.startswith("one-shot"):
                counts[name] = json.loads(out)
        if len({json.dumps(c) for c in counts.values()}) != 1:
            raise SystemExit(f"the enumerations disagree: {counts}")
        times = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, (command, case_env) in cases.items():
                times[name].append(run(command, case_env)[0])
    rows = {name: spread(values) for name, values in times.items()}
    for name, row in rows.items():
        print(f"{name:40s} min {row['min']:.3f} s  median {row['median']:.3f} s")
    write_results(
        args.json,
        load_start,
        repeats=args.repeats,
        python=sys.version.split()[0],
        trees={label: tree_revision(tree) for label, tree in trees.items()},
        casm=f"libcasm-configuration {casm_version}" if casm_version else None,
        cell=f"O3 LiCoO2 hexagonal {'x'.join(map(str, SUPERCELL))} "
        f"({len(next(iter(counts.values()))) - 1} Li sites)",
        distinct_per_vacancy_count=next(iter(counts.values())),
        wall_s=rows,
    )


if __name__ == "__main__":
    main()
