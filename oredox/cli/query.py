"""``oredox query``: list the studies in the store, or show one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from oredox.cli.common import (
    FigureDpi,
    FigureFormat,
    console,
    csv_path,
    figure_path,
    figure_target,
)
from oredox.errors import OredoxInputError
from oredox.files import DEFAULT_DPI


def query(
    study_id: Annotated[
        str | None, typer.Argument(help="Study id (or unique prefix) to show.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    structures: Annotated[
        bool,
        typer.Option(
            "--structures",
            help="With --json and a study id: include the host and relaxed "
            "structures (pymatgen dicts).",
        ),
    ] = False,
    png: Annotated[
        Path | None,
        typer.Option(
            help="Also write the study's hull figure (.png, .pdf or .svg).",
            callback=figure_path,
        ),
    ] = None,
    fmt: FigureFormat = None,
    dpi: FigureDpi = DEFAULT_DPI,
    electronic: Annotated[
        bool,
        typer.Option(
            "--electronic",
            help="The statics' analysis along x (with --png also "
            "<stem>-path.<suffix>).",
        ),
    ] = False,
    oxygen: Annotated[
        bool,
        typer.Option(
            "--oxygen",
            help="The O-loss table of this study or oxygen id (oredox oxygen); with "
            "--png its figure: E_f(V_O) and release temperature vs x.",
        ),
    ] = False,
    convergence: Annotated[
        bool,
        typer.Option(
            "--convergence",
            help="The cluster-expansion loop's history; with --png its figure.",
        ),
    ] = False,
    chemsys: Annotated[
        str | None, typer.Option(help="Host elements, e.g. Li-Co-O (any order).")
    ] = None,
    framework: Annotated[
        str | None, typer.Option(help="Framework, e.g. 'O3 layered'.")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="Engine: chgnet, vasp, gpaw, or a pair chgnet+gpaw."),
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
    formula_unit: Annotated[
        str | None,
        typer.Option(
            "--formula-unit",
            help="With a study id: count x per this formula unit, e.g. "
            "Li1.17Ti0.58Ni0.25O2 (default: the one the study was run with).",
        ),
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            help="Write the list (or one study's entries) as CSV.", callback=csv_path
        ),
    ] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Store location (OREDOX_WORK_DIR).")
    ] = None,
) -> None:
    """List the studies in the store, or show one study's hull and voltages."""
    from oredox import report
    from oredox.analysis.plots import plot_hull_and_voltage
    from oredox.settings import load_settings
    from oredox.store import get_job_store, get_study, list_studies

    settings = load_settings(work_dir=work_dir)
    _check_filters(x_min, x_max, chemsys, engine)
    png = figure_target(png, fmt, dpi)
    if study_id is None and (png is not None or fmt is not None):
        raise OredoxInputError(
            "--png and --format go with a study id (oredox query ID --png hull.png): "
            "the list of studies has no figure"
        )
    if structures and (study_id is None or not as_json or electronic):
        raise OredoxInputError(
            "--structures goes with --json and a study id (oredox query ID --json "
            "--structures): only one study's JSON carries structures"
        )
    if convergence and (study_id is None or electronic or oxygen or structures):
        raise OredoxInputError(
            "--convergence goes with a study id alone (oredox query ID "
            "--convergence [--png FILE] [--json] [--csv FILE]), not with --electronic, "
            "--oxygen or --structures"
        )
    if formula_unit is not None and study_id is None:
        raise OredoxInputError(
            "--formula-unit goes with a study id (oredox query ID --formula-unit "
            "Li1.17Ti0.58Ni0.25O2)"
        )
    # an embedded store that was never made is empty: list nothing, create nothing
    missing = settings.store == "montydb" and not (settings.work_dir / "store").is_dir()
    if study_id is None and oxygen:
        from oredox.report_oxygen import oxygen_documents_table
        from oredox.store_oxygen import list_oxygen_documents

        found = [] if missing else list_oxygen_documents(get_job_store(settings))
        if as_json:
            print(json.dumps(found, indent=2))
            return
        console.print(oxygen_documents_table(found))
        return
    if study_id is None:
        rows = (
            []
            if missing
            else list_studies(
                get_job_store(settings),
                chemsys=chemsys,
                framework=framework,
                engine=engine,
                scheme=scheme,
                x_min=x_min,
                x_max=x_max,
            )
        )
        if csv is not None:
            _write_csv(csv, rows)
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        if not rows:
            filtered = any(
                value is not None
                for value in (chemsys, framework, engine, scheme, x_min, x_max)
            )
            console.print(
                "no study matches these filters"
                if filtered
                else f"no studies in the store of {settings.work_dir} yet "
                "(oredox demo runs one)",
                soft_wrap=True,
                highlight=False,
            )
            return
        console.print(report.studies_table(rows, console.width))
        return
    if missing:
        raise OredoxInputError(
            f"no study {study_id!r}: there is no oredox store in {settings.work_dir} "
            "yet (nothing has run with it; check --work-dir or OREDOX_WORK_DIR)"
        )
    if oxygen:
        _show_oxygen(get_job_store(settings), study_id, png, as_json, dpi)
        return
    study = get_study(get_job_store(settings), study_id)
    if formula_unit is not None:
        from oredox.analysis.formula_unit import restate

        study = restate(study, formula_unit)
    if convergence:
        _show_convergence(study, png, csv, as_json, dpi)
        return
    if csv is not None:
        _write_csv(csv, report.entry_rows(study, x_min, x_max))
    if png is not None:
        typer.echo(f"wrote {plot_hull_and_voltage(study, png, dpi)}", err=True)
        if study.convergence:
            from oredox.analysis.plots_convergence import plot_convergence

            extra = plot_convergence(
                study, png.with_name(f"{png.stem}-convergence{png.suffix}"), dpi
            )
            typer.echo(f"wrote {extra}", err=True)
    if electronic:
        report.print_path(study, png, console, dpi)
        return
    if as_json:
        # structures are large: only on request, as pymatgen dicts
        exclude = (
            None
            if structures
            else {"entries": {"__all__": {"structure"}}, "host_structure": True}
        )
        print(study.model_dump_json(indent=2, exclude=exclude))
        return
    report.print_study(study, console)
    if study.convergence:
        from oredox.report_convergence import print_convergence

        print_convergence(study, console)


