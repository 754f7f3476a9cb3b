"""Converged hulls: the cluster-expansion loop as jobflow jobs.

:class:`ConvergedHullMaker` is the hull maker with a template's ``converge:`` section
(:class:`~oredox.analysis.ce_loop.ConvergeSettings`). Its flow is the hull flow's up to
the relaxations of the screened configurations; then, instead of the statics,
``converge 0`` runs:

1. fit a cluster expansion on the host's lattice model to every relaxation that
   converged and kept its framework (energy per site of the host supercell, eV);
2. turn the fit into the exact cubic polynomial of the host cell's alkali occupations
   (:class:`~oredox.structures.ce_search.OccupationPolynomial`; checked against the
   cluster expansion itself) and search it at every content of the screening: every
   symmetry-distinct arrangement where there are at most
   ``converge.exhaustive_limit`` of them, compiled Monte Carlo annealing where there
   are more;
3. send the uncomputed arrangements predicted within the window of the hull to the
   study's own relax maker (same engine, same energy scheme), then replace itself
   with those relaxations and ``converge 1``, and so on (jobflow ``Response(replace)``:
   the same flow runs locally, on FireWorks and on jobflow-remote);
4. once :func:`~oredox.analysis.ce_loop.stop_reason` says stop (converged, budget or
   iterations), hand every relaxation to the hull flow's statics and study document,
   with the loop's history on the document (``convergence``); with
   ``converge.max_primitive_cells`` (ordered hosts), the last fit is also searched
   over every supercell up to that size and the predicted ground states the study's
   cell cannot hold are listed (``convergence["other_supercells"]``).

A killed local run resumes like any other: finished relaxations and iterations are
not run again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from math import comb

import numpy as np
from jobflow import Flow, OnMissing, Response, job
from pymatgen.core import Structure

from oredox.analysis.ce_loop import ConvergeSettings, iterate
from oredox.analysis.ce_supercells import (
    mean_oxidation_states,
    other_supercells,
    supercell_universe,
    universe_features,
)
from oredox.analysis.cluster_expansion import CellFeatures, lattice_model
from oredox.analysis.framework import check_framework
from oredox.errors import OredoxInputError, OredoxRunError
from oredox.schemas import EnergyScheme
from oredox.structures.ce_search import (
    MAX_ARRANGEMENTS,
    OccupationPolynomial,
    anneal,
    lowest_exhaustive,
    triplet_candidates,
)
from oredox.structures.delithiation import (
    Configuration,
    count_configurations,
    masks_to_configurations,
)
from oredox.workflows.hull_flow import (
    FAN_OUT_MESSAGE,
    DelithiationHullMaker,
    statics_job,
)
from oredox.workflows.study_document import Relaxation, StudyHost

logger = logging.getLogger(__name__)
CONVERGE_JOB_NAME = "converge {}"
POLYNOMIAL_TOLERANCE_EV = 1e-4  # per cell: rounding of large ECIs; a 4-body term is meV


@dataclass
class ConvergedHullMaker(DelithiationHullMaker):
    """The hull maker with a cluster-expansion loop after the screened relaxations.

    Parameters
    ----------
    converge
        The loop's settings (a template's ``converge:``).
    """

    name: str = "converged delithiation hull"
    converge: ConvergeSettings = field(default_factory=ConvergeSettings)

    def after_relaxations(
        self, host, relaxations, reference, screening, parent, energy_scheme=None
    ):
        """The first iteration of the loop (it replaces itself with the next)."""
        scheme = energy_scheme or relaxations[0].energy_scheme
        return next_step(
            host, relaxations, reference, screening, self, scheme, parent, []
        )


def host_features(hull_maker: ConvergedHullMaker, host: StudyHost) -> CellFeatures:
    """Features of the host cell's occupations on its lattice model."""
    settings = hull_maker.converge
    model = lattice_model(
        host.structure,
        host.alkali,
        settings.cutoffs_A,
        settings.sublattice,
        hull_maker.symprec,
    )
    return CellFeatures(
        model, host.structure, host.symmetry.alkali_indices, settings.ewald
    )


def vacancy_mask(config: Configuration) -> int:
    """Bit mask of the vacant alkali sites (the orbit's smallest, as enumerated)."""
    return sum(1 << int(v) for v in config.vacancies)


def occupations(configs: list[Configuration], n_sites: int) -> np.ndarray:
    """Alkali occupations (1 = present) of configurations, (n, n_sites) bool."""
    occupied = np.ones((len(configs), n_sites), dtype=bool)
    for row, config in zip(occupied, configs, strict=True):
        row[list(config.vacancies)] = False
    return occupied


def usable(relaxation: Relaxation) -> bool:
    """A relaxation the fit may use: it ran, converged and kept its framework."""
    if relaxation.failed or not relaxation.is_converged:
        return False
    return check_framework(relaxation.initial, relaxation.structure).intact


