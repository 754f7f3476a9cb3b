"""The composition axis: x per formula unit of the host as the user wrote it."""

import pytest

from oredox.analysis.formula_unit import (
    content_label,
    formula_units,
    restate,
    with_formula_unit,
)
from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme
from oredox.structures.delithiation import (
    alkali_symmetry,
    apply_configuration,
    enumerate_configurations,
)
from oredox.structures.frameworks import make_supercell, o3_layered
from oredox.structures.seeds import SEED_FORMULA_UNITS, SEEDS, seed_cell
from oredox.workflows.screening import ScreeningSettings, screen_configurations
from oredox.workflows.study_document import Relaxation, StudyHost, build_study_document


@pytest.fixture(scope="module")
def ltno():
    return seed_cell("ltno-spread")[0]


def test_ltno_counts_twelve_formula_units_of_li_x_ti058_ni025_o2(ltno):
    assert ltno.composition.element_composition.formula == "Li14 Ti7 Ni3 O24"
    assert formula_units(ltno) == ("Li1.17Ti0.58Ni0.25O2", 12.0)
    assert content_label("Li1.17Ti0.58Ni0.25O2", "Li") == "Li_x Ti0.58Ni0.25O2"
    # the same cell without the seed's written formula: its reduced formula, once
    bare = ltno.copy()
    bare.properties = {}
    assert formula_units(bare) == ("Li14Ti7Ni3O24", 1.0)


def test_every_seed_carries_a_formula_unit_that_fits_its_cell():
    assert set(SEED_FORMULA_UNITS) == set(SEEDS)
    for name in ("li2mno3", "nlmo", "house"):
        cell, _ = seed_cell(name)
        unit, count = formula_units(cell)
        assert unit == SEED_FORMULA_UNITS[name]
        assert count == cell.composition["O2-"] / (3 if name == "li2mno3" else 2)


def test_reduced_formula_when_nothing_is_written():
    host = make_supercell(o3_layered("LiCoO2"), (2, 1, 1))
    assert formula_units(host) == ("LiCoO2", 6.0)
    assert content_label("LiCoO2", "Li") == "Li_x CoO2"


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("Li1.2Ti0.6Ni0.2O2", "does not fit the host"),
        ("Li1.17Ti0.58Co0.25O2", "has the elements"),
        ("Li1.17 Ti0.58 Ni0.25 O2 + x", "element symbols and amounts"),
        ("Li1.17Tx0.58Ni0.25O2", "not an element"),
    ],
)
def test_a_formula_unit_that_does_not_describe_the_cell_is_refused(
    ltno, written, problem
):
    with pytest.raises(OredoxInputError, match=problem):
        with_formula_unit(ltno.copy(), written)


def test_ltno_screening_labels_count_x_per_formula_unit(ltno):
    symmetry = alkali_symmetry(ltno)
    settings = ScreeningSettings(
        method="beam",
        beam_width=2,
        rankers=["ewald"],
        lowest=1,
        window_meV_per_atom=0,
        vacancies=[1, 2],
    )
    record = screen_configurations(ltno, symmetry, settings).record
    # 14, 13, 12 Li in 12 formula units, never "x = 14.0000" (Li per cell)
    assert set(record["selected_per_x"]) == {"1.1667", "1.0833", "1.0000"}
    assert "x = 14" not in record["selection"]


def ltno_study(ltno):
    """A study document of three LTNO configurations (energies given, not computed)."""
    symmetry = alkali_symmetry(ltno)
    scheme = EnergyScheme(
        engine="test",
        engine_version="0",
        functional="none",
        relax_fmax_eV_per_A=0.05,
        relax_cell=False,
    ).model_dump()
    configs = [
        next(iter(enumerate_configurations(symmetry, k, 10_000))) for k in (0, 1, 2)
    ]
    relaxations = [
        Relaxation(
            label=f"k{c.n_vacancies}-0",
            initial=apply_configuration(ltno, symmetry, c),
            energy_eV=energy,
            structure=apply_configuration(ltno, symmetry, c),
            converged=True,
            energy_scheme=scheme,
            configuration=c,
        )
        for c, energy in zip(configs, [-400.0, -395.5, -390.0], strict=True)
    ]
    metal = o3_layered("LiCoO2")  # any structure: only its energy per atom is read
    return build_study_document.original(
        host=StudyHost(
            name="ltno axis",
            structure=ltno,
            supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            framework="rock salt",
            symmetry=symmetry,
        ),
        relaxations=relaxations,
        alkali_reference=Relaxation(
            "Li metal", metal, -1.9 * len(metal), metal, True, scheme
        ),
    )


