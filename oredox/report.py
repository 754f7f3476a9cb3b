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

from rich.markup import escape
from rich.table import Table

from oredox.analysis.formula_unit import study_content_label
from oredox.report_bader import (
    VALENCE_MARK,
    bader_cell,
    print_bader_line,
    print_path_footnote,
    print_summary_footnote,
)

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
    console.print(
        f"[bold]{escape(study.name)}[/]  study {study.study_id}\n"
        f"host {study.host_formula}: x counts {study_content_label(study)} "
        f"({study.formula_units:g} f.u. per cell), "
        f"{study.n_alkali_sites} {study.alkali} sites, "
        f"space group {study.space_group}, "
        f"{study.n_symmetry_operations} symmetry permutations\n"
        f"engine {scheme.engine} {scheme.engine_version} "
        f"({scheme.model or scheme.functional}), "
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


def print_statics(study: StudyDocument, png: Path, console: Console) -> None:
    """Print the electronic analysis along x and draw one figure per static.

    Nothing is printed or drawn when the study has no statics.

    Parameters
    ----------
    study
        The stored study.
    png
        The study's hull figure: ``<stem>-path.png`` (the analysis along x) and
        ``<stem>-<config_id>.png`` (one per analysed static) go next to it.
    console
        Where to print the table and the paths written.
    """
    from oredox.analysis.plots import plot_static_analysis

    if not study.statics:
        return
    print_path(study, png, console)
    for static in study.statics:
        if static.analysis:
            path = png.with_name(f"{png.stem}-{static.config_id}.png")
            plot_static_analysis(static.analysis, path, static.config_id)
            console.print(f"wrote {escape(str(path))}")


def print_path(study: StudyDocument, png: Path | None, console: Console) -> None:
    """Print the statics' electronic analysis along x (and draw it with ``png``).

    Parameters
    ----------
    study
        The stored study; without statics one line says so.
    png
        Figure of the study's hull, or None: the path figure is written next to it
        as ``<stem>-path.png``; None draws nothing.
    console
        Where to print the table: per static the x, O 2p occupation 0-1 eV below
        the reference (e/O), O hole moments (muB), mean Bader charges (e), TM
        oxidation states, t2g / eg occupations (e/TM), TM-O pi mixing and the
        shortest O-O distance (Angstrom). Bader charges of the valence density
        alone are marked ``*`` (refused where basins collapsed), with a footnote.
    """
    from oredox.analysis.path import delithiation_path
    from oredox.analysis.plots import plot_delithiation_path

    rows = delithiation_path(study)
    if not rows:
        console.print(
            f"study {study.study_id[:8]} has no statics (engine "
            f"{study.energy_scheme.engine}): no electronic analysis"
        )
        return
    table = Table(
        title=f"{escape(study.name)}: electronic analysis along x in "
        f"{study_content_label(study)}"
    )
    for column in (
        "config",
        "x",
        "O 2p 0-1 eV (e/O)",
        "O holes (muB)",
        "Bader (e)",
        "TM ox. states",
        "t2g / eg -1-0 eV (e/TM)",
        "TM-O pi mixing",
        "shortest O-O (A)",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["config_id"],
            f"{row['x']:.3f}",
            f"{row.get('o2p_occupied_near_ef_e_per_O', float('nan')):.3f}",
            f"{row.get('o_hole_total_muB', float('nan')):.2f}",
            bader_cell(row, per_element(row.get("bader_charge", {}), "{:+.2f}")),
            per_element(row.get("mean_oxidation_state", {}), "{:+.1f}"),
            f"{row['t2g_occupied']:.2f} / {row['eg_occupied']:.2f}"
            if "t2g_occupied" in row
            else "-",
            f"{row['pi_mixing_occupied']:.2f}" if "pi_mixing_occupied" in row else "-",
            f"{row['shortest_o_o_A']:.2f}" if row.get("shortest_o_o_A") else "-",
        )
    console.print(table)
    print_path_footnote(rows, console)
    print_redox_summary(study, console)
    if png is not None:
        path = png.with_name(f"{png.stem}-path.png")
        plot_delithiation_path(rows, path, study.alkali, study_content_label(study))
        console.print(f"wrote {escape(str(path))}")


def print_redox_summary(study: StudyDocument, console: Console) -> None:
    """Per delithiation step, the share of the removed charge taken from O.

    Computed from the statics (:func:`oredox.analysis.path.redox_summary`, so that
    documents stored before valence-only Bader was flagged are read by today's
    rule), else :attr:`StudyDocument.redox_summary`: electrons removed per
    supercell, and the O / TM split by moments (TM oxidation states from moments,
    the rest O) and by Bader charges. A step whose Bader charges come from the
    valence density alone shows ``excluded*``, with the reason below the table.
    """
    from oredox.analysis.path import redox_summary

    steps = redox_summary(study) if study.statics else study.redox_summary
    if not steps:
        return
    table = Table(title="where the removed charge goes (per supercell)")
    for column in (
        "x from -> to",
        "removed (e)",
        "moments: TM / O (e)",
        "from O, moments",
        "Bader: TM / O (e)",
        "from O, Bader",
    ):
        table.add_column(column)

    def share(part: dict | None) -> str:
        if not part or part.get("fraction_from_O") is None:
            return "-"
        return f"{100 * part['fraction_from_O']:.0f}%"

    excluded = f"excluded{VALENCE_MARK}"
    for step in steps:
        moments, bader = step.get("moments"), step.get("bader")
        split = f"{bader['tm_e']:+.2f} / {bader['o_e']:+.2f}" if bader else "-"
        table.add_row(
            f"{step['x_from']:.3f} -> {step['x_to']:.3f}",
            f"{step['removed_e']}",
            f"{moments['tm_e']} / {moments['o_e']}" if moments else "-",
            share(moments),
            excluded if step.get("bader_excluded") else split,
            excluded if step.get("bader_excluded") else share(bader),
        )
    console.print(table)
    console.print(
        "moments: TM oxidation states from their moments, the rest of the removed "
        "charge assigned to O; Bader: change of the summed net charges of O and TM"
    )
    print_summary_footnote(steps, console)


def per_element(values: Mapping[str, float], fmt: str) -> str:
    """One line per element, e.g. ``{"Co": 1.38, "O": -1.14}`` -> ``Co +1.38``.

    Parameters
    ----------
    values
        A number per element (charges in e, oxidation states, ...).
    fmt
        Format of each number, e.g. ``"{:+.2f}"``.

    Returns
    -------
    str
        ``"<element> <number>"`` lines joined by newlines; ``"-"`` when empty.
    """
    return (
        "\n".join(f"{element} {fmt.format(v)}" for element, v in values.items()) or "-"
    )


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
        table = Table(
            title=f"O 2p (reference {o2p['reference']}, gap "
            f"{o2p['band_gap_eV']:.2f} eV)"
        )
        table.add_column("class")
        table.add_column("O")
        windows = list(o2p["all_oxygen"]["occupied_e_per_O"])
        for window in windows:
            table.add_column(f"occ. {window} (e/O)")
        table.add_column("empty 0-2 eV (states/O)")
        table.add_column("band centre (eV)")
        for row in [*o2p["classes"], o2p["all_oxygen"]]:
            table.add_row(
                row["environment_class"],
                str(row["n_oxygen"]),
                *(f"{row['occupied_e_per_O'][w]:.3f}" for w in windows),
                f"{row['empty_states_per_O']:.3f}",
                f"{row['band_centre_eV']:.2f}",
            )
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


def write_analysis(result: dict, folder: Path, title: str = "") -> tuple[Path, Path]:
    """Write a static's analysis (:func:`print_analysis`) as JSON and as a figure.

    Returns ``folder/analysis.json`` and ``folder/analysis.png`` (titled ``title``);
    ``folder`` is created if missing.
    """
    from oredox.analysis.plots import plot_static_analysis

    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "analysis.json"
    record.write_text(json.dumps(result, indent=2))
    return record, plot_static_analysis(result, folder / "analysis.png", title)


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


def studies_table(rows: Iterable[dict[str, Any]]) -> Table:
    """The stored studies, one line each (title ``studies: <n>``).

    ``rows`` are :func:`oredox.store.list_studies` summaries: average voltage in V,
    creation time in UTC (shown to the second).
    """
    rows = list(rows)
    table = Table(title=f"studies: {len(rows)}")
    table.add_column("study_id", no_wrap=True)
    for column in ("name", "chemsys", "framework", "engine", "scheme", "entries"):
        table.add_column(column)
    table.add_column("avg V (V)")
    table.add_column("created (UTC)")
    for row in rows:
        table.add_row(
            row["study_id"],
            escape(row["name"]),
            row["chemsys"],
            escape(row["framework"]),
            row["engine"],
            row["energy_scheme_id"],
            str(row["n_entries"]),
            f"{row['average_voltage_V']:.3f}",
            row["created_at"][:19],
        )
    return table


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
