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

import numpy as np
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
    if settings.store != STORE_EMBEDDED:
        ensure_indexes(store)
    return store


# the fields users filter studies by (oredox query): one index each
INDEXED_FIELDS = (
    "name",
    "uuid",
    "output.study_id",
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


def describe_store(settings: OredoxSettings) -> str:
    """One line naming the store, safe to print (credentials removed)."""
    if settings.store == STORE_EMBEDDED:
        return f"MontyDB (embedded) at {settings.work_dir / 'store'}"
    return f"MongoDB at {redact_uri(settings.store)}, database {_database_of(settings)}"


def _database_of(settings: OredoxSettings) -> str:
    """The database named in the URI path, else ``settings.database``."""
    match = re.match(r"mongodb(?:\+srv)?://[^/]+/([^?]+)", settings.store)
    return match.group(1) if match else settings.database


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

    Each summary has ``study_id``, ``name``, ``host_formula``, ``chemsys``,
    ``framework``, ``engine``, ``energy_scheme_id``, ``n_entries``, ``x_range``,
    ``average_voltage_V`` and ``created_at``.
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
    rows = []
    for doc in store.query(criteria, properties=properties):
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


def study_entries(study: StudyDocument, x_min=None, x_max=None) -> list:
    """The study's configurations as pymatgen ``ComputedStructureEntry`` objects.

    Energies are the relaxed totals (eV) in the study's scheme; ``data`` carries
    config_id, x, the formation energy and energy above hull per formula unit,
    the study id and the scheme id, so entries of one scheme can go to pymatgen's
    phase diagrams without mixing schemes.
    """
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    entries = []
    for entry in study.entries:
        if x_min is not None and entry.x < x_min - 1e-9:
            continue
        if x_max is not None and entry.x > x_max + 1e-9:
            continue
        entries.append(
            ComputedStructureEntry(
                entry.structure,
                entry.energy_eV,
                entry_id=f"{study.study_id}:{entry.config_id}",
                data={
                    "config_id": entry.config_id,
                    "x": entry.x,
                    "formation_energy_per_fu_eV": entry.formation_energy_per_fu_eV,
                    "e_above_hull_per_fu_eV": entry.e_above_hull_per_fu_eV,
                    "study_id": study.study_id,
                    "energy_scheme_id": study.energy_scheme_id,
                },
            )
        )
    return entries


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
