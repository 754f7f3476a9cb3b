"""Symmetry-distinct Li/vacancy enumeration: oredox vs pymatgen StructureMatcher.

The anchor is what one does without an enumerator: build every raw arrangement
(2^n structures) and group them with pymatgen's StructureMatcher. Both must give the
same number of distinct configurations at every Li content; the script checks that and
prints the wall times and their ratio. Cells above ``--max-anchor-sites`` Li sites are
timed for oredox only (the anchor grows as 4^n).
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations
from pathlib import Path

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
    parser.add_argument("--json", type=Path, default=Path("bench_enumeration.json"))
    args = parser.parse_args()
    results = []
    for name, (primitive, supercell) in CELLS.items():
        structure = host(primitive, supercell)
        n_sites = structure.composition["Li"]
        counts, t_oredox = oredox_counts(structure)
        row = {
            "cell": name,
            "li_sites": n_sites,
            "distinct": sum(counts),
            "oredox_s": t_oredox,
        }
        if n_sites <= args.max_anchor_sites:
            anchor, t_anchor = matcher_counts(structure)
            if anchor != counts:
                raise SystemExit(
                    f"{name}: oredox {counts} != StructureMatcher {anchor}"
                )
            row |= {"structurematcher_s": t_anchor, "speedup": t_anchor / t_oredox}
        results.append(row)
        anchor_text = (
            f"StructureMatcher {row['structurematcher_s']:.3f} s, "
            f"ratio {row['speedup']:.0f}x"
            if "speedup" in row
            else "anchor skipped"
        )
        print(
            f"{name}: {row['distinct']} distinct; oredox {t_oredox:.4f} s; "
            f"{anchor_text}"
        )
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
