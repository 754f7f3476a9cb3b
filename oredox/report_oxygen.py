"""Tables of an oxygen-loss document (``oredox oxygen``, ``oredox query ID --oxygen``).

Energies in eV per vacancy (one O removed from the host cell), temperatures in K,
mu_O in eV per O atom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from oredox.report_tables import Column, fitted_tables

if TYPE_CHECKING:
    from rich.console import Console

    from oredox.oxygen_schemas import OxygenLossDocument, OxygenVacancyResult


def release_text(temperature_K: float | None, limit: str = "> 3000") -> str:
    """A release temperature as text: K, ``0 (O-rich)``, or above the table."""
    if temperature_K is None:
        return limit
    if temperature_K == 0.0:
        return "0 (already)"
    return f"{temperature_K:.0f}"


def after_loss_text(vacancy: OxygenVacancyResult) -> str:
    """O-O pairs by class and framework flags after the loss, briefly."""
    after = vacancy.after_loss
    pairs = after.get("n_pairs_by_class") or {}
    parts = [f"{n} {name}" for name, n in sorted(pairs.items())]
    framework = after.get("framework") or {}
    if framework and not framework.get("intact", True):
        parts.append("framework: " + ", ".join(framework_flags(framework)))
    if framework.get("undercoordinated_before_relaxation"):
        parts.append("small cell")
    return "; ".join(parts) or "-"


def framework_flags(framework: dict) -> list[str]:
    """Short names of what changed in the framework after the loss."""
    flags = []
    if framework.get("tetrahedral_metals"):
        flags.append("tetrahedral TM")
    if framework.get("metals_in_alkali_layer"):
        flags.append("TM in alkali layer")
    if framework.get("displaced_metals_A"):
        flags.append("TM moved > 1 A")
    if framework.get("collapsed_layers_fraction"):
        flags.append("alkali layer collapsed")
    return flags or ["changed"]


def print_oxygen(document: OxygenLossDocument, console: Console) -> None:
    """Print the document: header, reference, every vacancy, the lowest per host.

    Parameters
    ----------
    document
        The stored oxygen-loss document.
    console
        Where to print: the study and engine, the O reference (method, mu_O in eV
        per O, correction, description); per host and O class: multiplicity,
        E_f(V_O) at the O-rich limit (eV), release temperature at the document's
        pressure (K), Delta mu_O threshold (eV), what the cell did after the loss,
        convergence; then the first O to leave per host.
    """
    scheme, reference = document.energy_scheme, document.oxygen_reference
    console.print(
        f"[bold]{escape(document.name)}[/]  oxygen {document.oxygen_id}\n"
        f"study {document.study_id or '(explicit structures)'}, host "
        f"{document.host_formula}, engine {scheme.engine} {scheme.engine_version} "
        f"({scheme.model or scheme.functional}), scheme {document.energy_scheme_id}; "
        + (
            "vacancy cells relaxed with the study's settings (cell and ions)\n"
            if document.study_id
            else "hosts and vacancy cells relaxed here (cell and ions)\n"
        )
        + f"O reference: {reference.method}, mu_O = {reference.mu_o_eV:.4f} eV/O, "
        f"correction {reference.correction_eV_per_O:+.3f} eV/O",
        highlight=False,
    )
    console.print(escape(reference.description), highlight=False, style="dim")
    pressure = f"{document.pressure_bar:g} bar"
    pairs = [(host, vacancy) for host in document.hosts for vacancy in host.vacancies]
    columns = [
        Column("x", ["-" if h.x is None else f"{h.x:.3f}" for h, _ in pairs], "right"),
        Column("config", [h.config_id for h, _ in pairs]),
        Column("O class", [escape(v.label) for _, v in pairs]),
        Column("mult", [str(v.multiplicity) for _, v in pairs], "right"),
        Column(
            "E_f (eV)",
            [f"{v.formation_energy_O_rich_eV:.3f}" for _, v in pairs],
            "right",
        ),
        Column(
            "T_release (K)",
            [release_text(v.release_temperature_1bar_K) for _, v in pairs],
            "right",
        ),
        Column(
            "dmu_O* (eV)",
            [f"{v.release_delta_mu_o_threshold_eV:.3f}" for _, v in pairs],
            "right",
        ),
        Column("after loss", [escape(after_loss_text(v)) for _, v in pairs]),
        Column("conv", ["yes" if v.converged else "no" for _, v in pairs]),
    ]
    title = f"O vacancies (E_f at the O-rich limit; T_release at {pressure})"
    for table in fitted_tables(title, columns, console.width, keep=2):
        console.print(table)
    first = Table(title="first O to leave, per host configuration")
    for column in ("x", "config", "orbits", "O class", "E_f (eV)", "T_release (K)"):
        first.add_column(column, justify="left" if column == "O class" else "right")
    for host in document.hosts:
        first.add_row(
            "-" if host.x is None else f"{host.x:.3f}",
            host.config_id,
            f"{len(host.vacancies)}/{host.n_orbits}",
            escape(host.lowest_label or "-"),
            "-"
            if host.lowest_formation_energy_O_rich_eV is None
            else f"{host.lowest_formation_energy_O_rich_eV:.3f}",
            release_text(host.release_temperature_1bar_K),
        )
    console.print(first)
    console.print(
        "dmu_O*: Delta mu_O (vs the O-rich limit) below which the O leaves; "
        "T_release '> 3000': not below the O2 table's top; orbits: relaxed/found; "
        "small cell: the vacancy leaves a TM with four O or fewer before any "
        "relaxation (the cell is too small for an isolated vacancy)",
        style="dim",
        highlight=False,
    )
    for item in document.failed:
        console.print(
            f"failed: {item['config_id']} {escape(str(item.get('label')))}: "
            f"{escape(item['reason'])}",
            highlight=False,
        )


def oxygen_documents_table(rows: list[dict]) -> Table:
    """The oxygen-loss documents of the store, one row each.

    ``rows`` as :func:`oredox.store_oxygen.list_oxygen_documents` returns them.
    """
    table = Table(title="oxygen-loss documents")
    for column in (
        "oxygen id",
        "study",
        "host",
        "engine",
        "reference",
        "hosts",
        "created",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["oxygen_id"][:12],
            (row["study_id"] or "-")[:12],
            row["host_formula"],
            row["engine"],
            row["reference"],
            str(row["n_hosts"]),
            row["created_at"][:19],
        )
    return table
