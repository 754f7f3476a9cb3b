"""Cluster-expansion annealing: oredox ``anneal`` vs icet's mchammer, same CE and cell.

The cluster expansion is icet's on the rhombohedral primitive cell of LiCoO2 (Li/vacancy
site; pairs to 6 A, triplets to 4.5 A) with random parameters drawn from N(0, 0.05 eV)
with a fixed seed (not fitted to anything: a test of the search, not of physics). The
cell is the 6x6x3 supercell of that primitive cell (108 Li sites, 432 atoms; large
enough that mchammer reports no self-interaction) at x = 0.5 (54 Li).

oredox turns the CE into its occupation polynomial on the cell
(``OccupationPolynomial.from_function`` with mchammer's ``calculate_total`` as the
energy; the set-up time is printed) and runs ``anneal`` with one restart; mchammer runs
``CanonicalAnnealing`` with ``ClusterExpansionCalculator`` and a cooling function that
follows the same ladder (30 temperatures, 2000 K to 10 K, geometric) with the same
number of trial swaps (``--sweeps`` per site and temperature: 100 x 108 x 30 = 324,000).
Per tool: wall time (min / median of 3 runs, the tools interleaved, the load average
printed beside each), trial steps per second and the lowest energy reached, eV per cell
(mchammer's lowest recorded potential; oredox's ends with a T = 0 pass over the single
swaps away from its lowest state). oredox's own 10-restart result is the reference,
and the share of 20 more single oredox anneals that reach it is printed;
the exhaustive ground state of this cell cannot be computed (C(108, 54) ~ 1e31
arrangements), so a 16-site 2x2x4 cell is also annealed by both and compared with its
exhaustive ground state (mchammer warns of self-interaction there).

Run: ``.venv/bin/pip install icet && .venv/bin/python benchmarks/bench_ce_mc.py``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from icet import ClusterExpansion, ClusterSpace
from mchammer.calculators import ClusterExpansionCalculator
from mchammer.ensembles import CanonicalAnnealing
from pymatgen.io.ase import AseAtomsAdaptor

from oredox.structures.ce_search import (
    OccupationPolynomial,
    anneal,
    lowest_exhaustive,
    triplet_candidates,
)
from oredox.structures.delithiation import alkali_symmetry
from oredox.structures.frameworks import o3_layered

LADDER_K = np.geomspace(2000.0, 10.0, 30)


def cluster_expansion():
    prim = o3_layered("LiCoO2").get_primitive_structure()
    prim.remove_oxidation_states()
    atoms = AseAtomsAdaptor.get_atoms(prim)
    allowed = [["Li", "X"] if a.symbol == "Li" else [a.symbol] for a in atoms]
    space = ClusterSpace(atoms, [6.0, 4.5], allowed)
    return prim, ClusterExpansion(
        space, np.random.default_rng(0).normal(0, 0.05, len(space))
    )


class Cell:
    """A supercell, mchammer's calculator on it and oredox's polynomial of it."""

    def __init__(self, prim, ce, repeat):
        self.ce = ce
        self.host = prim * repeat
        self.atoms = AseAtomsAdaptor.get_atoms(self.host)
        self.li = np.array(
            [i for i, s in enumerate(self.host) if s.specie.symbol == "Li"]
        )
        self.calculator = ClusterExpansionCalculator(self.atoms, ce)
        start = time.perf_counter()
        candidates = triplet_candidates(self.host, self.li, 4.5)
        self.polynomial = OccupationPolynomial.from_function(
            self.energies, len(self.li), triplet_candidates=candidates
        )
        self.setup_s = time.perf_counter() - start

    def numbers(self, occupied):
        z = self.atoms.numbers.copy()
        z[self.li[~occupied]] = 0  # X, the vacancy
        return z

    def energies(self, occupied):
        """mchammer's total energy, eV per cell (icet predict x atoms, X included)."""
        return np.array(
            [
                self.calculator.calculate_total(occupations=self.numbers(o))
                for o in occupied
            ]
        )


def run_oredox(cell, n_li, sweeps, seed, restarts=1):
    start = time.perf_counter()
    _, energies = anneal(
        cell.polynomial, n_li, LADDER_K, sweeps, seed=seed, keep=1, restarts=restarts
    )
    return time.perf_counter() - start, float(energies[0])


