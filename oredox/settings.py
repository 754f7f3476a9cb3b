"""oredox settings: one object, from ``OREDOX_*`` variables and an optional YAML file.

Precedence, highest first: keyword arguments, environment variables (``OREDOX_STORE``,
``OREDOX_WORK_DIR`` ...), the YAML file (``OREDOX_CONFIG_FILE``, default
``~/.oredox.yaml``), the defaults below.

The job store: a ``JobStore`` or maggma ``Store`` given in Python
(``load_settings(store=my_store)``) wins; else ``store``: ``montydb``, a MongoDB URI, or
``jobflow`` (opt in to jobflow's own ``JOB_STORE``, never used unasked).

Example ``~/.oredox.yaml``::

    store: mongodb://user:secret@db.mygroup.org:27017/oredox
    default_engine: chgnet
    dft_u_preset: mp
    work_dir: /scratch/me/oredox
    outputs_collection: oredox_outputs   # job outputs, study documents among them
    data_collection: oredox_data         # large objects (DOS, trajectories)

Every problem is one :class:`~oredox.errors.OredoxInputError` that says what is wrong
and what to do. No message quotes a store URI's credentials (:func:`redact_uri`,
:func:`exception_detail`) nor a line of the settings file (it may hold the URI).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from oredox.errors import OredoxInputError
from oredox.redaction import (  # noqa: F401 - oredox.settings.redact_uri etc.
    _quotes_password,
    exception_detail,
    redact_text,
    redact_uri,
    scrub_secrets,
    short_text,
)

DEFAULT_CONFIG_FILE = Path("~/.oredox.yaml")
STORE_EMBEDDED = "montydb"
STORE_JOBFLOW = "jobflow"  # jobflow's SETTINGS.JOB_STORE, opted in
STORE_PYTHON = "python"  # a store object given in Python (settings.job_store)
_COLLECTION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
MONGODB_SCHEMES = ("mongodb://", "mongodb+srv://")
MAX_SETTINGS_FILE_BYTES = 1 << 20  # a settings file is a few lines
MAX_URI_CHARS = 8192
MAX_DATABASE_CHARS = 63  # MongoDB: fewer than 64, and none of these characters
_BAD_DATABASE_CHARS = frozenset('/\\. "$\x00')
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,20}://")
_WORK_DIR_ADVICE = "set OREDOX_WORK_DIR (or --work-dir) to a folder you can write"


_URI_HINTS = (  # pymongo's message (a regex) -> what to fix
    ("port (must|contains)", "the port must be a number from 1 to 65535"),
    ("ipv6", "an IPv6 host goes in brackets, like mongodb://[::1]:27017/db"),
    ("empty host|at least one host", "the URI names no host"),
    ("must be escaped", "the user name or password is not percent-encoded"),
    ("bad database name", "the database name has a character MongoDB refuses"),
    ("only one, hostname|include a port", "mongodb+srv:// takes one host, no port"),
    ("option", "an option after '?' is unknown or has a bad value"),
)


def parse_store_uri(uri: str) -> dict[str, Any]:
    """Check a MongoDB URI with pymongo's parser, offline; return pymongo's parts.

    ``mongodb+srv://`` URIs are checked without their DNS look-up. Raises
    ``ValueError``: what is wrong and what to do, without the URI.
    """
    from pymongo.errors import PyMongoError

    try:
        from pymongo.uri_parser_shared import _validate_uri
    except ImportError:  # pragma: no cover - pymongo < 4.11 (srv: with DNS look-up)
        from pymongo.uri_parser import parse_uri as _validate_uri
    try:
        return _validate_uri(uri)
    except (PyMongoError, ValueError, TypeError, IndexError) as exc:
        found = (text for key, text in _URI_HINTS if re.search(key, str(exc).lower()))
        hint = next(found, "pymongo cannot parse it")
        # pymongo quotes pieces of the URI: Bad database name "..."
        detail = re.sub(r'"[^"]*"', '"..."', exception_detail(exc, uri, limit=160))
        raise ValueError(
            f"the store URI is not a valid MongoDB URI: {hint} ({detail}); a user "
            "name or password that holds any of : / ? # [ ] @ % must be "
            "percent-encoded (urllib.parse.quote_plus)"
        ) from None


def _database_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a database name, or None."""
    if not name:
        return "must not be empty"
    if len(name) > MAX_DATABASE_CHARS:
        return f"must be at most {MAX_DATABASE_CHARS} characters (it has {len(name)})"
    if _BAD_DATABASE_CHARS & set(name):
        return 'must not contain / \\ . space " $ or NUL'
    return None


