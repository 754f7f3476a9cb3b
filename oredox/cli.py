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
        typer.Option(help="Force convergence, eV/A [0.05; gpaw 0.1]."),
    ] = None,
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
    _print_statics(study, png)
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
        table = Table(title=f"studies: {len(rows)}")
        table.add_column("study_id", no_wrap=True)
        for column in (
            "name",
            "chemsys",
            "framework",
            "engine",
            "scheme",
            "entries",
            "avg V (V)",
            "created (UTC)",
        ):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["study_id"],
                row["name"],
                row["chemsys"],
                row["framework"],
                row["engine"],
                row["energy_scheme_id"],
                str(row["n_entries"]),
                f"{row['average_voltage_V']:.3f}",
                row["created_at"][:19],
            )
        console.print(table)
        return
    study = get_study(store, study_id)
    if csv is not None:
        _write_csv(
            csv,
            [
                e.model_dump(exclude={"structure", "vacancies"})
                for e in study.entries
                if (x_min is None or e.x >= x_min - 1e-9)
                and (x_max is None or e.x <= x_max + 1e-9)
            ],
        )
    if png is not None:
        plot_hull_and_voltage(study, png)
    if electronic:
        _print_path(study, png)
        return
    if as_json:
        print(
            study.model_dump_json(
                indent=2,
                exclude={"entries": {"__all__": {"structure"}}, "host_structure": True},
            )
        )
        return
    _print_study(study)


@app.command()
def analyse(
    folder: Annotated[Path, typer.Argument(help="A VASP or GPAW static's folder.")],
    output: Annotated[
        Path | None, typer.Option("-o", help="Folder for analysis.json and the figure.")
    ] = None,
) -> None:
    """Electronic analysis of a static: O environments, O 2p DOS, Bader, pi/sigma."""
    from oredox.analysis.plots import plot_static_analysis
    from oredox.workflows.analysis import analyse_outputs, read_outputs

    if not folder.is_dir():
        raise OredoxInputError(f"{folder} is not a folder")
    try:
        outputs = read_outputs(folder)
    except FileNotFoundError as exc:
        raise OredoxInputError(str(exc)) from None
    result = analyse_outputs(outputs)
    out = output or folder / "oredox-analysis"
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps(result, indent=2))
    figure = plot_static_analysis(result, out / "analysis.png", folder.resolve().name)
    _print_analysis(result)
    console.print(f"wrote {out / 'analysis.json'} and {figure}")


def _write_csv(path: Path, rows: list[dict]) -> None:
    """Rows of plain values as CSV (lists and dicts as JSON text)."""
    import csv as csv_module

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with path.open("w", newline="") as handle:
        writer = csv_module.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: json.dumps(v) if isinstance(v, list | dict) else v
                    for k, v in row.items()
                }
            )
    typer.echo(f"wrote {len(rows)} rows to {path}", err=True)


def _print_statics(study, png: Path) -> None:
    """The electronic analysis along x and one figure per static, when any ran."""
    from oredox.analysis.plots import plot_static_analysis

    if not study.statics:
        return
    _print_path(study, png)
    for static in study.statics:
        if static.analysis:
            path = png.with_name(f"{png.stem}-{static.config_id}.png")
            plot_static_analysis(static.analysis, path, static.config_id)
            console.print(f"wrote {path}")


def _print_path(study, png: Path | None) -> None:
    from oredox.analysis.plots import plot_delithiation_path
    from oredox.workflows.analysis import delithiation_path

    rows = delithiation_path(study)
    if not rows:
        console.print(
            f"study {study.study_id[:8]} has no statics (engine "
            f"{study.energy_scheme.engine}): no electronic analysis"
        )
        return
    table = Table(title=f"{study.name}: electronic analysis along x")
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
            _per_element(row.get("bader_charge", {}), "{:+.2f}"),
            _per_element(row.get("mean_oxidation_state", {}), "{:+.1f}"),
            f"{row['t2g_occupied']:.2f} / {row['eg_occupied']:.2f}"
            if "t2g_occupied" in row
            else "-",
            f"{row['pi_mixing_occupied']:.2f}" if "pi_mixing_occupied" in row else "-",
            f"{row['shortest_o_o_A']:.2f}" if row.get("shortest_o_o_A") else "-",
        )
    console.print(table)
    if png is not None:
        path = png.with_name(f"{png.stem}-path.png")
        plot_delithiation_path(rows, path, study.alkali)
        console.print(f"wrote {path}")


