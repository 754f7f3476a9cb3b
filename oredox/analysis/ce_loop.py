"""The converged-hull loop: fit a cluster expansion, search it, compute what it finds.

Each iteration (:func:`iterate`):

1. fit the CE to every energy computed so far (cross-validated,
   :func:`~oredox.analysis.cluster_expansion.fit_cluster_expansion`);
2. predict the searched configurations (every arrangement of the candidate space, or
   the lowest a Monte Carlo search finds where the space is too large);
3. build the hull of the computed energies together with the predictions of what is
   not yet computed; the uncomputed configurations within
   :attr:`ConvergeSettings.window_meV_per_atom` of it, lowest first, are the
   candidates sent to the study's engine;
4. record the iteration (:class:`CeIteration`) and decide whether to stop
   (:func:`stop_reason`): converged when the computed hull gained no vertex in the
   last iteration and the CV error is below the threshold, or when no candidate is
   left in the window (never narrower than the CV error) and the CV error is below
   the threshold; while the CV error is above it, the lowest predicted arrangement
   of each content is sent when none lies in the window, so the loop is exhausted
   only when every searched arrangement is computed;
   otherwise when the budget of calculations is spent or the iteration limit is
   reached.

Energies are per lattice site (per atom of the fully lithiated host), eV; ``c`` is the
alkali fraction of the alkali sites (0 to 1), on which the hull is the same as on x per
formula unit. The loop itself is pure: the benchmark drives it over a precomputed
table, the workflow (:mod:`oredox.workflows.converge_flow`) over engine jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator

from oredox.analysis.cluster_expansion import (
    DEFAULT_CUTOFFS_A,
    CeFit,
    LatticeModel,
    fit_cluster_expansion,
)
from oredox.analysis.hull import energy_above_hull, lower_hull
from oredox.errors import OredoxInputError
from oredox.schemas import SettingsModel

MIN_FIT_STRUCTURES = 4


class ConvergeSettings(SettingsModel):
    """The cluster-expansion loop (a template's ``converge:``).

    Parameters
    ----------
    cutoffs_A
        icet cutoffs in A: pairs, and optionally triplets (at most two).
    sublattice
        ``"alkali"``, ``"cations"`` or ``"auto"``
        (:func:`~oredox.analysis.cluster_expansion.lattice_model`).
    ewald
        Add the point-charge Ewald energy as a feature of the fit.
    fit_method
        trainstation fit method, or ``"auto"``: ARDR and least squares both fitted,
        the lower CV error kept (:func:`~oredox.analysis.cluster_expansion.
        fit_cluster_expansion`).
    window_meV_per_atom
        Uncomputed configurations predicted this close to the hull (meV per site,
        i.e. per atom of the fully lithiated host) become candidates.
    candidates_per_iteration
        At most this many new calculations per iteration.
    max_iterations
        Stop after this many iterations.
    max_calculations
        The budget: stop once this many configurations have been computed in total
        (the screening's relaxations included).
    cv_threshold_meV_per_atom
        Convergence also needs the CV error below this (meV per site).
    keep_per_content
        The search keeps this many lowest predicted arrangements per content.
    exhaustive_limit
        Contents with more symmetry-distinct arrangements than this are searched by
        Monte Carlo annealing instead of enumeration.
    max_primitive_cells
        When set (ordered hosts), the last fit is also searched over every supercell
        of the lattice model's primitive cell up to this many primitive cells, and
        the predicted ground states that the study's cell cannot hold are reported
        (:func:`~oredox.analysis.ce_supercells.other_supercells`).
    mc_restarts, mc_sweeps
        Annealing restarts per content, and sweeps (n trial swaps) per temperature.
    seed
        Seed of the cross-validation splits and the Monte Carlo.
    """

    cutoffs_A: list[float] = Field(default_factory=lambda: list(DEFAULT_CUTOFFS_A))
    sublattice: Literal["auto", "alkali", "cations"] = "auto"
    ewald: bool = True
    fit_method: Literal["auto", "ardr", "least-squares", "ridge", "bayesian-ridge"] = (
        "auto"
    )

    window_meV_per_atom: float = Field(5.0, ge=0, allow_inf_nan=False)
    candidates_per_iteration: int = Field(8, ge=1)
    max_iterations: int = Field(10, ge=1)
    max_calculations: int = Field(100, ge=1)
    cv_threshold_meV_per_atom: float = Field(5.0, gt=0, allow_inf_nan=False)
    keep_per_content: int = Field(20, ge=1)
    exhaustive_limit: int = Field(50_000, ge=1)
    max_primitive_cells: int | None = Field(None, ge=1, le=12)
    mc_restarts: int = Field(4, ge=1)
    mc_sweeps: int = Field(200, ge=1)
    seed: int = 0

    @field_validator("cutoffs_A")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if not value or any(not np.isfinite(c) or c <= 0 for c in value):
            raise ValueError("cutoffs are positive lengths in A, e.g. [6.0, 4.5]")
        if len(value) > 2:
            raise ValueError(
                "give at most two cutoffs (pairs, triplets): the search writes the "
                "expansion as a cubic polynomial of the occupations"
            )
        return value


class CeIteration(BaseModel):
    """One iteration of the loop, as stored on the study document."""

    iteration: int = Field(description="0 for the first fit")
    n_computed: int = Field(
        description="Configurations with usable energies before this fit"
    )
    n_attempted: int | None = Field(
        None,
        description="Configurations sent to the engine before this fit (the budget "
        "counts these; failed ones included)",
    )
    cv_rmse_meV_per_atom: float = Field(
        description="Cross-validation RMSE of the fit, meV per site"
    )
    train_rmse_meV_per_atom: float = Field(
        description="RMSE of the fit on its training set, meV per site"
    )
    n_searched: int = Field(description="Configurations the fitted CE predicted")
    search: str = Field(description="'enumeration', 'monte carlo' or 'table'")
    window_meV_per_atom: float | None = Field(
        None,
        description="The window used: the settings' or the CV error if larger, "
        "meV per site",
    )
    hull_vertices: list[str] = Field(
        description="Vertices of the hull of the computed energies"
    )
    new_vertices: list[str] = Field(
        description="Vertices that the previous iteration's hull did not have"
    )
    hull_change_meV_per_atom: float | None = Field(
        description="Largest change of the computed hull's energy at any of its "
        "vertices' contents since the previous iteration, meV per site"
    )
    predicted_vertices: list[str] = Field(
        description="Vertices of the hull of computed and predicted energies"
    )
    candidates: list[str] = Field(description="Sent to the engine after this fit")
    unsent: list[str] = Field(
        default_factory=list,
        description="Chosen but not sent: the loop stopped, or the budget was short",
    )
    stop: str | None = Field(None, description="Why the loop stopped here, if it did")


def hull_of(
    ids: Sequence[str], c: Sequence[float], energy: Sequence[float]
) -> list[str]:
    """Ids of the lower-hull vertices of energies per site over c."""
    if len(set(np.round(np.asarray(c, float), 10))) < 2:
        return [ids[int(np.argmin(energy))]] if len(ids) else []
    return [ids[i] for i in lower_hull(c, energy)]


def hull_change_mev(
    points: Mapping[str, tuple[float, float]],
    vertices_before: Sequence[str],
    vertices_after: Sequence[str],
) -> float | None:
    """Largest |E_hull_after(c) - E_hull_before(c)| over both vertex sets, meV/site.

    ``points`` maps id to (c, energy per site): a computed energy never changes,
    so one map serves both hulls.
    """
    if len(vertices_before) < 2 or len(vertices_after) < 2:
        return None
    cb = np.array([points[v][0] for v in vertices_before])
    eb = np.array([points[v][1] for v in vertices_before])
    ca = np.array([points[v][0] for v in vertices_after])
    ea = np.array([points[v][1] for v in vertices_after])
    grid = np.union1d(cb, ca)
    grid = grid[(grid >= max(cb.min(), ca.min())) & (grid <= min(cb.max(), ca.max()))]
    if not len(grid):
        return None
    return float(
        1000 * np.max(np.abs(np.interp(grid, ca, ea) - np.interp(grid, cb, eb)))
    )


def choose_candidates(
    searched_ids: Sequence[str],
    searched_c: np.ndarray,
    predicted: np.ndarray,
    computed: Mapping[str, tuple[float, float]],
    window_meV: float,
    limit: int,
    explore: bool = False,
) -> tuple[list[str], list[str]]:
    """Uncomputed configurations near the hull of computed + predicted energies.

    Returns the candidates (closest to the hull first, at most ``limit``) and the
    vertices of that hull. With ``explore`` (the fit is not yet trusted), when none
    lies within the window, the lowest predicted uncomputed arrangement of each
    content is taken instead, closest to the hull first: the fit learns where it
    is most wrong.
    """
    new = [i for i, key in enumerate(searched_ids) if key not in computed]
    ids = [*computed, *(searched_ids[i] for i in new)]
    c = np.array([v[0] for v in computed.values()] + [searched_c[i] for i in new])
    e = np.array([v[1] for v in computed.values()] + [predicted[i] for i in new])
    if len(set(np.round(c, 10))) < 2:
        return [], []
    vertices = hull_of(ids, c, e)
    above = energy_above_hull(c, e)[len(computed) :]
    order = np.argsort(above, kind="stable")
    chosen = [
        searched_ids[new[j]] for j in order if above[j] <= window_meV / 1000 + 1e-12
    ]
    if not chosen and explore:
        lowest: dict[float, int] = {}
        for j in order:
            lowest.setdefault(round(float(c[len(computed) + j]), 10), int(j))
        chosen = [
            searched_ids[new[j]] for j in sorted(lowest.values(), key=above.__getitem__)
        ]
    return chosen[:limit], vertices


def fit_computed(
    model: LatticeModel,
    features: Mapping[str, Sequence[float]],
    computed: Mapping[str, tuple[float, float]],
    settings: ConvergeSettings,
) -> CeFit:
    """The CE fitted to every computed configuration (their features by id)."""
    keys = list(computed)
    return fit_cluster_expansion(
        model,
        np.array([features[k] for k in keys]),
        np.array([computed[k][1] for k in keys]),
        ewald=settings.ewald,
        fit_method=settings.fit_method,
        seed=settings.seed,
    )


def stop_reason(
    history: Sequence[CeIteration],
    settings: ConvergeSettings,
    n_candidates: int,
    n_attempted: int,
) -> str | None:
    """Why the loop stops after the last iteration of ``history``, or None.

    ``n_attempted`` counts every configuration sent to the engine (failed ones
    too): the budget. "No new vertex" counts only after an iteration whose
    relaxations added usable energies, and while the fit predicts no uncomputed
    vertex.
    """
    last = history[-1]
    cv_ok = last.cv_rmse_meV_per_atom <= settings.cv_threshold_meV_per_atom
    gained = len(history) > 1 and last.n_computed > history[-2].n_computed
    predicted_new = set(last.predicted_vertices) - set(last.hull_vertices)
    if gained and not last.new_vertices and cv_ok and not predicted_new:
        return "converged: no new hull vertex and the CV error below the threshold"
    if n_candidates == 0 and cv_ok:
        return "converged: no uncomputed configuration predicted within the window"
    if n_candidates == 0:
        return (
            "exhausted: every searched arrangement is computed, but the CV error "
            f"({last.cv_rmse_meV_per_atom:.2f} meV/site) is above the threshold "
            f"({settings.cv_threshold_meV_per_atom} meV/site)"
        )
    if n_attempted >= settings.max_calculations:
        return f"budget: {n_attempted} calculations of {settings.max_calculations}"
    if len(history) >= settings.max_iterations:
        return f"iterations: {len(history)} of {settings.max_iterations}"
    return None


def iterate(
    model: LatticeModel,
    features: Mapping[str, Sequence[float]],
    computed: Mapping[str, tuple[float, float]],
    history: Sequence[CeIteration],
    settings: ConvergeSettings,
    predict: Callable[[CeFit], tuple[Sequence[str], np.ndarray, np.ndarray]],
    search: str = "table",
    n_attempted: int | None = None,
) -> tuple[CeIteration, CeFit]:
    """One iteration (see the module docstring).

    ``features`` holds the feature row of every computed id; ``computed`` maps id to
    (c, energy per site in eV) of every usable relaxation; ``history`` holds the
    earlier iterations. ``predict`` takes the new fit and returns the searched
    configurations: ids, c and predicted energies per site (eV); ids already
    computed are measured by their computed energy, and ids the caller wants never
    sent again (failed relaxations) are left out by it. ``n_attempted`` (default
    ``len(computed)``) is what the budget counts: every configuration sent to the
    engine. The candidates of an iteration that stops are recorded as ``unsent``.
    """
    if len(computed) < MIN_FIT_STRUCTURES:
        raise OredoxInputError(
            f"the cluster expansion needs {MIN_FIT_STRUCTURES} computed energies to "
            f"start, got {len(computed)}: select more configurations in screening"
        )
    attempted = len(computed) if n_attempted is None else n_attempted
    fit = fit_computed(model, features, computed, settings)
    searched_ids, searched_c, predicted = predict(fit)
    # a prediction is uncertain by about the CV error: the window is never narrower
    window = max(settings.window_meV_per_atom, fit.cv_rmse_meV_per_site)
    candidates, predicted_vertices = choose_candidates(
        list(searched_ids),
        np.asarray(searched_c, float),
        np.asarray(predicted, float),
        computed,
        window,
        settings.candidates_per_iteration,
        explore=fit.cv_rmse_meV_per_site > settings.cv_threshold_meV_per_atom,
    )
    keys = list(computed)
    vertices = hull_of(
        keys, [computed[k][0] for k in keys], [computed[k][1] for k in keys]
    )
    previous = history[-1].hull_vertices if history else []
    change = hull_change_mev(computed, previous, vertices) if history else None
    record = CeIteration(
        iteration=len(history),
        n_computed=len(computed),
        n_attempted=attempted,
        cv_rmse_meV_per_atom=round(fit.cv_rmse_meV_per_site, 4),
        train_rmse_meV_per_atom=round(fit.train_rmse_meV_per_site, 4),
        n_searched=len(searched_ids),
        search=search,
        window_meV_per_atom=round(window, 4),
        hull_vertices=vertices,
        new_vertices=[v for v in vertices if v not in previous]
        if history
        else vertices,
        hull_change_meV_per_atom=None if change is None else round(change, 4),
        predicted_vertices=predicted_vertices,
        candidates=candidates,
    )
    record.stop = stop_reason([*history, record], settings, len(candidates), attempted)
    budget_left = max(settings.max_calculations - attempted, 0)
    if record.stop:
        record.unsent, record.candidates = candidates, []
    elif len(candidates) > budget_left:
        record.candidates = candidates[:budget_left]
        record.unsent = candidates[budget_left:]
    return record, fit


def table_search(
    ids: Sequence[str], c: np.ndarray, features: np.ndarray
) -> Callable[[CeFit], tuple[Sequence[str], np.ndarray, np.ndarray]]:
    """``predict`` for :func:`iterate` over a fixed table of feature rows."""
    return lambda fit: (ids, c, fit.predict(features))
