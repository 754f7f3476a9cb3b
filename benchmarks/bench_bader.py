"""Bader charges and time: oredox's weight method against baderkit on the same grids.

baderkit pins pymatgen <= 2025.10.7 and numba <= 0.65.1, so it cannot share oredox's
environment: give the python of a separate environment that has it::

    python3 -m venv .bench-baderkit && .bench-baderkit/bin/pip install baderkit
    .venv/bin/python benchmarks/bench_bader.py --baderkit .bench-baderkit/bin/python

Cases (same files for both tools; populations compared atom by atom):

- ``gaussians-N``: two unequal, overlapping Gaussians in a skewed cell on an N^3 grid,
  written as CHGCAR (an exact partition is not known; the tools are compared with
  each other and across grid sizes, which shows each method's grid convergence);
- ``ypo4``: the recorded YPO4 static (atomate's test files, copied into
  tests/data/bader): AECCAR2 integrated over the AECCAR0 + AECCAR2 basins, 48^3;
- ``fe3o4``: pymatgen's recorded Fe3O4 reference density (pymatgen-core
  ``test-files/io/vasp/outputs/CHGCAR.Fe3O4_ref.gz``, 72^3, given with ``--fe3o4``)
  as both density and reference.

baderkit runs its ``weight`` method (the same algorithm) and its default
``neargrid-weight``; the time of each tool excludes file parsing and includes its
compilation on the first case only (reported separately by repeating the first case).
The Henkelman ``bader`` binary is used too when it is on the PATH.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Chgcar

from oredox.analysis.bader import bader_charges

YPO4 = Path(__file__).resolve().parents[1] / "tests" / "data" / "bader" / "YPO4"

BADERKIT_RUNNER = r"""
import json, sys, time
from baderkit import Bader, Grid
charge, reference, methods = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
grid = Grid.from_vasp(charge)
ref = Grid.from_vasp(reference)
out = {}
for method in methods:
    for attempt in range(2):  # the first includes numba compilation
        bader = Bader(charge_grid=grid, reference_grid=ref, method=method)
        start = time.perf_counter()
        charges = list(map(float, bader.atom_charges))
        elapsed = time.perf_counter() - start
    out[method] = {"populations": charges, "time_s": elapsed}
print(json.dumps(out))
"""


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


def run_oredox(charge: Path, reference: Path) -> dict:
    valence = Chgcar.from_file(str(charge))
    ref = Chgcar.from_file(str(reference))
    bader_charges(valence.structure, valence.data["total"], ref.data["total"])  # jit
    start = time.perf_counter()
    result = bader_charges(
        valence.structure, valence.data["total"], ref.data["total"], vacuum_e_per_A3=-1
    )
    return {
        "populations": result.populations.tolist(),
        "time_s": time.perf_counter() - start,
    }


def run_baderkit(python: str, charge: Path, reference: Path) -> dict:
    done = subprocess.run(
        [
            python,
            "-c",
            BADERKIT_RUNNER,
            str(charge),
            str(reference),
            "weight,neargrid-weight",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baderkit", help="python of an environment with baderkit")
    parser.add_argument("--out", default="bench_bader.json")
    parser.add_argument(
        "--fe3o4", type=Path, help="pymatgen's CHGCAR.Fe3O4_ref.gz (72^3 case)"
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = {}
        for n in (48, 96, 144):
            path = work / f"gaussians-{n}" / "CHGCAR"
            path.parent.mkdir()
            gaussian_chgcar(n, path)
            cases[f"gaussians-{n}"] = (path, path)
        if YPO4.exists():
            folder = work / "ypo4"
            folder.mkdir()
            a0 = Chgcar.from_file(str(YPO4 / "AECCAR0.xz"))
            a2 = Chgcar.from_file(str(YPO4 / "AECCAR2.xz"))
            a2.write_file(str(folder / "AECCAR2"))
            Chgcar(
                a0.structure, {"total": a0.data["total"] + a2.data["total"]}
            ).write_file(str(folder / "CHGCAR_sum"))
            cases["ypo4"] = (folder / "AECCAR2", folder / "CHGCAR_sum")
        if args.fe3o4 is not None:
            folder = work / "fe3o4"
            folder.mkdir()
            Chgcar.from_file(str(args.fe3o4)).write_file(str(folder / "CHGCAR"))
            cases["fe3o4"] = (folder / "CHGCAR", folder / "CHGCAR")
        for name, (charge, reference) in cases.items():
            row = {"oredox": run_oredox(charge, reference)}
            if args.baderkit:
                row["baderkit"] = run_baderkit(args.baderkit, charge, reference)
            henkelman = run_henkelman(charge, reference)
            if henkelman:
                row["henkelman"] = henkelman
            results[name] = row
            report(name, row)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"results in {args.out}", file=sys.stderr)


def report(name: str, row: dict) -> None:
    ours = np.array(row["oredox"]["populations"])
    line = f"{name:14s} oredox {row['oredox']['time_s']:7.3f} s"
    for method, other in row.get("baderkit", {}).items():
        theirs = np.array(other["populations"])
        diff = np.abs(ours - theirs).max()
        ratio = other["time_s"] / row["oredox"]["time_s"]
        line += (
            f" | baderkit {method} {other['time_s']:7.3f} s (x{ratio:.1f} oredox),"
            f" max |dN| {diff:.4f} e"
        )
    if "henkelman" in row:
        theirs = np.array(row["henkelman"]["populations"])
        line += f" | bader {row['henkelman']['time_s']:.3f} s, max |dN| "
        line += f"{np.abs(ours - theirs).max():.4f} e"
    print(line)
    print(f"{'':14s} populations {np.round(ours, 4).tolist()}")


if __name__ == "__main__":
    main()
