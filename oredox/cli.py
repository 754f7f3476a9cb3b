"""The ``oredox`` command line.

``oredox demo`` runs a complete delithiation study on the embedded defaults;
``oredox query`` lists and shows the studies in the store. Bad input prints one line
starting with ``error:`` and exits with status 2, before anything is stored.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oredox.errors import OredoxInputError, OredoxRunError

app = typer.Typer(
    help="DFT+U high-throughput studies of oxygen redox in battery cathodes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()


@app.command()
def demo(
    formula: Annotated[str, typer.Option(help="O3 layered host A M O2.")] = "LiCoO2",
    supercell: Annotated[
        tuple[int, int, int],
        typer.Option(help="Repeats of the framework cell along a, b, c."),
    ] = (2, 1, 1),
    primitive: Annotated[
        bool, typer.Option(help="Repeat the rhombohedral primitive cell (1 f.u.).")
    ] = False,
    engine: Annotated[
        str | None, typer.Option(help="Engine; default from settings (chgnet).")
    ] = None,
    oxidation_states: Annotated[
        list[str] | None,
        typer.Option("--oxidation-state", help="EL=STATE, e.g. Co=3; repeatable."),
    ] = None,
    fmax: Annotated[float, typer.Option(help="Force convergence, eV/A.")] = 0.05,
    png: Annotated[
        Path, typer.Option(help="Figure with the hull and voltage profile.")
    ] = Path("oredox_demo_hull.png"),
    work_dir: Annotated[
        Path | None, typer.Option(help="Store and run folders (OREDOX_WORK_DIR).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Relax every distinct delithiated configuration of an O3 host; store the hull."""
    from oredox.settings import load_settings
    from oredox.store import describe_store
    from oredox.workflows.demo import run_demo

    settings = load_settings(work_dir=work_dir)
    study = run_demo(
        formula=formula,
        supercell=supercell,
        engine=engine,
        primitive=primitive,
        oxidation_states=_parse_states(oxidation_states),
        fmax=fmax,
        settings=settings,
        png=png,
        progress=progress,
    )
    _print_study(study)
    console.print(
        f"stored study [bold]{study.study_id}[/] in {describe_store(settings)}"
    )
    console.print(f"figure: {png.resolve()}")


@app.command()
def query(
    study_id: Annotated[
        str | None, typer.Argument(help="Study id (or unique prefix) to show.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
    png: Annotated[
        Path | None, typer.Option(help="Also write the study's hull figure.")
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
        rows = list_studies(store)
        if as_json:
            print(json.dumps(rows, indent=2))
            return
        table = Table(title=f"studies: {len(rows)}")
        table.add_column("study_id", no_wrap=True)
        for column in ("name", "engine", "entries", "avg V (V)", "created (UTC)"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["study_id"],
                row["name"],
                row["engine"],
                str(row["n_entries"]),
                f"{row['average_voltage_V']:.3f}",
                row["created_at"][:19],
            )
        console.print(table)
        return
    study = get_study(store, study_id)
    if png is not None:
        plot_hull_and_voltage(study, png)
    if as_json:
        print(
            study.model_dump_json(
                indent=2,
                exclude={"entries": {"__all__": {"structure"}}, "host_structure": True},
            )
        )
        return
    _print_study(study)


def _print_study(study) -> None:
    scheme = study.energy_scheme
    console.print(
        f"[bold]{study.name}[/]  study {study.study_id}\n"
        f"host {study.host_formula} x {study.formula_units} f.u., "
        f"{study.n_alkali_sites} {study.alkali} sites, "
        f"space group {study.space_group}, "
        f"{study.n_symmetry_operations} symmetry permutations\n"
        f"engine {scheme.engine} {scheme.engine_version} "
        f"({scheme.model or scheme.functional}), "
        f"{study.alkali} metal {study.alkali_reference_energy_per_atom_eV:.4f} eV/atom"
    )
    hull = Table(title="convex hull (energies per formula unit)")
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


def _parse_states(items: list[str] | None) -> dict[str, float] | None:
    if not items:
        return None
    states = {}
    for item in items:
        element, sep, value = item.partition("=")
        try:
            states[element.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise OredoxInputError(f"oxidation state {item!r} must look like Co=3")
    return states


def main() -> None:
    """Entry point: input errors exit with 2, failed runs with 1; one line each."""
    try:
        app()
    except (OredoxInputError, OredoxRunError) as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"[bold red]error:[/] {exc}", highlight=False
        )
        sys.exit(2 if isinstance(exc, OredoxInputError) else 1)


if __name__ == "__main__":
    main()
