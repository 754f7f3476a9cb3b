"""The electronic analysis along x as tables: one row per static, the redox split.

Printed by ``oredox query ID --electronic`` and after a study with statics; the
tables fit the console (:mod:`oredox.report_tables`). Distances in Angstrom,
charges in e, moments in muB.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from oredox.analysis.formula_unit import study_content_label
from oredox.files import DEFAULT_DPI
from oredox.report_bader import (
    VALENCE_MARK,
    bader_cell,
    print_path_footnote,
    print_summary_footnote,
)
from oredox.report_tables import Column, fitted_tables, number, per_element

if TYPE_CHECKING:
    from pymatgen.core import Structure
    from rich.console import Console

    from oredox.schemas import StudyDocument


def print_path(
    study: StudyDocument, png: Path | None, console: Console, dpi: float = DEFAULT_DPI
) -> None:
    """Print the statics' electronic analysis along x (and draw it with ``png``).

    Parameters
    ----------
    study
        The stored study; without statics one line says so.
    png
        Figure of the study's hull, or None: the path figure is written next to it
        as ``<stem>-path<suffix>``; None draws nothing.
    console
        Where to print the table: per static the x, O 2p occupation 0-1 eV below
        the reference (e/O), O hole moments (muB), the shortest O-O distance
        (Angstrom, from the relaxed structure the static ran on), mean Bader
        charges (e), TM oxidation states, t2g / eg occupations (e/TM) and TM-O pi
        mixing. Bader charges of the valence density alone are marked ``*``
        (refused where basins collapsed), with a footnote. A console narrower than
        the table gets it in parts, each led by the config and x.
    dpi
        Resolution of a PNG figure.
    """
    from oredox.analysis.path import delithiation_path
    from oredox.analysis.plots import plot_delithiation_path
    from oredox.analysis.plots_base import study_title

    rows = delithiation_path(study)
    if not rows:
        console.print(
            f"study {study.study_id[:8]} has no statics (engine "
            f"{study.energy_scheme.engine}): no electronic analysis"
        )
        return
    entries = {entry.config_id: entry for entry in study.entries}
    for row in rows:
        entry = entries[row["config_id"]]
        row["shortest_o_o_A"] = shortest_o_o(entry.structure)
        row["e_above_hull_per_fu_eV"] = entry.e_above_hull_per_fu_eV

    def number(key: str, fmt: str) -> list[str]:
        return [fmt.format(r[key]) if r.get(key) is not None else "-" for r in rows]

    columns = [
        Column("config", [r["config_id"] for r in rows]),
        Column("x", [f"{r['x']:.3f}" for r in rows], "right"),
        Column(
            "O 2p 0-1 eV (e/O)",
            number("o2p_occupied_near_ef_e_per_O", "{:.3f}"),
            "right",
        ),
        Column("O holes (muB)", number("o_hole_total_muB", "{:.2f}"), "right"),
        Column("shortest O-O (A)", number("shortest_o_o_A", "{:.2f}"), "right"),
        Column(
            "TM ox. states",
            [
                per_element(r.get("mean_oxidation_state", {}), "{:+.1f}", ", ")
                for r in rows
            ],
        ),
        Column(
            "t2g / eg -1-0 eV (e/TM)",
            [
                f"{r['t2g_occupied']:.2f} / {r['eg_occupied']:.2f}"
                if "t2g_occupied" in r
                else "-"
                for r in rows
            ],
        ),
        Column("TM-O pi mixing", number("pi_mixing_occupied", "{:.2f}"), "right"),
        Column(
            "Bader (e)",
            [
                ", ".join(
                    bader_cell(
                        r, per_element(r.get("bader_charge", {}), "{:+.2f}")
                    ).splitlines()
                )
                for r in rows
            ],
        ),
    ]
    title = (
        f"{escape(study.name)}: electronic analysis along x in "
        f"{study_content_label(study)}"
    )
    for table in fitted_tables(title, columns, console.width, keep=2):
        console.print(table)
    console.print(
        "shortest O-O: in the relaxed structure the static ran on, periodic images "
        "included (O-O pairs: O2-like <= 1.26, superoxo <= 1.38, peroxo <= 1.60 A; "
        "under 2.4 A a short contact)",
        style="dim",
        highlight=False,
    )
    print_path_footnote(rows, console)
    print_redox_summary(study, console)
    if png is not None:
        path = png.with_name(f"{png.stem}-path{png.suffix}")
        plot_delithiation_path(
            rows,
            path,
            study.alkali,
            study_content_label(study),
            title=study_title(study),
            dpi=dpi,
        )
        console.print(f"wrote {escape(str(path))}")


def shortest_o_o(structure: Structure) -> float | None:
    """The shortest O-O distance of a structure (Angstrom, periodic images too).

    None with fewer than two O within 4 A of each other (no O, or one O per cell
    in a small cell is still seen through its periodic images).
    """
    oxygen = [i for i, site in enumerate(structure) if site.specie.symbol == "O"]
    if not oxygen:
        return None
    sub = structure.copy()
    sub.remove_sites([i for i in range(len(structure)) if i not in set(oxygen)])
    _, _, _, distances = sub.get_neighbor_list(4.0)
    distances = distances[distances > 1e-6]
    return float(distances.min()) if len(distances) else None


def print_redox_summary(study: StudyDocument, console: Console) -> None:
    """Per delithiation step, the share of the removed charge taken from O.

    Computed from the statics (:func:`oredox.analysis.path.redox_summary`, so that
    documents stored before valence-only Bader was flagged are read by today's
    rule), else :attr:`StudyDocument.redox_summary`: electrons removed per
    supercell, and the O / TM split by moments (TM oxidation states from moments,
    the rest O) and by Bader charges. A step whose Bader charges come from the
    valence density alone shows ``excluded*``, with the reason below the table.
    """
    from oredox.analysis.path import redox_summary

    steps = redox_summary(study) if study.statics else study.redox_summary
    if not steps:
        return

    def share(part: dict | None) -> str:
        if not part or part.get("fraction_from_O") is None:
            return "-"
        return f"{100 * part['fraction_from_O']:.0f}%"

    excluded = f"excluded{VALENCE_MARK}"
    moments = [step.get("moments") for step in steps]
    bader = [step.get("bader") for step in steps]
    columns = [
        Column(
            "x from -> to", [f"{s['x_from']:.3f} -> {s['x_to']:.3f}" for s in steps]
        ),
        Column("removed (e)", [f"{s['removed_e']}" for s in steps], "right"),
        Column(
            "moments: TM / O (e)",
            [f"{m['tm_e']} / {m['o_e']}" if m else "-" for m in moments],
        ),
        Column("from O, moments", [share(m) for m in moments], "right"),
        Column(
            "Bader: TM / O (e)",
            [
                excluded
                if s.get("bader_excluded")
                else (
                    f"{number(b['tm_e'], '{:+.2f}')} / {number(b['o_e'], '{:+.2f}')}"
                    if b
                    else "-"
                )
                for s, b in zip(steps, bader, strict=True)
            ],
        ),
        Column(
            "from O, Bader",
            [
                excluded if s.get("bader_excluded") else share(b)
                for s, b in zip(steps, bader, strict=True)
            ],
            "right",
        ),
    ]
    title = "where the removed charge goes (per supercell)"
    for table in fitted_tables(title, columns, console.width, keep=1):
        console.print(table)
    console.print(
        "moments: TM oxidation states from their moments, the rest of the removed "
        "charge assigned to O; Bader: change of the summed net charges of O and TM"
    )
    print_summary_footnote(steps, console)