def _show_convergence(
    study, png: Path | None, csv: Path | None, as_json: bool, dpi: int
) -> None:
    """The cluster-expansion loop of a study: table, figure (``png``), CSV, JSON."""
    from oredox.analysis.plots_convergence import convergence_record, plot_convergence
    from oredox.report_convergence import convergence_rows, print_convergence

    record = convergence_record(study)
    if csv is not None:
        _write_csv(csv, convergence_rows(study))
    if png is not None:
        typer.echo(f"wrote {plot_convergence(study, png, dpi)}", err=True)
    if as_json:
        print(json.dumps(record, indent=2))
        return
    print_convergence(study, console)


def _show_oxygen(
    store, id_or_study_id: str, png: Path | None, as_json: bool, dpi: int
) -> None:
    """The oxygen-loss document of a study (or by its own id): table, figure, JSON."""
    from oredox.analysis.plots_oxygen import plot_oxygen_loss
    from oredox.report_oxygen import print_oxygen
    from oredox.store_oxygen import get_oxygen_document

    document = get_oxygen_document(store, id_or_study_id)
    if png is not None:
        plot_oxygen_loss(document, png, dpi)
    if as_json:
        exclude = {"hosts": {"__all__": {"vacancies": {"__all__": {"structure"}}}}}
        print(document.model_dump_json(indent=2, exclude=exclude))
        return
    print_oxygen(document, console)


def _check_filters(x_min, x_max, chemsys, engine) -> None:
    """Filters that can match nothing are mistakes: say so instead of listing none."""
    from pymatgen.core import Element

    from oredox.workflows.engines import ENGINES

    for name, x in (("--x-min", x_min), ("--x-max", x_max)):
        if x is not None and not math.isfinite(x):
            raise OredoxInputError(f"{name} must be a number, got {x}")
    if x_min is not None and x_max is not None and x_min > x_max:
        raise OredoxInputError(f"--x-min {x_min} is above --x-max {x_max}")
    if chemsys is not None:
        unknown = [el for el in chemsys.split("-") if not Element.is_valid_symbol(el)]
        if unknown:
            raise OredoxInputError(f"--chemsys names no element: {', '.join(unknown)}")
    parts = [] if engine is None else engine.lower().split("+")
    if engine is not None and (len(parts) > 2 or any(p not in ENGINES for p in parts)):
        raise OredoxInputError(
            f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}, or a pair "
            "relax+static such as chgnet+gpaw"
        )


def _write_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` to ``path`` and say so on stderr."""
    from oredox import report

    n_rows = report.write_csv(path, rows)
    typer.echo(f"wrote {n_rows} rows to {path}", err=True)
