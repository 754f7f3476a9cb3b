"""Figures of the electronic analysis: one static's DOS, and the path along x.

:func:`plot_static_analysis` draws what :func:`oredox.analysis.electronic.
analyse_outputs` stores: the O 2p PDOS per O environment (spin up above zero, spin
down mirrored below when the document keeps the spins apart) and the local-frame
DOS of the TM octahedra. :func:`plot_delithiation_path` draws the rows of
:func:`oredox.analysis.path.delithiation_path`, one quantity per panel.
"""

from __future__ import annotations

from pathlib import Path

from oredox.analysis.plots_base import (
    LOCAL_FRAME_COLOURS,
    LOCAL_FRAME_LABELS,
    environment_label,
    math_formula,
    pyplot,
    save,
)
from oredox.files import DEFAULT_DPI

SPIN_NOTE = "spin up > 0, spin down < 0"


def plot_static_analysis(
    analysis: dict, path: str | Path, title: str = "", dpi: float = DEFAULT_DPI
) -> Path:
    """O 2p DOS by environment (non-bonding classes filled) and local-frame DOS.

    Top: O 2p PDOS per O (states / eV / O) of each environment class (0-3 ionic
    A-O-A' axes); classes with non-bonding O 2p (>= 1 axis) are filled. With
    ``per_class_up`` and ``per_class_down`` stored, spin up is drawn above zero
    and spin down mirrored below; otherwise the stored curve, both spins summed,
    and the axis says so. Bottom, when phase-resolved projections exist: TM eg
    and t2g and ligand O 2p sigma and pi in each octahedron's frame, summed over
    the TM of the cell (states / eV / cell, both spins).

    Parameters
    ----------
    analysis
        What :func:`oredox.analysis.electronic.analyse_outputs` returns.
    path
        The figure (PNG, PDF or SVG by its suffix).
    title
        Title over the figure (study, configuration); the panels say what they show.
    dpi
        Resolution of a PNG.
    """
    plt = pyplot()
    local = analysis.get("projections_dos")
    rows = 2 if local else 1
    fig, axes = plt.subplots(
        rows, 1, figsize=(7.0, 3.4 * rows), sharex=True, constrained_layout=True
    )
    axes = list(axes) if rows > 1 else [axes]
    reference = analysis.get("o2p", {}).get("reference", "E_F")
    o2p = analysis.get("o2p_dos")
    if o2p:
        _o2p_panel(axes[0], o2p)
    else:
        axes[0].text(
            0.5, 0.5, "no O 2p DOS stored", transform=axes[0].transAxes, ha="center"
        )
    if local:
        _local_frame_panel(axes[1], local)
    for ax in axes:
        ax.axvline(0, color="0.4", ls="--", lw=0.8)
    shown = {"E_F": r"$E_\mathrm{F}$", "VBM": r"$E_\mathrm{VBM}$"}.get(reference)
    axes[-1].set_xlabel(f"$E$ - {shown or reference} (eV)")
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path, dpi)


def _local_frame_panel(ax, local: dict) -> None:
    """TM eg, t2g and O sigma, pi in each octahedron's frame: by spin, or summed."""
    energies = local["energies_eV"]
    spins = any(f"{name}_up" in local for name in LOCAL_FRAME_LABELS)
    for name, label in LOCAL_FRAME_LABELS.items():
        if name not in local:
            continue
        curves = (
            [local[f"{name}_up"], [-v for v in local[f"{name}_down"]]]
            if spins
            else [local[name]]
        )
        for i, curve in enumerate(curves):
            ax.plot(
                energies,
                curve,
                color=LOCAL_FRAME_COLOURS[name],
                lw=1.2,
                label=label if i == 0 else None,
            )
    if spins:
        ax.axhline(0, color="0.3", lw=0.8)
        top = max(abs(v) for v in ax.get_ylim())
        ax.set_ylim(-top, top)
        ax.set_ylabel("DOS\n(states / eV / cell)")
        note = SPIN_NOTE
    else:
        ax.set_ylabel("DOS, both spins\n(states / eV / cell)")
        note = "spins summed, as stored"
    ax.set_title(f"TM-O octahedra in their own frame ({note})", fontsize=9, loc="left")
    ax.legend(frameon=False, fontsize=7, ncol=2)


def _o2p_panel(ax, o2p: dict) -> None:
    """O 2p PDOS per environment class: spin-resolved (mirrored) or summed."""
    energies = o2p["energies_eV"]
    spins = "per_class_up" in o2p and "per_class_down" in o2p
    for k, name in enumerate(o2p["per_class"]):
        colour = f"C{k}"
        nonbonding = not name.startswith("0 ")
        curves = (
            [o2p["per_class_up"][name], [-v for v in o2p["per_class_down"][name]]]
            if spins
            else [o2p["per_class"][name]]
        )
        for i, curve in enumerate(curves):
            label = environment_label(name) if i == 0 else None
            ax.plot(energies, curve, color=colour, lw=1.3, label=label)
            if nonbonding:
                ax.fill_between(energies, curve, color=colour, alpha=0.25, lw=0)
    if spins:
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_ylabel("O 2p PDOS\n(states / eV / O)")
        top = max(abs(v) for v in ax.get_ylim())
        ax.set_ylim(-top, top)  # up and down on one scale
        for y, text, where in ((0.97, "spin up", "top"), (0.03, "spin down", "bottom")):
            ax.text(
                0.99, y, text, transform=ax.transAxes, ha="right", va=where, fontsize=8
            )
    else:
        ax.set_ylabel("O 2p PDOS, both spins\n(states / eV / O)")
    note = SPIN_NOTE if spins else "spins summed, as stored"
    ax.set_title(
        f"O 2p by O environment (filled: non-bonding O 2p; {note})",
        fontsize=9,
        loc="left",
    )
    ax.legend(frameon=False, fontsize=7, loc="upper left")


