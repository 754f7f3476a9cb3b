"""The cluster-expansion loop's history: table, rows, figure and ``oredox query``."""

from __future__ import annotations

import json
import sys

import pytest
from pymatgen.core import Lattice, Structure
from rich.console import Console

from oredox.analysis.plots_convergence import plot_convergence, short_stop
from oredox.errors import OredoxInputError
from oredox.report_convergence import convergence_rows, print_convergence
from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StudyDocument,
    VoltageStepDoc,
)

STOP = "converged: no new hull vertex and the CV error below the threshold"


def iteration(i, n_computed, cv, hull, new, change, candidates, stop=None):
    return {
        "iteration": i,
        "n_computed": n_computed,
        "cv_rmse_meV_per_atom": cv,
        "train_rmse_meV_per_atom": cv / 2,
        "n_searched": 120,
        "search": "enumeration",
        "hull_vertices": hull,
        "new_vertices": new,
        "hull_change_meV_per_atom": change,
        "predicted_vertices": hull,
        "candidates": candidates,
        "stop": stop,
    }


CONVERGENCE = {
    "settings": {
        "window_meV_per_atom": 3.0,
        "cv_threshold_meV_per_atom": 5.0,
        "max_calculations": 20,
        "max_iterations": 10,
        "candidates_per_iteration": 3,
        "cutoffs_A": [6.0, 4.5],
    },
    "lattice_model": {
        "sublattice": "alkali",
        "primitive_formula": "Li1",
        "species": [["Li", "X"]],
    },
    "iterations": [
        iteration(
            0,
            5,
            12.5,
            ["k0-0", "k6-0", "k12-0"],
            ["k0-0", "k6-0", "k12-0"],
            None,
            ["k4-c1f", "k8-c2e3", "k3-c7"],
        ),
        iteration(
            1,
            8,
            6.25,
            ["k0-0", "k4-c1f", "k6-0", "k12-0"],
            ["k4-c1f", "k8-c2e3b7a9"],
            4.75,
            ["k2-c3"],
        ),
        iteration(2, 9, 3.5, ["k0-0", "k4-c1f", "k6-0", "k12-0"], [], 0.0, [], STOP),
    ],
    "fit": {
        "sublattice": "alkali",
        "cutoffs_A": [6.0, 4.5],
        "fit_method": "ardr",
        "n_structures": 9,
        "n_parameters": 5,
        "n_nonzero": 4,
        "cv_rmse_meV_per_site": 3.5,
        "train_rmse_meV_per_site": 1.75,
        "ewald_coefficient": 0.0123,
        "ecis": [
            {"order": 0, "radius_A": 0.0, "multiplicity": 1, "eci_meV": -4200.5},
            {"order": 1, "radius_A": 0.0, "multiplicity": 1, "eci_meV": 310.25},
            {"order": 2, "radius_A": 1.4, "multiplicity": 3, "eci_meV": 12.125},
            {"order": 2, "radius_A": 2.8, "multiplicity": 3, "eci_meV": 0.0},
            {"order": 3, "radius_A": 1.4, "multiplicity": 2, "eci_meV": -0.5},
        ],
    },
    "stop": STOP,
    "n_relaxations": 9,
    "n_from_loop": 4,
}


def entry(config_id, x, energy_eV, e_f_eV, on_hull):
    cell = Structure(
        Lattice.cubic(4.0),
        ["Li", "Co", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75]],
    )
    return ConfigurationEntry(
        config_id=config_id,
        x=x,
        n_alkali=round(2 * x),
        vacancies=[0] if x < 1 else [],
        multiplicity=1,
        energy_eV=energy_eV,
        energy_per_fu_eV=energy_eV / 2,
        formation_energy_per_fu_eV=e_f_eV,
        e_above_hull_per_fu_eV=0.0,
        on_hull=on_hull,
        converged=True,
        structure=cell,
    )


