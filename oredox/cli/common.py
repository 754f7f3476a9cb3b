"""What the command modules share: the console they print on, small option parsers.

Kept apart from :mod:`oredox.cli` (which re-exports them) so that the command
modules never import the package that registers them: no import cycle.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from oredox.errors import OredoxInputError
from oredox.files import (
    DEFAULT_DPI,
    FIGURE_FORMATS,
    check_destination,
    check_dpi,
    figure_file,
    figure_formats,
)
from oredox.workflows.threads import (
    SMALL_CELL_ATOMS,
    SMALL_CELL_THREADS,
    THREADS_ENV,
    positive_count,
)

console = Console()
STRUCTURE_SUFFIXES = (".cif", ".vasp")

# the figure options every command that draws shares: --format and --dpi
FigureFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"Figure format: {', '.join(FIGURE_FORMATS)} (default: the figure "
        "path's suffix; this replaces it).",
    ),
]
FigureDpi = Annotated[
    int, typer.Option("--dpi", help="Resolution of PNG figures (dots per inch).")
]


def thread_count(value: int | None) -> int | None:
    """Option callback: ``--threads``, a whole number above 0."""
    if value is not None:
        positive_count(value, "--threads")
    return value


# the --threads option of the commands that run an engine in this process
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="Threads for CHGNet (PyTorch), as OREDOX_THREADS; default: "
        "OMP_NUM_THREADS if set, else the cores this process was given "
        "(SLURM_CPUS_ON_NODE, else SLURM_CPUS_PER_TASK, else its CPU affinity; "
        "at most its CPU quota) divided by OREDOX_ENGINE_PROCESSES, at most "
        f"{SMALL_CELL_THREADS} for cells under {SMALL_CELL_ATOMS} atoms, and "
        "outside SLURM no more than the cores other processes leave free.",
        callback=thread_count,
    ),
]


def use_threads(threads: int | None) -> None:
    """``--threads N``: set ``OREDOX_THREADS`` for this run (None: leave it)."""
    if threads is not None:
        os.environ[THREADS_ENV] = str(threads)


def figure_path(path: Path | None) -> Path | None:
    """Option callback: a figure in a writable folder.

    Its format (the suffix, or ``--format``, which replaces the suffix) is checked
    by :func:`figure_target`, once both options are known.
    """
    if path is not None:
        check_destination(path, "figure")
    return path


def figure_target(
    path: Path | None, fmt: str | None, dpi: int = DEFAULT_DPI
) -> Path | None:
    """The figure file to write: ``path`` in format ``fmt``, checked with ``dpi``.

    Call before any expensive step: an unknown format, no format at all (no suffix,
    no ``--format``), a resolution out of range or an unwritable folder is one
    :class:`~oredox.errors.OredoxInputError`. ``path`` None: None (no figure),
    after the same checks of ``fmt`` and ``dpi``.
    """
    check_dpi(dpi)
    if path is None:
        if fmt is not None:
            figure_file("figure", fmt)  # the format alone is still checked
        return None
    target = figure_file(path, fmt)
    check_destination(target, "figure", figure_formats())
    return target


def csv_path(path: Path | None) -> Path | None:
    """Option callback: a ``.csv`` file in a writable folder."""
    if path is not None:
        check_destination(path, "CSV file", (".csv",))
    return path


def structure_path(path: Path) -> Path:
    """Option callback: a ``.cif``, ``.vasp`` or POSCAR file in a writable folder."""
    name = Path(str(path)).name.lower()
    poscar = name.startswith(("poscar", "contcar"))
    check_destination(path, "structure file", None if poscar else STRUCTURE_SUFFIXES)
    return path


def positive(value: float | None) -> float | None:
    """Option callback: a finite number above zero."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise OredoxInputError(f"expected a finite number above 0, got {value}")
    return value


def parse_states(items: list[str] | None) -> dict[str, float] | None:
    """``["Co=3", ...]`` as ``{"Co": 3.0, ...}``; None or empty: None."""
    if not items:
        return None
    states = {}
    for item in items:
        element, sep, value = item.partition("=")
        try:
            states[element.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise OredoxInputError(f"oxidation state {item!r} must look like Co=3")
    return states


def parse_fraction(text: str) -> float:
    """A number or a fraction like ``7/12`` as a float."""
    from fractions import Fraction

    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise OredoxInputError(
            f"{text!r} is not a number or fraction like 7/12"
        ) from None


def parse_fractions(text: str) -> dict[str, float]:
    """``"Li=7/12,Ti=7/24,Ni=1/8"`` as ``{"Li": 0.5833, ...}``."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    if not pairs or any(not sep for _, sep, _ in pairs):
        raise OredoxInputError(
            f"cations {text!r} must look like Li=7/12,Ti=7/24,Ni=1/8"
        )
    return {el.strip(): parse_fraction(value) for el, _, value in pairs}
