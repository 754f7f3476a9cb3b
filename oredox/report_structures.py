"""Report tables and lines of the structure commands (``oredox structure ...``).

Callable from Python too: :func:`ordering_rows` and :func:`orderings_table` for the
ranked metal-layer orders, :func:`structure_line` for a written structure. Ewald
energies in meV per metal-layer site.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pymatgen.core import Structure


def ordering_rows(ranked: Iterable[Any]) -> list[dict[str, Any]]:
    """Ranked metal-layer orders (``enumerate_layer_orderings``) as plain rows.

    Each row: ``rank`` (from 1), ``motif``, ``n_sites``, ``superlattice``,
    ``a_sites`` and ``ewald_eV_per_site`` (eV per metal-layer site).
    """
    return [
        {
            "rank": k + 1,
            "motif": r.motif,
            "n_sites": r.ordering.n_sites,
            "superlattice": [list(v) for v in r.ordering.superlattice],
            "a_sites": [list(p) for p in r.ordering.a_sites],
            "ewald_eV_per_site": r.ewald_eV_per_site,
        }
        for k, r in enumerate(ranked)
    ]


def orderings_table(rows: list[dict[str, Any]], fraction: str) -> Table:
    """Metal-layer orders of one ratio, with Ewald energies relative to the lowest.

    Parameters
    ----------
    rows
        :func:`ordering_rows`, lowest Ewald energy first (at least one).
    fraction
        The A fraction per metal-layer site as the user wrote it (for the title).

    Returns
    -------
    rich.table.Table
        Rank, motif, sites, superlattice, A sites and dE in meV per site.
    """
    table = Table(title=f"A{fraction} orderings (Ewald relative to the lowest)")
    for column in ("rank", "motif", "sites", "superlattice", "A sites"):
        table.add_column(column)
    table.add_column("dE (meV/site)")
    lowest = rows[0]["ewald_eV_per_site"]
    for row in rows:
        table.add_row(
            str(row["rank"]),
            row["motif"],
            str(row["n_sites"]),
            str(row["superlattice"]),
            str(row["a_sites"]),
            f"{1000 * (row['ewald_eV_per_site'] - lowest):.1f}",
        )
    return table


def structure_line(structure: Structure, path: Path, record: Path) -> str:
    """One line on a structure written to ``path`` with its JSON ``record``.

    ``<formula> (<space group, or 'disordered'>[, cluster-vector mismatch m]) ->
    <path>; record <record>``; m is the SQS quality in the structure's provenance.
    """
    from oredox.structures.output import describe

    info = describe(structure)
    quality = info["provenance"].get("quality", {}).get("cluster_vector_mismatch")
    extra = f", cluster-vector mismatch {quality:.4f}" if quality is not None else ""
    group = info.get("space_group", "disordered")
    return f"{info['formula']} ({group}{extra}) -> {path}; record {record}"
