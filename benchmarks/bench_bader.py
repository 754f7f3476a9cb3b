"""Bader charges and time: oredox's weight method against both baderkit methods.

baderkit pins pymatgen <= 2025.10.7 and numba <= 0.65.1, so it cannot share oredox's
environment: give the python of a separate environment that has it (default:
``.bench-baderkit/bin/python`` when it exists)::

    python3 -m venv .bench-baderkit && .bench-baderkit/bin/pip install baderkit
    .venv/bin/python benchmarks/bench_bader.py --baderkit .bench-baderkit/bin/python

Cases (the same files for every tool; populations compared atom by atom):

- ``gaussians-N``: two unequal, overlapping Gaussians in a skewed cell on an N^3 grid
  (N = 48, 96, 144 by default, ``--grids``), written as CHGCAR (an exact partition is
  not known; the tools are compared with each other and across grid sizes, which
  shows each method's grid convergence);
- ``ypo4``: the recorded YPO4 static (atomate's test files, copied into
  tests/data/bader): AECCAR2 integrated over the AECCAR0 + AECCAR2 basins, 48^3;
- ``fe3o4``: pymatgen's recorded Fe3O4 reference density (pymatgen-core
  ``test-files/io/vasp/outputs/CHGCAR.Fe3O4_ref.gz``, 72^3, given with ``--fe3o4``)
  as both density and reference.

baderkit runs its ``weight`` method (the same algorithm as oredox's) and its default
``neargrid-weight`` (a different method) in one long-lived child process of its
environment, so its numba code is compiled once. Every tool runs each case once
untimed (compilation), then ``--repeats`` interleaved rounds: oredox, baderkit
``weight``, baderkit ``neargrid-weight`` (and the Henkelman ``bader`` binary when it
is on the PATH, timed as a whole process, file reading included). oredox and baderkit
are timed without file parsing. Reported: min / median per tool, the ratio of each
baderkit method's median to oredox's, the largest population difference, and the
load average beside each case.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from measured import load_now, positive_int, spread, write_results
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Chgcar

from oredox.analysis.bader import bader_charges

ROOT = Path(__file__).resolve().parents[1]
YPO4 = ROOT / "tests" / "data" / "bader" / "YPO4"
METHODS = ("weight", "neargrid-weight")

# baderkit's long-lived child: one JSON request [charge, reference, method] per line
# on stdin, one "RESULT {...}" line per request on stdout
BADERKIT_SERVER = r"""
import json, sys, time
from importlib.metadata import version
from baderkit import Bader, Grid
print("RESULT " + json.dumps({"version": version("baderkit")}), flush=True)
for line in sys.stdin:
    charge, reference, method = json.loads(line)
    grid = Grid.from_vasp(charge)
    ref = Grid.from_vasp(reference)
    bader = Bader(charge_grid=grid, reference_grid=ref, method=method)
    start = time.perf_counter()
    populations = list(map(float, bader.atom_charges))
    elapsed = time.perf_counter() - start
    out = {"populations": populations, "time_s": elapsed}
    print("RESULT " + json.dumps(out), flush=True)
"""


class Baderkit:
    """baderkit in a child process of its own environment, kept for every call."""

    def __init__(self, python: Path, log: Path):
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [str(python), "-c", BADERKIT_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.version = self._answer()["version"]

    def _answer(self) -> dict:
        for line in self._process.stdout:
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT ") :])
        self._log.flush()
        raise SystemExit(f"baderkit stopped:\n{Path(self._log.name).read_text()}")

    def run(self, charge: Path, reference: Path, method: str) -> dict:
        """Populations and time (s, file parsing excluded) of one baderkit method."""
        request = json.dumps([str(charge), str(reference), method])
        self._process.stdin.write(request + "\n")
        self._process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait()
        self._log.close()


def gaussian_chgcar(n: int, path: Path) -> None:
    lattice = Lattice.from_parameters(3.2, 3.5, 3.8, 78, 84, 71)
    s = Structure(lattice, ["Na", "Cl"], [[0.05, 0.1, 0.0], [0.55, 0.6, 0.5]])
    axes = [np.arange(n) / n] * 3
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    rho = np.zeros(len(grid))
    shifts = np.array(np.meshgrid(*[[-1, 0, 1]] * 3, indexing="ij")).reshape(3, -1).T
    for site, width, amount in zip(s, [0.45, 0.6], [3.0, 7.0], strict=True):
        delta = grid - site.frac_coords
        delta -= np.round(delta)
        for shift in shifts:
            r2 = (((delta + shift) @ lattice.matrix) ** 2).sum(axis=1)
            rho += amount * np.exp(-r2 / (2 * width**2)) / (2 * np.pi * width**2) ** 1.5
    data = {"total": (rho * s.volume).reshape(n, n, n)}
    Chgcar(s, data).write_file(str(path))


def run_oredox(valence: Chgcar, reference: Chgcar) -> dict:
    """Populations and time (s) of oredox's weight method on parsed files."""
    start = time.perf_counter()
    result = bader_charges(
        valence.structure,
        valence.data["total"],
        reference.data["total"],
        vacuum_e_per_A3=-1,
    )
    return {
        "populations": result.populations.tolist(),
        "time_s": time.perf_counter() - start,
    }


