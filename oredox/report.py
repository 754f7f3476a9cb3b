"""Report tables, figures and files of studies, statics and structures.

Everything the command line shows, callable from Python too: functions that print
take the ``console`` (a :class:`rich.console.Console`) to print on; functions that
build a table return it (a :class:`rich.table.Table`) to print anywhere. Energies
are in eV (meV where a column says so), voltages in V vs the alkali metal, lengths
in Angstrom, charges in e and magnetic moments in muB.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from oredox.analysis.formula_unit import study_content_label
from oredox.files import DEFAULT_DPI, figure_file
from oredox.report_bader import print_bader_line
from oredox.report_path import print_path, print_redox_summary, shortest_o_o
from oredox.report_tables import Column, fitted_tables, per_element

__all__ = ["per_element", "print_path", "print_redox_summary", "shortest_o_o"]

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from rich.console import Console

    from oredox.schemas import StudyDocument


def print_study(study: StudyDocument, console: Console) -> None:
    """Print a study's summary, its convex hull and its voltage profile.

    Parameters
    ----------
    study
        The stored study.
    console
        Where to print: a header (host, engine, alkali-metal reference energy in
        eV/atom), the hull table (per x: configurations, the lowest one if it is a
        hull vertex, formation energy and energy above hull in meV per formula
        unit), the voltage steps (x from, x to, V) and the average voltage in V.
    """
    scheme = study.energy_scheme
    # one fact per line, so the header reads the same at 80 columns as wider
    console.print(
        f"[bold]{escape(study.name)}[/]\n"
        f"study    {study.study_id}\n"
        f"host     {study.host_formula}: x counts {study_content_label(study)} "
        f"({study.formula_units:g} f.u. per cell), "
        f"{study.n_alkali_sites} {study.alkali} sites\n"
        f"         space group {study.space_group}, "
        f"{study.n_symmetry_operations} symmetry permutations\n"
        f"engine   {scheme.engine} {scheme.engine_version} "
        f"({scheme.model or scheme.functional})\n"
        f"{study.alkali} metal {study.alkali_reference_energy_per_atom_eV:.4f} eV/atom"
    )
    hull = Table(
        title=f"convex hull, x in {study_content_label(study)} (energies per f.u.)"
    )
    for column in ("x", "configs", "hull vertex", "E_f (meV)", "E above hull (meV)"):
        hull.add_column(column, justify="right")
    by_x: dict[float, list] = {}
    for entry in study.entries:
        by_x.setdefault(entry.x, []).append(entry)
    for x in sorted(by_x):
        best = min(by_x[x], key=lambda e: e.energy_eV)
        hull.add_row(
            f"{x:.3f}",
            str(len(by_x[x])),
            best.config_id if best.config_id in study.hull_config_ids else "-",
            f"{1000 * best.formation_energy_per_fu_eV:.1f}",
            f"{1000 * best.e_above_hull_per_fu_eV:.1f}",
        )
    console.print(hull)
    volts = Table(title="voltage profile")
    for column in ("x from", "x to", "V"):
        volts.add_column(column, justify="right")
    for step in study.voltage_steps:
        volts.add_row(
            f"{step.x_low:.3f}", f"{step.x_high:.3f}", f"{step.voltage_V:.3f}"
        )
    console.print(volts)
    console.print(f"average voltage {study.average_voltage_V:.3f} V")


def print_statics(
    study: StudyDocument, png: Path, console: Console, dpi: float = DEFAULT_DPI
) -> None:
    """Print the electronic analysis along x and draw one figure per static.

    Nothing is printed or drawn when the study has no statics.

    Parameters
    ----------
    study
        The stored study.
    png
        The study's hull figure: ``<stem>-path<suffix>`` (the analysis along x) and
        ``<stem>-<config_id><suffix>`` (one per analysed static) go next to it, in
        its format (.png, .pdf, .svg).
    console
        Where to print the table and the paths written.
    dpi
        Resolution of PNG figures.
    """
    from oredox.analysis.plots import plot_static_analysis
    from oredox.analysis.plots_base import math_formula, study_title

    if not study.statics:
        return
    print_path(study, png, console, dpi)
    x_of = {entry.config_id: entry.x for entry in study.entries}
    content = math_formula(study_content_label(study))
    for static in study.statics:
        if static.analysis:
            path = png.with_name(f"{png.stem}-{static.config_id}{png.suffix}")
            title = (
                f"{study_title(study)}\n{static.config_id}, x = "
                f"{x_of[static.config_id]:.3f} in {content}"
            )
            plot_static_analysis(static.analysis, path, title, dpi)
            console.print(f"wrote {escape(str(path))}")


def print_analysis(result: dict, console: Console) -> None:
    """Print the electronic analysis of one static.

    Parameters
    ----------
    result
        What ``analyse_outputs`` returns: O environments, O 2p DOS per class
        (occupied e/O per window, empty states/O 0-2 eV, band centre in eV), Bader
        net charges (e), the redox report (oxidation states, O holes in muB, O-O
        pairs shorter than 2.4 Angstrom) and the analyses skipped, with why.
    console
        Where to print.
    """
    env = result["environments"]
    console.print(
        f"O environments: {env['per_class']}; axes {env['per_axis']}", highlight=False
    )
    if "o2p" in result:
        o2p = result["o2p"]
        rows = [*o2p["classes"], o2p["all_oxygen"]]
        windows = list(o2p["all_oxygen"]["occupied_e_per_O"])
        columns = [
            Column("class", [row["environment_class"] for row in rows]),
            Column("O", [str(row["n_oxygen"]) for row in rows], "right"),
            *(
                Column(
                    f"occ. {w} (e/O)",
                    [f"{row['occupied_e_per_O'][w]:.3f}" for row in rows],
                    "right",
                )
                for w in windows
            ),
            Column(
                "empty 0-2 eV (states/O)",
                [f"{row['empty_states_per_O']:.3f}" for row in rows],
                "right",
            ),
            Column(
                "band centre (eV)",
                [f"{row['band_centre_eV']:.2f}" for row in rows],
                "right",
            ),
        ]
        title = f"O 2p (reference {o2p['reference']}, gap {o2p['band_gap_eV']:.2f} eV)"
        for table in fitted_tables(title, columns, console.width):
            console.print(table)
    if "bader" in result:
        print_bader_line(result["bader"], console)
    redox = result["redox"]
    console.print(
        f"TM oxidation states from moments: {redox['mean_oxidation_state']}; "
        f"O holes: {len(redox['o_holes'])} ({redox['o_hole_total_muB']:.2f} muB); "
        f"O-O pairs < 2.4 A: {len(redox['o_o_pairs'])}",
        highlight=False,
    )
    for part, why in result["skipped"].items():
        console.print(f"skipped {part}: {why}", highlight=False)


def write_analysis(
    result: dict,
    folder: Path,
    title: str = "",
    fmt: str = "png",
    dpi: float = DEFAULT_DPI,
) -> tuple[Path, Path]:
    """Write a static's analysis (:func:`print_analysis`) as JSON and as a figure.

    Returns ``folder/analysis.json`` and ``folder/analysis.<fmt>`` (``png``,
    ``pdf`` or ``svg``, titled ``title``, ``dpi`` for a PNG); ``folder`` is
    created if missing.
    """
    from oredox.analysis.plots import plot_static_analysis

    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "analysis.json"
    record.write_text(json.dumps(result, indent=2))
    figure = figure_file(folder / "analysis", fmt)
    return record, plot_static_analysis(result, figure, title, dpi)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> int:
    """Write rows of plain values as CSV; lists and dicts become JSON text.

    Parameters
    ----------
    path
        CSV file; its folder is created if missing.
    rows
        One dict per line; the columns are every key, in order of appearance.

    Returns
    -------
    int
        The number of rows written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: json.dumps(v) if isinstance(v, list | dict) else v
                    for k, v in row.items()
                }
            )
    return len(rows)