def _per_element(values: dict, fmt: str) -> str:
    """``{"Co": 1.38, "O": -1.14}`` as one line per element: ``Co +1.38``."""
    return (
        "\n".join(f"{element} {fmt.format(v)}" for element, v in values.items()) or "-"
    )


def _print_analysis(result: dict) -> None:
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
        charges = {
            k: round(v["mean"], 3)
            for k, v in result["bader"]["per_species_charge"].items()
        }
        console.print(f"Bader net charges (e, mean per element): {charges}")
    redox = result["redox"]
    console.print(
        f"TM oxidation states from moments: {redox['mean_oxidation_state']}; "
        f"O holes: {len(redox['o_holes'])} ({redox['o_hole_total_muB']:.2f} muB); "
        f"O-O pairs < 2.4 A: {len(redox['o_o_pairs'])}",
        highlight=False,
    )
    for part, why in result["skipped"].items():
        console.print(f"skipped {part}: {why}", highlight=False)


template_app = typer.Typer(
    help="Study templates: list, show or copy the shipped ones.", no_args_is_help=True
)
app.add_typer(template_app, name="template")


@template_app.command("list")
def template_list() -> None:
    """The shipped study templates."""
    from oredox.workflows.templates import load_template, shipped_templates

    table = Table(title="shipped templates")
    for column in ("name", "study", "host", "engine", "preset"):
        table.add_column(column)
    for name in sorted(shipped_templates()):
        t = load_template(name)
        host = t.host.seed or f"O3 {t.host.o3_formula} x {t.host.supercell}"
        table.add_row(name, t.name, host, t.engine, t.dft_u_preset)
    console.print(table)


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

    if output.exists():
        raise OredoxInputError(f"{output} exists; choose another name")
    output.write_text(load_template(start).to_yaml())
    console.print(f"wrote {output} (from {start}); `oredox run {output}` runs it")


@app.command()
def run(
    template: Annotated[str, typer.Argument(help="Template file or shipped name.")],
    engine: Annotated[
        str | None,
        typer.Option(help="Override the template's engine (chgnet, vasp, gpaw)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Screen, then write the inputs only.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", help="Dry-run folder, or the hull figure.")
    ] = None,
    work_dir: Annotated[Path | None, typer.Option(help="OREDOX_WORK_DIR.")] = None,
    progress: bool = True,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Continue the newest unfinished run of this template."
        ),
    ] = False,
) -> None:
    """Run a study template (or write its engine inputs with --dry-run)."""
    from oredox.settings import load_settings
    from oredox.store import describe_store
    from oredox.workflows.study import dry_run as write_inputs
    from oredox.workflows.study import run_study
    from oredox.workflows.templates import load_template

    study_template = load_template(template)
    if dry_run:
        out = output or Path(f"{Path(template).stem}-inputs")
        folders = write_inputs(study_template, out, engine)
        console.print(
            f"{len(folders)} input folders in {out} (screening record: "
            f"{out / 'screening.json'}); nothing ran, nothing was stored",
            soft_wrap=True,
        )
        return
    settings = load_settings(work_dir=work_dir)
    png = output or Path(f"{Path(template).stem}_hull.png")
    study = run_study(study_template, engine, settings, png, progress, resume)
    _print_study(study)
    _print_statics(study, png)
    console.print(
        f"stored study [bold]{study.study_id}[/] in {describe_store(settings)}"
    )
    console.print(f"figure: {png.resolve()}")