def run_henkelman(charge: Path, reference: Path) -> dict | None:
    binary = shutil.which("bader")
    if binary is None:
        return None
    work = charge.parent
    start = time.perf_counter()
    subprocess.run(
        [binary, charge.name, "-ref", reference.name],
        cwd=work,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - start
    rows = (work / "ACF.dat").read_text().splitlines()[2:]
    populations = [float(r.split()[4]) for r in rows if r.strip()[:1].isdigit()]
    return {"populations": populations, "time_s": elapsed}


def write_cases(work: Path, grids: list[int], recorded: bool, fe3o4) -> dict:
    """Write every case's files under ``work``: name -> (charge, reference).

    ``recorded``: add YPO4 (and Fe3O4 when ``fe3o4``, its file, is given).
    """
    cases = {}
    for n in grids:
        path = work / f"gaussians-{n}" / "CHGCAR"
        path.parent.mkdir()
        gaussian_chgcar(n, path)
        cases[f"gaussians-{n}"] = (path, path)
    if recorded and YPO4.exists():
        folder = work / "ypo4"
        folder.mkdir()
        a0 = Chgcar.from_file(str(YPO4 / "AECCAR0.xz"))
        a2 = Chgcar.from_file(str(YPO4 / "AECCAR2.xz"))
        a2.write_file(str(folder / "AECCAR2"))
        Chgcar(a0.structure, {"total": a0.data["total"] + a2.data["total"]}).write_file(
            str(folder / "CHGCAR_sum")
        )
        cases["ypo4"] = (folder / "AECCAR2", folder / "CHGCAR_sum")
    if recorded and fe3o4 is not None:
        folder = work / "fe3o4"
        folder.mkdir()
        Chgcar.from_file(str(fe3o4)).write_file(str(folder / "CHGCAR"))
        cases["fe3o4"] = (folder / "CHGCAR", folder / "CHGCAR")
    return cases


def bench_case(name, charge, reference, baderkit, repeats) -> dict:
    """One case: every tool once untimed, then ``repeats`` interleaved rounds."""
    valence, ref = Chgcar.from_file(str(charge)), Chgcar.from_file(str(reference))
    tools = ["oredox"]
    if baderkit is not None:
        tools += [f"baderkit {m}" for m in METHODS]
    if shutil.which("bader"):
        tools.append("henkelman")

    def call(tool: str) -> dict:
        if tool == "oredox":
            return run_oredox(valence, ref)
        if tool == "henkelman":
            return run_henkelman(charge, reference)
        return baderkit.run(charge, reference, tool.removeprefix("baderkit "))

    for tool in tools:  # compilation, not timed
        call(tool)
    times = {tool: [] for tool in tools}
    populations = {}
    for _ in range(repeats):
        for tool in tools:
            out = call(tool)
            times[tool].append(out["time_s"])
            populations[tool] = np.array(out["populations"])
    ours = populations["oredox"]
    t_oredox = statistics.median(times["oredox"])
    row = {"grid": list(valence.data["total"].shape), "load": os.getloadavg()}
    line = f"{name:14s} oredox {min(times['oredox']):.3f} / {t_oredox:.3f} s"
    for tool in tools:
        row[tool] = {
            "s": spread(times[tool]),
            "populations": populations[tool].tolist(),
        }
        if tool == "oredox":
            continue
        ratio = statistics.median(times[tool]) / t_oredox
        diff = float(np.abs(ours - populations[tool]).max())
        row[tool] |= {"ratio_median": ratio, "max_abs_population_diff_e": diff}
        line += (
            f" | {tool} {min(times[tool]):.3f} / {statistics.median(times[tool]):.3f}"
            f" s ({ratio:.1f}x), max |dN| {diff:.4f} e"
        )
    print(f"{line} [{load_now()}]")
    print(f"{'':14s} oredox populations {np.round(ours, 4).tolist()}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    local = ROOT / ".bench-baderkit" / "bin" / "python"
    parser.add_argument(
        "--baderkit",
        type=Path,
        default=local if local.exists() else None,
        help="python of an environment with baderkit "
        "(default: .bench-baderkit/bin/python when it exists)",
    )
    parser.add_argument(
        "--grids",
        default="48,96,144",
        help="grid sizes N of the two-Gaussian cases, comma-separated",
    )
    parser.add_argument(
        "--no-recorded",
        action="store_true",
        help="only the two-Gaussian cases (not YPO4 or Fe3O4)",
    )
    parser.add_argument(
        "--fe3o4", type=Path, help="pymatgen's CHGCAR.Fe3O4_ref.gz (72^3 case)"
    )
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "bader.json"
    )
    args = parser.parse_args()
    try:
        grids = [int(n) for n in args.grids.split(",")]
    except ValueError:
        raise SystemExit(
            f"--grids takes comma-separated integers, not {args.grids!r}"
        ) from None
    if args.baderkit is None:
        print("no baderkit environment (--baderkit): oredox alone")
    load_start = os.getloadavg()
    print("times min / median; (Nx): the tool's median time / oredox's")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = write_cases(work, grids, not args.no_recorded, args.fe3o4)
        baderkit = None
        if args.baderkit is not None:
            baderkit = Baderkit(args.baderkit, work / "baderkit.log")
        for name, (charge, reference) in cases.items():
            results[name] = bench_case(name, charge, reference, baderkit, args.repeats)
        if baderkit is not None:
            baderkit.close()
    write_results(
        args.json,
        load_start,
        repeats=args.repeats,
        baderkit=f"baderkit {baderkit.version}" if baderkit else None,
        cases=results,
    )


if __name__ == "__main__":
    main()
