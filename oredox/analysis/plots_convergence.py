"""Figure of a study's cluster-expansion loop: CV error, calculations, hull vertices.

The record is the study's ``convergence`` (template ``converge:``): its settings,
one :class:`~oredox.analysis.ce_loop.CeIteration` dict per iteration, the last fit
and the stop reason. Energies are per lattice site (per atom of the fully lithiated
host), meV.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from oredox.analysis.plots_base import pyplot, save, study_title
from oredox.errors import OredoxInputError
from oredox.files import DEFAULT_DPI

if TYPE_CHECKING:
    from oredox.schemas import StudyDocument

# the stop reasons of oredox.analysis.ce_loop.stop_reason, briefly, by their start
SHORT_STOPS = (
    ("converged: no new hull vertex", "converged: no new vertex, CV below threshold"),
    ("converged: no uncomputed", "converged: nothing left in the window"),
    ("exhausted: every searched", "exhausted: all computed, CV above threshold"),
    ("error:", "stopped by an error:"),
    ("iterations:", "iteration limit:"),
)


def convergence_record(study: StudyDocument) -> dict:
    """The study's loop record; OredoxInputError when the loop did not run."""
    record = study.convergence
    if not record:
        raise OredoxInputError(
            f"study {study.study_id[:8]} ({study.name}) has no cluster-expansion "
            "loop record: it ran without converge: in its template"
        )
    if not record.get("iterations"):
        raise OredoxInputError(
            f"the cluster-expansion loop of study {study.study_id[:8]} stopped "
            f"before its first fit: {record.get('stop', 'no reason recorded')}"
        )
    return record


def short_stop(stop: str | None, width: int = 60) -> str:
    """The stop reason in a few words (``-`` when there is none)."""
    if not stop:
        return "-"
    text = stop
    for start, short in SHORT_STOPS:
        if stop.startswith(start):
            text = short + (stop.removeprefix(start) if start[-1] == ":" else "")
            if "above the threshold" in stop and "CV above" not in text:
                text += ", CV above threshold"
            break
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def plot_convergence(
    study: StudyDocument, path: str | Path, dpi: float = DEFAULT_DPI
) -> Path:
    """Write a figure of the cluster-expansion loop of ``study``.

    Top: the CV RMSE of each iteration's fit (meV per site; the training RMSE
    lighter) with the threshold dashed. Middle: the configurations computed before
    each fit (bars; the candidates sent after it stacked, hatched) against the
    budget (dashed), and on the right axis the vertices of the computed hull, the
    iterations that gained vertices starred and labelled +n. Bottom: the largest
    change of the computed hull since the previous iteration (meV per site).

    Raises
    ------
    OredoxInputError
        If the study has no loop record.
    """
    record = convergence_record(study)
    iterations = record["iterations"]
    settings = record.get("settings", {})
    plt = pyplot()
    its = [int(it["iteration"]) for it in iterations]
    fig, (ax_cv, ax_n, ax_d) = plt.subplots(
        3,
        1,
        figsize=(6.5, 8.0),
        sharex=True,
        constrained_layout=True,
        gridspec_kw={"height_ratios": [1.0, 1.1, 0.8]},
    )

    cv = [it["cv_rmse_meV_per_atom"] for it in iterations]
    ax_cv.plot(its, cv, "-o", label="CV RMSE")
    train = [it.get("train_rmse_meV_per_atom") for it in iterations]
    if all(t is not None for t in train):
        ax_cv.plot(its, train, "-s", color="0.6", ms=4, lw=1, label="training RMSE")
    else:
        train = []
    threshold = settings.get("cv_threshold_meV_per_atom")
    if threshold is not None:
        ax_cv.axhline(
            threshold,
            color="tab:red",
            ls="--",
            lw=1,
            label=f"threshold {threshold:g} meV / site",
        )
    values = [v for v in (*cv, *train, threshold) if v is not None and v > 0]
    if values and max(values) > 30 * min(values):
        ax_cv.set_yscale("log")  # a first fit far off beside a threshold of a few meV
    else:
        ax_cv.set_ylim(bottom=0)
    ax_cv.set_ylabel("fit RMSE (meV / site)")
    ax_cv.legend(frameon=False, fontsize=8)

    computed = [int(it["n_computed"]) for it in iterations]
    sent = [len(it.get("candidates", [])) for it in iterations]
    ax_n.bar(its, computed, width=0.6, color="tab:blue", alpha=0.7, label="computed")
    ax_n.bar(
        its,
        sent,
        width=0.6,
        bottom=computed,
        color="none",
        edgecolor="tab:blue",
        hatch="//",
        label="sent after the fit",
    )
    budget = settings.get("max_calculations")
    if budget is not None:
        ax_n.axhline(budget, color="0.3", ls="--", lw=1, label=f"budget {budget}")
    tops = [n + k for n, k in zip(computed, sent, strict=True)]
    ax_n.set_ylim(0, 1.35 * max(*tops, budget or 0, 1))
    ax_n.set_ylabel("configurations computed", color="tab:blue")
    ax_n.legend(frameon=False, fontsize=8, loc="upper left", ncol=3)

    ax_v = ax_n.twinx()
    vertices = [len(it.get("hull_vertices", [])) for it in iterations]
    ax_v.plot(its, vertices, "-o", color="tab:red", ms=5)
    for i, n_hull, it in zip(its, vertices, iterations, strict=True):
        new = len(it.get("new_vertices", []))
        if new and i != its[0]:
            ax_v.plot(i, n_hull, "*", color="tab:red", ms=14)
            ax_v.annotate(
                f"+{new}",
                (i, n_hull),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                fontsize=8,
                color="tab:red",
            )
    ax_v.set_ylabel("computed hull vertices (*: new)", color="tab:red")
    ax_v.set_ylim(0, max(vertices) + 1.5)

    change = [it.get("hull_change_meV_per_atom") for it in iterations]
    shown = [(i, d) for i, d in zip(its, change, strict=True) if d is not None]
    if shown:
        ax_d.plot(*zip(*shown, strict=True), "-o", color="tab:purple")
    else:
        ax_d.text(
            0.5,
            0.5,
            "one iteration: no hull change yet",
            transform=ax_d.transAxes,
            ha="center",
            color="0.4",
        )
    ax_d.axhline(0, color="0.7", lw=0.8, zorder=0)
    ax_d.set_ylabel("hull change (meV / site)")
    ax_d.set_xlabel("iteration")
    ax_d.set_xticks(its)
    ax_d.set_xlim(its[0] - 0.6, its[-1] + 0.6)

    fig.suptitle(study_title(study), fontsize=10)
    ax_cv.set_title(
        f"cluster-expansion loop of {study.name}\n{short_stop(record.get('stop'))}",
        fontsize=9,
        loc="left",
    )
    return save(fig, path, dpi)