@app.command()
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
    from oredox.store import describe_store, get_job_store
    from oredox.workflows.cluster import load_profile
    from oredox.workflows.engines import get_engine
    from oredox.workflows.submit import submit_fireworks, submit_jobflow_remote
    from oredox.workflows.templates import load_template

    if via not in ("fireworks", "jobflow-remote"):
        raise OredoxInputError(
            f"--via must be fireworks or jobflow-remote, not {via!r}"
        )
    cluster = load_profile(profile)
    study_template = load_template(template)
    engine_name = engine or study_template.engine
    # unknown engines fail here
    get_engine(
        engine_name,
        study_template.preset(),
        options=study_template.options(engine_name),
    )
    settings = load_settings(work_dir=work_dir)
    host, matrix, framework = study_template.build_host()
    maker = study_template.maker(engine_name)
    maker.walltime_s = cluster.walltime_s  # custodian stops VASP before the queue
    flow = maker.make(host, matrix, framework, study_template.name)
    if via == "jobflow-remote":
        if not worker:
            raise OredoxInputError("--via jobflow-remote needs --worker NAME")
        ids = submit_jobflow_remote(flow, worker, cluster)
        console.print(f"submitted {len(flow)} job(s) to jobflow-remote: {ids}")
        return
    store = get_job_store(settings)
    out = launch_dir or settings.work_dir / "launches"
    result = submit_fireworks(flow, cluster, store, out, queue=queue)
    console.print(
        f"workflow {result['workflow']!r}: fireworks {result['fw_ids']}; batch job "
        f"{result['job_id'] or '(not queued)'}; outputs to {describe_store(settings)}",
        highlight=False,
    )