@pytest.fixture
def hand_made_study():
    """LiCoO2-like study as tests/test_report.py builds it: x = 1, 1/2, 0."""
    entries = [
        entry("k0-0", 1.0, -50.0, 0.0, True),
        entry("k1-0", 0.5, -45.0, -0.15, True),
        entry("k2-0", 0.0, -40.0, 0.0, True),
    ]
    return StudyDocument(
        study_id="c0ffee0123456789abcdef0123456789",
        name="hand-made",
        host_formula="LiCoO2",
        framework="O3 layered",
        alkali="Li",
        host_structure=entries[0].structure,
        supercell_matrix=[[2, 0, 0], [0, 1, 0], [0, 0, 1]],
        formula_units=2,
        n_alkali_sites=2,
        space_group="R-3m",
        n_symmetry_operations=12,
        configurations_per_x={"1.0": 1, "0.5": 1, "0.0": 1},
        energy_scheme=EnergyScheme(
            engine="test",
            engine_version="0",
            functional="PBE",
            relax_fmax_eV_per_A=0.05,
            relax_cell=False,
        ),
        alkali_reference_energy_per_atom_eV=-1.9087,
        entries=entries,
        hull_config_ids=["k2-0", "k1-0", "k0-0"],
        voltage_steps=[
            VoltageStepDoc(x_low=0.0, x_high=0.5, voltage_V=4.25912),
            VoltageStepDoc(x_low=0.5, x_high=1.0, voltage_V=3.98764),
        ],
        average_voltage_V=4.12338,
    )


@pytest.fixture
def looped(hand_made_study):
    return hand_made_study.model_copy(update={"convergence": CONVERGENCE})


def printed(draw, width=80) -> str:
    console = Console(width=width, record=True)
    draw(console)
    return console.export_text()