def cell_polynomial(cell: CellFeatures, fit, cutoffs_A) -> OccupationPolynomial:
    """The fit as a polynomial of the cell's occupations, checked against the CE.

    Raises
    ------
    OredoxRunError
        If the polynomial differs from the cluster expansion (clusters beyond
        triplets).
    """
    n = len(cell.alkali_indices)
    triplets = None
    if len(cutoffs_A) > 1:
        triplets = triplet_candidates(cell.host, cell.alkali_indices, cutoffs_A[1])
    polynomial = OccupationPolynomial.from_function(
        lambda occ: cell.cell_energies(fit, occ), n, triplet_candidates=triplets
    )
    rng = np.random.default_rng(0)
    sample = rng.random((16, n)) < rng.random((16, 1))
    error = np.abs(polynomial.energies(sample) - cell.cell_energies(fit, sample))
    if error.max() > POLYNOMIAL_TOLERANCE_EV:
        raise OredoxRunError(
            f"the cluster expansion is not a cubic polynomial of the occupations "
            f"(error {error.max():.2e} eV per cell): give at most two cutoffs "
            "(pairs, triplets)"
        )
    return polynomial


def search_host(
    hull_maker: ConvergedHullMaker,
    host: StudyHost,
    polynomial: OccupationPolynomial,
    contents: list[int],
) -> tuple[list[Configuration], np.ndarray, str]:
    """Lowest predicted configurations per content, their energies (eV per cell)."""
    settings = hull_maker.converge
    symmetry = host.symmetry
    n = symmetry.n_sites
    configs, energies, methods = [], [], set()
    for k in contents:
        # enumeration scans every raw arrangement: its own cap applies too
        small = comb(n, k) <= MAX_ARRANGEMENTS
        if small and count_configurations(symmetry, k) <= settings.exhaustive_limit:
            occupied, values = lowest_exhaustive(
                polynomial, symmetry, n - k, settings.keep_per_content
            )
            methods.add("enumeration")
        else:
            occupied, values = anneal(
                polynomial,
                n - k,
                sweeps_per_temperature=settings.mc_sweeps,
                seed=settings.seed + k,
                keep=settings.keep_per_content,
                restarts=settings.mc_restarts,
            )
            methods.add("monte carlo")
        weights = 1 << np.arange(n, dtype=np.int64)
        masks = symmetry.canonical((~occupied).astype(np.int64) @ weights)
        first = np.sort(np.unique(masks, return_index=True)[1])  # lowest first
        configs += masks_to_configurations(symmetry, masks[first])
        energies += [float(values[i]) for i in first]
    return configs, np.array(energies), " + ".join(sorted(methods))


def search_supercells(cell: CellFeatures, fit, computed, predicted, settings) -> dict:
    """The last fit over every supercell up to ``settings.max_primitive_cells``.

    ``predicted`` holds (c, energy per site) of the study cell's uncomputed
    arrangements; with the computed ones they make the study's hull.
    """
    universe = supercell_universe(
        cell.model, settings.max_primitive_cells, mean_oxidation_states(cell.host)
    )
    features = universe_features(cell.model, universe, settings.ewald)
    study_c = np.concatenate([[v[0] for v in computed.values()], predicted[0]])
    study_e = np.concatenate([[v[1] for v in computed.values()], predicted[1]])
    tolerance = max(settings.window_meV_per_atom, fit.cv_rmse_meV_per_site)
    below = other_supercells(fit, universe, features, study_c, study_e, tolerance)
    return {
        "max_primitive_cells": settings.max_primitive_cells,
        "n_arrangements": len(universe),
        "tolerance_meV_per_atom": round(tolerance, 4),
        "below_study_hull": below,
    }


def fit_and_search(hull_maker, host, relaxations, history):
    """Fit, search the host cell and choose: the iteration record and what it needs.

    Returns the record, the fit, the host's features, the searched configurations
    by id, and (c, energy per site) of the uncomputed ones.
    """
    from oredox.analysis.ce_loop import CeIteration

    settings = hull_maker.converge
    cell = host_features(hull_maker, host)
    n, n_cell = host.symmetry.n_sites, cell.n_sites
    attempted = [r for r in relaxations if r.configuration is not None]
    kept = [r for r in attempted if usable(r)]
    rows = cell.features(occupations([r.configuration for r in kept], n))
    features = {r.label: row for r, row in zip(kept, rows, strict=True)}
    computed = {
        r.label: ((n - r.configuration.n_vacancies) / n, float(r.energy_eV) / n_cell)
        for r in kept
    }
    masks = host.symmetry.canonical(
        np.array([vacancy_mask(r.configuration) for r in attempted], dtype=np.int64)
    )
    label_of = {int(m): r.label for m, r in zip(masks, attempted, strict=True)}
    # attempted but unusable (failed, unconverged, framework lost): never again
    unusable = {r.label for r in attempted} - set(computed)
    searched: dict[str, Configuration] = {}
    method, uncomputed = [], []

    def predict(fit):
        polynomial = cell_polynomial(cell, fit, settings.cutoffs_A)
        contents = hull_maker.screening.contents(n)
        configs, energies, how = search_host(hull_maker, host, polynomial, contents)
        method.append(how)
        ids, c, e = [], [], []
        for config, energy in zip(configs, energies, strict=True):
            mask = vacancy_mask(config)
            key = label_of.get(mask, f"k{config.n_vacancies}-c{mask:x}")
            if key in unusable:
                continue
            searched[key] = config
            ids.append(key)
            c.append((n - config.n_vacancies) / n)
            e.append(energy / n_cell)
        new = [i for i, key in enumerate(ids) if key not in computed]
        uncomputed.append((np.array(c)[new], np.array(e)[new]))
        return ids, np.array(c), np.array(e)

    past = [CeIteration.model_validate(h) for h in history]
    record, fit = iterate(
        cell.model,
        features,
        computed,
        past,
        settings,
        predict,
        "enumeration",
        n_attempted=len(attempted),
    )
    record.search = method[0] if method else record.search
    return record, fit, cell, computed, searched, uncomputed[-1]


