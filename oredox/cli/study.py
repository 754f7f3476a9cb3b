"""Study commands: ``demo``, ``run``, ``submit``, ``status``, ``rerun``, ``analyse``.

Also the ``template`` sub-app (``template list``, ``show``, ``new``). Each command
parses its options, calls the library and prints what it returns (tables and
figures from :mod:`oredox.report`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from oredox.cli.common import (
    FigureDpi,
    FigureFormat,
    Threads,
    console,
    figure_path,
    figure_target,
    parse_states,
    positive,
    use_threads,
)
from oredox.errors import OredoxInputError
from oredox.files import DEFAULT_DPI, check_destination

if TYPE_CHECKING:
    from oredox.schemas import StudyDocument
    from oredox.settings import OredoxSettings


def demo(
    formula: Annotated[str, typer.Option(help="O3 layered host A M O2.")] = "LiCoO2",
    supercell: Annotated[
        tuple[int, int, int] | None,
        typer.Option(help="Repeats of the framework cell along a, b, c [2 1 1]."),
    ] = None,
    primitive: Annotated[
        bool | None,
        typer.Option(
            "--primitive/--conventional",
            help="Repeat the rhombohedral primitive cell (1 f.u.) or the hexagonal "
            "one (3 f.u.); default: primitive for gpaw, hexagonal otherwise.",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Engine: chgnet (default, from settings) or gpaw (a small DFT+U "
            "study with DOS, Bader and pi/sigma; about 13 minutes)."
        ),
    ] = None,
    oxidation_states: Annotated[
        list[str] | None,
        typer.Option("--oxidation-state", help="EL=STATE, e.g. Co=3; repeatable."),
    ] = None,
    fmax: Annotated[
        float | None,
        typer.Option(
            help="Force convergence, eV/A [0.05; gpaw 0.1].", callback=positive
        ),
    ] = None,
    png: Annotated[
        Path,
        typer.Option(
            help="Figure with the hull and voltage profile (.png, .pdf or .svg).",
            callback=figure_path,
        ),
    ] = Path("oredox_demo_hull.png"),
    fmt: FigureFormat = None,
    dpi: FigureDpi = DEFAULT_DPI,
    work_dir: Annotated[
        Path | None, typer.Option(help="Store and run folders (OREDOX_WORK_DIR).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    threads: Threads = None,
) -> None:
    """Relax every distinct delithiated configuration of an O3 host; store the hull."""
    from oredox.settings import load_settings
    from oredox.workflows.demo import run_demo

    settings = load_settings(work_dir=work_dir)
    png = figure_target(png, fmt, dpi)
    use_threads(threads)
    study = run_demo(
        formula=formula,
        supercell=supercell,
        engine=engine,
        primitive=primitive,
        oxidation_states=parse_states(oxidation_states),
        fmax=fmax,
        settings=settings,
        progress=progress,
    )
    _print_stored(study, png, settings, dpi)


def analyse(
    folder: Annotated[Path, typer.Argument(help="A VASP or GPAW static's folder.")],
    output: Annotated[
        Path | None, typer.Option("-o", help="Folder for analysis.json and the figure.")
    ] = None,
    fmt: FigureFormat = None,
    dpi: FigureDpi = DEFAULT_DPI,
) -> None:
    """Electronic analysis of a static: O environments, O 2p DOS, Bader, pi/sigma."""
    from oredox import report
    from oredox.analysis.electronic import analyse_outputs
    from oredox.workflows.engines import read_static

    if not folder.is_dir():
        raise OredoxInputError(f"{folder} is not a folder")
    out = output or folder / "oredox-analysis"
    figure = figure_target(out / "analysis.png", fmt, dpi)
    try:
        outputs = read_static(folder)
    except FileNotFoundError as exc:
        raise OredoxInputError(str(exc)) from None
    result = analyse_outputs(outputs)
    record, figure = report.write_analysis(
        result, out, folder.resolve().name, figure.suffix[1:], dpi
    )
    report.print_analysis(result, console)
    console.print(f"wrote {record} and {figure}")


def run(
    template: Annotated[str, typer.Argument(help="Template file or shipped name.")],
    engine: Annotated[
        str | None,
        typer.Option(
            help="Override the template's engine (chgnet, vasp, gpaw), or an engine "
            "pair relax+static, e.g. chgnet+gpaw."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Screen, then write the inputs only.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", help="Dry-run folder, or the hull figure (.png, .pdf or .svg)."
        ),
    ] = None,
    fmt: FigureFormat = None,
    dpi: FigureDpi = DEFAULT_DPI,
    work_dir: Annotated[Path | None, typer.Option(help="OREDOX_WORK_DIR.")] = None,
    progress: bool = True,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the newest unfinished run of this template (same "
            "content and engine).",
        ),
    ] = False,
    threads: Threads = None,
) -> None:
    """Run a study template (or write its engine inputs with --dry-run)."""
    from oredox.settings import load_settings
    from oredox.workflows.study import dry_run as write_inputs
    from oredox.workflows.study import run_study
    from oredox.workflows.templates import load_template

    use_threads(threads)  # the dry run's screening may run CHGNet too
    study_template = load_template(template)
    if dry_run:
        out = output or Path(f"{Path(template).stem}-inputs")
        if out.exists() and not out.is_dir():
            raise OredoxInputError(f"the dry-run folder {out} is a file")
        check_destination(out / "screening.json", "dry-run folder")
        folders = write_inputs(study_template, out, engine)
        console.print(
            f"{len(folders)} input folders in {out} (screening record: "
            f"{out / 'screening.json'}); nothing ran, nothing was stored",
            soft_wrap=True,
        )
        console.print(
            f"what the screening printed: {out / 'dry-run.log'}", soft_wrap=True
        )
        if study_template.converge is not None:
            console.print(
                "converge: the cluster-expansion loop chooses its further "
                "relaxations at run time (at most "
                f"{study_template.converge.max_calculations} configurations in all)",
                soft_wrap=True,
            )
        return
    settings = load_settings(work_dir=work_dir)
    png = figure_target(
        figure_path(output or Path(f"{Path(template).stem}_hull.png")), fmt, dpi
    )
    study = run_study(study_template, engine, settings, None, progress, resume)
    _print_stored(study, png, settings, dpi)


def _print_stored(
    study: StudyDocument, png: Path, settings: OredoxSettings, dpi: int = DEFAULT_DPI
) -> None:
    """A finished study: its tables, its statics, where it is stored, its figures."""
    from oredox import report
    from oredox.analysis.plots import plot_hull_and_voltage
    from oredox.store import describe_store

    plot_hull_and_voltage(study, png, dpi)
    report.print_study(study, console)
    report.print_statics(study, png, console, dpi)
    if study.convergence:
        from oredox.report_convergence import print_convergence

        print_convergence(study, console)
    console.print(
        f"stored study [bold]{study.study_id}[/] in {escape(describe_store(settings))}"
    )
    console.print(f"figure: {escape(str(png.resolve()))}")


def submit(
    template: Annotated[str, typer.Argument(help="Template file or shipped name.")],
    profile: Annotated[Path, typer.Option(help="Cluster profile (YAML).")],
    via: Annotated[
        str, typer.Option(help="fireworks or jobflow-remote.")
    ] = "fireworks",
    engine: Annotated[str | None, typer.Option(help="Override the engine.")] = None,
    worker: Annotated[
        str | None, typer.Option(help="jobflow-remote worker name.")
    ] = None,
    queue: Annotated[
        bool, typer.Option(help="Submit a batch job now (else only add the flow).")
    ] = True,
    launch_dir: Annotated[
        Path | None, typer.Option(help="Where batch scripts and job folders go.")
    ] = None,
    work_dir: Annotated[Path | None, typer.Option(help="OREDOX_WORK_DIR.")] = None,
) -> None:
    """Put a study on a SLURM cluster's queue (FireWorks or jobflow-remote)."""
    from oredox.settings import load_settings
    from oredox.workflows.cluster import load_profile
    from oredox.workflows.submit import submit_study
    from oredox.workflows.templates import load_template

    result = submit_study(
        load_template(template),
        load_profile(profile),
        load_settings(work_dir=work_dir),
        via=via,
        engine=engine,
        worker=worker,
        queue=queue,
        launch_dir=launch_dir,
    )
    if result["via"] == "jobflow-remote":
        console.print(
            f"submitted {result['n_jobs']} job(s) to jobflow-remote: "
            f"{result['job_ids']}"
        )
        return
    console.print(
        f"workflow {result['workflow']!r}: fireworks {result['fw_ids']}; batch job "
        f"{result['job_id'] or '(not queued)'}; outputs to {result['store']}",
        highlight=False,
    )


