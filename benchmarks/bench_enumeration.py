"""Symmetry-distinct Li/vacancy enumeration: oredox vs pymatgen StructureMatcher.

The anchor is what one does without an enumerator: build every raw arrangement
(2^n structures) and group them with pymatgen's StructureMatcher. Both must give the
same number of distinct configurations at every Li content (the same output); the
script checks that and prints the wall times and their ratio. oredox's numba loop is
compiled before any timing; the two tools run interleaved, ``--repeats`` times, and the
min and median are reported with the load average. Cells above
``--max-anchor-sites`` Li sites are timed for oredox only (the anchor grows as 4^n).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from itertools import combinations
from pathlib import Path

from measured import spread, write_results
from pymatgen.analysis.structure_matcher import StructureMatcher

from oredox.structures.delithiation import alkali_symmetry, enumerate_all
from oredox.structures.frameworks import make_supercell, o3_layered

CELLS = {
    "LiCoO2 hex 2x1x1 (6 Li)": (False, (2, 1, 1)),
    "LiCoO2 rh 2x2x2 (8 Li)": (True, (2, 2, 2)),
    "LiCoO2 hex 2x2x1 (12 Li)": (False, (2, 2, 1)),
    "LiCoO2 rh 3x3x2 (18 Li)": (True, (3, 3, 2)),
}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-anchor-sites", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results" / "enumeration.json",
    )
    args = parser.parse_args()
    load_start = os.getloadavg()
    oredox_counts(host(False, (2, 1, 1)))  # numba compile, not timed
    results = []
    for name, (primitive, supercell) in CELLS.items():
        structure = host(primitive, supercell)
        n_sites = structure.composition["Li"]
        with_anchor = n_sites <= args.max_anchor_sites
        t_oredox, t_anchor = [], []
        for _ in range(args.repeats):
            counts, elapsed = oredox_counts(structure)
            t_oredox.append(elapsed)
            if with_anchor:
                anchor, elapsed = matcher_counts(structure)
                if anchor != counts:
                    raise SystemExit(
                        f"{name}: oredox {counts} != StructureMatcher {anchor}"
                    )
                t_anchor.append(elapsed)
        row = {
            "cell": name,
            "li_sites": n_sites,
            "distinct": sum(counts),
            "oredox_s": spread(t_oredox),
        }
        anchor_text = "anchor skipped"
        if with_anchor:
            ratio = statistics.median(t_anchor) / statistics.median(t_oredox)
            row |= {"structurematcher_s": spread(t_anchor), "ratio_median": ratio}
            anchor_text = (
                f"StructureMatcher min / median {min(t_anchor):.3f} / "
                f"{statistics.median(t_anchor):.3f} s, ratio {ratio:.0f}x (medians)"
            )
        results.append(row)
        print(
            f"{name}: {row['distinct']} distinct; oredox min / median "
            f"{min(t_oredox):.4f} / {statistics.median(t_oredox):.4f} s; {anchor_text}"
        )
    write_results(args.json, load_start, cells=results)


if __name__ == "__main__":
    main()
