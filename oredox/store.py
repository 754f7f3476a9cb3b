"""The results store: a jobflow ``JobStore`` built from the settings, and study queries.

The embedded default is an on-disk MontyDB database under ``work_dir/store``, no server.
A ``mongodb://`` or ``mongodb+srv://`` URI switches to MongoDB through maggma's
``MongoStore``. Every job output goes to the outputs collection (``oredox_outputs``),
large objects (trajectories, DOS, charge densities) to the data collection
(``oredox_data``); study documents are the outputs of the job named
:data:`STUDY_JOB_NAME`. ``store: jobflow`` uses jobflow's ``JOB_STORE`` instead, and a
store given in Python wins over both (:mod:`oredox.store_sources`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MethodType
from typing import TYPE_CHECKING, Any

import numpy as np
from bson.errors import BSONError
from jobflow import JobStore
from maggma.stores import MongoStore, MontyStore
from monty.json import MontyDecoder
from montydb.errors import MontyError
from montydb.storage import StorageError
from pydantic import ValidationError
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from oredox.entries import study_entries  # noqa: F401 - its former home
from oredox.errors import OredoxInputError, validation_problems
from oredox.settings import (
    STORE_EMBEDDED,
    STORE_JOBFLOW,
    OredoxSettings,
    ensure_folder,
    exception_detail,
    parse_store_uri,
    redact_uri,  # oredox.store.redact_uri: the same function
    short_text,
)
from oredox.store_sources import (
    describe_job_store,
    jobflow_job_store,
    mongo_uri_of,
    python_job_store,
)

if TYPE_CHECKING:
    from oredox.schemas import StudyDocument

STUDY_JOB_NAME = "oredox study document"

# what a damaged embedded store raises: sqlite, MontyDB, BSON, files, and (ValueError)
# the flatfile backend's JSON or UnicodeDecodeError
_EMBEDDED_ERRORS = (sqlite3.Error, MontyError, StorageError, BSONError, OSError)
_EMBEDDED_ERRORS += (ValueError, EOFError, KeyError, TypeError)


def check_mongodb_reachable(uri: str, timeout_s: float) -> None:
    """Fail fast if no MongoDB server answers at ``uri`` within ``timeout_s`` seconds.

    Raises :class:`OredoxInputError` with the redacted URI (unreachable, refused
    credentials, malformed URI) and pymongo's message scrubbed of the credentials.
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
    except (PyMongoError, ValueError, TypeError) as exc:
        # the pymongo message may quote the URI: scrubbed, cut after the first
        # server's error (the topology description repeats it)
        detail = exception_detail(exc, uri).split(" (configured timeouts")[0]
        raise OredoxInputError(
            f"cannot reach MongoDB at {redact_uri(uri)} within {timeout_s:g} s "
            f"({detail}); check the URI, the network and the credentials, "
            f"or unset OREDOX_STORE to use the embedded store"
        ) from None


