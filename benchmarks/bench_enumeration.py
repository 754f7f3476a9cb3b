"""Symmetry-distinct Li/vacancy enumeration: oredox vs StructureMatcher and CASM.

Two anchors, on the same fixed supercell, with the same output (the number of
distinct arrangements at every Li content, checked equal to oredox's on every run):

- pymatgen's StructureMatcher: what one does without an enumerator, every raw
  arrangement (2^n structures) grouped by ``group_structures``;
- CASM (libcasm-configuration, in its own virtual environment because of its pins):
  ``ConfigEnumAllOccupations.by_supercell_list`` on the same supercell, every
  occupation of the Li sites that is canonical under the supercell's factor group.
  It runs in a child process of that environment and is timed there, from building
  the prim (its symmetry analysis) to the list of distinct occupations, so its
  imports are not counted; oredox is timed from ``alkali_symmetry`` to the end of
  ``enumerate_all``. The counting per content is outside both times.

oredox's numba loop is compiled before any timing; the tools run interleaved,
``--repeats`` times, and the min and median are reported with the load average.
Cells above ``--max-anchor-sites`` Li sites skip StructureMatcher (it grows as 4^n),
above ``--max-casm-sites`` skip CASM (2^n occupations). Create CASM's environment
with::

    python3 -m venv .bench-casm && .bench-casm/bin/pip install libcasm-configuration
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
from measured import load_now, positive_int, spread, write_results
from pymatgen.analysis.structure_matcher import StructureMatcher

from oredox.structures.delithiation import alkali_symmetry, enumerate_all
from oredox.structures.frameworks import make_supercell, o3_layered

ROOT = Path(__file__).resolve().parents[1]

CELLS = {
    "LiCoO2 hex 2x1x1 (6 Li)": (False, (2, 1, 1)),
    "LiCoO2 rh 2x2x2 (8 Li)": (True, (2, 2, 2)),
    "LiCoO2 hex 2x2x1 (12 Li)": (False, (2, 2, 1)),
    "LiCoO2 rh 3x3x2 (18 Li)": (True, (3, 3, 2)),
}

# CASM in its own environment: argv[1] is the JSON of casm_cell(); prints the
# distinct arrangements per vacancy count, the in-process time and the version
CASM_RUNNER = """
import json, sys, time
from importlib.metadata import version
import numpy as np
import libcasm.configuration as casmconfig
import libcasm.enumerate as casmenum
import libcasm.xtal as xtal

data = json.loads(open(sys.argv[1]).read())
start = time.perf_counter()
xprim = xtal.Prim(
    lattice=xtal.Lattice(np.array(data["lattice"]).T),
    coordinate_frac=np.array(data["frac"]).T,
    occ_dof=data["occ_dof"],
)
prim = casmconfig.Prim(xprim)
supercell = casmconfig.Supercell(prim, np.array(data["T"]))
enumerator = casmenum.ConfigEnumAllOccupations(prim)
# the enumerator yields one Configuration object, updated in place: keep each
# occupation (copied), the output; counted below, outside the time, as oredox's
occupations = [
    config.occupation.copy()
    for config in enumerator.by_supercell_list([supercell], skip_non_primitive=False)
]
elapsed = time.perf_counter() - start
variable = np.array([n == 2 for n in supercell.n_occupants()])
counts = [0] * (int(variable.sum()) + 1)
for occupation in occupations:
    counts[int(occupation[variable].sum())] += 1
print(json.dumps({"counts": counts, "time_s": elapsed,
                  "version": version("libcasm-configuration")}))
"""


def default_casm_python() -> Path:
    """``.bench-casm/bin/python`` of this checkout if it exists, else /tmp/casm's."""
    local = ROOT / ".bench-casm" / "bin" / "python"
    return local if local.exists() else Path("/tmp/casm/bin/python")


def casm_cell(structure) -> dict:
    """CASM's prim (the primitive cell, Li sites Li or vacancy) and supercell matrix.

    CASM's supercell matrix T relates lattice vectors as columns, S = L T; it is
    checked to be integer, so CASM enumerates the very cell that oredox does.
    """
    primitive = structure.get_primitive_structure()
    t = np.linalg.solve(primitive.lattice.matrix.T, structure.lattice.matrix.T)
    if not np.allclose(t, np.round(t), atol=1e-6):
        raise SystemExit(f"the cell is not an integer supercell of its primitive: {t}")
    occ_dof = [
        ["Li", "Va"] if s.specie.symbol == "Li" else [s.specie.symbol]
        for s in primitive
    ]
    return {
        "lattice": primitive.lattice.matrix.tolist(),
        "frac": primitive.frac_coords.tolist(),
        "occ_dof": occ_dof,
        "T": np.round(t).astype(int).tolist(),
    }