@app.command()
def status(
    profile: Annotated[Path, typer.Option(help="Cluster profile (YAML).")],
    name: Annotated[str | None, typer.Argument(help="Workflow (study) name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """State of the submitted studies (FireWorks)."""
    from oredox.workflows.cluster import load_profile
    from oredox.workflows.submit import workflow_status

    rows = workflow_status(load_profile(profile), name)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"workflows: {len(rows)}")
    for column in ("workflow", "state", "jobs by state", "failed"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["workflow"],
            row["state"],
            ", ".join(f"{k} {v}" for k, v in sorted(row["fw_states"].items())),
            ", ".join(row["failed"]) or "-",
        )
    console.print(table)


@app.command()
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


structure_app = typer.Typer(
    help="Build host cells: frameworks, metal-layer orders, SQS, SRO, seed cells.",
    no_args_is_help=True,
)
app.add_typer(structure_app, name="structure")

Output = Annotated[
    Path, typer.Option("-o", "--output", help="File: .cif, .vasp or POSCAR.")
]
Cations = Annotated[
    str, typer.Option(help="Cation fractions per anion, e.g. Li=7/12,Ti=7/24,Ni=1/8.")
]


@structure_app.command("o3")
def structure_o3(
    output: Output,
    formula: Annotated[str, typer.Option(help="A M O2 host.")] = "LiCoO2",
    primitive: Annotated[bool, typer.Option(help="Rhombohedral cell.")] = False,
    supercell: Annotated[tuple[int, int, int], typer.Option()] = (1, 1, 1),
) -> None:
    """O3 layered A M O2 (R-3m)."""
    from oredox.structures.frameworks import make_supercell, o3_layered

    cell = "primitive" if primitive else "conventional"
    _save(make_supercell(o3_layered(formula, cell=cell), supercell), output)


@structure_app.command("p2")
def structure_p2(
    output: Output,
    formula: Annotated[str, typer.Option(help="A M O2 of the framework.")] = "NaMnO2",
) -> None:
    """P2 layered framework (P6_3/mmc), every prismatic site occupied."""
    from oredox.structures.frameworks import p2_layered

    _save(p2_layered(formula), output)


@structure_app.command("rocksalt")
def structure_rocksalt(
    output: Output,
    cations: Cations = "Li=1/2,Ni=1/2",
    anion: str = "O",
    a: Annotated[float, typer.Option(help="Lattice parameter, A.")] = 4.15,
    primitive: bool = False,
) -> None:
    """Disordered rock salt (Fm-3m): a CIF with partial occupancies."""
    from oredox.structures.frameworks import rock_salt

    cell = "primitive" if primitive else "conventional"
    _save(rock_salt(_fractions(cations), anion, a, cell=cell), output)


@structure_app.command("layered")
def structure_layered(
    output: Output,
    ordering: Annotated[
        str, typer.Option(help="honeycomb, ribbon or limn6-2x2.")
    ] = "honeycomb",
    framework: Annotated[str, typer.Option(help="o3 or p2.")] = "o3",
    formula: Annotated[str, typer.Option(help="Parent A M O2.")] = "LiMnO2",
    in_layer: Annotated[str, typer.Option(help="A in the metal layer.")] = "Li",
    shift: Annotated[tuple[int, int], typer.Option(help="Stacking shift.")] = (0, 0),
    n_alkali: Annotated[
        int | None, typer.Option(help="P2: alkali to keep in the alkali layer.")
    ] = None,
) -> None:
    """A named metal-layer order stacked on O3 or P2 (Li2MnO3: the defaults)."""
    from oredox.structures.frameworks import o3_layered, p2_layered
    from oredox.structures.superstructures import (
        fill_alkali_sites,
        named_ordering,
        stack_o3,
        stack_p2,
    )

    order = named_ordering(ordering)
    if framework == "o3":
        parent = o3_layered(formula, cell="primitive")
        structure = stack_o3(parent, order, shift, in_layer)
    elif framework == "p2":
        if n_alkali is None:
            raise OredoxInputError(
                "a P2 cell needs --n-alkali (e.g. 6 for Na0.6 in 10)"
            )
        structure = stack_p2(p2_layered(formula), order, shift, in_layer)
        structure, _ = fill_alkali_sites(structure, n_alkali)
    else:
        raise OredoxInputError(f"framework must be o3 or p2, not {framework!r}")
    _save(structure, output)


@structure_app.command("orderings")
def structure_orderings(
    fraction: Annotated[str, typer.Option(help="A per metal-layer site, e.g. 1/3.")],
    max_sites: Annotated[int, typer.Option(help="Largest supercell.")] = 12,
    m_charge: Annotated[float | None, typer.Option(help="Charge of M.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every metal-layer order of a ratio, ranked by Ewald energy and classified."""
    from oredox.structures.superstructures import enumerate_layer_orderings

    ranked = enumerate_layer_orderings(
        _fraction(fraction), max_sites=max_sites, m_charge=m_charge
    )
    rows = [
        {
            "rank": k + 1,
            "motif": r.motif,
            "n_sites": r.ordering.n_sites,
            "superlattice": [list(v) for v in r.ordering.superlattice],
            "a_sites": [list(p) for p in r.ordering.a_sites],
            "ewald_eV_per_site": r.ewald_eV_per_site,
        }
        for k, r in enumerate(ranked)
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"A{fraction} orderings (Ewald relative to the lowest)")
    for column in (
        "rank",
        "motif",
        "sites",
        "superlattice",
        "A sites",
        "dE (meV/site)",
    ):
        table.add_column(column)
    lowest = rows[0]["ewald_eV_per_site"]
    for row in rows:
        table.add_row(
            str(row["rank"]),
            row["motif"],
            str(row["n_sites"]),
            str(row["superlattice"]),
            str(row["a_sites"]),
            f"{1000 * (row['ewald_eV_per_site'] - lowest):.1f}",
        )
    console.print(table)


@structure_app.command("sqs")
def structure_sqs(
    output: Output,
    cations: Cations = "Li=7/12,Ti=7/24,Ni=1/8",
    anion: str = "O",
    a: Annotated[float, typer.Option(help="Lattice parameter, A.")] = 4.15,
    n_cells: Annotated[int, typer.Option(help="Cations in the cell.")] = 24,
    shells: Annotated[int, typer.Option(help="Pair shells to match.")] = 4,
    steps: Annotated[int, typer.Option(help="Annealing swaps.")] = 300_000,
    seed: int = 0,
) -> None:
    """Special quasirandom structure of a rock salt in a compact supercell."""
    from oredox.structures.frameworks import rock_salt
    from oredox.structures.sqs import generate_sqs

    parent = rock_salt(_fractions(cations), anion, a, cell="primitive")
    _save(
        generate_sqs(
            parent, n_cells=n_cells, n_shells=shells, n_steps=steps, seed=seed
        ),
        output,
    )


@structure_app.command("sro")
def structure_sro(
    output: Output,
    cations: Cations = "Li=7/12,Ti=7/24,Ni=1/8",
    anion: str = "O",
    a: Annotated[float, typer.Option(help="Lattice parameter, A.")] = 4.15,
    temperature: Annotated[float, typer.Option(help="Kelvin.")] = 1500.0,
    n_cells: Annotated[int, typer.Option(help="Cations in the cell.")] = 192,
    sweeps: Annotated[int, typer.Option(help="Swaps per site.")] = 2000,
    dielectric: Annotated[float, typer.Option(help="Ewald screening.")] = 10.0,
    seed: int = 0,
) -> None:
    """Monte Carlo short-range-ordered rock salt; writes the last snapshot."""
    from oredox.structures.frameworks import rock_salt
    from oredox.structures.sro import monte_carlo_sro

    parent = rock_salt(_fractions(cations), anion, a, cell="primitive")
    result = monte_carlo_sro(
        parent,
        temperature,
        n_cells=n_cells,
        n_sweeps=sweeps,
        n_snapshots=1,
        dielectric=dielectric,
        seed=seed,
    )
    snapshot = result.snapshots[-1]
    snapshot.properties["provenance"] |= {
        "screened_ewald_eV": result.energies_eV[-1],
        "random_start_screened_ewald_eV": result.initial_energy_eV,
        "acceptance": result.acceptance,
        "descriptors": result.descriptors[-1],
        "random_start_descriptors": result.initial_descriptors,
    }
    _save(snapshot, output)


@structure_app.command("seed")
def structure_seed(
    name: Annotated[
        str,
        typer.Argument(
            help=", ".join(
                ["li2mno3", "nlmo", "nlmro", "house", "ltno-sqs", "ltno-spread"]
            )
        ),
    ],
    output: Output,
) -> None:
    """A seed cell of SCIENCE.md section 2, ready to use."""
    from oredox.structures import seeds

    builders = {
        "li2mno3": seeds.li2mno3_honeycomb,
        "nlmo": seeds.nlmo_ribbon,
        "nlmro": seeds.nlmro_ribbon,
        "house": seeds.house_honeycomb,
        "ltno-sqs": seeds.ltno_sqs,
        "ltno-spread": seeds.ltno_spread,
    }
    if name not in builders:
        raise OredoxInputError(f"unknown seed {name!r}; choose {', '.join(builders)}")
    _save(builders[name](), output)


def _save(structure, output: Path) -> None:
    from oredox.structures.output import describe, write_structure

    path, record = write_structure(structure, output)
    info = describe(structure)
    quality = info["provenance"].get("quality", {}).get("cluster_vector_mismatch")
    extra = f", cluster-vector mismatch {quality:.4f}" if quality is not None else ""
    group = info.get("space_group", "disordered")
    console.print(
        f"{info['formula']} ({group}{extra}) -> {path}; record {record}",
        soft_wrap=True,
    )


def _fraction(text: str) -> float:
    from fractions import Fraction

    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise OredoxInputError(
            f"{text!r} is not a number or fraction like 7/12"
        ) from None


def _fractions(text: str) -> dict[str, float]:
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not pairs or any(not sep for _, sep, _ in pairs):
        raise OredoxInputError(
            f"cations {text!r} must look like Li=7/12,Ti=7/24,Ni=1/8"
        )
    return {el.strip(): _fraction(value) for el, _, value in pairs}


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