def status(
    profile: Annotated[Path, typer.Option(help="Cluster profile (YAML).")],
    name: Annotated[str | None, typer.Argument(help="Workflow (study) name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """State of the submitted studies (FireWorks)."""
    from oredox import report
    from oredox.workflows.cluster import load_profile
    from oredox.workflows.submit import workflow_status

    rows = workflow_status(load_profile(profile), name)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    console.print(report.workflows_table(rows))


def rerun(
    profile: Annotated[Path, typer.Option(help="Cluster profile (YAML).")],
    expiration_s: Annotated[
        int, typer.Option(help="A running job silent this long is lost.")
    ] = 4 * 3600,
) -> None:
    """Put lost and failed jobs back in the queue (finished ones are kept)."""
    from oredox.workflows.cluster import load_profile
    from oredox.workflows.submit import rerun_failed

    result = rerun_failed(load_profile(profile), expiration_s)
    console.print(
        f"lost runs back to READY: {result['lost_rerun'] or 'none'}; failed jobs back "
        f"to READY: {result['fizzled_rerun'] or 'none'}"
    )


template_app = typer.Typer(
    help="Study templates: list, show or copy the shipped ones.", no_args_is_help=True
)


@template_app.command("list")
def template_list() -> None:
    """The shipped study templates."""
    from oredox import report
    from oredox.workflows.templates import load_template, shipped_templates

    templates = {name: load_template(name) for name in sorted(shipped_templates())}
    console.print(report.templates_table(templates))


@template_app.command("show")
def template_show(
    name: Annotated[str, typer.Argument(help="Shipped name or a YAML file.")],
) -> None:
    """Print a template as YAML (validated)."""
    from oredox.workflows.templates import load_template

    print(load_template(name).to_yaml(), end="")


@template_app.command("new")
def template_new(
    output: Annotated[Path, typer.Argument(help="YAML file to write.")],
    start: Annotated[
        str, typer.Option("--from", help="Shipped template to start from.")
    ] = "li2mno3-honeycomb",
) -> None:
    """Write a copy of a shipped template to edit."""
    from oredox.workflows.templates import load_template

    check_destination(output, "template", (".yaml", ".yml"))
    if output.exists():
        raise OredoxInputError(f"{output} exists; choose another name")
    text = load_template(start).to_yaml()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    console.print(f"wrote {output} (from {start}); `oredox run {output}` runs it")