def casm_counts(python: Path, structure) -> tuple[list[int], float, str]:
    """CASM's distinct arrangements per vacancy count, its time (s) and version."""
    with tempfile.TemporaryDirectory() as scratch:
        cell = Path(scratch) / "casm_cell.json"
        cell.write_text(json.dumps(casm_cell(structure)))
        done = subprocess.run(
            [str(python), "-c", CASM_RUNNER, str(cell)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"CASM ({python}) failed:\n{done.stderr}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["counts"], out["time_s"], out["version"]


def host(primitive: bool, supercell: tuple[int, int, int]):
    s = o3_layered("LiCoO2")
    return make_supercell(s.get_primitive_structure() if primitive else s, supercell)


def oredox_counts(structure) -> tuple[list[int], float]:
    start = time.perf_counter()
    sym = alkali_symmetry(structure)
    configs = enumerate_all(sym)
    elapsed = time.perf_counter() - start
    counts = [0] * (sym.n_sites + 1)
    for config in configs:
        counts[config.n_vacancies] += 1
    return counts, elapsed


def matcher_counts(structure) -> tuple[list[int], float]:
    start = time.perf_counter()
    li = [i for i, site in enumerate(structure) if site.specie.symbol == "Li"]
    matcher = StructureMatcher(
        primitive_cell=False, scale=False, attempt_supercell=False
    )
    counts = []
    for k in range(len(li) + 1):
        raw = []
        for vacant in combinations(li, k):
            s = structure.copy()
            s.remove_sites(list(vacant))
            raw.append(s)
        counts.append(len(matcher.group_structures(raw)))
    return counts, time.perf_counter() - start


def bench_cell(name, structure, repeats, matcher, casm_python) -> dict:
    """One cell: oredox, then each anchor, interleaved; counts checked every run."""
    n_sites = int(structure.composition["Li"])
    times = {"oredox": [], "structurematcher": [], "casm": []}
    loads, casm_version = [], None
    for _ in range(repeats):
        counts, elapsed = oredox_counts(structure)
        times["oredox"].append(elapsed)
        if matcher:
            anchor, elapsed = matcher_counts(structure)
            if anchor != counts:
                raise SystemExit(
                    f"{name}: oredox {counts} != StructureMatcher {anchor}"
                )
            times["structurematcher"].append(elapsed)
        if casm_python is not None:
            anchor, elapsed, casm_version = casm_counts(casm_python, structure)
            if anchor != counts:
                raise SystemExit(f"{name}: oredox {counts} != CASM {anchor}")
            times["casm"].append(elapsed)
        loads.append(os.getloadavg()[0])
    row = {
        "cell": name,
        "li_sites": n_sites,
        "distinct": sum(counts),
        "distinct_per_vacancy_count": counts,
        "loadavg_1min_per_repeat": loads,
        "oredox_s": spread(times["oredox"]),
    }
    t_oredox = statistics.median(times["oredox"])
    text = [f"oredox {min(times['oredox']):.4f} / {t_oredox:.4f} s"]
    for tool, label in (("structurematcher", "StructureMatcher"), ("casm", "CASM")):
        if times[tool]:
            ratio = statistics.median(times[tool]) / t_oredox
            row |= {f"{tool}_s": spread(times[tool]), f"{tool}_ratio_median": ratio}
            text.append(
                f"{label} {min(times[tool]):.4f} / "
                f"{statistics.median(times[tool]):.4f} s ({ratio:.3g}x)"
            )
    if casm_version:
        row["casm"] = f"libcasm-configuration {casm_version}"
    print(
        f"{name}: {row['distinct']} distinct, same counts; min / median "
        + "; ".join(text)
        + f" [{load_now()}]"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-anchor-sites", type=int, default=8)
    parser.add_argument("--max-casm-sites", type=int, default=18)
    parser.add_argument(
        "--casm-python",
        type=Path,
        default=default_casm_python(),
        help="python of an environment with libcasm-configuration "
        "(default: .bench-casm/bin/python if it exists, else /tmp/casm/bin/python)",
    )
    parser.add_argument("--cells", help="comma-separated names of CELLS (default all)")
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results" / "enumeration.json",
    )
    args = parser.parse_args()
    names = list(CELLS) if args.cells is None else args.cells.split(",")
    unknown = [n for n in names if n not in CELLS]
    if unknown:
        raise SystemExit(f"unknown cells {unknown}; choose from {list(CELLS)}")
    casm_python = args.casm_python if args.casm_python.exists() else None
    if casm_python is None:
        print(f"no {args.casm_python}: CASM skipped")
    load_start = os.getloadavg()
    oredox_counts(host(False, (2, 1, 1)))  # numba compile, not timed
    print("times min / median; (Nx): the anchor's median time / oredox's")
    results = []
    for name in names:
        structure = host(*CELLS[name])
        n_sites = structure.composition["Li"]
        casm = casm_python if n_sites <= args.max_casm_sites else None
        matcher = n_sites <= args.max_anchor_sites
        results.append(bench_cell(name, structure, args.repeats, matcher, casm))
    write_results(args.json, load_start, repeats=args.repeats, cells=results)


if __name__ == "__main__":
    main()
