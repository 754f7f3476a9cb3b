"""The task documents behind a study: what each engine's jobs stored.

A study document (:class:`~oredox.schemas.StudyDocument`) keeps numbers and
references; the full record of a calculation is its job's output in the jobflow store,
a typed task document:

- VASP (relaxations and statics): emmet's ``TaskDoc``, as atomate2's
  ``MPGGARelaxMaker``/``MPGGAStaticMaker`` store it (inputs, custodian's corrections,
  ``calcs_reversed``, the DOS in the data store when parsed);
- GPAW statics: :class:`~oredox.workflows.engines.gpaw_files.GpawStaticTaskDoc`,
  atomate2's ASE task document with the static's electronic outputs; GPAW
  relaxations: atomate2's ``AseStructureTaskDoc``;
- CHGNet relaxations: atomate2's ``ForceFieldTaskDocument`` (CHGNet runs no statics).

Each :class:`~oredox.schemas.StaticRecord` names its static's job (``job_uuid``):
:func:`static_task_document` loads that job's document, :func:`task_document` any
job's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from oredox.errors import OredoxInputError
from oredox.extras import require

if TYPE_CHECKING:
    from jobflow import JobStore

    from oredox.schemas import StudyDocument


# which extra brings the class of a stored document (emmet's VASP TaskDoc otherwise)
_DOCUMENT_EXTRAS = (
    ("atomate2.forcefields", "chgnet"),
    ("atomate2.ase", "gpaw"),
    ("oredox.workflows.engines.gpaw", "gpaw"),
)


def task_document(store: JobStore, job_uuid: str) -> BaseModel:
    """The task document a job stored, parsed into its pydantic class.

    Large objects the job put in additional stores (a VASP DOS in the ``data``
    store) are loaded with it. A GPAW static stored by oredox before its statics had
    a task document (a plain dict with ``dir_name``) is rebuilt from the
    ``gpaw_static.json`` in its folder, if that folder is readable here.

    Parameters
    ----------
    store
        The study's jobflow store (:func:`oredox.store.get_job_store`).
    job_uuid
        The job's uuid, e.g. a static record's ``job_uuid``.

    Returns
    -------
    pydantic.BaseModel
        emmet's ``TaskDoc`` (VASP), atomate2's ``ForceFieldTaskDocument`` (CHGNet) or
        ``AseStructureTaskDoc`` (GPAW relaxations), or
        :class:`~oredox.workflows.engines.gpaw_files.GpawStaticTaskDoc`.

    Raises
    ------
    OredoxInputError
        If the store holds no output of that job, or its output is no task document;
        :class:`~oredox.extras.MissingExtraError` if its class needs an engine's
        extra (atomate2, emmet) that is not installed.
    """
    from monty.json import MontyDecoder

    doc = store.query_one(
        {"uuid": job_uuid}, properties=["output", "name"], sort={"index": -1}, load=True
    )
    if doc is None:
        raise OredoxInputError(
            f"no job {job_uuid!r} in the store: was the study run with another store "
            "(check --work-dir, OREDOX_WORK_DIR, OREDOX_STORE)?"
        )
    output = MontyDecoder().process_decoded(doc["output"])
    if isinstance(output, BaseModel):
        return output
    if isinstance(output, dict) and output.get("@module"):
        # monty leaves a dict where the document's class cannot be imported
        module = output["@module"]
        extra = next(
            (e for prefix, e in _DOCUMENT_EXTRAS if module.startswith(prefix)), "vasp"
        )
        what = f"the {output.get('@class', 'task')} document of job {job_uuid}"
        require(extra, what, modules=("atomate2",))
    if isinstance(output, dict) and output.get("dir_name"):
        require("gpaw", "a GPAW static's document", modules=("atomate2",))
        legacy = _legacy_gpaw_static(output["dir_name"])
        if legacy is not None:
            return legacy
    kind = type(output).__name__
    raise OredoxInputError(
        f"job {job_uuid} ({doc.get('name')}) stored a {kind}, not a task document"
    )


def static_task_document(
    store: JobStore, study: StudyDocument, config_id: str
) -> BaseModel:
    """The task document of the static of entry ``config_id`` of ``study``.

    Raises
    ------
    OredoxInputError
        If the study has no static of that entry (the message lists those it has).
    """
    by_id = {record.config_id: record for record in study.statics}
    if config_id not in by_id:
        have = ", ".join(by_id) or "none"
        raise OredoxInputError(
            f"study {study.study_id} has no static of {config_id!r} (statics: {have})"
        )
    return task_document(store, by_id[config_id].job_uuid)


def relax_task_document(
    store: JobStore, study: StudyDocument, config_id: str
) -> BaseModel:
    """The task document of the relaxation of entry ``config_id`` of ``study``.

    emmet's ``TaskDoc`` (VASP), atomate2's ``ForceFieldTaskDocument`` (CHGNet) or
    ``AseStructureTaskDoc`` (GPAW); for an engine pair, its geometry relaxation's.

    Raises
    ------
    OredoxInputError
        If the study has no such entry, or was stored before relaxation job uuids
        were recorded.
    """
    entry = next((e for e in study.entries if e.config_id == config_id), None)
    if entry is None:
        have = ", ".join(e.config_id for e in study.entries)
        raise OredoxInputError(
            f"study {study.study_id} has no entry {config_id!r} (entries: {have})"
        )
    if entry.relax_job_uuid is None:
        raise OredoxInputError(
            f"study {study.study_id} was stored before relaxation job uuids were "
            f"recorded: find {config_id!r}'s relaxation by its job name "
            f"'relax {config_id}' in the store"
        )
    return task_document(store, entry.relax_job_uuid)


def _legacy_gpaw_static(dir_name: str):
    """A GPAW static's document from its folder's summary, or None if not one."""
    import json

    from oredox.workflows.engines.base import local_path
    from oredox.workflows.engines.gpaw_files import STATIC_FILE, GpawStaticTaskDoc

    summary_file = local_path(dir_name) / STATIC_FILE
    if not summary_file.is_file():
        return None
    summary = json.loads(summary_file.read_text())
    return GpawStaticTaskDoc.from_summary(summary, dir_name)