def plot_delithiation_path(
    rows: list[dict],
    path: str | Path,
    alkali: str,
    content: str | None = None,
    title: str = "",
    dpi: float = DEFAULT_DPI,
) -> Path:
    """The electronic analysis along x, one quantity per panel.

    Panels: mean Bader net charge per species (e); the O hole moments, the sum
    of |m| over the O holes of the cell (muB); the occupied O 2p in the eV below
    the reference (e / O); with phase-resolved projections, the TM t2g, eg, O 2p
    pi and TM-O pi mixing in that eV (e / TM). Several configurations at one x:
    the line joins the hull vertex (else the lowest above the hull, when rows
    carry ``e_above_hull_per_fu_eV``), the others are markers alone.

    ``rows`` from :func:`oredox.analysis.path.delithiation_path`; ``content`` is
    what x counts (``Li_x Ti0.58Ni0.25O2``,
    :func:`oredox.analysis.formula_unit.study_content_label`); ``title`` goes over
    the figure. Bader charges of the valence density alone (no all-electron
    reference) are open markers, and a caption over the panel says so and where
    they were refused.
    """
    plt = pyplot()
    local = any("t2g_occupied" in row for row in rows)
    panels = 4 if local else 3
    fig, axes = plt.subplots(
        panels, 1, figsize=(6.5, 2.5 * panels + 0.6), sharex=True, layout="constrained"
    )
    ax_q, ax_m, ax_o = axes[0], axes[1], axes[2]
    main = _main_rows(rows)
    species = sorted({s for row in rows for s in row.get("bader_charge", {})})
    for symbol in species:
        line = _series(
            ax_q, rows, main, lambda r, s=symbol: r.get("bader_charge", {}).get(s), None
        )
        line.set_label(symbol)
        valence = [r for r in rows if symbol in r.get("bader_charge", {})]
        ax_q.scatter(
            [r["x"] for r in valence],
            [r["bader_charge"][symbol] for r in valence],
            facecolors=[
                "none" if r.get("bader_valence_only") else line.get_color()
                for r in valence
            ],
            edgecolors=line.get_color(),
            zorder=3,
        )
    ax_q.set_ylabel("Bader net charge\n(e)")
    if species:
        ax_q.legend(frameon=False, ncol=4, fontsize=8)
    caption = _valence_only_caption(rows)
    if caption:
        ax_q.set_title(caption, fontsize=8, loc="left")
    _series(ax_m, rows, main, lambda r: r.get("o_hole_total_muB"), "s", "tab:purple")
    ax_m.set_ylabel("O hole moments,\nsum |m| per cell (muB)")
    _series(
        ax_o,
        rows,
        main,
        lambda r: r.get("o2p_occupied_near_ef_e_per_O"),
        "^",
        "tab:green",
    )
    ax_o.set_ylabel("occupied O 2p, 1 eV\nbelow the reference (e / O)")
    if local:
        for key in ("t2g", "eg", "o_pi", "pi_mixing"):
            line = _series(
                axes[3],
                rows,
                main,
                lambda r, k=key: r.get(f"{k}_occupied"),
                "o",
                LOCAL_FRAME_COLOURS[key],
            )
            line.set_label(LOCAL_FRAME_LABELS[key])
        axes[3].set_ylabel("1 eV below the\nreference (e / TM)")
        axes[3].legend(frameon=False, ncol=2, fontsize=7)
    axes[-1].set_xlabel(
        f"x in {math_formula(content)}" if content else f"x ({alkali} per formula unit)"
    )
    if len(main) < len(rows):
        axes[-1].annotate(
            "line: the lowest configuration per x; markers: every analysed one",
            (0, 0),
            xycoords="axes fraction",
            xytext=(0, -38),
            textcoords="offset points",
            fontsize=7,
            color="0.35",
        )
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path, dpi)


def _main_rows(rows: list[dict]) -> list[dict]:
    """One row per x: the hull vertex, else the lowest above the hull, else first."""
    by_x: dict[float, list[dict]] = {}
    for row in rows:
        by_x.setdefault(round(row["x"], 9), []).append(row)

    def rank(row: dict) -> tuple:
        return (not row.get("on_hull"), row.get("e_above_hull_per_fu_eV", 0.0))

    return [min(group, key=rank) for _, group in sorted(by_x.items())]


def _series(ax, rows, main, value, marker: str | None = "o", colour=None):
    """A line through the ``main`` rows, and ``marker`` (None: none) at every row."""
    points = [(r["x"], value(r)) for r in main if value(r) is not None]
    (line,) = ax.plot(
        [x for x, _ in points], [v for _, v in points], "-", color=colour, lw=1.5
    )
    others = [(r["x"], value(r)) for r in rows if value(r) is not None]
    if marker is None:
        return line
    ax.plot(
        [x for x, _ in others],
        [v for _, v in others],
        marker,
        color=line.get_color(),
        ls="none",
        ms=5,
    )
    return line


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
