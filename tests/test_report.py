"""Report tables and files (oredox.report), on a study built by hand."""

import csv
import io
import json
from types import SimpleNamespace

import pytest
from pymatgen.core import Lattice, Structure
from rich.console import Console

from oredox import report, report_structures
from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StudyDocument,
    VoltageStepDoc,
)


def cell(species=("Li", "Co", "O", "O")):
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75]]
    return Structure(Lattice.cubic(4.0), list(species), coords[: len(species)])


def entry(config_id, x, energy_eV, e_f_eV, e_hull_eV, on_hull):
    return ConfigurationEntry(
        config_id=config_id,
        x=x,
        n_alkali=round(2 * x),
        vacancies=[0] if x < 1 else [],
        multiplicity=1,
        energy_eV=energy_eV,
        energy_per_fu_eV=energy_eV / 2,
        formation_energy_per_fu_eV=e_f_eV,
        e_above_hull_per_fu_eV=e_hull_eV,
        on_hull=on_hull,
        converged=True,
        structure=cell(),
    )


@pytest.fixture
def study():
    """LiCoO2-like study: x = 1, 1/2 (two configurations), 0; two voltage steps."""
    return StudyDocument(
        study_id="0123456789abcdef",
        name="hand-made",
        host_formula="LiCoO2",
        framework="O3 layered",
        alkali="Li",
        host_structure=cell(),
        supercell_matrix=[[2, 0, 0], [0, 1, 0], [0, 0, 1]],
        formula_units=2,
        n_alkali_sites=2,
        space_group="R-3m",
        n_symmetry_operations=12,
        configurations_per_x={"1.0": 1, "0.5": 2, "0.0": 1},
        energy_scheme=EnergyScheme(
            engine="test",
            engine_version="0",
            functional="PBE",
            relax_fmax_eV_per_A=0.05,
            relax_cell=False,
        ),
        alkali_reference_energy_per_atom_eV=-1.9087,
        entries=[
            entry("k0-0", 1.0, -50.0, 0.0, 0.0, True),
            entry("k1-0", 0.5, -45.0, -0.15, 0.0, True),
            entry("k1-1", 0.5, -44.9, -0.1, 0.05, False),
            entry("k2-0", 0.0, -40.0, 0.0, 0.0, True),
        ],
        hull_config_ids=["k2-0", "k1-0", "k0-0"],
        voltage_steps=[
            VoltageStepDoc(x_low=0.0, x_high=0.5, voltage_V=4.25912),
            VoltageStepDoc(x_low=0.5, x_high=1.0, voltage_V=3.98764),
        ],
        average_voltage_V=4.12338,
    )


def text_of(draw):
    console = Console(record=True, width=200, file=io.StringIO())
    draw(console)
    return console.export_text()


