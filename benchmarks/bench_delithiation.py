"""Delithiation enumeration, Ewald ranking and CHGNet screening against the anchors.

Sections (all by default; pick with --only):

- ``enumeration``: every symmetry-distinct Li/vacancy arrangement at every content of
  Li16Mn8O24 (Li2MnO3 conventional cell doubled along c). Like for like: contents
  1-15 ranked by the same compensated Ewald energy, oredox (every distinct
  arrangement) vs pymatgen's OrderDisorderedStructureTransformation (as many lowest
  orderings, symmetry duplicates included). Enumeration alone, the same output: CASM's
  ``ConfigEnumAllOccupations`` on the same fixed cell (libcasm-configuration in its
  own environment, ``--casm-python``; timed in its child process, counts per content
  checked equal to oredox's). icet's enumerate_structures (every cell shape of 4
  primitive cells, a different and larger task) is timed once, labelled, no ratio.
- ``ewald``: rank every distinct arrangement of 8 vacancies among the 28 Li of the
  LTNO SQS cell doubled (about 1.5 million) by compensated point-charge Ewald energy,
  keeping the 20 lowest; pymatgen's ODST asked for the same 20 lowest (raw orderings,
  duplicates included) with the same compensation.
- ``chgnet``: CHGNet single points of 40 configurations of LiCoO2 hex 2x2x1 (48
  atoms): one shared model (oredox's screener) vs one atomate2 force-field static job
  each, the same energies, and the effect of the model-call batch size.
- ``quality``: relax those 13 with CHGNet; for k = 1, 3, 5, the fraction of the relaxed
  hull's vertices that each cheap ranking (Ewald, CHGNet single point) puts in its top k
  at their content.

``--repeats`` interleaved runs for enumeration, ewald and chgnet (min and median), the
load average beside each figure and at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np
from bench_enumeration import casm_counts, default_casm_python
from measured import load_now, positive_int, spread
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from oredox.structures.delithiation import (
    alkali_symmetry,
    enumerate_all,
    iter_configurations,
    masks_to_occupied,
)
from oredox.structures.ewald import DelithiationEwald
from oredox.structures.frameworks import make_supercell, o3_layered
from oredox.structures.seeds import li2mno3_honeycomb, ltno_sqs


def li16mn8o24():
    conv = SpacegroupAnalyzer(li2mno3_honeycomb()).get_conventional_standard_structure()
    return conv.make_supercell([1, 1, 2], in_place=False)


def oredox_ranked(host, contents) -> tuple[list[np.ndarray], float]:
    """oredox: every distinct arrangement of each content, ranked by Ewald energy."""
    start = time.perf_counter()
    sym = alkali_symmetry(host)
    model = DelithiationEwald(host, sym.alkali_indices)
    ranked = []
    for k in contents:
        masks = np.array(
            [sum(1 << i for i in c.vacancies) for c in iter_configurations(sym, k)],
            dtype=np.int64,
        )
        ranked.append(np.sort(model.energies(masks_to_occupied(masks, sym.n_sites))))
    return ranked, time.perf_counter() - start


def pymatgen_ranked(host, sym, contents) -> tuple[list[tuple[float, int]], float]:
    """pymatgen ODST (EwaldMinimizer), per content, as many orderings as distinct ones.

    Mn charge 4 + k/8 compensates the removed Li, as oredox's ``"metal"``
    compensation does; returns (lowest energy, orderings returned) per content.
    """
    from pymatgen.core import Species
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation,
    )

    # its "complete" algorithm raises NotImplementedError
    algo = OrderDisorderedStructureTransformation.ALGO_FAST
    transformation = OrderDisorderedStructureTransformation(algo=algo)
    wanted = {k: sum(1 for _ in iter_configurations(sym, k)) for k in contents}
    start = time.perf_counter()
    out = []
    for k in contents:
        disordered = host.copy()
        fraction = 1 - k / sym.n_sites
        for i in sym.alkali_indices:
            disordered.replace(i, {Species("Li", 1): fraction})
        for i, site in enumerate(disordered):
            if site.is_ordered and site.specie.symbol == "Mn":
                disordered.replace(i, Species("Mn", 4 + k / 8))
        ranked = transformation.apply_transformation(disordered, wanted[k])
        out.append((ranked[0]["energy"], len(ranked)))
    return out, time.perf_counter() - start


def bench_enumeration(repeats: int = 3, casm_python: Path | None = None) -> dict:
    """Li16Mn8O24: enumeration, and Ewald-ranked orderings against pymatgen's ODST.

    Like for like: contents 1-15 (pymatgen refuses the ordered end members), the same
    compensated point-charge Ewald energy on both sides (checked: the lowest energy of
    each content agrees). Output differs in kind: oredox returns every symmetry-distinct
    arrangement ranked; pymatgen returns as many lowest raw orderings, symmetry
    duplicates included. icet's enumerate_structures (size 4) enumerates every cell
    shape of that size, a different and larger task: timed once, no ratio.

    Enumeration alone (all 17 contents, no ranking) against CASM's
    ConfigEnumAllOccupations on the same fixed cell, when ``casm_python`` is given:
    the same output, the distinct arrangements per content, checked equal each run.
    """
    host = li16mn8o24()
    sym = alkali_symmetry(host)
    contents = range(1, sym.n_sites)
    enumerate_all(sym)  # compile
    oredox_ranked(host, [1])
    t_all, t_ranked, t_pmg, t_casm, loads = [], [], [], [], []
    casm_version = None
    for _ in range(repeats):
        start = time.perf_counter()
        configs = enumerate_all(alkali_symmetry(host))
        t_all.append(time.perf_counter() - start)
        total = len(configs)
        if casm_python is not None:
            counts = [0] * (sym.n_sites + 1)
            for config in configs:
                counts[config.n_vacancies] += 1
            casm, elapsed, casm_version = casm_counts(casm_python, host)
            if casm != counts:
                raise SystemExit(f"oredox {counts} != CASM {casm}")
            t_casm.append(elapsed)
        ranked, elapsed = oredox_ranked(host, contents)
        t_ranked.append(elapsed)
        pmg, elapsed = pymatgen_ranked(host, sym, contents)
        t_pmg.append(elapsed)
        loads.append(os.getloadavg()[0])
    lowest_diff = max(
        abs(float(r[0]) - e) for r, (e, _) in zip(ranked, pmg, strict=True)
    )
    n_ranked = sum(len(r) for r in ranked)
    n_pmg = sum(n for _, n in pmg)
    ratio = statistics.median(t_pmg) / statistics.median(t_ranked)
    print(
        f"oredox: {total} distinct arrangements at all 17 contents, min / median "
        f"{min(t_all):.4f} / {statistics.median(t_all):.4f} s [{load_now()}]"
    )
    casm_fields = {}
    if t_casm:
        casm_ratio = statistics.median(t_casm) / statistics.median(t_all)
        print(
            f"CASM ConfigEnumAllOccupations, the same cell, the same counts: min / "
            f"median {min(t_casm):.4f} / {statistics.median(t_casm):.4f} s; CASM / "
            f"oredox {casm_ratio:.3g}x (medians) [{load_now()}]"
        )
        casm_fields = {
            "casm": f"libcasm-configuration {casm_version}",
            "casm_all_contents_s": spread(t_casm),
            "casm_ratio_median": casm_ratio,
        }
    print(
        f"contents 1-15, Ewald-ranked: oredox {n_ranked} distinct, min / median "
        f"{min(t_ranked):.3f} / {statistics.median(t_ranked):.3f} s; pymatgen ODST "
        f"{n_pmg} orderings (duplicates included), {min(t_pmg):.2f} / "
        f"{statistics.median(t_pmg):.2f} s; ratio {ratio:.0f}x (medians); lowest "
        f"energies per content agree to {lowest_diff:.2e} eV [{load_now()}]"
    )

    from icet.tools import enumerate_structures
    from pymatgen.io.ase import AseAtomsAdaptor

    prim = SpacegroupAnalyzer(li2mno3_honeycomb()).get_primitive_standard_structure()
    atoms = AseAtomsAdaptor.get_atoms(prim)
    symbols = [["Li", "X"] if s == "Li" else [s] for s in atoms.get_chemical_symbols()]
    start = time.perf_counter()
    n_icet = sum(1 for _ in enumerate_structures(atoms, [4], symbols))
    t_icet = time.perf_counter() - start
    print(
        f"icet enumerate_structures, size 4, every cell shape (a different task, "
        f"no ratio): {n_icet} structures in {t_icet:.2f} s, once [{load_now()}]"
    )
    return {
        "oredox_all_contents_s": spread(t_all),
        "oredox_distinct": total,
        **casm_fields,
        "oredox_ranked_1_15_s": spread(t_ranked),
        "oredox_ranked_1_15_distinct": n_ranked,
        "pymatgen_odst_1_15_s": spread(t_pmg),
        "pymatgen_odst_orderings": n_pmg,
        "lowest_energy_max_diff_eV": lowest_diff,
        "ratio_median": ratio,
        "loadavg_1min_per_repeat": loads,
        "icet_all_shapes_different_task_s": t_icet,
        "icet_all_shapes_different_task_structures": n_icet,
    }


def oredox_lowest(host, sym, k: int, keep: int) -> tuple[np.ndarray, int, float]:
    """Every distinct arrangement of k vacancies Ewald-ranked; the ``keep`` lowest."""
    start = time.perf_counter()
    model = DelithiationEwald(host, sym.alkali_indices)
    best_e, n = np.array([]), 0
    batch: list[int] = []

    def flush(batch, best_e):
        masks = np.array(batch, dtype=np.int64)
        e = model.energies(masks_to_occupied(masks, sym.n_sites))
        return np.sort(np.concatenate([best_e, e]))[:keep]

    for config in iter_configurations(sym, k):
        batch.append(sum(1 << i for i in config.vacancies))
        n += 1
        if len(batch) == 200_000:
            best_e = flush(batch, best_e)
            batch = []
    if batch:
        best_e = flush(batch, best_e)
    return best_e, n, time.perf_counter() - start


def pymatgen_lowest(host, sym, k: int, keep: int) -> tuple[np.ndarray, float]:
    """pymatgen ODST: the ``keep`` lowest raw orderings, the same compensation."""
    from pymatgen.core import Species
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation,
    )

    start = time.perf_counter()
    disordered = host.copy()
    alkali = set(sym.alkali_indices)
    carriers = [
        i for i, s in enumerate(host) if i not in alkali and s.specie.oxi_state > 0
    ]
    q_alkali = np.mean([host[i].specie.oxi_state for i in alkali])
    for i in alkali:
        disordered.replace(i, {host[i].specie: 1 - k / sym.n_sites})
    for i in carriers:
        sp = host[i].specie
        disordered.replace(
            i, Species(sp.symbol, sp.oxi_state + k * q_alkali / len(carriers))
        )
    transformation = OrderDisorderedStructureTransformation(
        algo=OrderDisorderedStructureTransformation.ALGO_FAST
    )
    ranked = transformation.apply_transformation(disordered, keep)
    energies = np.array([r["energy"] for r in ranked])
    return energies, time.perf_counter() - start


def bench_ewald(keep: int = 20, repeats: int = 3) -> dict:
    """8 vacancies on the 28 Li of the LTNO SQS doubled: the ``keep`` lowest Ewald.

    oredox ranks every distinct arrangement (its Ewald set-up included); pymatgen's
    ODST (EwaldMinimizer, branch and bound) finds the ``keep`` lowest raw orderings,
    symmetry duplicates included. Same energy (the lowest is compared); interleaved.
    """
    sqs = ltno_sqs()
    host = sqs.make_supercell([[2, 0, 0], [0, 1, 0], [0, 0, 1]], in_place=False)
    sym = alkali_symmetry(host)
    oredox_lowest(host, sym, 1, keep)  # compile
    t_oredox, t_pmg = [], []
    for _ in range(repeats):
        best_e, n, elapsed = oredox_lowest(host, sym, 8, keep)
        t_oredox.append(elapsed)
        pmg_e, elapsed = pymatgen_lowest(host, sym, 8, keep)
        t_pmg.append(elapsed)
    ratio = statistics.median(t_oredox) / statistics.median(t_pmg)
    print(
        f"Ewald ranking: {n:,} distinct arrangements of 8 vacancies on "
        f"{sym.n_sites} Li ({len(host)} atoms), min / median {min(t_oredox):.2f} / "
        f"{statistics.median(t_oredox):.2f} s; lowest {best_e[0]:.3f} eV, spread of "
        f"the kept {keep}: {1000 * (best_e[-1] - best_e[0]):.1f} meV [{load_now()}]"
    )
    print(
        f"pymatgen ODST, the {keep} lowest raw orderings: min / median "
        f"{min(t_pmg):.3f} / {statistics.median(t_pmg):.3f} s, lowest "
        f"{pmg_e[0]:.3f} eV; pymatgen {ratio:.0f}x faster for the lowest {keep} "
        f"[{load_now()}]"
    )
    return {
        "configurations": n,
        "oredox_rank_all_s": spread(t_oredox),
        "oredox_lowest_eV": float(best_e[0]),
        "pymatgen_lowest_keep_s": spread(t_pmg),
        "pymatgen_lowest_eV": float(pmg_e[0]),
        "keep": keep,
        "pymatgen_faster_ratio_median": ratio,
    }


def licoo2_cell():
    host = make_supercell(o3_layered("LiCoO2"), (2, 1, 1))
    sym = alkali_symmetry(host)
    configs = enumerate_all(sym)
    masks = np.array(
        [sum(1 << i for i in c.vacancies) for c in configs], dtype=np.int64
    )
    return host, sym, configs, masks


def chgnet_cells(n: int = 40):
    """The screening host, LiCoO2 hex 2x2x1 (48 atoms), and its first ``n`` cells.

    Returns (host, symmetry, occupied): the first ``n`` distinct arrangements of
    ``enumerate_all``, as rows of occupied Li sites.
    """
    host = make_supercell(o3_layered("LiCoO2"), (2, 2, 1))  # 48 atoms
    sym = alkali_symmetry(host)
    masks = np.array([sum(1 << i for i in c.vacancies) for c in enumerate_all(sym)])
    return host, sym, masks_to_occupied(masks[:n], sym.n_sites)


def bench_chgnet(n: int = 40, repeats: int = 3) -> dict:
    """Same 40 single points both ways (energies compared), interleaved repeats."""
    from atomate2.forcefields.jobs import ForceFieldStaticMaker
    from jobflow import run_locally

    from oredox.workflows.chgnet_points import ChgnetSinglePoint

    host, sym, occupied = chgnet_cells(n)
    t_shared, t_jobs = [], []
    for _ in range(repeats):
        # oredox: one model for all (its load counted), default batch size
        start = time.perf_counter()
        screener = ChgnetSinglePoint(host, sym)
        shared = screener.energies(occupied)
        t_shared.append(time.perf_counter() - start)
        structures = screener.structures(occupied)
        start = time.perf_counter()
        per_job = []
        for s in structures:
            job = ForceFieldStaticMaker(force_field_name="CHGNet").make(s)
            out = run_locally(job, log=False, ensure_success=True)
            per_job.append(out[job.uuid][1].output.output.energy)
        t_jobs.append(time.perf_counter() - start)
    by_batch = {}
    for size in (1, 4, 16):
        screener.batch_size = size
        start = time.perf_counter()
        screener.energies(occupied)
        by_batch[size] = time.perf_counter() - start
    agree = float(np.max(np.abs(np.array(per_job) - shared)))
    ratio = statistics.median(t_jobs) / statistics.median(t_shared)
    print(
        f"CHGNet single points of {n} cells of {len(host)} atoms, min / median: one "
        f"shared model {min(t_shared):.2f} / {statistics.median(t_shared):.2f} s "
        f"(model load included), one atomate2 job each {min(t_jobs):.2f} / "
        f"{statistics.median(t_jobs):.2f} s -> {ratio:.1f}x; largest energy "
        f"difference {1000 * agree:.2f} meV [{load_now()}]"
    )
    print(
        "  model-call batch size, warm model: "
        + ", ".join(f"{size}: {t:.2f} s" for size, t in by_batch.items())
        + f" (one run each; bench_chgnet_batch.py repeats it) [{load_now()}]"
    )
    return {
        "shared_model_s": spread(t_shared),
        "per_job_s": spread(t_jobs),
        "ratio_median": ratio,
        "by_batch_s": by_batch,
        "max_diff_eV": agree,
    }


def bench_quality() -> dict:
    from chgnet.model import StructOptimizer

    from oredox.analysis.hull import lower_hull
    from oredox.workflows.chgnet_points import ChgnetSinglePoint

    host, sym, configs, masks = licoo2_cell()
    occupied = masks_to_occupied(masks, sym.n_sites)
    k_of = np.array([c.n_vacancies for c in configs])
    ewald = np.concatenate(
        [
            DelithiationEwald(host, sym.alkali_indices).energies(occupied[k_of == k])
            for k in range(sym.n_sites + 1)
        ]
    )
    order = np.argsort(k_of, kind="stable")  # energies above are grouped by k
    ewald_by_config = np.empty(len(configs))
    ewald_by_config[order] = ewald
    screener = ChgnetSinglePoint(host, sym)
    single = screener.energies(occupied)
    optimizer = StructOptimizer(model=screener.model)
    relaxed = np.array(
        [
            float(
                optimizer.relax(s, fmax=0.05, steps=500, verbose=False)[
                    "trajectory"
                ].energies[-1]
            )
            for s in screener.structures(occupied)
        ]
    )
    x = (sym.n_sites - k_of) / 6
    vertices = lower_hull(x, relaxed / 6)
    result = {}
    for name, score in (("ewald", ewald_by_config), ("chgnet single point", single)):
        for top in (1, 3, 5):
            hits = 0
            for v in vertices:
                same = np.flatnonzero(k_of == k_of[v])
                ranked = same[np.argsort(score[same], kind="stable")][:top]
                hits += v in ranked
            result[f"{name} top {top}"] = hits / len(vertices)
    print("fraction of the relaxed hull's vertices in each ranking's top k:")
    for key, value in result.items():
        print(f"  {key}: {value:.2f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["enumeration", "ewald", "chgnet", "quality"])
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument(
        "--casm-python",
        type=Path,
        default=default_casm_python(),
        help="python of an environment with libcasm-configuration, the enumeration "
        "anchor (default: .bench-casm/bin/python if it exists, else "
        "/tmp/casm/bin/python)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(__file__).parent / "results" / "delithiation.json",
    )
    args = parser.parse_args()
    sections = {
        "enumeration": lambda: bench_enumeration(args.repeats, casm_python),
        "ewald": lambda: bench_ewald(repeats=args.repeats),
        "chgnet": lambda: bench_chgnet(repeats=args.repeats),
        "quality": bench_quality,
    }
    casm_python = args.casm_python if args.casm_python.exists() else None
    if casm_python is None and args.only in (None, "enumeration"):
        print(f"no {args.casm_python}: the CASM enumeration anchor skipped")
    results = {"date": date.today().isoformat(), "loadavg_start": os.getloadavg()}
    for name, fn in sections.items():
        if args.only in (None, name):
            print(f"--- {name}")
            results[name] = fn()
    results["loadavg_end"] = os.getloadavg()
    print(f"load average: {results['loadavg_start']} -> {results['loadavg_end']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