def get_job_store(
    settings: OredoxSettings, collection_prefix: str | None = None
) -> JobStore:
    """Build the ``JobStore`` described by ``settings``; connect to check it works.

    Which store (highest first): a store object given in Python
    (``settings.job_store``), else ``settings.store``: ``montydb``, a MongoDB URI, or
    ``jobflow`` (:func:`oredox.store_sources.jobflow_job_store`).
    Nothing is written to a MongoDB database before the first job output (its
    indexes come with it): a query of a database without oredox outputs leaves it
    as it was, and :func:`list_studies` says so. A folder that cannot be written, a
    damaged embedded store (which folder to move away) or an unreachable server:
    :class:`OredoxInputError`.

    Parameters
    ----------
    settings
        The oredox settings.
    collection_prefix
        If given, the embedded and MongoDB collections are ``<prefix>_outputs`` and
        ``<prefix>_data``; else ``settings.outputs_collection`` and
        ``settings.data_collection``.

    Returns
    -------
    JobStore
        Connected. Its ``docs_store`` holds job outputs, ``additional_stores["data"]``
        the large objects.
    """
    docs_name, data_name = settings.outputs_collection, settings.data_collection
    if collection_prefix is not None:
        docs_name = f"{collection_prefix}_outputs"
        data_name = f"{collection_prefix}_data"
    if settings.job_store is not None:
        store = python_job_store(settings.job_store, data_name)
    elif settings.store == STORE_JOBFLOW:
        store = jobflow_job_store()
    elif settings.store == STORE_EMBEDDED:
        ensure_folder(settings.work_dir, "work_dir")
        path = ensure_folder(settings.work_dir / "store", "embedded store folder")
        kwargs: dict[str, Any] = {
            "database_path": str(path),
            "database_name": settings.database,
            "storage": "sqlite",
        }
        _check_embedded_layout(path, settings.database, (docs_name, data_name))
        docs, data = MontyStore(docs_name, **kwargs), MontyStore(data_name, **kwargs)
        store = JobStore(docs, additional_stores={"data": data})
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
    _open(store)
    return store


def _open(store: JobStore) -> None:
    """Connect ``store``; read an embedded one now; index a MongoDB one."""
    docs = store.docs_store
    with store_errors(store, "opening the store"):
        store.connect()
        if isinstance(docs, MontyStore):
            # a damaged file fails on its first read: read now, before any run
            for part in (docs, *store.additional_stores.values()):
                if isinstance(part, MontyStore):
                    part._collection.find_one({}, {"_id": 1})
        elif not _is_mongodb(docs):
            return
        elif _has_collection(docs):
            ensure_indexes(store)
        else:  # indexes now would create the collection, even for a query
            docs.update = MethodType(_index_then_update, docs)


# the fields users filter studies by (oredox query): one index each
INDEXED_FIELDS = (
    "name",
    "uuid",
    "output.study_id",
    "output.oxygen_id",
    "output.chemsys",
    "output.host_formula",
    "output.framework",
    "output.energy_scheme.engine",
    "output.energy_scheme_id",
    "output.entries.x",
)


def ensure_indexes(store: JobStore) -> None:
    """Create the indexes of :data:`INDEXED_FIELDS` on the outputs collection."""
    for key in INDEXED_FIELDS:
        store.docs_store.ensure_index(key)


def _has_collection(docs: MongoStore) -> bool:
    """Whether the collection of ``docs`` exists (True if the user may not list)."""
    collection = docs._collection
    try:
        return collection.name in collection.database.list_collection_names()
    except OperationFailure:  # no listCollections privilege: cannot tell
        return True


def _index_then_update(docs: MongoStore, *args, **kwargs):
    """``docs.update`` the first time: create the indexes, drop this hook, write.

    Indexes created before the first write would create the collection: a query
    of the wrong database would leave an empty ``oredox_outputs`` there, read by
    the next query as "no studies".
    """
    docs.__dict__.pop("update", None)  # the class's method from now on
    for key in INDEXED_FIELDS:
        docs.ensure_index(key)
    return docs.update(*args, **kwargs)


def _check_embedded_layout(folder: Path, database: str, names) -> None:
    """Fail on a database that is not a folder, a collection that is not a file.

    MontyDB would read either as empty: a damaged store that looks like a new one.
    """
    where = folder / database
    wrong = [where] if where.exists() and not where.is_dir() else []
    files = (where / f"{name}.collection" for name in names)
    wrong += [path for path in files if path.exists() and not path.is_file()]
    if wrong:
        kind = "folder" if wrong[0] == where else "file"
        detail = f"{short_text(wrong[0])} is not a {kind}"
        raise OredoxInputError(_embedded_failure(detail, folder, "opening the store"))


