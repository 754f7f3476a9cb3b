"""What every oredox figure shares: matplotlib off screen, titles, labels, saving.

Every figure is titled with what it shows and where it comes from: the formula,
the engine and the short study id (:func:`study_title`), and is written by
:func:`oredox.files.save_figure` (PNG, PDF or SVG; ``dpi`` default
:data:`oredox.files.DEFAULT_DPI`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from oredox.files import DEFAULT_DPI, save_figure

if TYPE_CHECKING:
    from oredox.schemas import StudyDocument

# the keys of the stored local-frame DOS and projections (oredox.analysis.projections)
LOCAL_FRAME_LABELS = {
    "eg": "TM eg (local frame)",
    "t2g": "TM t2g (local frame)",
    "o_sigma": "O 2p sigma (along TM-O bonds)",
    "o_pi": "O 2p pi (normal to TM-O bonds)",
    "o_nonbonding": "O 2p non-bonding (along A-O-A' axes)",
    "pi_mixing": "TM t2g - O 2p pi mixing",
}
LOCAL_FRAME_COLOURS = {
    "eg": "tab:red",
    "t2g": "tab:blue",
    "o_sigma": "tab:orange",
    "o_pi": "tab:green",
    "o_nonbonding": "tab:purple",
    "pi_mixing": "k",
}


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path, dpi: float = DEFAULT_DPI) -> Path:
    """Write ``fig`` to ``path`` (format from its suffix) and close it."""
    return save_figure(fig, path, dpi=dpi)


def engine_name(study: StudyDocument) -> str:
    """The engine, a user maker's import paths shortened to their class names."""
    return "+".join(
        part.rsplit(".", 1)[-1] for part in study.energy_scheme.engine.split("+")
    )


def study_title(study: StudyDocument) -> str:
    """``LiCoO2 · chgnet · study 9403281c``: formula, engine, short study id."""
    return (
        f"{study.host_formula} \N{MIDDLE DOT} {engine_name(study)} \N{MIDDLE DOT} "
        f"study {study.study_id[:8]}"
    )


def math_formula(label: str) -> str:
    """``Li_x Ti0.58Ni0.25O2`` in matplotlib mathtext: subscript x and amounts."""
    alkali, rest = label.split("_x", 1)
    return f"{alkali}$_x$" + re.sub(r"([\d.]+)", r"$_{\1}$", rest.strip())


def environment_label(name: str) -> str:
    """An O environment class (``"1 A-O-A'"``) as a legend entry.

    The class counts the O's ionic A-O-A' axes (both ends alkali, Mg, Zn or
    vacant, :mod:`oredox.analysis.environments`): each leaves one O 2p orbital
    without a TM partner, the non-bonding O 2p.
    """
    count = name.split(" ", 1)[0]
    if not count.isdigit():
        return f"O 2p, {name}"
    if count == "0":
        return "O with no ionic A-O-A' axis"
    axes = "axis" if count == "1" else "axes"
    return f"O with {count} ionic A-O-A' {axes} (non-bonding O 2p)"
