"""Running the oxygen-loss flow of a stored study: here, or on a cluster's queue.

:func:`run_oxygen` checks everything first (the study exists and has O, the engine
gives its energy scheme and runs here, the configurations exist), then runs the flow
of :class:`~oredox.workflows.oxygen_flow.OxygenVacancyMaker` with
:func:`~oredox.workflows.execution.run_flow` (progress bar, ``run.log``, journal)
into the store. :func:`submit_oxygen` puts the same flow on a SLURM queue through
FireWorks or jobflow-remote, as ``oredox submit`` does a study's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from oredox.errors import OredoxInputError, OredoxRunError
from oredox.oxygen_schemas import OxygenLossDocument
from oredox.settings import OredoxSettings, load_settings
from oredox.store import get_job_store, get_study
from oredox.workflows.engines import Engine, get_engine
from oredox.workflows.execution import new_run_dir, run_flow
from oredox.workflows.oxygen_flow import OxygenVacancyMaker, study_preset


def run_oxygen(
    study_id: str,
    engine: str | Engine | None = None,
    settings: OredoxSettings | None = None,
    config_ids: Sequence[str] | None = None,
    x_values: Sequence[float] | None = None,
    keep_per_class: int | None = None,
    reference: str = "mp2020",
    progress: bool = True,
) -> OxygenLossDocument:
    """Run the oxygen-loss flow of a stored study here; return its stored document.

    Everything is checked before anything runs or is written: the study exists and
    has O, the engine gives its scheme and can run here, the configurations exist.

    Raises
    ------
    OredoxInputError
        Any of the above.
    OredoxRunError
        Jobs failed (their log says why) or no document came out.
    """
    settings = settings or load_settings()
    if settings.store == "montydb" and not (settings.work_dir / "store").is_dir():
        raise OredoxInputError(
            f"no study {study_id!r}: there is no oredox store in {settings.work_dir} "
            "yet (check --work-dir or OREDOX_WORK_DIR)"
        )
    store = get_job_store(settings)
    study = get_study(store, study_id)
    maker = OxygenVacancyMaker.for_study(
        study, engine, keep_per_class=keep_per_class, reference=reference
    )
    maker.engine.check_runnable()
    with warnings.catch_warnings():  # a delithiated cell's charge, as stored
        warnings.filterwarnings("ignore", "Structure charge", UserWarning)
        flow = maker.make(study, config_ids, x_values)
    run_dir = new_run_dir(settings.work_dir, f"oxygen-{study.study_id[:12]}")
    identity = {"name": f"oxygen loss of {study.study_id}"}
    identity["engine"] = maker.engine.label
    responses = run_flow(
        flow, store, run_dir, progress=progress, description="oxygen loss",
        identity=identity,
    )  # fmt: skip
    document = responses.get(flow.jobs[-1].uuid, {})
    outputs = [response.output for response in document.values()]
    if not outputs or outputs[-1] is None:
        raise OredoxRunError(f"the run in {run_dir} produced no oxygen-loss document")
    return outputs[-1]


def submit_oxygen(
    study_id: str,
    profile,
    settings,
    via: str = "fireworks",
    engine: str | None = None,
    worker: str | None = None,
    queue: bool = True,
    launch_dir: str | Path | None = None,
    config_ids: list[str] | None = None,
    x_values: list[float] | None = None,
    **maker_kwargs,
) -> dict:
    """Put a study's oxygen-loss flow on a SLURM queue, as ``oredox submit`` does.

    The study is read from the store of ``settings`` and the flow made here (the
    orbits are known before submission); FireWorks or jobflow-remote run it.
    """
    from oredox.workflows.submit import check_submission, submit_flow

    check_submission(settings, via, worker)  # before the study is read
    study = get_study(get_job_store(settings), study_id)
    # VASP stops cleanly before the cluster's walltime (custodian)
    engine_obj = get_engine(
        engine or study.energy_scheme.engine,
        study_preset(study),
        walltime_s=profile.walltime_s,
    )
    maker = OxygenVacancyMaker.for_study(study, engine_obj, **maker_kwargs)
    flow = maker.make(study, config_ids, x_values)
    return submit_flow(flow, profile, settings, via, worker, queue, launch_dir)
