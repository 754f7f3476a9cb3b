"""The results store: a jobflow ``JobStore`` built from the settings, and study queries.

The embedded default is an on-disk MontyDB database under ``work_dir/store``, no server.
A ``mongodb://`` or ``mongodb+srv://`` URI switches to MongoDB through maggma's
``MongoStore``; large objects (trajectories, DOS, charge densities) then go to the
second collection ``<prefix>_data``. Every job output goes to the ``outputs``
collection; study documents are the outputs of the job named :data:`STUDY_JOB_NAME`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from jobflow import JobStore
from maggma.stores import MongoStore, MontyStore
from monty.json import MontyDecoder
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from oredox.errors import OredoxInputError
from oredox.settings import STORE_EMBEDDED, OredoxSettings

if TYPE_CHECKING:
    from oredox.schemas import StudyDocument

STUDY_JOB_NAME = "oredox study document"
_CREDENTIALS = re.compile(r"(mongodb(?:\+srv)?://)([^@/]+)@")


def redact_uri(uri: str) -> str:
    """Return ``uri`` with any ``user:password@`` replaced by ``***@``."""
    return _CREDENTIALS.sub(r"\1***@", uri)


def check_mongodb_reachable(uri: str, timeout_s: float) -> None:
    """Fail fast if no MongoDB server answers at ``uri`` within ``timeout_s`` seconds.

    Raises
    ------
    OredoxInputError
        With the redacted URI: the server is unreachable, refused the credentials, or
        the URI is malformed.
    """
    timeout_ms = int(timeout_s * 1000)
    try:
        client = MongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
        )
        try:
            client.admin.command("ping")
        finally:
            client.close()
    except PyMongoError as exc:
        # The pymongo message may quote the URI; keep only its class name.
        raise OredoxInputError(
            f"cannot reach MongoDB at {redact_uri(uri)} within {timeout_s:g} s "
            f"({type(exc).__name__}); check the URI, the network and the credentials, "
            f"or unset OREDOX_STORE to use the embedded store"
        ) from None


def get_job_store(
    settings: OredoxSettings, collection_prefix: str = "oredox"
) -> JobStore:
    """Build the ``JobStore`` described by ``settings``; connect to check it works.

    Parameters
    ----------
    settings
        The oredox settings; ``settings.store`` picks the backend.
    collection_prefix
        Collections are ``<prefix>_outputs`` and ``<prefix>_data``.

    Returns
    -------
    JobStore
        Connected. Its ``docs_store`` holds job outputs, ``additional_stores["data"]``
        the large objects.
    """
    docs_name = f"{collection_prefix}_outputs"
    data_name = f"{collection_prefix}_data"
    if settings.store == STORE_EMBEDDED:
        path = settings.work_dir / "store"
        path.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {
            "database_path": str(path),
            "database_name": settings.database,
            "storage": "sqlite",
        }
        docs, data = MontyStore(docs_name, **kwargs), MontyStore(data_name, **kwargs)
    else:
        check_mongodb_reachable(settings.store, settings.mongo_timeout_s)
        timeout_ms = int(settings.mongo_timeout_s * 1000)
        kwargs = {
            "database": _database_of(settings),
            "uri": settings.store,
            "mongoclient_kwargs": {"serverSelectionTimeoutMS": timeout_ms},
        }
        docs = MongoStore(collection_name=docs_name, **kwargs)
        data = MongoStore(collection_name=data_name, **kwargs)
    store = JobStore(docs, additional_stores={"data": data})
    store.connect()
    return store


def describe_store(settings: OredoxSettings) -> str:
    """One line naming the store, safe to print (credentials removed)."""
    if settings.store == STORE_EMBEDDED:
        return f"MontyDB (embedded) at {settings.work_dir / 'store'}"
    return f"MongoDB at {redact_uri(settings.store)}, database {_database_of(settings)}"


def _database_of(settings: OredoxSettings) -> str:
    """The database named in the URI path, else ``settings.database``."""
    match = re.match(r"mongodb(?:\+srv)?://[^/]+/([^?]+)", settings.store)
    return match.group(1) if match else settings.database


def list_studies(store: JobStore) -> list[dict[str, Any]]:
    """Summaries of the study documents in ``store``, newest first.

    Each summary has ``study_id``, ``name``, ``host_formula``, ``engine``,
    ``n_entries``, ``average_voltage_V`` and ``created_at``.
    """
    properties = [
        "output.study_id",
        "output.name",
        "output.host_formula",
        "output.energy_scheme.engine",
        "output.average_voltage_V",
        "output.created_at",
        "output.entries.config_id",
    ]
    rows = []
    for doc in store.query({"name": STUDY_JOB_NAME}, properties=properties):
        out = doc["output"]
        rows.append(
            {
                "study_id": out["study_id"],
                "name": out["name"],
                "host_formula": out["host_formula"],
                "engine": out["energy_scheme"]["engine"],
                "n_entries": len(out["entries"]),
                "average_voltage_V": out["average_voltage_V"],
                "created_at": str(out["created_at"]),
            }
        )
    rows.sort(key=lambda row: row["created_at"], reverse=True)
    return rows


def get_study(store: JobStore, study_id: str) -> StudyDocument:
    """Load one study document; ``study_id`` may be a unique prefix.

    Raises
    ------
    OredoxInputError
        If no study, or more than one, matches.
    """
    from oredox.schemas import StudyDocument

    matches = [
        row["study_id"]
        for row in list_studies(store)
        if row["study_id"].startswith(study_id)
    ]
    if not matches:
        raise OredoxInputError(
            f"no study {study_id!r} in the store; `oredox query` lists them"
        )
    if len(matches) > 1:
        raise OredoxInputError(
            f"{study_id!r} matches {len(matches)} studies; give more characters"
        )
    doc = store.query_one(
        {"name": STUDY_JOB_NAME, "output.study_id": matches[0]}, load=True
    )
    output = MontyDecoder().process_decoded(doc["output"])
    if isinstance(output, StudyDocument):
        return output
    return StudyDocument.model_validate(output)
