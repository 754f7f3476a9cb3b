"""oredox settings: one object, from ``OREDOX_*`` variables and an optional YAML file.

Precedence, highest first: keyword arguments, environment variables (``OREDOX_STORE``,
``OREDOX_WORK_DIR`` ...), the YAML file (``OREDOX_CONFIG_FILE``, default
``~/.oredox.yaml``), the defaults below.

Example ``~/.oredox.yaml``::

    store: mongodb://user:secret@db.mygroup.org:27017/oredox
    default_engine: chgnet
    dft_u_preset: mp
    work_dir: /scratch/me/oredox
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from oredox.errors import OredoxInputError, validation_problems

DEFAULT_CONFIG_FILE = Path("~/.oredox.yaml")
STORE_EMBEDDED = "montydb"


class _YamlSource(PydanticBaseSettingsSource):
    """Settings from the YAML file named by ``OREDOX_CONFIG_FILE`` (if it exists)."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused API
        """Not used: the whole file is read in ``__call__``."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = Path(os.environ.get("OREDOX_CONFIG_FILE", DEFAULT_CONFIG_FILE))
        path = path.expanduser()
        if not path.is_file():
            return {}
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise OredoxInputError(
                f"settings file {path} must hold a mapping of setting: value"
            )
        return data


class OredoxSettings(BaseSettings):
    """Where oredox stores results, which engine it runs, and where it works.

    Parameters
    ----------
    store
        ``"montydb"`` (default): an embedded on-disk MontyDB store under
        ``work_dir/store``, no server. A ``mongodb://`` or ``mongodb+srv://`` URI:
        a MongoDB server, with large objects in a second collection. The URI may hold
        credentials; oredox never prints or logs them.
    database
        MongoDB database name, used when the URI names none.
    work_dir
        Directory for the embedded store and the calculation folders.
    default_engine
        Engine used when a command names none (``chgnet`` runs anywhere).
    dft_u_preset
        Named Hubbard-U preset for DFT+U engines.
    mongo_timeout_s
        Seconds to wait for a MongoDB server before giving up (fail fast).
    """

    model_config = SettingsConfigDict(env_prefix="OREDOX_", extra="forbid")

    store: str = STORE_EMBEDDED
    database: str = "oredox"
    work_dir: Path = Field(default_factory=lambda: Path("~/.oredox").expanduser())
    default_engine: str = "chgnet"
    dft_u_preset: str = "mp"
    mongo_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("work_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(value).expanduser()

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        if value != STORE_EMBEDDED and not value.startswith(
            ("mongodb://", "mongodb+srv://")
        ):
            raise ValueError(
                f"store must be '{STORE_EMBEDDED}' or a mongodb:// or "
                "mongodb+srv:// URI"
            )
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


def load_settings(**overrides: Any) -> OredoxSettings:
    """Read the settings; bad values raise :class:`OredoxInputError`.

    ``overrides`` whose value is ``None`` are ignored, so command-line options that were
    not given fall through to the environment and the file.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return OredoxSettings(**given)
    except ValidationError as exc:
        problems = validation_problems(exc, "settings")
        # pydantic echoes the input value; a store URI may hold a password.
        raise OredoxInputError(f"invalid oredox settings: {problems}") from None