def table_rows(text):
    """The body rows of the tables in ``text``, as lists of stripped cells."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]


def test_print_study_shows_hull_steps_and_average(study):
    text = text_of(lambda c: report.print_study(study, c))
    assert "hand-made\nstudy    0123456789abcdef\n" in text
    assert "host     LiCoO2: x counts Li_x CoO2 (2 f.u. per cell), 2 Li sites" in text
    assert max(map(len, text.splitlines())) <= 80
    assert "convex hull, x in Li_x CoO2" in text
    assert "Li metal -1.9087 eV/atom" in text
    rows = table_rows(text)
    # hull: per x the number of configurations and the lowest one; then the steps
    assert rows == [
        ["0.000", "1", "k2-0", "0.0", "0.0"],
        ["0.500", "2", "k1-0", "-150.0", "0.0"],
        ["1.000", "1", "k0-0", "0.0", "0.0"],
        ["0.000", "0.500", "4.259"],
        ["0.500", "1.000", "3.988"],
    ]
    assert text.rstrip().endswith("average voltage 4.123 V")


def test_print_path_without_statics_says_so(study, tmp_path):
    text = text_of(lambda c: report.print_path(study, tmp_path / "x.png", c))
    assert text.strip() == (
        "study 01234567 has no statics (engine test): no electronic analysis"
    )
    assert not list(tmp_path.iterdir())
    assert text_of(lambda c: report.print_statics(study, tmp_path / "x.png", c)) == ""


def test_write_csv_round_trips_lists_as_json(tmp_path):
    rows = [
        {"study_id": "a", "x_range": [0.0, 1.0], "n": 3},
        {"study_id": "b", "extra": {"Co": 1.5}, "n": 4},
    ]
    path = tmp_path / "deep" / "rows.csv"
    assert report.write_csv(path, rows) == 2
    lines = list(csv.DictReader(path.open()))
    assert list(lines[0]) == ["study_id", "x_range", "n", "extra"]
    assert json.loads(lines[0]["x_range"]) == [0.0, 1.0]
    assert lines[0]["extra"] == ""
    assert json.loads(lines[1]["extra"]) == {"Co": 1.5}
    assert [line["n"] for line in lines] == ["3", "4"]


def test_per_element():
    assert report.per_element({"Co": 1.38, "O": -1.14}, "{:+.2f}") == (
        "Co +1.38\nO -1.14"
    )
    assert report.per_element({"Mn": 3.96}, "{:+.1f}") == "Mn +4.0"
    assert report.per_element({}, "{:+.2f}") == "-"
    # every row lists the elements alike (by electronegativity), whatever the order
    # of the stored mapping; a zero is not shown as -0.00
    assert report.per_element(
        {"O": -0.79, "Mn": 1.92, "Li": 0.89}, "{:+.2f}", ", "
    ) == ("Li +0.89, Mn +1.92, O -0.79")
    assert report.per_element({"Co": -0.001}, "{:+.2f}") == "Co +0.00"


def test_entry_rows_filter_x_and_drop_structures(study):
    rows = report.entry_rows(study, x_min=0.5, x_max=0.5)
    assert [row["config_id"] for row in rows] == ["k1-0", "k1-1"]
    assert "structure" not in rows[0] and "vacancies" not in rows[0]
    assert rows[0]["formation_energy_per_fu_eV"] == pytest.approx(-0.15)
    assert len(report.entry_rows(study)) == 4


def test_studies_table():
    row = {
        "study_id": "0123456789abcdef",
        "name": "hand-made",
        "chemsys": "Co-Li-O",
        "framework": "O3 layered",
        "engine": "test",
        "energy_scheme_id": "abcdef012345",
        "n_entries": 4,
        "average_voltage_V": 4.12338,
        "created_at": "2026-01-02 03:04:05.678000+00:00",
    }
    text = text_of(lambda c: c.print(report.studies_table([row])))
    assert "studies: 1" in text
    (cells,) = table_rows(text)
    assert cells == [
        "0123456789abcdef",
        "hand-made",
        "Co-Li-O",
        "O3 layered",
        "test",
        "abcdef012345",
        "4",
        "4.123",
        "2026-01-02 03:04:05",
    ]


def test_orderings_rows_and_table():
    def ranked(motif, n_sites, energy):
        ordering = SimpleNamespace(
            n_sites=n_sites, superlattice=((3, 0), (2, 1)), a_sites=((0, 0),)
        )
        return SimpleNamespace(motif=motif, ordering=ordering, ewald_eV_per_site=energy)

    rows = report_structures.ordering_rows(
        [ranked("honeycomb", 3, -10.0), ranked("stripe", 3, -9.5)]
    )
    assert rows[1] == {
        "rank": 2,
        "motif": "stripe",
        "n_sites": 3,
        "superlattice": [[3, 0], [2, 1]],
        "a_sites": [[0, 0]],
        "ewald_eV_per_site": -9.5,
    }
    text = text_of(lambda c: c.print(report_structures.orderings_table(rows, "1/3")))
    assert "A1/3 orderings (Ewald relative to the lowest)" in text
    assert table_rows(text)[0][-1] == "0.0"
    assert table_rows(text)[1] == [
        "2",
        "stripe",
        "3",
        "[[3, 0], [2, 1]]",
        "[[0, 0]]",
        "500.0",
    ]


def test_structure_line(tmp_path):
    structure = cell(("Li", "Cl"))
    structure.properties["provenance"] = {
        "quality": {"cluster_vector_mismatch": 0.012345}
    }
    line = report_structures.structure_line(
        structure, tmp_path / "a.cif", tmp_path / "a.json"
    )
    assert line == (
        f"Li1 Cl1 (Pm-3m, cluster-vector mismatch 0.0123) -> {tmp_path / 'a.cif'}; "
        f"record {tmp_path / 'a.json'}"
    )


def test_print_analysis_minimal():
    result = {
        "environments": {"per_class": {"OLi3M3": 2}, "per_axis": {}},
        "redox": {
            "mean_oxidation_state": {"Co": 3.5},
            "o_holes": [1],
            "o_hole_total_muB": 0.4567,
            "o_o_pairs": [],
        },
        "skipped": {"bader": "no CHGCAR"},
    }
    text = text_of(lambda c: report.print_analysis(result, c))
    assert "O environments: {'OLi3M3': 2}; axes {}" in text
    assert "O holes: 1 (0.46 muB); O-O pairs < 2.4 A: 0" in text
    assert text.rstrip().endswith("skipped bader: no CHGCAR")


def test_user_strings_are_never_read_as_markup(study):
    """A study name with brackets lists as written (rich would eat or choke on it)."""
    name = "[bold]LiCoO2[/bold] [oops"
    row = {
        "study_id": "0123456789abcdef",
        "name": name,
        "chemsys": "Co-Li-O",
        "framework": "O3 [layered]",
        "engine": "test",
        "energy_scheme_id": "abcdef012345",
        "n_entries": 4,
        "average_voltage_V": 4.0,
        "created_at": "2026-01-02 03:04:05.678000+00:00",
    }
    text = text_of(lambda c: c.print(report.studies_table([row])))
    assert name in text and "O3 [layered]" in text
    shown = text_of(
        lambda c: report.print_study(study.model_copy(update={"name": name}), c)
    )
    assert name in shown


def test_redox_summary_table(study):
    study.redox_summary = [
        {
            "x_from": 1.0,
            "x_to": 0.5,
            "config_ids": ["k0-0", "k1-0"],
            "removed_e": 1,
            "moments": {"tm_e": 0, "o_e": 1, "fraction_from_O": 1.0},
            "bader": {"tm_e": 0.05, "o_e": 0.8, "fraction_from_O": 0.8 / 0.85},
        },
        {"x_from": 0.5, "x_to": 0.0, "config_ids": ["k1-0", "k2-0"], "removed_e": 1},
    ]
    text = text_of(lambda c: report.print_redox_summary(study, c))
    assert "where the removed charge goes" in text
    assert "1.000 -> 0.500" in text and "100%" in text and "94%" in text
    assert "+0.05 / +0.80" in text
    # a step without analyses shows dashes, not a crash
    assert "0.500 -> 0.000" in text
