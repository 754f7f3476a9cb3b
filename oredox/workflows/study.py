"""Running a study template: locally into the store, or as a dry run of VASP inputs.

:func:`run_study` builds the host and the flow from a template and runs it like the
demo (progress bar, store, figure). :func:`dry_run` performs the screening for real
and writes, for every selected configuration and for the alkali-metal reference, the
VASP relax inputs (INCAR, KPOINTS, POSCAR, POTCAR.spec) that the flow would run, plus a
JSON record of the screening, without running or storing anything.
"""

from __future__ import annotations

import json
from pathlib import Path

from oredox.analysis.plots import plot_hull_and_voltage
from oredox.errors import OredoxInputError, OredoxRunError
from oredox.schemas import StudyDocument
from oredox.settings import OredoxSettings, load_settings
from oredox.store import get_job_store
from oredox.structures.delithiation import alkali_symmetry, apply_configuration
from oredox.workflows.dftu import initial_magmoms
from oredox.workflows.engines import get_engine
from oredox.workflows.execution import STATE_FILE, new_run_dir, run_flow, safe_label
from oredox.workflows.hull import alkali_metal, config_ids
from oredox.workflows.screening import ScreeningSettings, screen_configurations
from oredox.workflows.templates import StudyTemplate


def run_study(
    template: StudyTemplate,
    engine: str | None = None,
    settings: OredoxSettings | None = None,
    png: str | Path | None = None,
    progress: bool = True,
    resume: bool = False,
) -> StudyDocument:
    """Run ``template`` on this machine and store its study document.

    With ``resume``, the newest unfinished run of this template continues (finished
    jobs are skipped); without one to resume, this is an error.
    """
    settings = settings or load_settings()
    engine_name = engine or template.engine
    get_engine(
        engine_name, template.preset(), options=template.options(engine_name)
    ).check_runnable()
    store = get_job_store(settings)
    if resume:
        run_dir = unfinished_run(settings.work_dir, template.name)
        return run_hull_flow(
            None, store, settings, template.name, png, progress, run_dir
        )
    host, matrix, framework = template.build_host()
    flow = template.maker(engine_name).make(host, matrix, framework, template.name)
    return run_hull_flow(flow, store, settings, template.name, png, progress)


def unfinished_run(work_dir: Path, label: str) -> Path:
    """The newest run folder of ``label`` whose journal has no end."""
    pattern = f"*-{safe_label(label)}"
    for folder in sorted((Path(work_dir) / "runs").glob(pattern), reverse=True):
        journal = folder / STATE_FILE
        if journal.exists() and '"finished"' not in journal.read_text()[-200:]:
            return folder
    raise OredoxInputError(
        f"no unfinished run of {label!r} under {Path(work_dir) / 'runs'} to resume"
    )


def run_hull_flow(
    flow,
    store,
    settings: OredoxSettings,
    label: str,
    png: str | Path | None = None,
    progress: bool = True,
    resume_dir: Path | None = None,
) -> StudyDocument:
    """Run a hull flow locally into ``store``; return (and plot) its study document.

    With ``resume_dir``, continue that run (``flow`` is read from its journal).
    """
    if resume_dir is not None:
        run_dir, resume = resume_dir, True
    else:
        run_dir, resume = new_run_dir(settings.work_dir, label), False
    responses = run_flow(
        flow, store, run_dir, progress=progress, description=label, resume=resume
    )
    study = next(
        (
            as_study(response.output)
            for by_index in responses.values()
            for response in by_index.values()
            if as_study(response.output) is not None
        ),
        None,
    )
    if study is None:
        raise OredoxRunError(f"the run in {run_dir} produced no study document")
    if png is not None:
        plot_hull_and_voltage(study, png)
    return study


def as_study(output) -> StudyDocument | None:
    """``output`` as a StudyDocument (also when read back from the store as a dict)."""
    if isinstance(output, StudyDocument):
        return output
    if isinstance(output, dict) and {"study_id", "entries", "energy_scheme"} <= set(
        output
    ):
        clean = {k: v for k, v in output.items() if not k.startswith("@")}
        return StudyDocument.model_validate(clean)
    return None


def dry_run(
    template: StudyTemplate, out_dir: str | Path, engine: str | None = None
) -> list[Path]:
    """Screen for real, then write the engine inputs of every job known in advance.

    The relaxations of the selected configurations (``k0-0`` is the host relaxation),
    the alkali-metal reference, and the statics of the two end members, which are
    hull vertices whatever the energies (the statics of other vertices and near-hull
    configurations depend on the relaxed energies, and use the same settings).

    Returns
    -------
    list of Path
        One folder per calculation; ``screening.json`` beside them records counts,
        reasons and the folders.
    """
    engine_name = engine or template.engine
    engine_obj = get_engine(
        engine_name, template.preset(), options=template.options(engine_name)
    )
    maker = template.maker(engine_obj.name)
    host, matrix, _ = template.build_host()
    symmetry = alkali_symmetry(host, template.alkali)
    screening = ScreeningSettings(**template.screening.model_dump())
    result = screen_configurations(host, symmetry, screening)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    relax = engine_obj.relax_maker(fmax=maker.fmax, steps=maker.max_steps)
    start = initial_magmoms(host, maker.magmoms)
    ids = config_ids(result.selected)
    labelled = [
        (label, relax, apply_configuration(start, symmetry, config))
        for label, config in zip(ids, result.selected, strict=True)
    ]
    labelled.append(
        (f"reference-{template.alkali}", relax, alkali_metal(template.alkali))
    )
    if hasattr(engine_obj, "static_maker"):
        static = engine_obj.static_maker(projections=maker.projections)
        ends = sorted({0, max(c.n_vacancies for c in result.selected)})
        for label, config in zip(ids, result.selected, strict=True):
            if config.n_vacancies in ends and label.endswith("-0"):
                structure = apply_configuration(start, symmetry, config)
                labelled.append((f"static-{label}", static, structure))
    folders = []
    for label, job_maker, structure in labelled:
        folder = out / label
        if hasattr(job_maker, "input_set_generator"):  # a VASP maker: write its inputs
            generator = job_maker.input_set_generator
            generator.get_input_set(structure, potcar_spec=True)
            generator.write_input(folder, potcar_spec=True)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            structure.to(filename=str(folder / "POSCAR"), fmt="poscar")
            if getattr(job_maker, "calculator_kwargs", None):  # an ASE calculator's
                (folder / "calculator.json").write_text(
                    json.dumps(job_maker.calculator_kwargs, indent=2)
                )
        folders.append(folder)
    record = {
        "template": template.model_dump(mode="json"),
        "supercell_matrix": matrix,
        "engine": engine_obj.name,
        "screening": result.record,
        "folders": [f.name for f in folders],
    }
    (out / "screening.json").write_text(json.dumps(record, indent=2, default=str))
    return folders
