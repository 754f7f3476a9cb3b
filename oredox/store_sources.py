"""Job stores oredox does not build: jobflow's ``JOB_STORE``, a store given in Python.

:func:`oredox.store.get_job_store` builds the embedded and MongoDB stores from the
settings; these are the two other sources (see :mod:`oredox.settings` for which one
wins), and :func:`describe_job_store` names any store without its credentials.
"""

from __future__ import annotations

from typing import Any

from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MemoryStore, MongoStore, MontyStore
from monty.json import MontyDecoder

from oredox.errors import OredoxInputError
from oredox.redaction import redact_uri, short_text


def jobflow_job_store() -> JobStore:
    """The ``JOB_STORE`` of jobflow's settings (``~/.jobflow.yaml``, ``JOBFLOW_*``).

    What ``jobflow.run_locally`` writes to without a store argument, including a store
    set in Python as ``jobflow.SETTINGS.JOB_STORE``. Collection names are jobflow's.

    Raises
    ------
    OredoxInputError
        jobflow has no store configured: its default keeps the outputs in memory,
        lost when the process ends.
    """
    from jobflow import SETTINGS

    store = SETTINGS.JOB_STORE
    docs = store.docs_store
    if isinstance(docs, MemoryStore) and not isinstance(docs, MontyStore):
        raise OredoxInputError(
            "store 'jobflow' uses jobflow's JOB_STORE, but jobflow has none "
            "configured: its default keeps results in memory, lost when the process "
            "ends. Set JOB_STORE in ~/.jobflow.yaml (or the file JOBFLOW_CONFIG_FILE "
            "names), pass a store in Python (load_settings(store=...)), or set "
            "OREDOX_STORE to montydb or a MongoDB URI"
        )
    return store


def python_job_store(value: JobStore | Store, data_collection: str) -> JobStore:
    """The ``JobStore`` for a store object given in Python.

    A ``JobStore`` is used as it is. A maggma ``Store`` holds the job outputs; the
    large objects go to a store of the same kind and place whose collection is
    ``data_collection`` (a store without a collection: give a ``JobStore``).
    """
    if isinstance(value, JobStore):
        return value
    spec = value.as_dict()
    if "collection_name" not in spec:
        raise OredoxInputError(
            f"a {type(value).__name__} has no collection name oredox can vary for the "
            "large objects: pass JobStore(docs_store, additional_stores={'data': "
            "another_store}) instead"
        )
    if spec["collection_name"] == data_collection:
        raise OredoxInputError(
            f"the store given holds its outputs in {data_collection!r}, the "
            "data_collection setting: set OREDOX_DATA_COLLECTION to another name"
        )
    data = MontyDecoder().process_decoded({**spec, "collection_name": data_collection})
    return JobStore(value, additional_stores={"data": data})


def mongo_uri_of(docs: Any) -> str | None:
    """The MongoDB address of ``docs`` as a URI (with its credentials), or None.

    For scrubbing messages and, redacted, for naming the store: a ``MongoStore``
    built from host, port, user name and password has no URI of its own.
    """
    if not isinstance(docs, MongoStore) or isinstance(docs, MemoryStore):
        return None
    if getattr(docs, "uri", None):
        return docs.uri
    user = f"{docs.username}:{docs.password}@" if docs.username else ""
    return f"mongodb://{user}{docs.host}:{docs.port}/{docs.database}"


def describe_job_store(store: JobStore) -> str:
    """The kind, place and collection of the outputs store, without credentials."""
    docs = store.docs_store
    kind = type(docs).__name__
    uri = mongo_uri_of(docs)
    if uri:
        where = f"{kind} at {redact_uri(uri)}, database {docs.database}"
    elif isinstance(docs, MontyStore):
        where = f"{kind} at {docs.database_path}, database {docs.database_name}"
    else:
        where = kind
    collection = getattr(docs, "collection_name", None)
    return short_text(where + (f", collection {collection}" if collection else ""), 300)