def _check_work_dir(path: Path) -> None:
    """Fail when ``path`` is a file or can never be a folder; create nothing."""
    shown = short_text(path)
    if "\x00" in str(path):
        raise ValueError("work_dir must not contain a NUL character")
    try:
        for candidate in (path, *path.parents):
            try:
                if stat.S_ISDIR(candidate.stat().st_mode):
                    return
            except (FileNotFoundError, NotADirectoryError):
                continue
            if candidate == path:
                raise ValueError(f"work_dir {shown} is a file; {_WORK_DIR_ADVICE}")
            raise ValueError(
                f"work_dir {shown} cannot be created: {short_text(candidate)} is a "
                f"file; {_WORK_DIR_ADVICE}"
            )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(
            f"work_dir {shown} is not usable ({reason}); {_WORK_DIR_ADVICE}"
        ) from None


def ensure_folder(path: Path, what: str = "work_dir") -> Path:
    """Create the folder ``path`` (and its parents); check that it is writable.

    A file there, a folder that cannot be created or written: an
    :class:`OredoxInputError` that names ``what`` (whose folder) and ``path``.
    """
    shown = short_text(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OredoxInputError(
            f"{what} {shown} is a file, not a folder: move it away or "
            f"{_WORK_DIR_ADVICE}"
        ) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or short_text(exc, 80)
        raise OredoxInputError(
            f"cannot create {what} {shown} ({reason}); {_WORK_DIR_ADVICE}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OredoxInputError(f"{what} {shown} is not writable; {_WORK_DIR_ADVICE}")
    return path


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """Line, column and what, never the offending line (it may hold a password)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line, mark.column) if mark else (None, None)
        problem = exc.problem or exc.context or "syntax error"
    else:  # ReaderError: a character YAML does not accept
        position = getattr(exc, "position", 0)
        line = text.count("\n", 0, position)
        column = position - (text.rfind("\n", 0, position) + 1)
        problem = getattr(exc, "reason", None) or type(exc).__name__
    # yaml quotes tokens ('!tag', 'alias'): keep single characters only
    problem = short_text(redact_text(re.sub(r"'[^']{3,}'", "'...'", str(problem))))
    return (
        problem if line is None else f"line {line + 1}, column {column + 1}: {problem}"
    )


def read_settings_file(path: Path) -> dict[str, Any]:
    """The mapping in the YAML settings file ``path``; ``{}`` when there is none.

    Raises :class:`OredoxInputError` when the file is a folder, unreadable, too
    large, binary or not UTF-8, not YAML, or not a mapping of setting names. A YAML
    error is reported by line and column only: a line may hold a password.
    """

    def fail(problem: str) -> OredoxInputError:
        return OredoxInputError(
            f"settings file {short_text(path)} {problem}; fix it, or point "
            "OREDOX_CONFIG_FILE to another file (unset: ~/.oredox.yaml)"
        )

    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise fail("is a folder, not a YAML file")
        if not stat.S_ISREG(mode) and str(path) != os.devnull:
            raise fail("is not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_SETTINGS_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > MAX_SETTINGS_FILE_BYTES:
        raise fail(f"is larger than {MAX_SETTINGS_FILE_BYTES} bytes: the wrong file?")
    if b"\x00" in raw:
        raise fail("holds binary data, not YAML text")
    try:
        text = raw.decode("utf-8-sig")
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise fail(f"is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise fail(f"is not valid YAML: {_yaml_problem(exc, text)}") from None
    except RecursionError:
        raise fail("is nested too deeply to be settings") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else "single value"
        raise fail(f"must hold `setting: value` lines, not a YAML {kind}")
    if not all(isinstance(key, str) for key in data):
        names = ", ".join(OredoxSettings.model_fields)
        raise fail(f"has a key that is not a setting name ({names})")
    return data


def settings_file() -> Path | None:
    """The file ``OREDOX_CONFIG_FILE`` names (``~/.oredox.yaml``); None if empty."""
    name = os.environ.get("OREDOX_CONFIG_FILE", str(DEFAULT_CONFIG_FILE))
    try:
        return Path(name).expanduser() if name else None
    except RuntimeError:  # ~user of no user, or no home folder
        raise OredoxInputError(
            f"OREDOX_CONFIG_FILE {short_text(name)} names an unknown home folder; "
            "give an absolute path"
        ) from None


class _YamlSource(PydanticBaseSettingsSource):
    """Settings from the YAML file named by ``OREDOX_CONFIG_FILE`` (if it exists)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused API
        """Not used: the whole file is read in ``__call__``."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = settings_file()
        return {} if path is None else read_settings_file(path)


class OredoxSettings(BaseSettings):
    """Where oredox stores results, which engine it runs, and where it works.

    Parameters
    ----------
    store
        ``"montydb"`` (default): an embedded on-disk MontyDB store under
        ``work_dir/store``, no server. A ``mongodb://`` or ``mongodb+srv://`` URI
        (checked offline by pymongo's parser): a MongoDB server, with large objects
        in a second collection. oredox never prints or logs the URI's credentials.
    database
        MongoDB database name when the URI names none; the embedded store's too.
    work_dir
        Directory for the embedded store and the calculation folders (not a file).
    default_engine
        Engine used when a command names none (``chgnet`` runs anywhere).
    dft_u_preset
        Named Hubbard-U preset for DFT+U engines.
    mongo_timeout_s
        Seconds to wait for a MongoDB server before giving up (at most an hour).
    outputs_collection, data_collection
        Collections of the embedded and MongoDB stores: job outputs (study documents
        are the outputs of the job ``oredox study document``) and large objects. A
        jobflow or Python store keeps its own names.
    job_store
        A jobflow ``JobStore`` or maggma ``Store`` (Python only; also accepted as
        ``store=``): it wins over ``store``, which then reads ``"python"``. A plain
        ``Store`` holds the outputs; its large objects go to a copy of it whose
        collection is ``data_collection``.
    """

    model_config = SettingsConfigDict(env_prefix="OREDOX_", extra="forbid")

    store: str = STORE_EMBEDDED
    database: str = "oredox"
    work_dir: Path = Field(default_factory=lambda: Path("~/.oredox").expanduser())
    default_engine: str = Field(default="chgnet", min_length=1, max_length=64)
    dft_u_preset: str = "mp"
    mongo_timeout_s: float = Field(default=5.0, gt=0, le=3600)
    outputs_collection: str = "oredox_outputs"
    data_collection: str = "oredox_data"
    job_store: Any = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _store_object(cls, values: Any) -> Any:
        """``store=<a JobStore or Store>`` is the same as ``job_store=``."""
        if isinstance(values, dict) and _is_store_object(values.get("store")):
            values = {**values, "job_store": values["store"], "store": STORE_PYTHON}
        return values

    @model_validator(mode="after")
    def _python_store(self):
        if self.job_store is not None:
            self.store = STORE_PYTHON
        elif self.store == STORE_PYTHON:
            raise ValueError(
                f"store '{STORE_PYTHON}' means a store object given in Python: "
                "load_settings(store=my_job_store)"
            )
        if self.outputs_collection == self.data_collection:
            raise ValueError("outputs_collection and data_collection must differ")
        return self

    @field_validator("job_store")
    @classmethod
    def _check_job_store(cls, value: Any) -> Any:
        if value is not None and not _is_store_object(value):
            raise ValueError(
                "job_store must be a jobflow JobStore or a maggma Store, given in "
                f"Python (not a {type(value).__name__}); from a file or the "
                f"environment, use store: {STORE_JOBFLOW} and jobflow's JOB_STORE"
            )
        return value

    @field_validator("outputs_collection", "data_collection")
    @classmethod
    def _check_collection(cls, value: str) -> str:
        if not _COLLECTION.fullmatch(value) or value.startswith("system."):
            raise ValueError(
                "a collection name is 1 to 100 letters, digits, _ . or -, not "
                "starting with . - or 'system.'"
            )
        return value

    @field_validator("work_dir", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("work_dir must not be empty")
        return value

    @field_validator("work_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        try:
            path = Path(value).expanduser()
        except RuntimeError:
            raise ValueError("work_dir names an unknown home folder (~user)") from None
        _check_work_dir(path)
        # absolute: jobs run in their own folders, and a relative store path would
        # then name a store inside each job's folder
        return path.absolute()

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str) -> str:
        problem = _database_problem(value)
        if problem:
            raise ValueError(f"the database name {problem}")
        return value

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if value in (STORE_EMBEDDED, STORE_JOBFLOW, STORE_PYTHON):
            return value
        if not value.startswith(MONGODB_SCHEMES):
            scheme = _SCHEME.match(value)
            raise ValueError(
                f"store must be '{STORE_EMBEDDED}', '{STORE_JOBFLOW}' (jobflow's "
                "JOB_STORE) or a mongodb:// or mongodb+srv:// URI"
                f"{f', not a {scheme.group(0)} URI' if scheme else ''}"
            )
        if len(value) > MAX_URI_CHARS:
            raise ValueError(f"the store URI is longer than {MAX_URI_CHARS} characters")
        database = parse_store_uri(value)["database"]
        problem = database and _database_problem(database)
        if problem:
            raise ValueError(f"the database name in the store URI {problem}")
        return value

    @field_validator("dft_u_preset")
    @classmethod
    def _check_preset(cls, value: str) -> str:
        from oredox.workflows.dftu import PRESETS

        if value not in PRESETS:
            raise ValueError(f"unknown DFT+U preset; choose one of {tuple(PRESETS)}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls,
        init_settings,
        env_settings,
        dotenv_settings,
        file_secret_settings,
    ):
        """Order the sources: arguments, environment, YAML file, defaults."""
        return (init_settings, env_settings, _YamlSource(settings_cls))


def _is_store_object(value: Any) -> bool:
    """Whether ``value`` is a jobflow ``JobStore`` or a maggma ``Store``."""
    from jobflow import JobStore
    from maggma.core import Store

    return isinstance(value, JobStore | Store)


def load_settings(**overrides: Any) -> OredoxSettings:
    """Read the settings; bad values raise :class:`OredoxInputError`.

    ``overrides`` whose value is ``None`` are ignored, so command-line options that were
    not given fall through to the environment and the file. No message quotes a
    value given (a store URI may hold a password) nor a line of the settings file.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return OredoxSettings(**given)
    except ValidationError as exc:
        file = settings_file()
        where = f", {short_text(file)}" if file and os.path.isfile(file) else ""
        problems = _problems(exc, _given_stores(given))
        raise OredoxInputError(
            f"invalid oredox settings: {problems} (from arguments, OREDOX_* "
            f"variables{where})"
        ) from None


def _problems(exc: ValidationError, uris: list[str]) -> str:
    """``key: message; ...``; messages quote no value, keys are scrubbed (a URI?)."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        keys = [scrub_secrets(str(part), *uris) for part in err["loc"]]
        if any(_quotes_password(key, uri) for key in keys for uri in uris):
            keys = ["<a key that quotes the store password>"]
        loc = ".".join(short_text(key, 40) for key in keys) or "settings"
        problems.append(f"{loc}: {str(err['msg']).removeprefix('Value error, ')}")
    return short_text(redact_text("; ".join(problems)), 2000)


def _given_stores(given: dict[str, Any]) -> list[str]:
    """The store URIs given (keyword, environment, file), to scrub messages with."""
    found = [given.get("store"), os.environ.get("OREDOX_STORE")]
    try:
        path = settings_file()
        found.append((read_settings_file(path) if path else {}).get("store"))
    except OredoxInputError:
        pass
    return [value for value in found if isinstance(value, str)]
