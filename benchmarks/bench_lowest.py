"""The lowest Ewald energies of one content: branch and bound against the anchors.

For each case the ``keep`` lowest compensated point-charge Ewald energies of one
content are found three ways, interleaved, ``--repeats`` times:

- oredox ``structures.lowest.lowest_ewald`` (compiled branch and bound over
  symmetry-distinct arrangements; its Ewald set-up counted);
- oredox's full ranking (every distinct arrangement streamed as masks by
  ``iter_masks`` and ranked; what the screening did before);
- pymatgen's OrderDisorderedStructureTransformation (EwaldMinimizer, ALGO_FAST, branch
  and bound over raw orderings, symmetry duplicates included), the same compensation.

The lowest energies are compared: oredox's search against its full ranking (every
one of the ``keep``) and against pymatgen's lowest. pymatgen returns raw orderings, so
on a symmetric cell its ``keep`` lowest are copies of fewer distinct arrangements: the
like-for-like figure is the time to the lowest energy, which both find.

``--large`` adds 18 vacancies on the 36 Li of a 3x2x2 LiCoO2 supercell (126 million
distinct arrangements; no full ranking), once, with pymatgen in a child process cut
off after ``--anchor-timeout`` seconds.

    .venv/bin/python benchmarks/bench_lowest.py [--repeats 3] [--large]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
import warnings
from pathlib import Path

import numpy as np
from bench_delithiation import pymatgen_lowest
from measured import load_now, positive_int, spread, write_results

from oredox.structures.delithiation import (
    alkali_symmetry,
    iter_masks,
    masks_to_occupied,
)
from oredox.structures.ewald import DelithiationEwald
from oredox.structures.frameworks import make_supercell, o3_layered
from oredox.structures.lowest import lowest_ewald
from oredox.structures.seeds import ltno_sqs

RESULTS = Path(__file__).parent / "results" / "lowest.json"


def cases(large: bool):
    """(name, host, vacancies) of each case."""
    doubled = ltno_sqs().make_supercell([[2, 0, 0], [0, 1, 0], [0, 0, 1]], False)
    out = [
        ("LTNO SQS doubled, 8 of 28 Li", doubled, 8),
        ("LTNO SQS doubled, 14 of 28 Li", doubled, 14),
        (
            "LiCoO2 2x2x2, 12 of 24 Li",
            make_supercell(o3_layered("LiCoO2"), (2, 2, 2)),
            12,
        ),
    ]
    if large:
        host = make_supercell(o3_layered("LiCoO2"), (3, 2, 2))
        out.append(("LiCoO2 3x2x2, 18 of 36 Li", host, 18))
    return out


def oredox_search(host, sym, k: int, keep: int):
    start = time.perf_counter()
    found = lowest_ewald(sym, DelithiationEwald(host, sym.alkali_indices), k, keep)
    return found, time.perf_counter() - start


def oredox_full(host, sym, k: int, keep: int):
    start = time.perf_counter()
    model = DelithiationEwald(host, sym.alkali_indices)
    best = np.zeros(0)
    for masks, _ in iter_masks(sym, k):
        energies = model.energies(masks_to_occupied(masks, sym.n_sites))
        best = np.sort(np.concatenate([best, energies]))[:keep]
    return best, time.perf_counter() - start


def _pymatgen_child(host, sym, k, keep, queue):
    queue.put(pymatgen_lowest(host, sym, k, keep))


def pymatgen_with_timeout(host, sym, k: int, keep: int, timeout: float):
    """pymatgen's lowest in a child process; None when it passes ``timeout`` s."""
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(
        target=_pymatgen_child, args=(host, sym, k, keep, queue)
    )
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return queue.get()


def run_case(name, host, k, keep, repeats, full, anchor_timeout):
    sym = alkali_symmetry(host)
    lowest_ewald(sym, DelithiationEwald(host, sym.alkali_indices), 1, 2)  # compile
    t_search, t_full, t_pmg = [], [], []
    found = best = pmg = None
    for _ in range(repeats):
        found, elapsed = oredox_search(host, sym, k, keep)
        t_search.append(elapsed)
        print(
            f"  oredox lowest_ewald {elapsed:.4f} s ({found.nodes:,} nodes), "
            f"{load_now()}"
        )
        if full:
            best, elapsed = oredox_full(host, sym, k, keep)
            t_full.append(elapsed)
            print(f"  oredox full ranking {elapsed:.3f} s, {load_now()}")
        result = pymatgen_with_timeout(host, sym, k, keep, anchor_timeout)
        if result is None:
            print(
                f"  pymatgen ODST: no result within {anchor_timeout:.0f} s, "
                f"{load_now()}"
            )
            t_pmg.append(None)
        else:
            pmg, elapsed = result
            t_pmg.append(elapsed)
            print(f"  pymatgen ODST {elapsed:.3f} s, {load_now()}")
    row = {
        "case": name,
        "alkali_sites": sym.n_sites,
        "symmetry_operations": len(sym.permutations),
        "vacancies": k,
        "keep": keep,
        "distinct": found.distinct,
        "nodes": found.nodes,
        "oredox_lowest_s": spread(t_search),
        "oredox_lowest_eV": float(found.energies_eV[0]),
    }
    if full:
        row["oredox_full_ranking_s"] = spread(t_full)
        row["search_vs_full_max_diff_eV"] = float(
            np.abs(found.energies_eV - best[: len(found.energies_eV)]).max()
        )
        row["full_over_search_median"] = (
            row["oredox_full_ranking_s"]["median"] / (row["oredox_lowest_s"]["median"])
        )
    timed = [t for t in t_pmg if t is not None]
    if timed:
        row["pymatgen_odst_s"] = spread(timed)
        row["pymatgen_lowest_eV"] = float(pmg[0])
        row["lowest_diff_eV"] = abs(float(pmg[0]) - float(found.energies_eV[0]))
        row["pymatgen_over_oredox_median"] = (
            row["pymatgen_odst_s"]["median"] / row["oredox_lowest_s"]["median"]
        )
    if len(timed) < len(t_pmg):
        row["pymatgen_timed_out_after_s"] = anchor_timeout
    print(
        f"{name}: oredox {row['oredox_lowest_s']['median']:.4f} s median; "
        + (
            f"pymatgen {row['pymatgen_odst_s']['median']:.3f} s "
            f"({row['pymatgen_over_oredox_median']:.0f}x), lowest energies differ by "
            f"{row['lowest_diff_eV']:.1e} eV"
            if timed
            else "pymatgen: no result"
        )
    )
    return row


def main() -> None:
    # pymatgen warns that the disordered host has no "sublattice" property on
    # every site, once per call
    warnings.filterwarnings("ignore", message="Not all sites have property")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--keep", type=positive_int, default=20)
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--anchor-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    load_start = os.getloadavg()
    rows = []
    for name, host, k in cases(args.large):
        large = "36 Li" in name
        print(f"{name} (keep {args.keep}):")
        rows.append(
            run_case(
                name,
                host,
                k,
                args.keep,
                1 if large else args.repeats,
                full=not large,
                anchor_timeout=args.anchor_timeout,
            )
        )
    write_results(args.out, load_start, repeats=args.repeats, rows=rows)


if __name__ == "__main__":
    main()
