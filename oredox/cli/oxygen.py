"""``oredox oxygen STUDY_ID``: which O leaves first, at which x, and when."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from oredox.cli.common import (
    FigureDpi,
    FigureFormat,
    console,
    figure_path,
    figure_target,
    parse_fraction,
)
from oredox.errors import OredoxInputError
from oredox.files import DEFAULT_DPI


def oxygen(
    study_id: Annotated[
        str,
        typer.Argument(help="Study id (or unique prefix) whose configurations lose O."),
    ],
    engine: Annotated[
        str | None,
        typer.Option(
            help="Engine of the vacancy relaxations (default: the study's); it must "
            "give the study's energy scheme."
        ),
    ] = None,
    configs: Annotated[
        str | None,
        typer.Option(
            help="Host configurations, e.g. k0-0,k2-0 (default: hull vertices)."
        ),
    ] = None,
    x: Annotated[
        str | None,
        typer.Option(
            "--x",
            help="Alkali contents, e.g. 2,1,0.5: each one's hull vertex (or "
            "lowest entry).",
        ),
    ] = None,
    keep_per_class: Annotated[
        int | None,
        typer.Option(
            help="Relax only the N lowest orbits per O environment class (Ewald "
            "screen); default every orbit."
        ),
    ] = None,
    reference: Annotated[
        str,
        typer.Option(
            help="O-rich limit: mp2020 (Materials Project's fitted O2 and oxide "
            "correction) or engine-o2 (the engine's O2 molecule)."
        ),
    ] = "mp2020",
    png: Annotated[
        Path | None,
        typer.Option(
            help="Figure: E_f(V_O) and release temperature vs x.", callback=figure_path
        ),
    ] = None,
    fmt: FigureFormat = None,
    dpi: FigureDpi = DEFAULT_DPI,
    work_dir: Annotated[
        Path | None, typer.Option(help="Store and run folders (OREDOX_WORK_DIR).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Relax every distinct O vacancy of a study's configurations; store the result.

    Everything is checked before anything runs: the study exists and has O, the
    engine gives the study's energy scheme, the configurations exist.
    """
    from oredox.analysis.plots_oxygen import plot_oxygen_loss
    from oredox.report_oxygen import print_oxygen
    from oredox.settings import load_settings
    from oredox.store import describe_store
    from oredox.workflows.oxygen_run import run_oxygen

    config_ids = (
        [c.strip() for c in configs.split(",") if c.strip()] if configs else None
    )
    if configs is not None and not config_ids:
        raise OredoxInputError(f"--configs {configs!r} names no configuration")
    x_values = parse_list(x, "--x") if x else None
    if keep_per_class is not None and keep_per_class < 1:
        raise OredoxInputError(
            f"--keep-per-class must be 1 or more, got {keep_per_class}"
        )
    settings = load_settings(work_dir=work_dir)
    png = figure_target(png, fmt, dpi)
    document = run_oxygen(
        study_id,
        engine=engine,
        settings=settings,
        config_ids=config_ids,
        x_values=x_values,
        keep_per_class=keep_per_class,
        reference=reference,
        progress=progress,
    )
    print_oxygen(document, console)
    console.print(
        f"stored oxygen-loss document [bold]{document.oxygen_id}[/] (study "
        f"{document.study_id}) in {escape(describe_store(settings))}"
    )
    if png is not None:
        plot_oxygen_loss(document, png, dpi)
        console.print(f"figure: {escape(str(png.resolve()))}")


def parse_list(text: str, option: str) -> list[float]:
    """``"2,1,1/2"`` as ``[2.0, 1.0, 0.5]``."""
    values = [parse_fraction(item) for item in text.split(",") if item.strip()]
    if not values:
        raise OredoxInputError(f"{option} needs numbers, e.g. 2,1,0.5")
    return values