@job
def converge_step(
    host: StudyHost,
    relaxations: list[Relaxation],
    alkali_reference: Relaxation,
    screening: dict,
    hull_maker: ConvergedHullMaker,
    energy_scheme: EnergyScheme,
    parent: Structure | None,
    history: list[dict],
) -> Response:
    """One iteration of the loop; replaces itself with the next, or the statics.

    A fit or search that cannot be done (too few usable relaxations, a host the
    lattice model cannot map) stops the loop with the reason, and the study is
    still assembled from every relaxation so far.
    """
    settings = hull_maker.converge
    n_relaxations = sum(r.configuration is not None for r in relaxations)
    try:
        record, fit, cell, computed, searched, uncomputed = fit_and_search(
            hull_maker, host, relaxations, history
        )
    except (OredoxInputError, OredoxRunError) as exc:
        logger.warning("converge %d stopped: %s", len(history), exc)
        convergence = {
            "settings": settings.model_dump(mode="json"),
            "iterations": history,
            "stop": f"error: {exc}",
            "n_relaxations": n_relaxations,
            "n_from_loop": sum(len(h["candidates"]) for h in history),
        }
        return finish(
            host, relaxations, alkali_reference, screening, hull_maker, convergence
        )
    history = [*history, record.model_dump()]
    logger.info(
        "converge %d: %d computed, CV %.2f meV/site, %d candidates%s",
        record.iteration,
        record.n_computed,
        record.cv_rmse_meV_per_atom,
        len(record.candidates),
        f"; stop: {record.stop}" if record.stop else "",
    )
    if record.stop:
        convergence = {
            "settings": settings.model_dump(mode="json"),
            "lattice_model": {
                "sublattice": cell.model.sublattice,
                "primitive_formula": cell.model.primitive.composition.formula,
                "species": cell.model.species,
            },
            "iterations": history,
            "fit": fit.record(),
            "stop": record.stop,
            "n_relaxations": n_relaxations,
            "n_from_loop": sum(len(h["candidates"]) for h in history),
        }
        if settings.max_primitive_cells and cell.model.sublattice == "alkali":
            convergence["other_supercells"] = search_supercells(
                cell, fit, computed, uncomputed, settings
            )
        return finish(
            host, relaxations, alkali_reference, screening, hull_maker, convergence
        )
    configs = [searched[key] for key in record.candidates]
    starts = hull_maker.starts(host, configs, parent)
    jobs, new = [], []
    for key, config, start in zip(record.candidates, configs, starts, strict=True):
        relax_job = hull_maker.relax_maker.make(start)
        relax_job.name = f"relax {key}"
        jobs.append(relax_job)
        new.append(hull_maker.relaxation(relax_job, key, start, energy_scheme, config))
    step = next_step(
        host,
        [*relaxations, *new],
        alkali_reference,
        screening,
        hull_maker,
        energy_scheme,
        parent,
        history,
    )
    replace = Flow([*jobs, step], step.output, f"converge iteration {record.iteration}")
    logger.info(FAN_OUT_MESSAGE.format(len(replace.job_uuids) + 1))
    return Response(replace=replace)


def next_step(
    host, relaxations, reference, screening, hull_maker, scheme, parent, history
):
    """The loop's next iteration job, named ``converge N``."""
    step = converge_step(
        host=host,
        relaxations=relaxations,
        alkali_reference=reference,
        screening=screening,
        hull_maker=hull_maker,
        energy_scheme=scheme,
        parent=parent,
        history=history,
    )
    step.name = CONVERGE_JOB_NAME.format(len(history))
    # a relaxation that fails for good is left out, not a reason to stop
    step.config.on_missing_references = OnMissing.NONE
    return step


def finish(host, relaxations, alkali_reference, screening, hull_maker, convergence):
    """Replace the loop with the statics and the study document."""
    statics = statics_job(
        host, relaxations, alkali_reference, screening, hull_maker, convergence
    )
    return Response(replace=Flow([statics], statics.output, "statics and study"))
