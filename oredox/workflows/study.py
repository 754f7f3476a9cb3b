"""Running a study template: locally into the store, or as a dry run of its inputs.

:func:`run_study` builds the flow from a template (:meth:`StudyTemplate.flow
<oredox.workflows.templates.StudyTemplate.flow>`) and runs it like the demo (progress
bar, store, figure). :func:`dry_run` performs the screening for real
and writes, for every selected configuration and for the alkali-metal reference, the
VASP relax inputs (INCAR, KPOINTS, POSCAR, POTCAR.spec) that the flow would run, plus a
JSON record of the screening, without running or storing anything; what the
screening's models print goes to ``dry-run.log`` beside them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from oredox.analysis.plots import plot_hull_and_voltage
from oredox.analysis.selection import end_member_ids
from oredox.errors import OredoxInputError, OredoxRunError
from oredox.schemas import StudyDocument
from oredox.settings import OredoxSettings, load_settings
from oredox.store import get_job_store
from oredox.structures.output import write_structure
from oredox.workflows.engines.base import Engine
from oredox.workflows.engines.pair import PairRelaxMaker
from oredox.workflows.execution import (
    STATE_FILE,
    identity_mismatch,
    journal_finished,
    new_run_dir,
    new_run_id,
    read_run_record,
    run_flow,
    run_identity,
)
from oredox.workflows.hull_flow import alkali_metal
from oredox.workflows.progress import StudyProgress, terminal_to_log
from oredox.workflows.templates import StudyTemplate


def run_study(
    template: StudyTemplate,
    engine: str | Engine | None = None,
    settings: OredoxSettings | None = None,
    png: str | Path | None = None,
    progress: bool = True,
    resume: bool = False,
) -> StudyDocument:
    """Run ``template`` on this machine and store its study document.

    The engine is checked (can it run here?) and the store connected before the host
    is built. The run records its identity (template name, content hash, engine).
    With ``resume``, the newest unfinished run of this identity continues (finished
    jobs are skipped); without one to resume, or where the template changed since
    that run started, this is an error.
    """
    settings = settings or load_settings()
    engine_obj = template.engine_for(engine)
    engine_obj.check_runnable()
    identity = run_identity(
        template.name, template.model_dump(mode="json"), engine_obj.label
    )
    # the run to resume is found before the store is touched (nothing written)
    run_dir = unfinished_run(settings.work_dir, identity) if resume else None
    if resume:
        return run_hull_flow(
            None,
            get_job_store(settings),
            settings,
            template.name,
            png,
            progress,
            run_dir,
            identity,
        )
    identity["run_id"] = new_run_id()  # the stored study's id too: one per run
    # host, symmetry, feasibility: before the store is touched
    flow = template.flow(engine=engine_obj, study_id=identity["run_id"])
    store = get_job_store(settings)
    return run_hull_flow(
        flow, store, settings, template.name, png, progress, identity=identity
    )


def unfinished_run(work_dir: Path, identity: dict) -> Path:
    """The newest run folder of ``identity`` (:func:`run_identity`) not finished.

    Runs are told apart by the identity their ``run.json`` records, never by folder
    names. An unfinished run of the same name whose template or engine differ is
    named in the error.
    """
    runs = Path(work_dir) / "runs"
    folders = sorted(runs.iterdir(), reverse=True) if runs.is_dir() else []
    changed = None
    for folder in folders:  # names start with the UTC time: newest first
        with contextlib.suppress(OredoxInputError):  # an unreadable one is not ours
            record = None
            record = read_run_record(folder, missing_ok=True)
        journal = folder / STATE_FILE
        if (
            record is None
            or record.get("name") != identity["name"]
            or "template_sha256" not in record
            or not journal.exists()
            or journal_finished(journal)
        ):
            continue
        problem = identity_mismatch(record, identity, folder)
        if problem is None:
            return folder
        changed = changed or problem
    if changed:
        raise OredoxInputError(changed)
    raise OredoxInputError(
        f"no unfinished run of {identity['name']!r} under {runs} to resume"
    )


def run_hull_flow(
    flow,
    store,
    settings: OredoxSettings,
    label: str,
    png: str | Path | None = None,
    progress: bool = True,
    resume_dir: Path | None = None,
    identity: dict | None = None,
) -> StudyDocument:
    """Run a hull flow locally into ``store``; return (and plot) its study document.

    With ``resume_dir``, continue that run (``flow`` is read from its journal; the
    run's recorded identity must be ``identity``). ``identity`` is recorded when a
    run starts. The study document's ``study_id`` is the run's id.
    """
    if resume_dir is not None:
        run_dir, resume = resume_dir, True
    else:
        run_dir, resume = new_run_dir(settings.work_dir, label), False
    responses = run_flow(
        flow,
        store,
        run_dir,
        progress=progress,
        description=label,
        resume=resume,
        identity=identity,
    )
    study_id = read_run_record(run_dir)["run_id"]
    studies = [
        study
        for by_index in responses.values()
        for response in by_index.values()
        if (study := as_study(response.output)) is not None
    ]
    # the study job's output carries the run's id; copies (jobflow's replace) too
    study = next(
        (s for s in studies if s.study_id == study_id), studies[0] if studies else None
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
    template: StudyTemplate,
    out_dir: str | Path,
    engine: str | Engine | None = None,
    progress: bool = True,
) -> list[Path]:
    """Screen for real, then write the engine inputs of every job known in advance.

    The same maker, screening and makers as the flow
    (:meth:`~oredox.workflows.hull_flow.DelithiationHullMaker.configurations`): the
    relaxations of the selected configurations (``k0-0`` is the host relaxation), the
    alkali-metal reference, and the statics of the end members, which are hull
    vertices whatever the energies (:func:`~oredox.analysis.selection.end_member_ids`;
    the statics of other vertices and near-hull configurations depend on the relaxed
    energies, and use the same static maker). A ``converge:`` loop's relaxations
    are chosen at run time; ``screening.json`` says how many at most.

    What the screening's models print (CHGNet's banner, torch's warnings) goes to
    :data:`DRY_RUN_LOG` in ``out_dir``; with ``progress``, the terminal shows the
    steps (host, screening, each input folder) with their elapsed time.

    Returns
    -------
    list of Path
        One folder per calculation; ``screening.json`` beside them records counts,
        reasons and the folders.
    """
    maker = template.maker(engine)  # a bad engine fails before anything is written
    out = Path(out_dir)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with (
            open(out / DRY_RUN_LOG, "a") as log_file,
            terminal_to_log(log_file) as terminal,
            StudyProgress(
                f"{template.name} dry run", terminal if progress else None, "steps"
            ) as shown,
        ):
            return _write_dry_run(template, maker, out, shown)
    except OredoxInputError:
        if created:  # the input was wrong: leave no folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise


DRY_RUN_LOG = "dry-run.log"


def _write_dry_run(template, maker, out: Path, shown: StudyProgress) -> list[Path]:
    """:func:`dry_run`'s steps, each told to ``shown``."""
    shown.add([(("host",), "prepare the host"), (("screen",), "screen candidates")])
    shown.start(("host",), "prepare the host")
    host = template.study_host(maker)
    shown.finish(("host",))
    shown.start(("screen",), "screen candidates")
    result, starts = maker.configurations(host)
    shown.finish(("screen",))
    ids = result.config_ids
    labelled = [
        (label, maker.relax_maker, structure)
        for label, structure in zip(ids, starts, strict=True)
    ]
    labelled.append(
        (f"reference-{host.alkali}", maker.relax_maker, alkali_metal(host.alkali))
    )
    # an engine pair's relaxations hold their statics (written with them above)
    pair = isinstance(maker.relax_maker, PairRelaxMaker)
    if maker.static_maker is not None and not pair:
        ends = end_member_ids(ids, [c.n_vacancies for c in result.selected])
        labelled += [
            (f"static-{label}", maker.static_maker, structure)
            for label, structure in zip(ids, starts, strict=True)
            if label in ends
        ]
    shown.add([((label,), f"write {label}") for label, _, _ in labelled])
    folders = []
    for label, job_maker, structure in labelled:
        shown.start((label,), f"write {label}")
        folders.append(write_inputs(job_maker, structure, out / label))
        shown.finish((label,))
    record = {
        "template": template.model_dump(mode="json"),
        "supercell_matrix": host.supercell_matrix,
        "engine": maker.engine.label,
        "screening": result.record,
        "folders": [f.name for f in folders],
    }
    converge = getattr(maker, "converge", None)
    if converge is not None:  # its candidates exist only once relaxations have run
        record["converge"] = {
            "settings": converge.model_dump(mode="json"),
            "note": "the cluster-expansion loop chooses its configurations at run "
            f"time: up to {max(converge.max_calculations - len(ids), 0)} more "
            "relaxations with the same relax maker, not written here",
        }
    (out / "screening.json").write_text(json.dumps(record, indent=2, default=str))
    return folders


def write_inputs(job_maker, structure, folder: Path) -> Path:
    """Write the inputs a maker's job would run into ``folder``.

    A VASP maker's input set (POTCAR.spec for the POTCARs), else the POSCAR (sorted
    by element; ``POSCAR.json`` keeps the site order the engine runs with) and an
    ASE calculator's keyword arguments. An engine pair's relaxation writes both of
    its steps, ``relax/`` and ``static/`` (the static's at the starting geometry:
    the relaxed one exists only after the relaxation).
    """
    if isinstance(job_maker, PairRelaxMaker):
        write_inputs(job_maker.relax_maker, structure, folder / "relax")
        write_inputs(job_maker.static_maker, structure, folder / "static")
        return folder
    generator = getattr(job_maker, "input_set_generator", None)
    if generator is not None:  # a VASP maker
        generator.get_input_set(structure, potcar_spec=True)
        generator.write_input(folder, potcar_spec=True)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # sorted by element, with POSCAR.json mapping its lines to the engine's site order
    write_structure(structure, folder / "POSCAR")
    calculator = getattr(job_maker, "calculator_kwargs", None)
    if calculator:  # an ASE calculator's
        (folder / "calculator.json").write_text(json.dumps(calculator, indent=2))
    return folder
