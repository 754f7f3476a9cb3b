"""Figures and tables people read: titles, one quantity per axis, spins, formats.

Drawn from the recorded studies in tests/data/studies (a CHGNet hull of LiCoO2; a
CHGNet+GPAW Li2MnO3 hull with DOS, moments and Bader) and the recorded NiO VASP
static (spin-polarised DOS).
"""

from __future__ import annotations

import gzip
import io
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Vasprun
from rich.console import Console

from oredox import report
from oredox.analysis import plots, plots_electronic
from oredox.analysis.dos import o2p_dos_record, o2p_summary
from oredox.analysis.environments import oxygen_environments
from oredox.analysis.path import delithiation_path
from oredox.errors import OredoxInputError
from oredox.files import figure_file, save_figure
from oredox.schemas import StudyDocument

DATA = Path(__file__).parent / "data"
NIO = DATA / "vasp" / "recorded" / "quacc_NiO_mp_static" / "vasprun.xml.gz"
MAGIC = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}


def recorded(name: str) -> StudyDocument:
    with gzip.open(DATA / "studies" / f"{name}.json.gz") as handle:
        return StudyDocument.model_validate_json(handle.read())


@pytest.fixture(scope="module")
def li2mno3() -> StudyDocument:
    return recorded("li2mno3_chgnet_gpaw")