@contextmanager
def store_errors(store: JobStore, action: str) -> Iterator[None]:
    """What a broken store raises as one :class:`OredoxInputError`.

    An embedded store: which folder, and how to recover (move it away). MongoDB:
    the redacted URI and pymongo's message scrubbed of the credentials.
    """
    docs = store.docs_store
    try:
        yield
    except OredoxInputError:
        raise
    except PyMongoError as exc:
        uri = mongo_uri_of(docs)
        if uri is None:
            raise
        where = f"MongoDB at {redact_uri(uri)}, database {docs.database}"
        raise OredoxInputError(
            f"{where} failed while {action} ({exception_detail(exc, uri)}); "
            "check the server, the network and the credentials"
        ) from None
    except _EMBEDDED_ERRORS as exc:
        if not isinstance(docs, MontyStore):
            raise
        folder = Path(docs.database_path)
        raise OredoxInputError(_embedded_failure(exc, folder, action)) from None


def _embedded_failure(exc: BaseException | str, folder: Path, action: str) -> str:
    """The message for an embedded store that failed: which folder, what to do."""
    shown = short_text(folder)
    if isinstance(exc, str):
        detail, reason = exc, ""
    else:
        detail, reason = exception_detail(exc, limit=120), str(exc).lower()
    if isinstance(exc, PermissionError) or "readonly" in reason:
        return f"cannot write the embedded store in {shown} ({detail}): check its modes"
    if "locked" in reason:
        return f"the embedded store in {shown} is locked by another process ({detail})"
    return (
        f"the embedded store in {shown} is damaged: its files cannot be read "
        f"while {action} ({detail}). Move the folder away (mv {shown} "
        f"{shown}.broken): oredox then starts a new, empty store there, and the "
        "studies in the old one come back only from a backup"
    )


def _is_mongodb(docs) -> bool:
    """Whether ``docs`` is a MongoDB store (not MontyDB, not in memory)."""
    return mongo_uri_of(docs) is not None


def describe_store(settings: OredoxSettings) -> str:
    """One line naming the store, safe to print (credentials removed)."""
    if settings.job_store is not None:
        store = python_job_store(settings.job_store, settings.data_collection)
        return f"store given in Python: {describe_job_store(store)}"
    if settings.store == STORE_JOBFLOW:
        return f"jobflow's JOB_STORE: {describe_job_store(jobflow_job_store())}"
    if settings.store == STORE_EMBEDDED:
        return f"MontyDB (embedded) at {settings.work_dir / 'store'}"
    return f"MongoDB at {redact_uri(settings.store)}, database {_database_of(settings)}"


def _database_of(settings: OredoxSettings) -> str:
    """The database named in the URI path, else ``settings.database``."""
    try:
        database = parse_store_uri(settings.store)["database"]
    except ValueError:  # settings changed after validation: pymongo will say
        database = None
    return database or settings.database


def _check_has_outputs(store: JobStore) -> None:
    """No outputs collection in a MongoDB database (a new embedded store: fine)."""
    docs = store.docs_store
    if not _is_mongodb(docs):
        return
    with store_errors(store, "listing collections"):
        present = _has_collection(docs)
    if not present:
        raise OredoxInputError(
            f"database {docs.database} at {redact_uri(mongo_uri_of(docs) or '')} has "
            f"no {docs.collection_name} collection: is this the right database? Check "
            "the store settings (URI path, OREDOX_DATABASE, OREDOX_OUTPUTS_COLLECTION;"
            " a new database gets the collection with its first run)"
        )