def run_mchammer(cell, n_li, sweeps, seed):
    n_sites = len(cell.li)
    steps_per_t = sweeps * n_sites
    n_steps = steps_per_t * len(LADDER_K)
    rng = np.random.default_rng(seed)
    occupied = np.zeros(n_sites, dtype=bool)
    occupied[rng.choice(n_sites, n_li, replace=False)] = True
    atoms = cell.atoms.copy()
    atoms.numbers = cell.numbers(occupied)

    def ladder(step, t_start, t_stop, n_steps):
        return LADDER_K[min(step // steps_per_t, len(LADDER_K) - 1)]

    start = time.perf_counter()
    mc = CanonicalAnnealing(
        atoms,
        ClusterExpansionCalculator(atoms, cell.ce),
        T_start=LADDER_K[0],
        T_stop=LADDER_K[-1],
        n_steps=n_steps,
        cooling_function=ladder,
        random_seed=seed + 1,
    )
    mc.run()
    wall = time.perf_counter() - start
    final = mc.calculator.calculate_total(occupations=mc.configuration.occupations)
    return wall, float(min(final, mc.estimated_ground_state_potential))


def compare(cell, n_li, sweeps, repeats):
    n_steps = sweeps * len(cell.li) * len(LADDER_K)
    run_oredox(cell, n_li, 1, 99)  # numba: load or compile the kernels
    runs = {"oredox": [], "mchammer": []}
    for rep in range(repeats):
        for name, run in (("oredox", run_oredox), ("mchammer", run_mchammer)):
            wall, energy = run(cell, n_li, sweeps, seed=rep)
            load = os.getloadavg()
            runs[name].append({"wall_s": wall, "lowest_eV": energy, "loadavg": load})
            print(
                f"  {name:8s} run {rep}: {wall:7.3f} s, {n_steps / wall:12,.0f} "
                f"steps/s, lowest {energy:.6f} eV   load {load[0]:.2f} {load[1]:.2f}"
            )
    summary = {"trial_steps": n_steps}
    for name, result in runs.items():
        walls = sorted(r["wall_s"] for r in result)
        summary[name] = {
            "runs": result,
            "wall_min_s": walls[0],
            "wall_median_s": walls[len(walls) // 2],
            "steps_per_s_median": n_steps / walls[len(walls) // 2],
            "lowest_eV": min(r["lowest_eV"] for r in result),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweeps", type=int, default=100, help="per temperature")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "ce_mc.json"
    )
    args = parser.parse_args()
    prim, ce = cluster_expansion()
    results = {"ladder_K": [LADDER_K[0], LADDER_K[-1], len(LADDER_K)]}

    cell = Cell(prim, ce, (6, 6, 3))
    n = len(cell.li)
    occupied = np.random.default_rng(1).random((20, n)) < 0.5
    error = np.abs(cell.polynomial.energies(occupied) - cell.energies(occupied)).max()
    print(
        f"6x6x3 cell: {n} Li sites, x = 0.5; polynomial set-up {cell.setup_s:.2f} s "
        f"({len(cell.polynomial.triplets)} triplets), max |polynomial - mchammer| "
        f"{error:.1e} eV on 20 random arrangements"
    )
    summary = compare(cell, n // 2, args.sweeps, args.repeats)
    start = time.perf_counter()
    _, reference = run_oredox(cell, n // 2, args.sweeps, seed=7, restarts=10)
    reference_s = time.perf_counter() - start
    print(f"  oredox 10 restarts: lowest {reference:.6f} eV in {reference_s:.2f} s")
    hits = [
        run_oredox(cell, n // 2, args.sweeps, seed=100 + k)[1] < reference + 1e-6
        for k in range(20)
    ]
    print(f"  oredox single anneals reaching the reference: {sum(hits)} of 20 seeds")
    for name in ("oredox", "mchammer"):
        s = summary[name]
        print(
            f"  {name:8s} min {s['wall_min_s']:.3f} s, median {s['wall_median_s']:.3f}"
            f" s, {s['steps_per_s_median']:,.0f} steps/s, lowest {s['lowest_eV']:.6f}"
            f" eV ({s['lowest_eV'] - reference:+.4f} vs reference)"
        )
    ratio = summary["mchammer"]["wall_median_s"] / summary["oredox"]["wall_median_s"]
    print(f"  median wall time mchammer / oredox: {ratio:.0f}x")
    results["cell_108"] = {
        **summary,
        "polynomial_setup_s": cell.setup_s,
        "polynomial_max_error_eV": error,
        "reference_10_restarts_eV": reference,
        "oredox_single_anneal_hits_of_20": sum(hits),
        "speedup_median": ratio,
    }

    small = Cell(prim, ce, (2, 2, 4))
    _, exhaustive = lowest_exhaustive(small.polynomial, alkali_symmetry(small.host), 8)
    print(
        f"2x2x4 cell: 16 Li sites, x = 0.5, exhaustive ground state {exhaustive[0]:.6f}"
    )
    small_summary = compare(small, 8, args.sweeps, 1)
    results["cell_16"] = {**small_summary, "exhaustive_eV": float(exhaustive[0])}

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
