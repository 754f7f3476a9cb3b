"""Economy of the cluster-expansion loop against today's one-shot screening.

Truth: the exhaustive CHGNet hull of Li_xCoO2 over every supercell of 1..7 formula
units (``ce_truth.py``: every symmetry-distinct Li/vacancy arrangement relaxed with
CHGNet, cell and ions, as a study's ``chgnet`` engine relaxes). Both strategies draw
their "calculations" from that table, so an engine call costs nothing here and the
count of calculations is what is compared:

- **CE loop** (:mod:`oredox.analysis.ce_loop`, the settings a template's ``converge:``
  gets by default unless given below): starts from the two end members and the
  lowest-Ewald arrangement at each content of the cells of up to 4 formula units,
  then fits, searches every arrangement of the universe, and computes candidates until
  it stops on its own;
- **one-shot screening** (today's ``screening:`` defaults applied to the same
  universe): per content, the 20 lowest point-charge Ewald energies, then CHGNet
  single points at the unrelaxed geometry keep 10, then the 3 lowest plus those within
  10 meV/atom are relaxed.

Reported: true hull vertices found (recall), calculations (and the fraction of the
universe), and the largest error of the final hull against the true one (meV/site)::

    .venv/bin/python benchmarks/bench_ce_loop.py [--truth TABLE.jsonl] [--windows 5,2,0]
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import time
import warnings
from pathlib import Path

import numpy as np

from oredox.analysis.ce_loop import ConvergeSettings, hull_of, iterate, table_search
from oredox.analysis.cluster_expansion import lattice_model
from oredox.analysis.hull import energy_above_hull, lower_hull

HERE = Path(__file__).parent
TRUTH = HERE / "data" / "ce_licoo2_truth.jsonl.xz"
OXIDATION = {"Li": 1, "Co": 3, "O": -2}


def load_universe(path: Path, max_size: int | None = None):
    """ids, c, energy per site (eV), host structures and occupations of the table.

    ``max_size``: only the cells of up to that many formula units (a table still
    being computed holds its largest size in part).
    """
    from pymatgen.core import Lattice, Structure

    text = (
        lzma.decompress(path.read_bytes()).decode()
        if path.suffix == ".xz"
        else path.read_text()
    )
    records = [json.loads(line) for line in text.splitlines()]
    if max_size is not None:
        records = [r for r in records if r["size"] <= max_size]
    ids, c, energy, hosts, occupations = [], [], [], [], []
    for r in records:
        symbols = r["symbols"]
        host = Structure(
            Lattice(r["cell"]),
            ["Li" if s == "X" else s for s in symbols],
            r["scaled_positions"],
        )
        host.add_oxidation_state_by_element(OXIDATION)
        ids.append(f"s{r['size']}-{r['index']}")
        n_li_sites = sum(s in ("Li", "X") for s in symbols)
        c.append(r["n_li"] / n_li_sites)
        energy.append(r["energy_eV"] / len(symbols))
        hosts.append(host)
        occupations.append(np.array([s == "Li" for s in symbols if s in ("Li", "X")]))
    return ids, np.array(c), np.array(energy), hosts, occupations, records


def shipped_universe_features(model, ids, records, ewald=True):
    """Features from oredox's own universe (``ce_supercells``), matched by label.

    The table was enumerated by ``ce_truth.py`` with icet directly; oredox's
    :func:`~oredox.analysis.ce_supercells.supercell_universe` must give the same
    arrangements under the same labels (checked: cell and species).
    """
    from oredox.analysis.ce_supercells import supercell_universe, universe_features

    max_size = max(r["size"] for r in records)
    universe = {u.label: u for u in supercell_universe(model, max_size, OXIDATION)}
    chosen = []
    for key, record in zip(ids, records, strict=True):
        item = universe[key]
        symbols = [s.specie.symbol for s in item.host]
        expected = ["Li" if s == "X" else s for s in record["symbols"]]
        if symbols != expected or not np.allclose(
            item.host.lattice.matrix, record["cell"], atol=1e-6
        ):
            raise SystemExit(f"{key}: the table and oredox's universe differ")
        occupied = [s == "Li" for s in record["symbols"] if s in ("Li", "X")]
        if list(item.occupied) != occupied:
            raise SystemExit(f"{key}: the table and oredox's universe differ")
        chosen.append(item)
    rows = universe_features(model, chosen, ewald=True)
    return (rows if ewald else rows[:, :-1]), rows[:, -1], len(universe)


def lowest_per_content(ids, c, score, mask=None):
    """Id of the lowest ``score`` at each content (within ``mask``)."""
    best = {}
    for i in np.flatnonzero(np.ones(len(ids), bool) if mask is None else mask):
        key = round(float(c[i]), 10)
        if key not in best or score[i] < score[best[key]]:
            best[key] = i
    return [ids[i] for i in best.values()]


def run_loop(ids, c, energy, features, sizes, ewald_per_site, model, settings):
    """The CE loop over the table; returns its history and the computed set."""
    start = sorted(set(lowest_per_content(ids, c, ewald_per_site, sizes <= 4)))
    computed = {k: (float(c[ids.index(k)]), float(energy[ids.index(k)])) for k in start}
    index = {k: i for i, k in enumerate(ids)}
    feats = {k: features[index[k]] for k in ids}
    history = []
    while True:
        record, _fit = iterate(
            model, feats, computed, history, settings, table_search(ids, c, features)
        )
        history.append(record)
        print(
            f"  iteration {record.iteration}: {record.n_computed} computed, CV "
            f"{record.cv_rmse_meV_per_atom:.2f} meV/site, vertices "
            f"{len(record.hull_vertices)}, new {len(record.new_vertices)}, "
            f"candidates {len(record.candidates)}"
            + (f"; stop: {record.stop}" if record.stop else ""),
            flush=True,
        )
        if record.stop:
            break
        for k in record.candidates:
            computed[k] = (float(c[index[k]]), float(energy[index[k]]))
    return history, computed


def one_shot(ids, c, energy, ewald_per_site, hosts, occupations, records):
    """Today's screening: Ewald 20, CHGNet single point 10, 3 + 10 meV."""
    import torch
    from chgnet.model import CHGNet

    torch.set_num_threads(1)
    model = CHGNet.load(verbose=False)
    chosen = []
    n_single_points = 0
    for content in sorted(set(np.round(c, 10))):
        rows = np.flatnonzero(np.isclose(c, content))
        rows = rows[np.argsort(ewald_per_site[rows], kind="stable")][:20]
        structures = []
        for i in rows:
            s = hosts[i].copy()
            s.remove_oxidation_states()
            alkali = [j for j, site in enumerate(s) if site.specie.symbol == "Li"]
            s.remove_sites([alkali[j] for j in np.flatnonzero(~occupations[i])])
            structures.append(s)
        predictions = model.predict_structure(structures, task="e", batch_size=1)
        if isinstance(predictions, dict):
            predictions = [predictions]
        n_single_points += len(structures)
        # energy per lattice site (vacancies count): the relaxed table's unit
        single = np.array(
            [
                float(p["e"]) * len(s) / len(records[i]["symbols"])
                for p, s, i in zip(predictions, structures, rows, strict=True)
            ]
        )
        keep = rows[np.argsort(single, kind="stable")][:10]
        single_keep = np.sort(single)[:10]
        selected = list(keep[:3]) + [
            i
            for i, e in zip(keep[3:], single_keep[3:], strict=True)
            if e - single_keep[0] <= 0.010
        ]
        chosen.extend(ids[i] for i in selected)
    return chosen, n_single_points


