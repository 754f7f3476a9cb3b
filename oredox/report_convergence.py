"""The cluster-expansion loop of a study (``oredox query ID --convergence``).

A study run with ``converge:`` in its template stores the loop's history
(``StudyDocument.convergence``): per iteration the configurations computed before
the fit, its cross-validation error, the vertices of the computed hull and those new
to it, the hull's change and the candidates sent to the engine; then the stop reason
and the last fit. Energies are per lattice site (per atom of the fully lithiated
host), meV.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from oredox.analysis.plots_convergence import convergence_record

if TYPE_CHECKING:
    from rich.console import Console

    from oredox.schemas import StudyDocument

SEARCHES = {"enumeration": "enum.", "monte carlo": "MC", "table": "table"}
TOP_ECIS = 5


def convergence_rows(study: StudyDocument) -> list[dict[str, Any]]:
    """One row per iteration of the loop, for CSV or JSON (energies meV per site).

    Raises
    ------
    OredoxInputError
        If the study has no loop record.
    """
    record = convergence_record(study)
    window = record.get("settings", {}).get("window_meV_per_atom")
    return [
        {
            "iteration": it["iteration"],
            "n_computed": it["n_computed"],
            "cv_rmse_meV_per_site": it["cv_rmse_meV_per_atom"],
            "train_rmse_meV_per_site": it.get("train_rmse_meV_per_atom"),
            "n_searched": it.get("n_searched"),
            "search": it.get("search", ""),
            "n_hull_vertices": len(it.get("hull_vertices", [])),
            "hull_vertices": it.get("hull_vertices", []),
            "new_vertices": it.get("new_vertices", []),
            "hull_change_meV_per_site": it.get("hull_change_meV_per_atom"),
            "predicted_vertices": it.get("predicted_vertices", []),
            "n_candidates": len(it.get("candidates", [])),
            "candidates": it.get("candidates", []),
            "window_meV_per_site": it.get("window_meV_per_atom", window),
            "stop": it.get("stop") or "",
        }
        for it in record["iterations"]
    ]


def ids_text(ids: list[str], first: bool = False, width: int = 14) -> str:
    """``n: id, id, ...`` in at most ``width`` characters; ``-`` for none."""
    if first:
        return "(first fit)"
    if not ids:
        return "-"
    text = f"{len(ids)}: " + ", ".join(ids)
    return text if len(text) <= width else text[: width - 3].rstrip(", ") + "..."


def search_text(search: str) -> str:
    """The search method(s), abbreviated: enum., MC, table."""
    parts = [SEARCHES.get(part, part) for part in search.split(" + ")]
    return "+".join(parts) or "-"


def print_convergence(study: StudyDocument, console: Console) -> None:
    """Print the loop: one row per iteration, the stop, the relaxations, the fit.

    Parameters
    ----------
    study
        The stored study, with a loop record (OredoxInputError otherwise).
    console
        Where to print: per iteration the configurations computed before the fit,
        its CV RMSE (meV per site), the vertices of the computed hull, the new ones
        (count and ids), the hull's change (meV per site), the candidates sent and
        the search; then the stop reason, the relaxations (all and the loop's), the
        fit (sublattice, cutoffs in A, method, nonzero ECIs, Ewald coefficient) and
        its largest ECIs (meV).
    """
    if study.convergence and not study.convergence.get("iterations"):
        console.print(f"cluster-expansion loop: {study.convergence.get('stop')}")
        return
    record = convergence_record(study)
    settings = record.get("settings", {})
    rows = convergence_rows(study)
    title = "cluster-expansion loop"
    limits = [
        f"CV threshold {settings['cv_threshold_meV_per_atom']:g}"
        if "cv_threshold_meV_per_atom" in settings
        else "",
        f"window {settings['window_meV_per_atom']:g}"
        if "window_meV_per_atom" in settings
        else "",
    ]
    if any(limits):
        title += " (" + ", ".join(p for p in limits if p) + " meV/site)"
    table = Table(title=title)
    columns = ("it.", "computed", "CV\nmeV/site", "hull", "new vertices")
    for column in (*columns, "change\nmeV/site", "sent", "search"):
        left = column in ("new vertices", "search")
        table.add_column(
            column, justify="left" if left else "right", no_wrap=column[0] == "n"
        )
    for row in rows:
        change = row["hull_change_meV_per_site"]
        table.add_row(
            str(row["iteration"]),
            str(row["n_computed"]),
            f"{row['cv_rmse_meV_per_site']:.2f}",
            str(row["n_hull_vertices"]),
            escape(ids_text(row["new_vertices"], first=row["iteration"] == 0)),
            "-" if change is None else f"{change:.2f}",
            str(row["n_candidates"]),
            escape(search_text(row["search"])),
        )
    console.print(table)
    console.print(
        "hull: vertices of the computed hull (change: largest, since the last "
        "iteration); sent: candidates computed after the fit",
        style="dim",
    )
    budget = settings.get("max_calculations")
    console.print(
        f"stop: {escape(record.get('stop') or '-')}\n"
        f"relaxations: {record.get('n_relaxations', '?')} in all, "
        f"{record.get('n_from_loop', '?')} from the loop"
        + (f" (budget {budget})" if budget is not None else ""),
        highlight=False,
    )
    fit = record.get("fit")
    if fit:
        print_fit(fit, console)


def print_fit(fit: dict, console: Console) -> None:
    """The last fit in two lines, then its largest ECIs (by |ECI|, meV)."""
    cutoffs = ", ".join(f"{c:g}" for c in fit.get("cutoffs_A", []))
    ewald = fit.get("ewald_coefficient")
    console.print(
        f"fit: {fit.get('sublattice', '?')} sublattice, cutoffs {cutoffs} A, "
        f"{fit.get('fit_method', '?')}, {fit.get('n_structures', '?')} structures\n"
        f"     {fit.get('n_nonzero', '?')} of {fit.get('n_parameters', '?')} "
        f"parameters nonzero{'' if ewald is None else ' (Ewald included)'}, "
        f"CV {fit.get('cv_rmse_meV_per_site', float('nan')):.2f} meV/site"
        + ("" if ewald is None else f"\n     Ewald coefficient {ewald:.4g}"),
        highlight=False,
    )
    clusters = fit.get("ecis", [])
    ecis = sorted(
        (e for e in clusters if e.get("eci_meV")), key=lambda e: -abs(e["eci_meV"])
    )
    if not ecis:
        return
    table = Table(
        title=f"largest ECIs ({len(ecis)} nonzero of {len(clusters)} clusters)"
    )
    ecis = ecis[:TOP_ECIS]
    for column in ("order", "radius (A)", "multiplicity", "ECI (meV)"):
        table.add_column(column, justify="right")
    for eci in ecis:
        table.add_row(
            str(eci.get("order", "?")),
            f"{eci.get('radius_A', 0.0):.3f}",
            str(eci.get("multiplicity", "?")),
            f"{eci['eci_meV']:+.3f}",
        )
    console.print(table)