@pytest.fixture(scope="module")
def licoo2() -> StudyDocument:
    return recorded("licoo2_chgnet_demo")


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions draw, kept open instead of written."""
    figures = []

    def keep(fig, path, dpi=200):
        figures.append(fig)
        return Path(path)

    monkeypatch.setattr(plots, "save", keep)
    monkeypatch.setattr(plots_electronic, "save", keep)
    return figures


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


# --- files: one writer, three formats ------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_save_figure_writes_each_format(tmp_path, fmt):
    fig = plots.pyplot().figure()
    path = save_figure(fig, tmp_path / "sub" / "f.png", fmt)
    assert path == tmp_path / "sub" / f"f.{fmt}"
    assert path.read_bytes().startswith(MAGIC[fmt])


def test_unknown_formats_and_resolutions_are_input_errors(tmp_path):
    pyplot = plots.pyplot()
    with pytest.raises(OredoxInputError, match="unknown figure format 'bmpx'"):
        save_figure(pyplot.figure(), tmp_path / "f.png", "bmpx")
    with pytest.raises(OredoxInputError, match=r"must end in \.png, \.pdf or \.svg"):
        save_figure(pyplot.figure(), tmp_path / "f.xyzzy")
    with pytest.raises(OredoxInputError, match="outside 20-1200 dpi"):
        save_figure(pyplot.figure(), tmp_path / "f.png", dpi=100_000)
    assert not list(tmp_path.iterdir())
    assert figure_file("out/hull.png", "SVG") == Path("out/hull.svg")
    assert figure_file("hull.pdf") == Path("hull.pdf")


def test_dpi_sets_the_png_resolution(licoo2, tmp_path):
    low = plots.plot_hull_and_voltage(licoo2, tmp_path / "low.png", dpi=100)
    high = plots.plot_hull_and_voltage(licoo2, tmp_path / "high.png", dpi=200)
    (w_low, h_low), (w_high, h_high) = png_size(low), png_size(high)
    assert (w_high, h_high) == (2 * w_low, 2 * h_low)


# --- what the figures say -------------------------------------------------------


def test_hull_figure_is_titled_and_a_single_step_shows(licoo2, drawn, tmp_path):
    plots.plot_hull_and_voltage(licoo2, tmp_path / "hull.png")
    fig = drawn[-1]
    assert (
        fig.get_suptitle()
        == "LiCoO2 \N{MIDDLE DOT} chgnet \N{MIDDLE DOT} study 9403281c"
    )
    # one step equal to the average: drawn over the dashed average, both in the legend
    step = licoo2.voltage_steps[0].model_copy(
        update={"x_low": 0.0, "x_high": 1.0, "voltage_V": licoo2.average_voltage_V}
    )
    plots.plot_hull_and_voltage(
        licoo2.model_copy(update={"voltage_steps": [step]}), tmp_path / "one.png"
    )
    ax_v = drawn[-1].axes[1]
    (average,) = [ln for ln in ax_v.get_lines() if ln.get_linestyle() == "--"]
    (stairs,) = [ln for ln in ax_v.get_lines() if ln.get_linestyle() == "-"]
    assert stairs.get_zorder() > average.get_zorder()
    assert legend_texts(ax_v) == ["average 3.49 V (= the steps)", "voltage, 1 step"]
    low, high = ax_v.get_ylim()
    assert (
        low < licoo2.average_voltage_V - 0.2 and high > licoo2.average_voltage_V + 0.2
    )


def test_path_figure_has_one_quantity_per_axis(li2mno3, drawn, tmp_path):
    rows = delithiation_path(li2mno3)
    plots.plot_delithiation_path(
        rows, tmp_path / "path.png", "Li", "Li_x MnO3", title=plots.study_title(li2mno3)
    )
    fig = drawn[-1]
    assert "study 38e097c3" in fig.get_suptitle() and "Li2MnO3" in fig.get_suptitle()
    labels = [ax.get_ylabel() for ax in fig.axes]
    units = ["(e)", "(muB)", "(e / O)", "(e / TM)"]
    assert len(labels) == 4
    for label, unit in zip(labels, units, strict=True):
        assert label.endswith(unit), label
        assert sum(u in label for u in ("muB", "e / O", "e / TM")) <= 1
    # several configurations at one x: one line through the lowest, markers for all
    holes = fig.axes[1].get_lines()[0]
    assert list(holes.get_xdata()) == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_static_figure_legends_and_units(li2mno3, drawn, tmp_path):
    static = next(s for s in li2mno3.statics if s.config_id == "k2-2")
    plots.plot_static_analysis(static.analysis, tmp_path / "k2-2.png", "k2-2")
    top, bottom = drawn[-1].axes
    texts = legend_texts(top) + legend_texts(bottom)
    assert texts[0] == "O with 1 ionic A-O-A' axis (non-bonding O 2p)"
    assert "O 2p sigma (along TM-O bonds)" in texts and "TM t2g (local frame)" in texts
    assert not any(raw in t for t in texts for raw in ("o_sigma", "o_pi", "A-O-A''"))
    # stored without the spin split: said, not hidden
    assert top.get_ylabel() == "O 2p PDOS, both spins\n(states / eV / O)"
    assert bottom.get_ylabel() == "DOS, both spins\n(states / eV / cell)"


def test_spin_polarised_dos_is_mirrored(drawn, tmp_path):
    dos = Vasprun(NIO, parse_potcar_file=False).complete_dos
    envs = oxygen_environments(dos.structure)
    record = o2p_dos_record(dos, envs)
    assert record["spin_polarised"]
    (name,) = record["per_class"]
    up, down = record["per_class_up"][name], record["per_class_down"][name]
    assert np.allclose(np.add(up, down), record["per_class"][name], atol=2e-5)
    analysis = {"o2p": o2p_summary(dos, envs).as_dict(), "o2p_dos": record}
    path = plots.plot_static_analysis(analysis, tmp_path / "nio.png", "NiO")
    (ax,) = drawn[-1].axes
    lowest = min(min(line.get_ydata()) for line in ax.get_lines())
    assert lowest == pytest.approx(-max(down))  # spin down below zero
    assert ax.get_ylim()[0] == pytest.approx(-ax.get_ylim()[1])
    assert "spin up > 0, spin down < 0" in ax.get_title(loc="left")
    assert path.name == "nio.png"


def test_spin_resolved_local_frame_dos_is_mirrored(drawn, tmp_path):
    energies = [-2.0, -1.0, 0.0, 1.0]
    local = {"energies_eV": energies}
    for name in ("eg", "t2g"):
        local[f"{name}_up"] = [0.1, 0.5, 0.2, 0.0]
        local[f"{name}_down"] = [0.0, 0.3, 0.6, 0.1]
        local[name] = list(np.add(local[f"{name}_up"], local[f"{name}_down"]))
    plots.plot_static_analysis({"projections_dos": local}, tmp_path / "tm.png")
    bottom = drawn[-1].axes[1]
    assert min(min(line.get_ydata()) for line in bottom.get_lines()) == -0.6
    assert bottom.get_ylim()[0] == pytest.approx(-bottom.get_ylim()[1])
    assert "spin up > 0, spin down < 0" in bottom.get_title(loc="left")
    assert bottom.get_ylabel() == "DOS\n(states / eV / cell)"


# --- tables at 80 columns -----------------------------------------------------


def printed(draw, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    draw(console)
    return console.export_text()


def test_electronic_table_fits_80_columns(li2mno3):
    text = printed(lambda c: report.print_path(li2mno3, None, c), 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "\N{HORIZONTAL ELLIPSIS}" not in text
    # every header word whole, every cell on one line
    for word in ("shortest", "O-O", "(muB)", "(e/TM)", "mixing", "Bader"):
        assert word in text
    bar = "\N{BOX DRAWINGS LIGHT VERTICAL}"
    rows = [line for line in lines if line.startswith(f"{bar} k")]
    assert len(rows) == 2 * len(li2mno3.statics)  # two tables, one line per row
    assert "(continued)" in text
    # the shortest O-O is a number for every static (pristine Li2MnO3: 2.59 A)
    first = [line.split(bar) for line in rows[:12]]
    distances = {cells[1].strip(): float(cells[5]) for cells in first}
    assert distances["k0-0"] == pytest.approx(2.59, abs=0.005)
    assert distances["k4-0"] == pytest.approx(2.22, abs=0.005)
    # a wide console: one table
    assert "(continued)" not in printed(
        lambda c: report.print_path(li2mno3, None, c), 200
    )


def test_other_tables_fit_80_columns(li2mno3):
    text = printed(lambda c: report.print_study(li2mno3, c), 80)
    text += printed(lambda c: report.print_redox_summary(li2mno3, c), 80)
    static = li2mno3.statics[0]
    text += printed(lambda c: report.print_analysis(static.analysis, c), 80)
    row = {
        "study_id": li2mno3.study_id,
        "name": li2mno3.name,
        "chemsys": "Li-Mn-O",
        "framework": li2mno3.framework,
        "engine": "chgnet+gpaw",
        "energy_scheme_id": "abcdef012345",
        "n_entries": 12,
        "average_voltage_V": 4.86,
        "created_at": "2026-12-01 10:00:00.000+00:00",
    }
    text += printed(lambda c: c.print(report.studies_table([row], c.width)), 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "\N{HORIZONTAL ELLIPSIS}" not in text
    assert li2mno3.study_id in text and "2.000 -> 1.500" in text


def test_shortest_o_o_sees_periodic_images():
    rocksalt = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.2), ["Ni", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    assert report.shortest_o_o(rocksalt.get_primitive_structure()) == pytest.approx(
        4.2 / 2**0.5
    )
    assert report.shortest_o_o(Structure(Lattice.cubic(3), ["Ni"], [[0, 0, 0]])) is None


# --- the command line ---------------------------------------------------------


def test_query_writes_every_figure_in_the_format_asked(li2mno3, monkeypatch, tmp_path):
    from jobflow import job, run_locally

    from oredox.cli import main
    from oredox.settings import load_settings
    from oredox.store import STUDY_JOB_NAME, get_job_store

    run_locally(
        job(lambda: li2mno3, name=STUDY_JOB_NAME)(),
        store=get_job_store(load_settings()),
        log=False,
    )

    def query(*args) -> int:
        monkeypatch.setattr(sys, "argv", ["oredox", "query", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        return exit_info.value.code

    png = tmp_path / "figs" / "hull.png"
    args = ["38e097c3", "--electronic", "--png", str(png), "--format", "svg"]
    assert query(*args, "--dpi", "72") == 0
    assert (tmp_path / "figs" / "hull.svg").read_bytes().startswith(b"<?xml")
    assert (tmp_path / "figs" / "hull-path.svg").is_file()
    assert not png.exists()
    assert query("38e097c3", "--png", str(tmp_path / "h.pdf")) == 0
    assert (tmp_path / "h.pdf").read_bytes().startswith(b"%PDF")
    assert query("38e097c3", "--png", str(png), "--format", "bmpx") == 2
    assert query("38e097c3", "--png", str(png), "--dpi", "5") == 2
    assert query("38e097c3", "--png", str(tmp_path / "noformat")) == 2
    assert not png.exists() and not (tmp_path / "noformat").exists()
    # --format replaces any suffix, even one that is no format
    assert query("38e097c3", "--png", str(tmp_path / "hull.v2"), "--format", "pdf") == 0
    assert (tmp_path / "hull.pdf").read_bytes().startswith(b"%PDF")


def test_fitted_tables_split_columns_and_keep_the_key():
    from oredox.report_tables import Column, fitted_tables

    labels = ["OLi3Co3 | 3 Li-O-Co", "OCo3Vac3 | 3 Co-O-Vac"]
    columns = [
        Column("x", ["1.000", "0.000"], "right"),
        Column("config", ["k0-0", "k4-0"]),
        Column("O class", labels),
        *(Column(f"quantity {i} (eV)", ["-2.247", "1.140"]) for i in range(6)),
        Column("after loss", ["framework intact, O-O 1.21 A", "-"]),
    ]
    tables = fitted_tables("O vacancies", columns, 80, keep=2)
    text = printed(lambda c: [c.print(t) for t in tables], 80)
    assert len(tables) == 3  # 18 + 24 + 3 x 11; 18 + 3 x 11; 18 + 31 characters
    assert max(len(line) for line in text.splitlines()) <= 80
    assert all(label in text for label in labels)
    assert "framework intact, O-O 1.21 A" in text
    assert [t.columns[1].header for t in tables] == ["config"] * 3
    assert len(fitted_tables("O vacancies", columns, 200, keep=2)) == 1
