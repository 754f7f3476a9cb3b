"""How the reports show Bader charges whose reference is the valence density alone.

Such charges are not net charges (:mod:`oredox.analysis.bader_reference`): the
tables mark them with :data:`VALENCE_MARK` and a footnote that says why, show
``refused*`` where basins collapsed, and the redox summary shows ``excluded*``
where a step's Bader estimate was left out (the moments estimate stands alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oredox.analysis.bader_reference import VALENCE_ONLY_REASON, stored_flags

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rich.console import Console

VALENCE_MARK = "*"  # Bader of the valence density alone: not net charges


def bader_cell(row: Mapping[str, Any], cell: str) -> str:
    """A path row's Bader cell: ``cell`` (per-element lines) marked when valence-only.

    ``row`` is a :func:`oredox.analysis.path.delithiation_path` row; ``refused*``
    when its valence-only charges were refused.
    """
    if row.get("bader_refused"):
        return f"refused{VALENCE_MARK}"
    if row.get("bader_valence_only") and cell != "-":
        return "\n".join(f"{line}{VALENCE_MARK}" for line in cell.splitlines())
    return cell


def print_path_footnote(rows: list[Mapping[str, Any]], console: Console) -> None:
    """The footnote of :data:`VALENCE_MARK` under the path table, where needed."""
    if not any(row.get("bader_valence_only") for row in rows):
        return
    console.print(f"{VALENCE_MARK} {VALENCE_ONLY_REASON}", highlight=False)
    for row in rows:
        if row.get("bader_refused"):
            console.print(
                f"  {row['config_id']}: {row['bader_refused']}", highlight=False
            )


def print_summary_footnote(steps: list[Mapping[str, Any]], console: Console) -> None:
    """Why a redox-summary step has no Bader estimate (``bader_excluded``)."""
    for step in steps:
        if step.get("bader_excluded"):
            console.print(
                f"{VALENCE_MARK} {step['x_from']:.3f} -> {step['x_to']:.3f}: Bader "
                f"left out, the moments estimate stands alone "
                f"({step['bader_excluded']})",
                highlight=False,
            )


def print_bader_line(bader: Mapping[str, Any], console: Console) -> None:
    """Bader charges (e, mean per element) of one static, with their reference.

    Valence-only charges are printed as such with the reason, never as net charges;
    refused ones (collapsed basins) as the refusal and the populations (e).
    """
    valence_only, refused = stored_flags(bader)
    charges = {k: round(v["mean"], 3) for k, v in bader["per_species_charge"].items()}
    reference = bader.get("reference", "unknown reference")
    if refused:
        populations = [round(p, 2) for p in bader["populations"]]
        console.print(
            f"Bader ({reference}): {refused}; populations (e) {populations}",
            highlight=False,
        )
    elif valence_only:
        console.print(
            f"Bader charges{VALENCE_MARK} ({reference}, NOT net charges; "
            f"e, mean per element): {charges}",
            highlight=False,
        )
    else:
        console.print(
            f"Bader net charges (e, mean per element; {reference}): {charges}",
            highlight=False,
        )
    if valence_only:
        console.print(f"{VALENCE_MARK} {valence_only}", highlight=False)
