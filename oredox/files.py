"""Files a user names: YAML inputs read safely, destinations checked before any work.

- :func:`read_yaml_mapping`: the mapping in a YAML file (template, profile,
  LaunchPad file); any problem (missing, a folder, binary, not UTF-8, not YAML, a
  billion-laughs bomb, not a mapping) is one :class:`~oredox.errors.OredoxInputError`.
- :func:`check_destination`: a file oredox will write later (a figure, a CSV, a
  structure, a template), checked before the first expensive step: its folder can
  be created and written, the path is not a folder, the format is known. Nothing is
  created by the check.
- :func:`save_figure`: every figure oredox draws is written by it, as PNG, PDF or
  SVG (the path's suffix, or ``fmt``), at ``dpi`` (default :data:`DEFAULT_DPI`).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from oredox.errors import OredoxInputError

MAX_YAML_BYTES = 1_000_000
MAX_YAML_NODES = 100_000  # aliases expanded: a billion-laughs file stops here


def shown(text: str, limit: int = 120) -> str:
    """``text`` shortened for a message (a path may be megabytes long)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[: limit - 30]}...{text[-25:]}"


def read_yaml_mapping(source: str | Path, what: str) -> dict:
    """The mapping in a YAML (or JSON) file; any problem is one OredoxInputError.

    Missing, a folder, not a regular file, over 1 MB, binary, not UTF-8, not YAML,
    nested too deeply, too many nodes once aliases are expanded, empty or not a
    mapping: the message names ``what``.
    """
    label = f"{what} {shown(str(source))}"
    try:
        path = Path(source)
        if path.is_dir():
            raise OredoxInputError(f"{label} is a folder, not a file")
        if not path.exists():
            raise OredoxInputError(f"no {what} {shown(str(source))!r}")
        if not path.is_file():
            raise OredoxInputError(f"{label} is not a regular file")
        if path.stat().st_size > MAX_YAML_BYTES:
            raise OredoxInputError(f"{label} is larger than {MAX_YAML_BYTES} bytes")
        raw = path.read_bytes()
    except (OSError, ValueError) as exc:
        if isinstance(exc, OredoxInputError):
            raise
        reason = getattr(exc, "strerror", None) or exc
        raise OredoxInputError(f"cannot read {label}: {reason}") from None
    if b"\0" in raw:
        raise OredoxInputError(f"{label} is a binary file, not YAML")
    try:
        data = yaml.load(raw.decode("utf-8-sig"), Loader=_CountingLoader)
    except UnicodeDecodeError:
        raise OredoxInputError(f"{label} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise OredoxInputError(f"{label} is not valid YAML: {problem}{at}") from None
    except RecursionError:
        raise OredoxInputError(f"{label} is nested too deeply") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise OredoxInputError(f"{label} must be a mapping of keys, not {kind}")
    return data


class _CountingLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that stops after :data:`MAX_YAML_NODES` constructed nodes."""

    def construct_object(self, node, deep=False):
        self._count = getattr(self, "_count", 0) + 1
        if self._count > MAX_YAML_NODES:
            raise yaml.YAMLError(
                f"more than {MAX_YAML_NODES} values once aliases are expanded"
            )
        return super().construct_object(node, deep)


def check_destination(
    path: str | Path, what: str, suffixes: tuple[str, ...] | None = None
) -> Path:
    """Check that ``path`` can be written later, without writing anything.

    Parameters
    ----------
    path
        The file to be written.
    what
        What it is, for the message ("figure", "CSV file", ...).
    suffixes
        Accepted suffixes (lower case, with the dot); ``None``: any.

    Raises
    ------
    OredoxInputError
        Empty, a folder, an unknown suffix, a parent that is a file, or a folder
        that cannot be created or written.
    """
    text = str(path)
    if not text.strip() or text in (".", ".."):
        raise OredoxInputError(f"the {what} needs a file name, got {text!r}")
    path = Path(text).expanduser()
    if path.is_dir():
        raise OredoxInputError(f"the {what} {shown(text)} is a folder; give a file")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise OredoxInputError(
            f"the {what} {shown(text)} must end in {', '.join(suffixes)}"
        )
    if len(path.name.encode()) > 255:
        raise OredoxInputError(f"the {what}'s file name is longer than 255 bytes")
    folder = path.parent
    while not folder.exists():  # the nearest existing ancestor decides
        folder = folder.parent
    if not folder.is_dir():
        raise OredoxInputError(
            f"cannot write the {what} {shown(text)}: {shown(str(folder))} is a file"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OredoxInputError(
            f"cannot write the {what} {shown(text)}: {shown(str(folder))} is not "
            "writable"
        )
    return path


def figure_formats() -> tuple[str, ...]:
    """The figure suffixes matplotlib can write here (``.png``, ``.pdf``, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(f".{ext}" for ext in FigureCanvasBase.get_supported_filetypes())


FIGURE_FORMATS = ("png", "pdf", "svg")  # what --format offers (matplotlib writes more)
DEFAULT_DPI = 200
DPI_RANGE = (20, 1200)  # a raster beyond 1200 dpi is megapixels nobody asked for


def figure_file(path: str | Path, fmt: str | None = None) -> Path:
    """The figure file to write: ``path``, its suffix replaced by ``fmt`` if given.

    Parameters
    ----------
    path
        The file named by the user (``hull.png``).
    fmt
        ``png``, ``pdf`` or ``svg`` (any format matplotlib writes), or None to keep
        the suffix of ``path``.

    Raises
    ------
    OredoxInputError
        An unknown ``fmt``, or no ``fmt`` and a suffix matplotlib cannot write.
    """
    path = Path(path)
    known = figure_formats()
    if fmt is not None:
        suffix = "." + fmt.lower().lstrip(".")
        if suffix not in known:
            raise OredoxInputError(
                f"unknown figure format {shown(fmt)!r}: use {', '.join(FIGURE_FORMATS)}"
            )
        return path.with_suffix(suffix)
    if path.suffix.lower() not in known:
        raise OredoxInputError(
            f"the figure {shown(str(path))} must end in .png, .pdf or .svg (or give "
            f"--format); matplotlib also writes {', '.join(sorted(known))}"
        )
    return path


def check_dpi(dpi: float) -> float:
    """``dpi`` if it is a finite resolution in :data:`DPI_RANGE`, else an error."""
    low, high = DPI_RANGE
    if not (isinstance(dpi, int | float) and low <= dpi <= high):
        raise OredoxInputError(
            f"a figure resolution of {dpi} dpi is outside {low}-{high} dpi"
        )
    return dpi


def save_figure(
    fig, path: str | Path, fmt: str | None = None, dpi: float = DEFAULT_DPI
) -> Path:
    """Write a matplotlib figure as PNG, PDF or SVG and close it.

    Parameters
    ----------
    fig
        A ``matplotlib.figure.Figure``.
    path
        Where to write; its suffix names the format unless ``fmt`` is given (then
        the suffix is replaced, :func:`figure_file`). The folder is created.
    fmt
        ``png``, ``pdf``, ``svg`` (or another format matplotlib writes), or None.
    dpi
        Resolution of raster formats (PNG) and of raster parts of PDF/SVG.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    OredoxInputError
        An unknown format or a resolution outside :data:`DPI_RANGE` (the figure
        is closed, nothing is written).
    """
    import matplotlib.pyplot as plt

    try:
        path = figure_file(path, fmt)
        check_dpi(dpi)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=path.suffix[1:].lower(), dpi=dpi)
    finally:
        plt.close(fig)
    return path
