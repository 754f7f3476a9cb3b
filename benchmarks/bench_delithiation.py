"""Delithiation enumeration, Ewald ranking and CHGNet screening against the anchors.

Sections (all by default; pick with --only):

- ``enumeration``: every symmetry-distinct Li/vacancy arrangement at every content of
  Li16Mn8O24 (Li2MnO3 conventional cell doubled along c). oredox vs pymatgen's
  OrderDisorderedStructureTransformation (Ewald-ranked orderings of one content,
  x = 0.5, all of them requested) and icet's enumerate_structures (all derivative
  structures of the 4-primitive-cell size, Li/vacancy on the Li sites; a superset: it
  also enumerates the other supercell shapes of that size).
- ``ewald``: rank every distinct arrangement of 8 vacancies among the 28 Li of the
  LTNO SQS cell doubled (about 1.5 million) by compensated point-charge Ewald energy.
- ``chgnet``: CHGNet single points of 40 configurations of LiCoO2 hex 2x2x1 (48
  atoms): one shared model (oredox's screener) vs one atomate2 force-field static job
  each, and the effect of the model-call batch size.
- ``quality``: relax those 13 with CHGNet; for k = 1, 3, 5, the fraction of the relaxed
  hull's vertices that each cheap ranking (Ewald, CHGNet single point) puts in its top k
  at their content.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
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


def bench_enumeration() -> dict:
    host = li16mn8o24()
    enumerate_all(alkali_symmetry(host))  # compile
    start = time.perf_counter()
    sym = alkali_symmetry(host)
    total = len(enumerate_all(sym))
    t_oredox = time.perf_counter() - start
    half = list(iter_configurations(sym, 8))
    print(
        f"oredox: {total} distinct arrangements at all 17 contents in {t_oredox:.4f} s"
        f" ({len(half)} at x = 0.5)"
    )

    from pymatgen.core import Species
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation,
    )

    # pymatgen: one Ewald-ordering run per content, Mn charge compensating the removed
    # Li (Mn 4 + k/8), asking for as many orderings as there are distinct ones
    transformation = OrderDisorderedStructureTransformation(
        # its "complete" algorithm raises NotImplementedError
        algo=OrderDisorderedStructureTransformation.ALGO_FAST
    )
    start = time.perf_counter()
    n_pmg = 0
    for k in range(1, sym.n_sites):
        disordered = host.copy()
        fraction = 1 - k / sym.n_sites
        for i in sym.alkali_indices:
            disordered.replace(i, {Species("Li", 1): fraction})
        mn_charge = 4 + k / 8
        for i, site in enumerate(disordered):
            if site.is_ordered and site.specie.symbol == "Mn":
                disordered.replace(i, Species("Mn", mn_charge))
        wanted = sum(1 for _ in iter_configurations(sym, k))
        n_pmg += len(transformation.apply_transformation(disordered, wanted))
    t_pmg = time.perf_counter() - start
    print(
        f"pymatgen OrderDisorderedStructureTransformation (EwaldMinimizer), "
        f"contents 1-15: {n_pmg} orderings in {t_pmg:.2f} s (Ewald-ranked, not "
        f"reduced by symmetry); oredox {t_pmg / t_oredox:.0f}x faster"
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
        f"icet enumerate_structures, size 4 (all supercell shapes): {n_icet} "
        f"structures in {t_icet:.2f} s; oredox {t_icet / t_oredox:.0f}x faster"
    )
    return {
        "oredox_s": t_oredox,
        "oredox_distinct": total,
        "pymatgen_s": t_pmg,
        "pymatgen_structures": n_pmg,
        "icet_s": t_icet,
        "icet_structures": n_icet,
    }


def bench_ewald(keep: int = 20) -> dict:
    sqs = ltno_sqs()
    host = sqs.make_supercell([[2, 0, 0], [0, 1, 0], [0, 0, 1]], in_place=False)
    sym = alkali_symmetry(host)
    start = time.perf_counter()
    model = DelithiationEwald(host, sym.alkali_indices)
    t_setup = time.perf_counter() - start
    start = time.perf_counter()
    best_e, best_m, n = np.array([]), np.array([], dtype=np.int64), 0
    batch: list[int] = []

    def flush(batch, best_e, best_m):
        masks = np.array(batch, dtype=np.int64)
        e = model.energies(masks_to_occupied(masks, sym.n_sites))
        e = np.concatenate([best_e, e])
        m = np.concatenate([best_m, masks])
        top = np.argsort(e)[:keep]
        return e[top], m[top]

    for config in iter_configurations(sym, 8):
        batch.append(sum(1 << i for i in config.vacancies))
        n += 1
        if len(batch) == 200_000:
            best_e, best_m = flush(batch, best_e, best_m)
            batch = []
    if batch:
        best_e, best_m = flush(batch, best_e, best_m)
    elapsed = time.perf_counter() - start
    print(
        f"Ewald ranking: {n:,} distinct arrangements of 8 vacancies on "
        f"{sym.n_sites} Li "
        f"({len(host)} atoms) in {elapsed:.1f} s (+{t_setup:.1f} s Ewald matrix); "
        f"lowest {best_e[0]:.3f} eV, spread of the kept {keep}: "
        f"{1000 * (best_e[-1] - best_e[0]):.1f} meV"
    )
    return {"configurations": n, "seconds": elapsed, "setup_s": t_setup}


def licoo2_cell():
    host = make_supercell(o3_layered("LiCoO2"), (2, 1, 1))
    sym = alkali_symmetry(host)
    configs = enumerate_all(sym)
    masks = np.array(
        [sum(1 << i for i in c.vacancies) for c in configs], dtype=np.int64
    )
    return host, sym, configs, masks


def bench_chgnet(n: int = 40) -> dict:
    from atomate2.forcefields.jobs import ForceFieldStaticMaker
    from jobflow import run_locally

    from oredox.workflows.screening import ChgnetSinglePoint

    host = make_supercell(o3_layered("LiCoO2"), (2, 2, 1))  # 48 atoms
    sym = alkali_symmetry(host)
    masks = np.array([sum(1 << i for i in c.vacancies) for c in enumerate_all(sym)])
    occupied = masks_to_occupied(masks[:n], sym.n_sites)
    # oredox: one model for all (its load counted), default batch size for the device
    start = time.perf_counter()
    screener = ChgnetSinglePoint(host, sym)
    shared = screener.energies(occupied)
    t_shared = time.perf_counter() - start
    by_batch = {}
    for size in (1, 4, 16):
        screener.batch_size = size
        start = time.perf_counter()
        screener.energies(occupied)
        by_batch[size] = time.perf_counter() - start
    structures = screener.structures(occupied)
    start = time.perf_counter()
    per_job = []
    for s in structures:
        job = ForceFieldStaticMaker(force_field_name="CHGNet").make(s)
        out = run_locally(job, log=False, ensure_success=True)
        per_job.append(out[job.uuid][1].output.output.energy)
    t_jobs = time.perf_counter() - start
    agree = float(np.max(np.abs(np.array(per_job) - shared)))
    print(
        f"CHGNet single points of {n} cells of {len(host)} atoms: one shared model "
        f"{t_shared:.2f} s (model load included), one atomate2 job each {t_jobs:.2f} s"
        f" -> {t_jobs / t_shared:.1f}x; largest energy difference "
        f"{1000 * agree:.2f} meV"
    )
    print(
        "  model-call batch size, warm model: "
        + ", ".join(f"{size}: {t:.2f} s" for size, t in by_batch.items())
    )
    return {
        "shared_model_s": t_shared,
        "per_job_s": t_jobs,
        "by_batch_s": by_batch,
        "max_diff_eV": agree,
    }


def bench_quality() -> dict:
    from chgnet.model import StructOptimizer

    from oredox.analysis.hull import lower_hull
    from oredox.workflows.screening import ChgnetSinglePoint

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
    parser.add_argument("--json", type=Path, default=Path("bench_delithiation.json"))
    args = parser.parse_args()
    sections = {
        "enumeration": bench_enumeration,
        "ewald": bench_ewald,
        "chgnet": bench_chgnet,
        "quality": bench_quality,
    }
    results = {}
    for name, fn in sections.items():
        if args.only in (None, name):
            print(f"--- {name}")
            results[name] = fn()
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