def test_table_fits_80_columns_and_says_the_history(looped):
    text = printed(lambda c: print_convergence(looped, c))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "cluster-expansion loop (CV threshold 5, window 3 meV/site)" in text
    loop = text[: text.index("largest ECIs")]
    rows = [line for line in loop.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    first, second, last = (c for c in cells if c[0] in {"0", "1", "2"})
    assert first == ["0", "5", "12.50", "3", "(first fit)", "-", "3", "enum."]
    assert second[:4] == ["1", "8", "6.25", "4"]
    assert second[4].startswith("2: k4-c1f")
    assert second[5:] == ["4.75", "1", "enum."]
    assert last == ["2", "9", "3.50", "4", "-", "0.00", "0", "enum."]
    assert f"stop: {STOP}" in " ".join(text.split())
    assert "relaxations: 9 in all, 4 from the loop (budget 20)" in text
    assert "fit: alkali sublattice, cutoffs 6, 4.5 A, ardr, 9 structures" in text
    assert (
        "4 of 5 parameters nonzero (Ewald included), CV 3.50 meV/site\n"
        "     Ewald coefficient 0.0123"
    ) in text
    # the largest |ECI| first; zero ECIs left out
    ecis = text[text.index("largest ECIs (4 nonzero of 5 clusters)") :]
    assert ecis.index("-4200.500") < ecis.index("+310.250") < ecis.index("-0.500")
    assert "+0.000" not in ecis


def test_rows_for_csv_and_json(looped):
    rows = convergence_rows(looped)
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert rows[1]["cv_rmse_meV_per_site"] == 6.25
    assert rows[1]["new_vertices"] == ["k4-c1f", "k8-c2e3b7a9"]
    assert rows[0]["hull_change_meV_per_site"] is None
    assert rows[0]["n_candidates"] == 3 and rows[2]["stop"] == STOP
    # records written before iterations kept their window: the settings' window
    assert rows[0]["window_meV_per_site"] == 3.0
    json.dumps(rows)


def test_no_record_is_an_input_error(hand_made_study):
    for call in (
        lambda: convergence_rows(hand_made_study),
        lambda: print_convergence(hand_made_study, Console(record=True)),
        lambda: plot_convergence(hand_made_study, "unused.png"),
    ):
        with pytest.raises(OredoxInputError, match="no cluster-expansion loop"):
            call()


def test_short_stop():
    assert short_stop(None) == "-"
    assert short_stop("iterations: 10 of 10") == "iteration limit: 10 of 10"
    assert short_stop("budget: 20 calculations of 20") == (
        "budget: 20 calculations of 20"
    )
    assert len(short_stop("x" * 100, 30)) == 30
    assert short_stop(STOP) == "converged: no new vertex, CV below threshold"
    exhausted = (
        "exhausted: every searched arrangement is computed, but the CV error "
        "(17.61 meV/site) is above the threshold (5.0 meV/site)"
    )
    assert short_stop(exhausted) == "exhausted: all computed, CV above threshold"
    assert short_stop("error: too few").startswith("stopped by an error:")
    empty = "converged: no uncomputed configuration predicted within the window"
    assert short_stop(empty) == "converged: nothing left in the window"


def test_figure_is_written(looped, tmp_path):
    path = plot_convergence(looped, tmp_path / "figs" / "loop.png")
    assert path.is_file() and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def store_study(study: StudyDocument) -> None:
    """Put ``study`` in the test's embedded store as the study job's output."""
    from jobflow import job, run_locally

    from oredox.settings import load_settings
    from oredox.store import STUDY_JOB_NAME, get_job_store

    document = job(lambda: study, name=STUDY_JOB_NAME)()
    run_locally(document, store=get_job_store(load_settings()), log=False)


def run_query(monkeypatch, *args) -> int:
    from oredox.cli import main

    monkeypatch.setattr(sys, "argv", ["oredox", "query", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def test_query_shows_and_draws_the_loop(looped, monkeypatch, capsys, tmp_path):
    store_study(looped)
    prefix = looped.study_id[:8]
    # the study's display ends with the loop; its hull figure gets a sibling
    png = tmp_path / "hull.png"
    assert run_query(monkeypatch, prefix, "--png", str(png)) == 0
    out, err = capsys.readouterr()
    assert "convex hull" in out and "cluster-expansion loop" in out
    assert "relaxations: 9 in all, 4 from the loop" in out
    assert png.is_file() and (tmp_path / "hull-convergence.png").is_file()
    assert "hull-convergence.png" in err

    # --convergence: only the loop; --png is its figure
    alone = tmp_path / "loop.png"
    csv = tmp_path / "loop.csv"
    args = [prefix, "--convergence", "--png", str(alone), "--csv", str(csv)]
    assert run_query(monkeypatch, *args) == 0
    out, _ = capsys.readouterr()
    assert "cluster-expansion loop" in out and "convex hull" not in out
    assert alone.is_file() and not (tmp_path / "loop-convergence.png").exists()
    assert csv.read_text().splitlines()[0].startswith("iteration,n_computed,")

    assert run_query(monkeypatch, prefix, "--convergence", "--json") == 0
    assert json.loads(capsys.readouterr().out) == CONVERGENCE


def test_query_convergence_refusals(hand_made_study, monkeypatch, capsys, tmp_path):
    store_study(hand_made_study)
    prefix = hand_made_study.study_id[:8]
    # a study without the loop: the hull figure alone, and --convergence refused
    png = tmp_path / "hull.png"
    assert run_query(monkeypatch, prefix, "--png", str(png)) == 0
    assert "cluster-expansion loop" not in capsys.readouterr().out
    assert png.is_file() and not (tmp_path / "hull-convergence.png").exists()
    assert run_query(monkeypatch, prefix, "--convergence") == 2
    assert "no cluster-expansion loop record" in capsys.readouterr().err
    assert run_query(monkeypatch, "--convergence") == 2
    assert "--convergence goes with a study id" in capsys.readouterr().err
    assert run_query(monkeypatch, prefix, "--convergence", "--electronic") == 2
