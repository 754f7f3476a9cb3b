"""Figures of a study: formation-energy hull and voltage profile."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oredox.schemas import StudyDocument


def plot_hull_and_voltage(study: StudyDocument, path: str | Path) -> Path:
    """Write a PNG with the convex hull (top) and the voltage profile (bottom).

    Top: formation energy per formula unit (meV) of every relaxed configuration vs
    alkali content x, hull vertices joined. Bottom: the voltage staircase vs x.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alkali = study.alkali
    # Li_x CoO2 for LiCoO2, Li_x MnO3 for Li2MnO3 (x per formula unit of the host)
    framework = re.sub(rf"{alkali}[\d.]*", "", study.host_formula, count=1)
    host = f"{alkali}$_x$" + re.sub(r"([\d.]+)", r"$_{\1}$", framework)
    fig, (ax_hull, ax_v) = plt.subplots(
        2, 1, figsize=(6.0, 7.0), sharex=True, constrained_layout=True
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
        label="configurations",
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
    ax_hull.set_title(f"{host}: {study.framework}, {study.energy_scheme.engine}")
    ax_hull.legend(frameon=False)

    xs, vs = [], []
    for step in study.voltage_steps:
        xs += [step.x_low, step.x_high]
        vs += [step.voltage_V, step.voltage_V]
    ax_v.plot(xs, vs, color="tab:blue", lw=2)
    ax_v.axhline(
        study.average_voltage_V,
        color="0.5",
        ls="--",
        lw=1,
        label=f"average {study.average_voltage_V:.2f} V",
    )
    ax_v.set_xlabel(f"x in {host}")
    ax_v.set_ylabel(f"voltage vs {alkali}/{alkali}$^+$ (V)")
    ax_v.legend(frameon=False)
    ax_v.set_xlim(min(x), max(x))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
