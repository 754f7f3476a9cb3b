"""Figures of a study: formation-energy hull and voltage profile."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from oredox.analysis.formula_unit import study_content_label

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
    # Li_x CoO2 for LiCoO2, Li_x Ti0.58Ni0.25O2 for LTNO: x per formula unit as written
    host = _math_formula(study_content_label(study))
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
    # a user maker's engine is its classes' import paths: the class names suffice here
    engine = "+".join(
        part.rsplit(".", 1)[-1] for part in study.energy_scheme.engine.split("+")
    )
    ax_hull.set_title(f"{host}: {study.framework}, {engine}")
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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    _pyplot().close(fig)
    return path


def plot_static_analysis(analysis: dict, path: str | Path, title: str = "") -> Path:
    """O 2p DOS by environment (non-bonding classes filled) and local-frame DOS.

    ``analysis`` is what :func:`oredox.analysis.electronic.analyse_outputs` returns.
    Top: O 2p PDOS per O for each class (0-3 ionic A-O-A' axes); the classes with
    non-bonding O 2p (>= 1 axis) are filled. Bottom, when phase-resolved projections
    exist: TM eg and t2g and O 2p sigma and pi, in each octahedron's frame.
    """
    plt = _pyplot()
    local = analysis.get("projections_dos")
    rows = 2 if local else 1
    fig, axes = plt.subplots(
        rows, 1, figsize=(6.5, 3.2 * rows), sharex=True, constrained_layout=True
    )
    axes = list(axes) if rows > 1 else [axes]
    o2p = analysis.get("o2p_dos")
    reference = analysis.get("o2p", {}).get("reference", "E_F")
    if o2p:
        energies = o2p["energies_eV"]
        for name, curve in o2p["per_class"].items():
            nonbonding = not name.startswith("0 ")
            axes[0].plot(energies, curve, lw=1.4, label=f"O 2p, {name}")
            if nonbonding:
                axes[0].fill_between(energies, curve, alpha=0.3)
        axes[0].set_ylabel("O 2p PDOS (states / eV / O)")
        axes[0].legend(frameon=False, fontsize=8)
    axes[0].axvline(0, color="0.4", ls="--", lw=0.8)
    axes[0].set_title(title or "O 2p by environment (filled: non-bonding)")
    if local:
        energies = local["energies_eV"]
        styles = {"eg": "tab:red", "t2g": "tab:blue", "o_sigma": "tab:orange"}
        styles["o_pi"] = "tab:green"
        for name, colour in styles.items():
            if name in local:
                axes[1].plot(energies, local[name], color=colour, lw=1.2, label=name)
        axes[1].axvline(0, color="0.4", ls="--", lw=0.8)
        axes[1].set_ylabel("local-frame DOS (states / eV)")
        axes[1].legend(frameon=False, fontsize=8, ncol=4)
    axes[-1].set_xlabel(f"E - {reference} (eV)")
    return _save(fig, path)


def plot_delithiation_path(
    rows: list[dict], path: str | Path, alkali: str, content: str | None = None
) -> Path:
    """Bader charges, O holes, O 2p near E_F and local-frame t2g/eg along x.

    With phase-resolved projections a third panel shows the TM t2g, eg, O 2p pi and
    TM-O pi mixing in the occupied eV below E_F.

    ``rows`` from :func:`oredox.analysis.path.delithiation_path`; ``content`` is
    what x counts (``Li_x Ti0.58Ni0.25O2``,
    :func:`oredox.analysis.formula_unit.study_content_label`). Bader charges of
    the valence density alone (no all-electron reference) are open markers, and
    a caption over the panel says so and where they were refused.
    """
    plt = _pyplot()
    local = any("t2g_occupied" in row for row in rows)
    panels = 3 if local else 2
    fig, axes = plt.subplots(
        panels, 1, figsize=(6.0, 3.0 * panels), sharex=True, constrained_layout=True
    )
    ax_q, ax_o = axes[0], axes[1]
    x = [row["x"] for row in rows]
    species = sorted({s for row in rows for s in row.get("bader_charge", {})})
    for symbol in species:
        pairs = [
            (row["x"], row["bader_charge"][symbol], bool(row.get("bader_valence_only")))
            for row in rows
            if symbol in row.get("bader_charge", {})
        ]
        xs, qs, valence = zip(*pairs, strict=True)
        (line,) = ax_q.plot(xs, qs, "-", label=symbol)
        # filled: net charges (all-electron reference); open: valence only
        colours = ["none" if v else line.get_color() for v in valence]
        ax_q.scatter(xs, qs, facecolors=colours, edgecolors=line.get_color(), zorder=3)
    ax_q.set_ylabel("Bader net charge (e)")
    ax_q.legend(frameon=False, ncol=4)
    caption = _valence_only_caption(rows)
    if caption:
        ax_q.set_title(caption, fontsize=8, loc="left")
    holes = [row.get("o_hole_total_muB", float("nan")) for row in rows]
    ax_o.plot(x, holes, "-s", color="tab:purple", label="O hole moments (muB)")
    near = [row.get("o2p_occupied_near_ef_e_per_O", float("nan")) for row in rows]
    ax_o.plot(x, near, "-^", color="tab:green", label="O 2p within 1 eV (e / O)")
    ax_o.legend(frameon=False)
    if local:
        ax_p = axes[2]
        styles = {
            "t2g_occupied": ("TM t2g", "tab:blue"),
            "eg_occupied": ("TM eg", "tab:red"),
            "o_pi_occupied": ("O 2p pi", "tab:green"),
            "pi_mixing_occupied": ("TM-O pi mixing", "k"),
        }
        for key, (label, colour) in styles.items():
            pairs = [(row["x"], row[key]) for row in rows if key in row]
            ax_p.plot(*zip(*pairs, strict=True), "-o", color=colour, label=label)
        ax_p.set_ylabel("1 eV below E_F (e / TM)")
        ax_p.legend(frameon=False, ncol=2, fontsize=8)
    axes[-1].set_xlabel(
        f"x in {_math_formula(content)}"
        if content
        else f"x ({alkali} per formula unit)"
    )
    return _save(fig, path)


def _math_formula(label: str) -> str:
    """``Li_x Ti0.58Ni0.25O2`` in matplotlib mathtext: subscript x and amounts."""
    alkali, rest = label.split("_x", 1)
    return f"{alkali}$_x$" + re.sub(r"([\d.]+)", r"$_{\1}$", rest.strip())


def _valence_only_caption(rows: list[dict]) -> str:
    """Caption of the Bader panel when some rows are valence-only, else ''."""
    if not any(row.get("bader_valence_only") for row in rows):
        return ""
    caption = (
        "open markers: valence-only Bader (no all-electron reference), not net charges"
    )
    refused = [f"{row['x']:.2f}" for row in rows if row.get("bader_refused")]
    if refused:
        caption += f"\nrefused (collapsed basins) at x = {', '.join(refused)}"
    return caption