def entry_rows(
    study: StudyDocument, x_min: float | None = None, x_max: float | None = None
) -> list[dict[str, Any]]:
    """The study's entries with x in [x_min, x_max] (None: open) as rows for CSV.

    Each row holds the entry's fields (energies in eV) less the structure and the
    vacancies; the bounds have a tolerance of 1e-9 alkali per formula unit.
    """
    return [
        e.model_dump(exclude={"structure", "vacancies"})
        for e in study.entries
        if (x_min is None or e.x >= x_min - 1e-9)
        and (x_max is None or e.x <= x_max + 1e-9)
    ]


def studies_table(
    rows: Iterable[dict[str, Any]], width: int | None = None
) -> Table | Group:
    """The stored studies, one line each (title ``studies: <n>``).

    ``rows`` are :func:`oredox.store.list_studies` summaries: average voltage in V,
    creation time in UTC (shown to the second). With ``width`` (the console's),
    a table wider than that comes in parts, each led by the study id's first 12
    hex digits (``oredox query`` takes any unique prefix).
    """
    rows = list(rows)

    def columns(id_chars: int | None) -> list[Column]:
        return [
            Column(
                "study_id" if id_chars is None else "study_id (prefix)",
                [row["study_id"][:id_chars] for row in rows],
            ),
            Column("name", [escape(row["name"]) for row in rows], wrap=True),
            Column("chemsys", [row["chemsys"] for row in rows]),
            Column("framework", [escape(row["framework"]) for row in rows], wrap=True),
            Column("engine", [row["engine"] for row in rows]),
            Column("scheme", [row["energy_scheme_id"] for row in rows]),
            Column("entries", [str(row["n_entries"]) for row in rows], "right"),
            Column(
                "avg V (V)",
                [f"{row['average_voltage_V']:.3f}" for row in rows],
                "right",
            ),
            Column("created (UTC)", [row["created_at"][:19] for row in rows]),
        ]

    title = f"studies: {len(rows)}"
    tables = fitted_tables(title, columns(None), width or 10**6)
    if len(tables) > 1:  # a narrow console: the id's first 12 hex digits suffice
        tables = fitted_tables(title, columns(12), width)
    return tables[0] if len(tables) == 1 else Group(*tables)


def templates_table(templates: Mapping[str, Any]) -> Table:
    """The study templates (name -> ``StudyTemplate``), one line each, in order.

    Columns: name, study name, host (seed, or O3 formula and supercell), engine and
    DFT+U preset.
    """
    table = Table(title="shipped templates")
    for column in ("name", "study", "host", "engine", "preset"):
        table.add_column(column)
    for name, t in templates.items():
        host = t.host.seed or f"O3 {t.host.o3_formula} x {t.host.supercell}"
        table.add_row(
            escape(name), escape(t.name), escape(host), t.engine, t.dft_u_preset
        )
    return table


def workflows_table(rows: list[dict[str, Any]]) -> Table:
    """Submitted workflows (:func:`oredox.workflows.submit.workflow_status` rows).

    Per workflow its state, its jobs counted by state and the failed ones.
    """
    table = Table(title=f"workflows: {len(rows)}")
    for column in ("workflow", "state", "jobs by state", "failed"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            escape(row["workflow"]),
            row["state"],
            ", ".join(f"{k} {v}" for k, v in sorted(row["fw_states"].items())),
            escape(", ".join(row["failed"])) or "-",
        )
    return table
