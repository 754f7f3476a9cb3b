"""Exhaustive CHGNet hull of Li_xCoO2 over every supercell up to N formula units.

The truth for ``bench_ce_loop.py``: every symmetry-distinct Li/vacancy arrangement of
O3 LiCoO2 (rhombohedral 4-atom primitive cell, Li sublattice active) in every
supercell of 1..N formula units (icet's ``enumerate_structures``), each relaxed with
CHGNet exactly as a study's ``chgnet`` engine relaxes (cell and ions, FIRE with the
Frechet cell filter, fmax 0.05 eV/A, at most 500 steps). One JSON line per
arrangement, appended as it finishes, so a killed run resumes where it stopped::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ce_truth.py --max-size 7

Measured here: 8.7-17.4 s per relaxation of a 22-27 atom cell on one thread.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
DEFAULT_OUT = HERE / "data" / "ce_licoo2_truth.jsonl"


def universe(max_size: int):
    """(size, index within size, ase Atoms with X on the vacancies) of LiCoO2."""
    from icet.tools import enumerate_structures
    from pymatgen.io.ase import AseAtomsAdaptor

    from oredox.structures.frameworks import o3_layered

    primitive = o3_layered("LiCoO2").get_primitive_structure()
    primitive.remove_oxidation_states()
    atoms = AseAtomsAdaptor.get_atoms(primitive)
    symbols = [["Li", "X"] if a.symbol == "Li" else [a.symbol] for a in atoms]
    for size in range(1, max_size + 1):
        for index, structure in enumerate(enumerate_structures(atoms, [size], symbols)):
            yield size, index, structure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-size", type=int, default=7)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    from chgnet.model import CHGNet, StructOptimizer
    from pymatgen.io.ase import AseAtomsAdaptor

    torch.set_num_threads(1)
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            record = json.loads(line)
            done.add((record["size"], record["index"]))
    model = CHGNet.load(verbose=False)
    optimizer = StructOptimizer(model=model, optimizer_class="FIRE")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:
        for size, index, atoms in universe(args.max_size):
            if (size, index) in done:
                continue
            occupied = atoms.copy()
            del occupied[
                [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "X"]
            ]
            structure = AseAtomsAdaptor.get_structure(occupied)
            start = time.perf_counter()
            result = optimizer.relax(
                structure, fmax=0.05, steps=500, relax_cell=True, verbose=False
            )
            seconds = time.perf_counter() - start
            trajectory = result["trajectory"]
            forces = np.abs(trajectory.forces[-1]).max() if len(occupied) else 0.0
            record = {
                "size": size,
                "index": index,
                "cell": atoms.cell.tolist(),
                "symbols": atoms.get_chemical_symbols(),
                "scaled_positions": atoms.get_scaled_positions().round(8).tolist(),
                "n_li": int(sum(s == "Li" for s in atoms.get_chemical_symbols())),
                "n_atoms": len(occupied),
                "energy_eV": float(trajectory.energies[-1]),
                "n_steps": len(trajectory.energies),
                "converged": bool(len(trajectory.energies) < 501),
                "max_force_component_eV_per_A": float(forces),
                "seconds": round(seconds, 2),
                "chgnet": "0.4.2 / model 0.3.0",
                "machine": platform.node(),
            }
            out.write(json.dumps(record) + "\n")
            out.flush()
            print(
                size,
                index,
                len(occupied),
                record["n_steps"],
                record["seconds"],
                flush=True,
            )


if __name__ == "__main__":
    main()
