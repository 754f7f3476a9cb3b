"""Figure of an oxygen-loss study: E_f(V_O) and the release temperature vs x."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from oredox.analysis.plots_base import pyplot, save
from oredox.files import DEFAULT_DPI

if TYPE_CHECKING:
    from oredox.oxygen_schemas import OxygenLossDocument

MARKERS = "osD^vP*Xph<>"


def plot_oxygen_loss(
    document: OxygenLossDocument, path: str | Path, dpi: float = DEFAULT_DPI
) -> Path:
    """Write a figure: E_f(V_O) per O class vs x (top), release temperature (bottom).

    Top: the formation energy at the O-rich limit (eV per vacancy) of every relaxed
    vacancy, one marker per environment class, the lowest per host joined. Bottom:
    the release temperature (K) at the document's O2 pressure of every vacancy and,
    joined, of the first O to leave per host; vacancies that stay stable up to the
    top of the O2 table are drawn as triangles at the top edge. Hosts without x
    (explicit structures) are placed in order and named on the axis. Titled with
    the formula, engine, O-loss id and study id; the format is ``path``'s suffix
    (.png, .pdf, .svg), ``dpi`` the resolution of a PNG.
    """
    plt = pyplot()
    hosts = document.hosts
    have_x = all(host.x is not None for host in hosts)
    xs = [host.x if have_x else float(i) for i, host in enumerate(hosts)]
    fig, (ax_e, ax_t) = plt.subplots(
        2, 1, figsize=(6.5, 7.0), sharex=True, constrained_layout=True
    )
    labels = sorted({v.label for host in hosts for v in host.vacancies})
    top_K = 3000.0
    for k, label in enumerate(labels):
        points = [
            (x, v)
            for x, host in zip(xs, hosts, strict=True)
            for v in host.vacancies
            if v.label == label
        ]
        marker = MARKERS[k % len(MARKERS)]
        ax_e.scatter(
            [x for x, _ in points],
            [v.formation_energy_O_rich_eV for _, v in points],
            marker=marker,
            s=36,
            label=label,
        )
        shown = [(x, v.release_temperature_1bar_K) for x, v in points]
        ax_t.scatter(
            [x for x, t in shown if t is not None],
            [t for _, t in shown if t is not None],
            marker=marker,
            s=36,
        )
        ax_t.scatter(
            [x for x, t in shown if t is None],
            [top_K for _, t in shown if t is None],
            marker="^",
            s=36,
            facecolors="none",
            edgecolors="0.4",
        )
    lowest = [
        (x, h) for x, h in zip(xs, hosts, strict=True) if h.lowest_label is not None
    ]
    ax_e.plot(
        [x for x, _ in lowest],
        [h.lowest_formation_energy_O_rich_eV for _, h in lowest],
        "-",
        color="0.3",
        lw=1,
        zorder=0,
        label="lowest per x",
    )
    released = [(x, h.release_temperature_1bar_K) for x, h in lowest]
    ax_t.plot(
        [x for x, t in released if t is not None],
        [t for _, t in released if t is not None],
        "-",
        color="0.3",
        lw=1,
        zorder=0,
    )
    ax_e.axhline(0, color="0.7", lw=0.8, zorder=0)
    ax_e.set_ylabel(r"$E_f(V_\mathrm{O})$, O-rich limit" "\n(eV per vacancy)")
    reference = document.oxygen_reference
    engine = "+".join(
        part.rsplit(".", 1)[-1] for part in document.energy_scheme.engine.split("+")
    )
    study = f" (study {document.study_id[:8]})" if document.study_id else ""
    fig.suptitle(
        f"{document.host_formula} \N{MIDDLE DOT} {engine} \N{MIDDLE DOT} O loss "
        f"{document.oxygen_id[:8]}{study}",
        fontsize=10,
    )
    ax_e.set_title(
        f"O vacancies, O2 reference: {reference.method}", fontsize=9, loc="left"
    )
    ax_e.legend(frameon=False, fontsize=6, loc="best")
    ax_t.set_ylabel(f"release temperature at {document.pressure_bar:g} bar (K)")
    ax_t.set_ylim(-50, top_K + 150)
    if have_x:
        ax_t.set_xlabel(f"x (alkali per formula unit of {document.host_formula})")
    else:
        ax_t.set_xticks(xs, [host.config_id for host in hosts])
    return save(fig, path, dpi)