def list_studies(
    store: JobStore,
    chemsys: str | None = None,
    framework: str | None = None,
    engine: str | None = None,
    scheme: str | None = None,
    x_min: float | None = None,
    x_max: float | None = None,
) -> list[dict[str, Any]]:
    """Summaries of the study documents in ``store``, newest first, filtered.

    Parameters
    ----------
    chemsys
        Elements in any order (``"Li-Co-O"``); matches the host's exactly.
    framework, engine
        Exact framework name (``"O3 layered"``) and engine (``"vasp"``).
    scheme
        Energy-scheme id or a prefix of it.
    x_min, x_max
        Studies with an entry whose alkali content x lies in the range.

    Returns
    -------
    list[dict[str, Any]]
        One summary per study: ``study_id``, ``name``, ``host_formula``,
        ``chemsys``, ``framework``, ``engine``, ``energy_scheme_id``,
        ``n_entries``, ``x_range``, ``average_voltage_V`` and ``created_at``.
    """
    criteria: dict[str, Any] = {"name": STUDY_JOB_NAME}
    if chemsys:
        criteria["output.chemsys"] = "-".join(sorted(chemsys.split("-")))
    if framework:
        criteria["output.framework"] = framework
    if engine:
        criteria["output.energy_scheme.engine"] = engine
    properties = [
        "output.study_id",
        "output.name",
        "output.host_formula",
        "output.chemsys",
        "output.framework",
        "output.energy_scheme.engine",
        "output.energy_scheme_id",
        "output.average_voltage_V",
        "output.created_at",
        "output.entries.x",
    ]
    _check_has_outputs(store)
    with store_errors(store, "listing studies"):
        docs = list(store.query(criteria, properties=properties))
    rows = []
    for doc in docs:
        out = doc["output"]
        xs = [entry["x"] for entry in out["entries"]]
        row = {
            "study_id": out["study_id"],
            "name": out["name"],
            "host_formula": out["host_formula"],
            "chemsys": out.get("chemsys", ""),
            "framework": out.get("framework", ""),
            "engine": out["energy_scheme"]["engine"],
            "energy_scheme_id": out.get("energy_scheme_id", ""),
            "n_entries": len(xs),
            "x_range": [min(xs), max(xs)] if xs else [],
            "average_voltage_V": out["average_voltage_V"],
            "created_at": str(out["created_at"]),
        }
        if scheme and not row["energy_scheme_id"].startswith(scheme):
            continue
        low = -np.inf if x_min is None else x_min
        high = np.inf if x_max is None else x_max
        if (x_min is not None or x_max is not None) and not any(
            low - 1e-9 <= x <= high + 1e-9 for x in xs
        ):
            continue
        rows.append(row)
    rows.sort(key=lambda row: row["created_at"], reverse=True)
    return rows


def find_studies(store: JobStore, **filters) -> list[StudyDocument]:
    """The study documents matching ``filters`` (those of :func:`list_studies`)."""
    return [get_study(store, row["study_id"]) for row in list_studies(store, **filters)]


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
            f"no study {short_text(repr(study_id), 80)} in the store; `oredox query` "
            "lists them"
        )
    if len(matches) > 1:
        raise OredoxInputError(
            f"{short_text(repr(study_id), 80)} matches {len(matches)} studies; give "
            "more characters"
        )
    with store_errors(store, f"reading study {matches[0]}"):
        doc = store.query_one(
            {"name": STUDY_JOB_NAME, "output.study_id": matches[0]}, load=True
        )
    try:
        output = MontyDecoder().process_decoded(doc["output"])
        if isinstance(output, StudyDocument):
            return output
        return StudyDocument.model_validate(output)
    except ValidationError as exc:
        raise OredoxInputError(
            f"study {matches[0]} in the store does not match this version of "
            f"oredox's study document ({validation_problems(exc, 'study')[:300]}); "
            "read it with the oredox version that wrote it"
        ) from None


def remove_other_study_documents(
    store: JobStore, study_id: str, uuid: str, index: int = 1
) -> None:
    """Delete the study documents ``study_id`` not stored by job ``uuid``/``index``.

    A local run gives its study document the run's id; when the document's job ran
    again under a new uuid, the earlier copy goes, and the run keeps one study.
    """
    store.docs_store.remove_docs(
        {
            "name": STUDY_JOB_NAME,
            "output.study_id": study_id,
            "$or": [{"uuid": {"$ne": uuid}}, {"index": {"$ne": index}}],
        }
    )
