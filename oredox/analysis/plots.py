"""Figures of a study: formation-energy hull and voltage profile.

The electronic figures (one static's DOS, the analysis along x) are in
:mod:`oredox.analysis.plots_electronic` and importable from here too; what every
figure shares (titles, saving as PNG, PDF or SVG) is in
:mod:`oredox.analysis.plots_base`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from oredox.analysis.formula_unit import study_content_label
from oredox.analysis.plots_base import math_formula, pyplot, save, study_title
from oredox.analysis.plots_electronic import (
    _valence_only_caption,
    plot_delithiation_path,
    plot_static_analysis,
)
from oredox.files import DEFAULT_DPI

if TYPE_CHECKING:
    from oredox.schemas import StudyDocument

__all__ = [
    "_valence_only_caption",
    "plot_delithiation_path",
    "plot_hull_and_voltage",
    "plot_static_analysis",
]


def plot_hull_and_voltage(
    study: StudyDocument, path: str | Path, dpi: float = DEFAULT_DPI
) -> Path:
    """Write the convex hull (top) and the voltage profile (bottom) of a study.

    Top: formation energy per formula unit (meV) of every relaxed configuration vs
    alkali content x, hull vertices joined. Bottom: the voltage staircase vs x
    (drawn over the dashed average, so that a single step, equal to the average,
    still shows). Titled with the formula, engine, framework and study id.

    Parameters
    ----------
    study
        The stored study.
    path
        The figure; its suffix (.png, .pdf, .svg) names the format.
    dpi
        Resolution of a PNG.
    """
    plt = pyplot()
    alkali = study.alkali
    # Li_x CoO2 for LiCoO2, Li_x Ti0.58Ni0.25O2 for LTNO: x per formula unit as written
    host = math_formula(study_content_label(study))
    fig, (ax_hull, ax_v) = plt.subplots(
        2, 1, figsize=(6.0, 7.0), sharex=True, layout="constrained"
    )
    x = [e.x for e in study.entries]
    e_form = [1000 * e.formation_energy_per_fu_eV for e in study.entries]
    off = [not e.on_hull for e in study.entries]
    ax_hull.scatter(
        [xi for xi, o in zip(x, off, strict=True) if o],
        [ei for ei, o in zip(e_form, off, strict=True) if o],
        s=28,
        facecolors="none",
        edgecolors="0.45",
        label="configurations off the hull",
    )
    hull = study.hull_entries()
    ax_hull.plot(
        [e.x for e in hull],
        [1000 * e.formation_energy_per_fu_eV for e in hull],
        "-o",
        color="tab:red",
        markersize=6,
        label="hull vertices",
    )
    ax_hull.axhline(0, color="0.7", lw=0.8, zorder=0)
    ax_hull.set_ylabel("formation energy (meV / f.u.)")
    ax_hull.set_title(f"convex hull, {study.framework}", fontsize=9, loc="left")
    ax_hull.legend(frameon=False, fontsize=8)

    xs, vs = [], []
    for step in study.voltage_steps:
        xs += [step.x_low, step.x_high]
        vs += [step.voltage_V, step.voltage_V]
    average = study.average_voltage_V
    n_steps = len(study.voltage_steps)
    flat = bool(vs) and max(vs) - min(vs) < 0.005  # one step, or steps all equal
    ax_v.axhline(
        average,
        color="0.35",
        ls="--",
        lw=1.2,
        zorder=1,
        label=f"average {average:.2f} V" + (" (= the steps)" if flat else ""),
    )
    ax_v.plot(
        xs,
        vs,
        color="tab:blue",
        lw=2.2,
        zorder=3,
        label=f"voltage, {n_steps} step{'s' if n_steps != 1 else ''}",
    )
    if flat:  # give the single level room, above and below
        ax_v.set_ylim(min(vs) - 0.25, max(vs) + 0.25)
    ax_v.set_xlabel(f"x in {host}")
    ax_v.set_ylabel(f"voltage vs {alkali}/{alkali}$^+$ (V)")
    ax_v.set_title("voltage profile", fontsize=9, loc="left")
    ax_v.legend(frameon=False, fontsize=8)
    ax_v.set_xlim(min(x), max(x))
    fig.suptitle(study_title(study), fontsize=10)
    return save(fig, path, dpi)
