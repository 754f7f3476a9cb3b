"""``oredox query``: list the studies in the store, or show one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from oredox import report
from oredox.cli.common import console


def query(
    study_id: Annotated[
        str | None, typer.Argument(help="Study id (or unique prefix) to show.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    png: Annotated[
        Path | None, typer.Option(help="Also write the study's hull figure.")
    ] = None,
    electronic: Annotated[
        bool,
        typer.Option(
            "--electronic",
            help="The statics' analysis along x (with --png: also <png>-path.png).",
        ),
    ] = False,
    chemsys: Annotated[
        str | None, typer.Option(help="Host elements, e.g. Li-Co-O (any order).")
    ] = None,
    framework: Annotated[
        str | None, typer.Option(help="Framework, e.g. 'O3 layered'.")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="Engine: chgnet, vasp, gpaw.")
    ] = None,
    scheme: Annotated[
        str | None, typer.Option(help="Energy-scheme id (or its first digits).")
    ] = None,
    x_min: Annotated[
        float | None, typer.Option(help="Studies with an entry at x >= this.")
    ] = None,
    x_max: Annotated[
        float | None, typer.Option(help="Studies with an entry at x <= this.")
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(help="Write the list (or one study's entries) as CSV."),
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Store location (OREDOX_WORK_DIR).")
    ] = None,
) -> None:
    """List the studies in the store, or show one study's hull and voltages."""
    from oredox.analysis.plots import plot_hull_and_voltage
    from oredox.settings import load_settings
    from oredox.store import get_job_store, get_study, list_studies

    store = get_job_store(load_settings(work_dir=work_dir))
    if study_id is None:
        rows = list_studies(
            store,
            chemsys=chemsys,
            framework=framework,
            engine=engine,
            scheme=scheme,
            x_min=x_min,
            x_max=x_max,
        )
        if csv is not None:
            _write_csv(csv, rows)
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        console.print(report.studies_table(rows))
        return
    study = get_study(store, study_id)
    if csv is not None:
        _write_csv(csv, report.entry_rows(study, x_min, x_max))
    if png is not None:
        plot_hull_and_voltage(study, png)
    if electronic:
        report.print_path(study, png, console)
        return
    if as_json:
        print(
            study.model_dump_json(
                indent=2,
                exclude={"entries": {"__all__": {"structure"}}, "host_structure": True},
            )
        )
        return
    report.print_study(study, console)


def _write_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` and say so on stderr."""
    n_rows = report.write_csv(path, rows)
    typer.echo(f"wrote {n_rows} rows to {path}", err=True)
