"""Oxygen-loss documents in the store: find one by its id or by its study's.

An :class:`~oredox.oxygen_schemas.OxygenLossDocument` is the output of the job named
:data:`OXYGEN_JOB_NAME` (:mod:`oredox.workflows.oxygen_flow`), stored by jobflow in
the same outputs collection as the study documents (:mod:`oredox.store`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monty.json import MontyDecoder
from pydantic import ValidationError

from oredox.errors import OredoxInputError, validation_problems
from oredox.settings import short_text
from oredox.store import _check_has_outputs, store_errors

if TYPE_CHECKING:
    from jobflow import JobStore

    from oredox.oxygen_schemas import OxygenLossDocument

OXYGEN_JOB_NAME = "oredox oxygen document"


def list_oxygen_documents(
    store: JobStore, study_id: str | None = None
) -> list[dict[str, Any]]:
    """Summaries of the oxygen-loss documents, newest first (of one study if given).

    Each has ``oxygen_id``, ``study_id``, ``name``, ``host_formula``, ``engine``,
    ``reference`` (the O reference's method), ``n_hosts`` and ``created_at``.
    """
    criteria: dict[str, Any] = {"name": OXYGEN_JOB_NAME}
    if study_id is not None:
        criteria["output.study_id"] = study_id
    properties = [
        "output.oxygen_id",
        "output.study_id",
        "output.name",
        "output.host_formula",
        "output.energy_scheme.engine",
        "output.oxygen_reference.method",
        "output.hosts.config_id",
        "output.created_at",
    ]
    _check_has_outputs(store)
    with store_errors(store, "listing oxygen-loss documents"):
        docs = list(store.query(criteria, properties=properties))
    rows = [
        {
            "oxygen_id": doc["output"]["oxygen_id"],
            "study_id": doc["output"]["study_id"],
            "name": doc["output"]["name"],
            "host_formula": doc["output"]["host_formula"],
            "engine": doc["output"]["energy_scheme"]["engine"],
            "reference": doc["output"]["oxygen_reference"]["method"],
            "n_hosts": len(doc["output"]["hosts"]),
            "created_at": str(doc["output"]["created_at"]),
        }
        for doc in docs
    ]
    rows.sort(key=lambda row: row["created_at"], reverse=True)
    return rows


def get_oxygen_document(store: JobStore, id_or_study_id: str) -> OxygenLossDocument:
    """The oxygen-loss document with this id, or the newest of the study with this id.

    Either may be a unique prefix. A study with several oxygen-loss documents gives
    its newest.

    Raises
    ------
    OredoxInputError
        If nothing matches, or the prefix matches several documents or studies.
    """
    from oredox.oxygen_schemas import OxygenLossDocument

    rows = list_oxygen_documents(store)
    shown = short_text(repr(id_or_study_id), 80)
    mine = [r for r in rows if r["oxygen_id"].startswith(id_or_study_id)]
    if not mine:
        studies = {
            r["study_id"]
            for r in rows
            if r["study_id"] and r["study_id"].startswith(id_or_study_id)
        }
        if len(studies) > 1:
            raise OredoxInputError(
                f"{shown} matches {len(studies)} studies; give more characters"
            )
        mine = [r for r in rows if r["study_id"] in studies][:1]  # newest first
    if not mine:
        raise OredoxInputError(
            f"no oxygen-loss document {shown} in the store, and no study with one; "
            "`oredox oxygen STUDY_ID` makes one"
        )
    if len(mine) > 1:
        raise OredoxInputError(
            f"{shown} matches {len(mine)} oxygen-loss documents; give more characters"
        )
    oxygen_id = mine[0]["oxygen_id"]
    with store_errors(store, f"reading oxygen-loss document {oxygen_id}"):
        doc = store.query_one(
            {"name": OXYGEN_JOB_NAME, "output.oxygen_id": oxygen_id}, load=True
        )
    try:
        output = MontyDecoder().process_decoded(doc["output"])
        if isinstance(output, OxygenLossDocument):
            return output
        clean = {k: v for k, v in output.items() if not k.startswith("@")}
        return OxygenLossDocument.model_validate(clean)
    except ValidationError as exc:
        raise OredoxInputError(
            f"oxygen-loss document {oxygen_id} does not match this version of "
            f"oredox ({validation_problems(exc, 'document')[:300]}); read it with "
            "the oredox version that wrote it"
        ) from None