def test_study_document_states_its_formula_unit(ltno):
    study = ltno_study(ltno)
    assert study.formula_unit == "Li1.17Ti0.58Ni0.25O2"
    assert study.formula_units == 12.0
    assert [round(e.x, 4) for e in study.entries] == [1.1667, 1.0833, 1.0]
    assert study.entries[0].energy_per_fu_eV == pytest.approx(-400.0 / 12)
    # voltages are per Li, whatever the formula unit: E(n-1) + mu_Li - E(n)
    steps = {
        (round(s.x_low, 4), round(s.x_high, 4)): s.voltage_V
        for s in study.voltage_steps
    }
    assert steps == {
        (1.0, 1.0833): pytest.approx(-390.0 - 1.9 + 395.5),
        (1.0833, 1.1667): pytest.approx(-395.5 - 1.9 + 400.0),
    }


def test_a_study_stored_per_cell_restates_per_formula_unit(ltno):
    written = ltno_study(ltno)
    bare = ltno.copy()
    bare.properties = {}
    per_cell = ltno_study(bare)  # as stored before the composition axis: x = 14
    assert per_cell.formula_units == 1.0
    assert max(e.x for e in per_cell.entries) == 14.0
    restated = restate(per_cell, "Li1.17Ti0.58Ni0.25O2")
    assert restated.formula_unit == written.formula_unit
    assert restated.formula_units == 12.0
    for a, b in zip(restated.entries, written.entries, strict=True):
        for key in ("x", "energy_per_fu_eV", "formation_energy_per_fu_eV"):
            assert getattr(a, key) == pytest.approx(getattr(b, key)), key
        assert a.on_hull == b.on_hull and a.energy_eV == b.energy_eV
    assert [(s.x_low, s.x_high, s.voltage_V) for s in restated.voltage_steps] == [
        (pytest.approx(s.x_low), pytest.approx(s.x_high), pytest.approx(s.voltage_V))
        for s in written.voltage_steps
    ]
    assert restated.configurations_per_x == written.configurations_per_x
    with pytest.raises(OredoxInputError, match="does not fit"):
        restate(per_cell, "LiTiNiO2")


def store_study(study):
    """Put ``study`` in the test's embedded store as the study job's output."""
    from jobflow import job, run_locally

    from oredox.settings import load_settings
    from oredox.store import STUDY_JOB_NAME, get_job_store

    document = job(lambda: study, name=STUDY_JOB_NAME)()
    run_locally(document, store=get_job_store(load_settings()), log=False)


def test_query_restates_a_stored_study_per_formula_unit(
    ltno, isolated_settings, monkeypatch, capsys
):
    import json
    import sys

    from oredox.cli import main

    bare = ltno.copy()
    bare.properties = {}
    per_cell = ltno_study(bare)
    store_study(per_cell)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["oredox", "query", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
        return exit_info.value.code

    assert run(per_cell.study_id[:8], "--json") == 0
    assert max(e["x"] for e in json.loads(capsys.readouterr().out)["entries"]) == 14
    unit = "Li1.17Ti0.58Ni0.25O2"
    assert run(per_cell.study_id[:8], "--json", "--formula-unit", unit) == 0
    restated = json.loads(capsys.readouterr().out)
    assert restated["formula_unit"] == unit
    assert max(e["x"] for e in restated["entries"]) == pytest.approx(14 / 12)
    assert run(per_cell.study_id[:8], "--formula-unit", unit) == 0
    assert "x counts Li_x Ti0.58Ni0.25O2 (12 f.u. per cell)" in capsys.readouterr().out
    assert run(per_cell.study_id[:8], "--formula-unit", "LiNiO2") == 2
    assert "has the elements" in capsys.readouterr().err
    assert run("--formula-unit", unit) == 2


def test_a_template_sets_the_formula_unit_and_it_must_fit():
    from oredox.workflows.templates import template_from_data

    data = {"name": "per O", "host": {"o3_formula": "LiCoO2", "supercell": [2, 1, 1]}}
    host, _, _ = template_from_data(data).build_host()
    assert formula_units(host) == ("LiCoO2", 6.0)
    data["host"]["formula_unit"] = "Li0.5Co0.5O"
    host, _, _ = template_from_data(data).build_host()
    assert formula_units(host) == ("Li0.5Co0.5O", 12.0)
    data["host"]["formula_unit"] = "LiNiO2"
    with pytest.raises(
        OredoxInputError, match=r"host\.formula_unit: .*has the elements"
    ):
        template_from_data(data).build_host()
    data["host"]["formula_unit"] = "Li(CoO2)"
    with pytest.raises(OredoxInputError, match="element symbols and amounts"):
        template_from_data(data)
