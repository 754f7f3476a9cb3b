"""DRX Monte Carlo swap rate: oredox vs smol, Ewald energy, same 384-atom LTNO cell.

Both run canonical swap Monte Carlo on the cation sublattice of rock-salt
Li1.17Ti0.58Ni0.25O2 (192 cations + 192 O, a compact supercell of the primitive cell)
at 1500 K with the formal-charge Ewald energy screened by a dielectric constant of 10
(smol: an Ewald-only expansion with coefficient 1/10). Rates are proposed swaps per
second of the Metropolis loop alone, after a warm-up run (numba compilation, smol's
set-up); both propose only swaps of unlike cations. smol keeps one sample per run
(``thin_by`` = the run length), as oredox keeps one snapshot; smol's default (a sample
at every step) is timed once beside it, labelled. Runs are interleaved,
``--repeats`` times (min and median), with the load average at start and end. The
final screened Ewald energies and acceptance rates are printed as a check that both
sample the same physics.

Run: ``.venv/bin/pip install smol && .venv/bin/python benchmarks/bench_mc.py``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from cells import DIELECTRIC, TEMPERATURE, ltno_primitive
from measured import spread, write_results
from pymatgen.analysis.ewald import EwaldSummation
from smol.cofe import ClusterExpansion, ClusterSubspace
from smol.cofe.extern import EwaldTerm
from smol.moca import Ensemble, Sampler

from oredox.structures.sqs import compact_supercell
from oredox.structures.sro import monte_carlo_sro


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "mc.json"
    )
    args = parser.parse_args()
    load_start = os.getloadavg()
    prim = ltno_primitive()
    matrix = compact_supercell(prim, 192)
    sweeps = max(2, args.steps // 192)

    def oredox_run():
        return monte_carlo_sro(
            prim,
            TEMPERATURE,
            supercell_matrix=matrix,
            n_sweeps=sweeps,
            n_snapshots=1,
            dielectric=DIELECTRIC,
            seed=1,
        )

    # oredox: n_sweeps * n_sites proposals; the warm-up compiles the loop
    result = oredox_run()

    subspace = ClusterSubspace.from_cutoffs(prim, cutoffs={2: 3.0})
    subspace.add_external_term(EwaldTerm())
    coefs = np.zeros(subspace.num_corr_functions + 1)
    coefs[-1] = 1.0 / DIELECTRIC
    expansion = ClusterExpansion(subspace, coefs)
    ensemble = Ensemble.from_cluster_expansion(expansion, supercell_matrix=matrix)
    sampler = Sampler.from_ensemble(ensemble, temperature=TEMPERATURE, step_type="swap")
    start_structure = result.snapshots[0].copy()
    rng = np.random.default_rng(1)
    cations = [i for i, s in enumerate(start_structure) if s.specie.symbol != "O"]
    species = [start_structure[i].specie for i in cations]
    for i, sp in zip(cations, rng.permutation(species), strict=True):
        start_structure.replace(i, sp)
    occupancy = ensemble.processor.cluster_subspace.occupancy_from_structure(
        start_structure, scmatrix=matrix, encode=True
    )
    sampler.run(2_000, initial_occupancies=occupancy)  # warm-up
    sampler.clear_samples()

    def smol_run(thin_by: int) -> tuple[float, float, np.ndarray]:
        sampler.clear_samples()
        start = time.perf_counter()
        sampler.run(args.steps, initial_occupancies=occupancy, thin_by=thin_by)
        rate = args.steps / (time.perf_counter() - start)
        occupancies = np.asarray(sampler.samples.get_occupancies())
        final = occupancies.reshape(-1, len(occupancy))[-1]
        return rate, float(sampler.samples.sampling_efficiency()), final

    oredox_rates, smol_rates = [], []
    for _ in range(args.repeats):
        result = oredox_run()
        oredox_rates.append(result.swaps_per_second)
        smol_rate, _, final = smol_run(thin_by=args.steps)
        smol_rates.append(smol_rate)
    # acceptance from the run that records every step (thinned samples hide it)
    default_rate, smol_acceptance, _ = smol_run(thin_by=1)
    smol_structure = ensemble.processor.structure_from_occupancy(final)
    # one evaluator for both: pymatgen's Ewald energy of the whole cell, screened
    smol_energy = EwaldSummation(smol_structure).total_energy / DIELECTRIC
    oredox_energy = EwaldSummation(result.snapshots[-1]).total_energy / DIELECTRIC
    random_energy = EwaldSummation(start_structure).total_energy / DIELECTRIC
    ratio = statistics.median(oredox_rates) / statistics.median(smol_rates)

    print(
        f"cell: {len(start_structure)} atoms, {len(cations)} cations, "
        f"T = {TEMPERATURE} K, dielectric {DIELECTRIC}, {args.steps} proposals a run"
    )
    print(
        f"screened Ewald energy (pymatgen / {DIELECTRIC:g}), eV per cell: random start "
        f"{random_energy:.2f}"
    )
    print(
        f"oredox: min / median {min(oredox_rates):,.0f} / "
        f"{statistics.median(oredox_rates):,.0f} swaps/s "
        f"(acceptance {result.acceptance:.3f}), final {oredox_energy:.2f} eV"
    )
    print(
        f"smol, one sample kept: {min(smol_rates):,.0f} / "
        f"{statistics.median(smol_rates):,.0f} swaps/s (acceptance "
        f"{smol_acceptance:.3f}), final {smol_energy:.2f} eV"
    )
    print(f"smol's default, a sample every step (once): {default_rate:,.0f} swaps/s")
    print(f"ratio oredox / smol (medians, one sample kept): {ratio:.0f}x")
    write_results(
        args.json,
        load_start,
        steps=args.steps,
        oredox_swaps_per_s=spread(oredox_rates),
        smol_swaps_per_s=spread(smol_rates),
        smol_default_thin_by_1_swaps_per_s=default_rate,
        ratio_median=ratio,
        oredox_acceptance=result.acceptance,
        smol_acceptance=smol_acceptance,
        oredox_final_eV=oredox_energy,
        smol_final_eV=smol_energy,
        random_start_eV=random_energy,
    )


if __name__ == "__main__":
    main()
