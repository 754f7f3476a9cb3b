"""Engines: what relaxes a structure, runs its static, and what its energies mean.

- :mod:`~oredox.workflows.engines.base`: the interface (:class:`Engine`) and the
  electronic-analysis job every engine's statics feed;
- :mod:`~oredox.workflows.engines.chgnet`: CHGNet through atomate2's force-field
  makers (default; offline, minutes, no statics);
- :mod:`~oredox.workflows.engines.vasp`: VASP DFT+U through atomate2 and custodian
  (production);
- :mod:`~oredox.workflows.engines.gpaw`: GPAW PBE+U through ASE (open source, small
  cells; an optional extra);
- :mod:`~oredox.workflows.engines.pair`: an engine pair, ``relax+static`` (e.g.
  ``chgnet+gpaw``): geometry from the first, energy and electronic structure from a
  static of the second;
- :mod:`~oredox.workflows.engines.maker`: your own atomate2 makers (a VASP or
  force-field relax maker, optionally a VASP static maker) as an engine
  (:class:`MakerEngine`, Python only: templates never name a class to import).

:func:`get_engine` builds one by name (``chgnet+gpaw`` builds a pair) and returns an
engine object unchanged;
:func:`read_static` parses a static's folder with the reader of the engine that
wrote it.

Each engine is an optional extra (:mod:`oredox.extras`): looking one up by name
(:data:`ENGINES`, :func:`get_engine`) checks that its extra is installed and imports
its module then, so that the core install imports none of them. The VASP reader
needs only pymatgen: :func:`read_static` reads a VASP static without the extra.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from oredox.analysis.electronic import StaticOutputs
from oredox.errors import OredoxInputError, validation_problems
from oredox.extras import require
from oredox.workflows.dftu import DftuPreset
from oredox.workflows.engines.base import Engine, analyse_static, local_path
from oredox.workflows.engines.chgnet import ChgnetEngine
from oredox.workflows.engines.maker import MakerEngine
from oredox.workflows.engines.pair import EnginePair
from oredox.workflows.engines.vasp import VaspEngine

# name: (module, class, optional extra, what the missing-extra message calls it)
_ENGINE_CLASSES: dict[str, tuple[str, str, str, str]] = {
    "chgnet": (
        "oredox.workflows.engines.chgnet",
        "ChgnetEngine",
        "chgnet",
        "the CHGNet engine",
    ),
    "vasp": ("oredox.workflows.engines.vasp", "VaspEngine", "vasp", "the VASP engine"),
    "gpaw": ("oredox.workflows.engines.gpaw", "GpawEngine", "gpaw", "the GPAW engine"),
}
# what a GPAW static leaves (gpaw_files.STATIC_FILE: that module imports atomate2)
GPAW_STATIC_FILE = "gpaw_static.json"


def engine_class(name: str, check_extra: bool = True) -> type[Engine]:
    """The class of the engine called ``name`` (``chgnet``, ``vasp``, ``gpaw``).

    Parameters
    ----------
    name
        The engine's name, lower case.
    check_extra
        Raise :class:`~oredox.extras.MissingExtraError` (one line naming the extra)
        unless the engine's optional extra is installed.
    """
    module, cls_name, extra, what = _ENGINE_CLASSES[name]
    if check_extra:
        require(extra, what)
    return getattr(import_module(module), cls_name)


class _EngineClasses(Mapping[str, type[Engine]]):
    """The engines by name; looking one up checks its extra and imports it.

    Membership (``"gpaw" in ENGINES``) and the names (``list(ENGINES)``) need
    nothing installed.
    """

    def __getitem__(self, name: str) -> type[Engine]:
        if name not in _ENGINE_CLASSES:
            raise KeyError(name)
        return engine_class(name)

    def __contains__(self, name: object) -> bool:
        return name in _ENGINE_CLASSES

    def __iter__(self) -> Iterator[str]:
        return iter(_ENGINE_CLASSES)

    def __len__(self) -> int:
        return len(_ENGINE_CLASSES)

    def __repr__(self) -> str:
        return f"ENGINES({', '.join(_ENGINE_CLASSES)})"


ENGINES: Mapping[str, type[Engine]] = _EngineClasses()


def _options(cls: type[Engine]) -> tuple[str, ...]:
    """An engine's own fields, less the preset and the cluster's walltime."""
    return tuple(f for f in cls.model_fields if f not in ("preset", "walltime_s"))


# the numerical settings a user may set per engine (the engine's own fields, less
# the preset and the cluster's walltime, which have their own places). GPAW's are
# written out: templates check them without the gpaw extra (its module imports
# atomate2); tests/test_extras.py checks them against GpawEngine's fields.
ENGINE_OPTIONS: dict[str, tuple[str, ...]] = {
    "chgnet": _options(ChgnetEngine),
    "vasp": _options(VaspEngine),
    "gpaw": (
        "ecut_eV",
        "kpoint_density_per_A",
        "smearing_eV",
        "scf_energy_eV_per_electron",
        "scf_density_per_electron",
        "scf_eigenstates_eV2_per_electron",
    ),
}


def __getattr__(name: str) -> Any:
    """``GpawEngine``, imported on first use (it needs the gpaw extra's atomate2)."""
    if name == "GpawEngine":
        return engine_class("gpaw", check_extra=False)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_engine(
    name: str | Engine,
    preset: str | DftuPreset | dict | None = None,
    walltime_s: int | None = None,
    options: dict[str, Any] | None = None,
) -> Engine:
    """The engine called ``name``, built once with its settings.

    Parameters
    ----------
    name
        ``chgnet``, ``vasp`` or ``gpaw`` (any case), or a pair ``relax+static``
        (:class:`~oredox.workflows.engines.pair.EnginePair`, e.g. ``chgnet+gpaw``);
        or an :class:`Engine` (e.g. a :class:`MakerEngine`), returned as it is.
    preset
        DFT+U preset of DFT engines (a name, a preset or its fields; default ``mp``);
        CHGNet ignores it (its energies are MPtrj's).
    walltime_s
        A cluster job's walltime: VASP stops cleanly before it (custodian).
    options
        The engine's numerical settings (:data:`ENGINE_OPTIONS`, e.g. GPAW's
        ``ecut_eV``).

    Raises
    ------
    OredoxInputError
        Unknown engine (the message lists them), unknown or invalid option, unknown
        preset; settings given with an engine object (it is already built).
    """
    if isinstance(name, Engine):
        given = [
            label
            for label, value in (
                ("preset", preset),
                ("walltime_s", walltime_s),
                ("options", options),
            )
            if value
        ]
        if given:
            raise OredoxInputError(
                f"engine {name.label} is already built: {', '.join(given)} would be "
                "ignored; set them when building it"
            )
        return name
    key = str(name).lower()
    if "+" in key:
        return _engine_pair(key, preset, walltime_s, options)
    if key not in ENGINES:
        raise OredoxInputError(
            f"unknown engine {name!r}; available engines: {', '.join(ENGINES)}, or "
            "a pair relax+static such as chgnet+gpaw"
        )
    options = dict(options or {})
    unknown = sorted(set(options) - set(ENGINE_OPTIONS[key]))
    if unknown:
        known = ", ".join(ENGINE_OPTIONS[key]) or "none"
        raise OredoxInputError(
            f"unknown {key} engine option(s) {unknown}; known: {known}"
        )
    cls = ENGINES[key]
    if "preset" in cls.model_fields:
        options["preset"] = preset or "mp"
    if "walltime_s" in cls.model_fields and walltime_s is not None:
        options["walltime_s"] = walltime_s
    try:
        return cls(**options)
    except ValidationError as exc:
        problems = validation_problems(exc, key)
        raise OredoxInputError(f"engine {key}: {problems}") from None


def _engine_pair(key, preset, walltime_s, options) -> Engine:
    """``relax+static``: each part gets the options among its own fields."""
    parts = key.split("+")
    if len(parts) != 2 or not all(parts):
        raise OredoxInputError(
            f"engine pair {key!r}: write relax+static, e.g. chgnet+gpaw"
        )
    relax, static = parts
    if relax == static:
        return get_engine(relax, preset, walltime_s, options)
    options = dict(options or {})
    for part in parts:
        if part not in ENGINES:
            raise OredoxInputError(
                f"unknown engine {part!r} in {key!r}; available engines: "
                f"{', '.join(ENGINES)}"
            )
    unknown = sorted(
        set(options) - set(ENGINE_OPTIONS[relax]) - set(ENGINE_OPTIONS[static])
    )
    if unknown:
        raise OredoxInputError(
            f"unknown {key} engine option(s) {unknown}; known: "
            f"{', '.join(ENGINE_OPTIONS[relax] + ENGINE_OPTIONS[static]) or 'none'}"
        )

    def part_options(part):
        return {k: v for k, v in options.items() if k in ENGINE_OPTIONS[part]}

    relax_engine = get_engine(relax, preset, walltime_s, part_options(relax))
    static_engine = get_engine(static, preset, walltime_s, part_options(static))
    try:
        return EnginePair(relax_engine=relax_engine, static_engine=static_engine)
    except ValidationError as exc:
        raise OredoxInputError(
            f"engine {key}: {validation_problems(exc, key)}"
        ) from None


def read_static(folder: str | Path) -> StaticOutputs:
    """The parsed outputs of the static in ``folder``, whichever engine wrote it.

    Raises
    ------
    OredoxInputError
        If no engine recognises the folder.
    """
    path = local_path(folder)
    vasp = VaspEngine()
    if vasp.reads_static(path):
        return _read_static(vasp, path)
    if (path / GPAW_STATIC_FILE).exists():
        # GPAW's reader lives in its engine's module, which imports atomate2
        require("gpaw", "reading a GPAW static", modules=("atomate2",))
        return _read_static(engine_class("gpaw", check_extra=False)(), path)
    raise OredoxInputError(
        f"no static in {path}: no vasprun.xml (VASP) and no {GPAW_STATIC_FILE} (GPAW)"
    )


def _read_static(engine: Engine, path: Path) -> StaticOutputs:
    """``engine.read_static(path)``; a parser's failure is one input error."""
    try:
        return engine.read_static(path)
    except Exception as exc:  # a parser's failure is the file's problem
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise OredoxInputError(
            f"cannot read the {engine.name} static in {path}: {reason}"
        ) from None


__all__ = [
    "ENGINES",
    "ENGINE_OPTIONS",
    "GPAW_STATIC_FILE",
    "ChgnetEngine",
    "Engine",
    "EnginePair",
    "GpawEngine",
    "MakerEngine",
    "VaspEngine",
    "analyse_static",
    "engine_class",
    "get_engine",
    "read_static",
]