def vertex_depths(ids, c, energy, vertices) -> dict[str, float]:
    """How far each vertex lies below the hull of all the others, meV/site.

    The end members are always vertices: their depth is infinite.
    """
    depths = {}
    ends = {ids[int(np.argmin(np.where(c == c.min(), energy, np.inf)))]}
    ends.add(ids[int(np.argmin(np.where(c == c.max(), energy, np.inf)))])
    for key in vertices:
        if key in ends:
            depths[key] = float("inf")
            continue
        others = [i for i, k in enumerate(ids) if k != key]
        rows = lower_hull(c[others], energy[others])
        hull_c = c[others][rows]
        hull_e = energy[others][rows]
        i = ids.index(key)
        depths[key] = 1000 * float(np.interp(c[i], hull_c, hull_e) - energy[i])
    return depths


def score(found, ids, c, energy, true_vertices, depths, deep_meV=1.0):
    """Recall of the true vertices (all; deeper than ``deep_meV``), hull error."""
    index = {k: i for i, k in enumerate(ids)}
    rows = [index[k] for k in found]
    vertices = hull_of([ids[i] for i in rows], c[rows], energy[rows])
    recall = len(set(true_vertices) & set(found)) / len(true_vertices)
    deep = [k for k in true_vertices if depths[k] >= deep_meV]
    deep_recall = len(set(deep) & set(found)) / len(deep)
    true_rows = [index[k] for k in true_vertices]
    mine = [index[k] for k in vertices]
    grid = c[true_rows]
    error = np.max(np.abs(np.interp(grid, c[mine], energy[mine]) - energy[true_rows]))
    return recall, deep_recall, 1000 * float(error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, default=TRUTH)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ce_loop.json")
    parser.add_argument("--skip-one-shot", action="store_true")
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also run the loop without its 'no new vertex' stop, at each window",
    )
    parser.add_argument(
        "--max-size", type=int, help="use the cells of up to this many f.u. only"
    )
    parser.add_argument(
        "--windows",
        type=lambda text: [float(v) for v in text.split(",")],
        default=[5.0, 2.0, 0.0],
        help="loop windows to run, meV/site (5 is the default of converge:)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from oredox.structures.frameworks import o3_layered

    ids, c, energy, hosts, occupations, records = load_universe(
        args.truth, args.max_size
    )
    sizes = np.array([r["size"] for r in records])
    true_vertices = hull_of(ids, c, energy)
    depths = vertex_depths(ids, c, energy, true_vertices)
    above = energy_above_hull(c, energy)
    print(
        f"universe: {len(ids)} arrangements in cells of 1..{sizes.max()} f.u.; "
        f"true hull vertices ({len(true_vertices)}, depth below the hull of the "
        "others in meV/site): "
        + ", ".join(
            f"{k} (c={c[ids.index(k)]:.3f}, {depths[k]:.2f})" for k in true_vertices
        )
    )
    print(f"within 5 meV/site of the true hull: {int(np.sum(above <= 0.005))}")
    settings = ConvergeSettings()
    model = lattice_model(o3_layered("LiCoO2"), "Li", settings.cutoffs_A, "alkali")
    start = time.perf_counter()
    features, ewald_per_site, n_universe = shipped_universe_features(
        model, ids, records
    )
    print(
        f"oredox's universe of 1..{sizes.max()} primitive cells: {n_universe} "
        f"arrangements, features in {time.perf_counter() - start:.1f} s"
    )
    rows, histories = [], {}

    def measure(label: str, run: ConvergeSettings) -> None:
        """Run the loop with ``run`` over the table; add its row and history."""
        print(label)
        start = time.perf_counter()
        history, computed = run_loop(
            ids, c, energy, features, sizes, ewald_per_site, model, run
        )
        recall, deep, error = score(
            list(computed), ids, c, energy, true_vertices, depths
        )
        histories[label] = [h.model_dump() for h in history]
        rows.append(
            {
                "strategy": label,
                "calculations": len(computed),
                "fraction": len(computed) / len(ids),
                "recall": recall,
                "recall_deeper_than_1meV": deep,
                "hull_error_meV_per_site": error,
                "iterations": len(history),
                "stop": history[-1].stop,
                "seconds": time.perf_counter() - start,
                "missed": sorted(set(true_vertices) - set(computed)),
            }
        )

    for window in args.windows:
        run = ConvergeSettings(window_meV_per_atom=window)
        measure(
            "CE loop (converge: defaults)"
            if run == ConvergeSettings()
            else f"CE loop, window {window:g} meV/site (the CV error when larger)",
            run,
        )
    if args.ablation:
        # the same loop without its "no new vertex" stop: it runs until nothing
        # uncomputed is predicted within the window (budget: the whole table)
        import oredox.analysis.ce_loop as loop_module

        stop = loop_module.stop_reason

        def window_only(history, settings, n_candidates, n_attempted):
            reason = stop(history, settings, n_candidates, n_attempted)
            no_vertex = reason and reason.startswith("converged: no new hull vertex")
            return None if no_vertex else reason

        loop_module.stop_reason = window_only
        for window in args.windows:
            measure(
                f"ablation: no 'no new vertex' stop, window {window:g} meV/site",
                ConvergeSettings(
                    window_meV_per_atom=window,
                    max_iterations=len(ids),
                    max_calculations=len(ids),
                ),
            )
        loop_module.stop_reason = stop
    if not args.skip_one_shot:
        chosen, n_single = one_shot(
            ids, c, energy, ewald_per_site, hosts, occupations, records
        )
        recall, deep, error = score(chosen, ids, c, energy, true_vertices, depths)
        rows.append(
            {
                "strategy": "one-shot screening (Ewald 20, CHGNet single point 10, "
                "3 + 10 meV)",
                "calculations": len(chosen),
                "fraction": len(chosen) / len(ids),
                "recall": recall,
                "recall_deeper_than_1meV": deep,
                "hull_error_meV_per_site": error,
                "single_points": n_single,
                "missed": sorted(set(true_vertices) - set(chosen)),
            }
        )
    print(f"\nload average {os.getloadavg()[0]:.2f}")
    n_deep = sum(d >= 1.0 for d in depths.values())
    print(
        "| strategy | relaxations | of the universe | true vertices found | "
        "vertices deeper than 1 meV/site found | hull error (meV/site) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['strategy']} | {r['calculations']} | {100 * r['fraction']:.1f}% | "
            f"{100 * r['recall']:.0f}% ({round(r['recall'] * len(true_vertices))}/"
            f"{len(true_vertices)}) | {100 * r['recall_deeper_than_1meV']:.0f}% "
            f"({round(r['recall_deeper_than_1meV'] * n_deep)}/{n_deep}) | "
            f"{r['hull_error_meV_per_site']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "universe": len(ids),
                "true_vertices": true_vertices,
                "vertex_depths_meV_per_site": depths,
                "rows": rows,
                "history": histories,
                "load_average": os.getloadavg(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
