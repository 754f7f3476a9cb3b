"""Which optional extra each heavy part of oredox needs, and one clear error without it.

The core install (``pip install oredox``) builds structures, enumerates and screens
them with the Ewald model, analyses existing VASP outputs and queries the store. The
engines and the cluster submission are extras (reading a GPAW static needs atomate2,
which every engine extra brings):

=========== ======================================= ===================================
extra       what it brings                          what needs it
=========== ======================================= ===================================
``chgnet``  CHGNet, PyTorch (CPU), atomate2         the CHGNet engine, the demo,
                                                    CHGNet screening
``vasp``    atomate2, custodian                     the VASP engine (inputs, runs)
``gpaw``    GPAW, its PAW data, atomate2            the GPAW engine, reading its
                                                    statics
``cluster`` FireWorks, jobflow-remote               ``oredox submit``, ``status``,
                                                    ``rerun``
=========== ======================================= ===================================

:func:`require` checks that an extra's packages are importable before any work
starts and raises :class:`MissingExtraError` (an :class:`OredoxInputError`, so the
command line prints one ``error:`` line and exits with status 2) naming the extra
to install.
"""

from __future__ import annotations

from importlib.util import find_spec

from oredox.errors import OredoxInputError

# the top-level modules each extra installs (their import names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "chgnet": ("chgnet", "torch", "atomate2"),
    "vasp": ("atomate2", "custodian"),
    "gpaw": ("gpaw", "gpaw_data", "atomate2"),
    "cluster": ("fireworks", "jobflow_remote"),
}


class MissingExtraError(OredoxInputError):
    """A part of oredox was asked for whose optional extra is not installed."""


def missing_modules(extra: str, modules: tuple[str, ...] | None = None) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when installed).

    ``modules`` checks only those of the extra's modules (e.g. FireWorks alone for
    ``oredox status``, which does not use jobflow-remote).
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {', '.join(EXTRAS)}")
    if modules is None:
        modules = EXTRAS[extra]
    elif not set(modules) <= set(EXTRAS[extra]):
        raise ValueError(f"{sorted(modules)} are not all modules of [{extra}]")
    missing = []
    for module in modules:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package that is not there
            found = False
        if not found:
            missing.append(module)
    return missing


def has_extra(extra: str) -> bool:
    """Whether every package of the optional extra ``extra`` is importable."""
    return not missing_modules(extra)


def require(extra: str, what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raise :class:`MissingExtraError` unless ``extra`` is installed.

    Parameters
    ----------
    extra
        A key of :data:`EXTRAS`.
    what
        What needs it, as the message starts: ``"the CHGNet engine"``.
    modules
        The extra's modules that ``what`` imports (default: all of them).
    """
    missing = missing_modules(extra, modules)
    if missing:
        raise MissingExtraError(
            f"{what} needs the optional extra [{extra}] "
            f"(missing: {', '.join(missing)}); install it with "
            f"pip install 'oredox[{extra}]'"
        )
