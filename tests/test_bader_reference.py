"""Bader without an all-electron reference is said, not hidden.

Recorded VASP outputs in tests/data/bader (PROVENANCE.md): Li2O with a valence
CHGCAR and no AECCARs; YPO4 with AECCAR0 + AECCAR2 (Y_sv semicore, P without).
"""

import io
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Chgcar, Outcar
from rich.console import Console
from test_electronic_analysis import gaussians_on_grid
from test_report import study  # noqa: F401  (the hand-made LiCoO2-like study)

from oredox import report
from oredox.analysis.bader import bader_charges, bader_from_chgcar
from oredox.analysis.bader_reference import (
    AECCAR,
    ALL_ELECTRON,
    VALENCE_ONLY,
    stored_flags,
)
from oredox.analysis.electronic import StaticOutputs, analyse_outputs
from oredox.analysis.path import delithiation_path, redox_summary
from oredox.analysis.plots import _valence_only_caption, plot_delithiation_path
from oredox.errors import OredoxInputError
from oredox.schemas import StaticRecord
from oredox.workflows.engines.vasp import read_vasp_outputs

DATA = Path(__file__).parent / "data" / "bader"
LI2O = DATA / "Li2O"
YPO4 = DATA / "YPO4"


def text_of(draw):
    console = Console(record=True, width=200, file=io.StringIO())
    draw(console)
    return console.export_text()


@pytest.fixture(scope="module")
def li2o_analysis():
    return analyse_outputs(read_vasp_outputs(LI2O))


def test_li2o_without_aeccars_is_flagged_and_its_charges_refused(li2o_analysis):
    bader = li2o_analysis["bader"]
    assert bader["reference"] == VALENCE_ONLY and bader["valence_only"]
    assert "LAECHG" in bader["valence_only_reason"]
    # Li (ZVAL 1) has no valence maximum: no basin, its 2s electron counted on O
    assert bader["populations"] == pytest.approx([0.0, 0.0, 8.0], abs=1e-3)
    assert bader["volumes_A3"][:2] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert bader["collapsed_atoms"] == [0, 1]
    assert "Li0, Li1" in bader["charges_refused"]
    assert bader["charges"] is None and bader["per_species_charge"] == {}
    assert li2o_analysis["skipped"]["bader_net_charges"] == bader["charges_refused"]
    # the redox report does not take them either, and says why
    assert li2o_analysis["redox"]["bader_charges"] == {}
    assert "valence density alone" in li2o_analysis["redox"]["bader_excluded"]


def test_ypo4_semicore_keeps_its_basin_an_outer_shell_alone_collapses():
    aeccar0 = Chgcar.from_file(YPO4 / "AECCAR0.xz")
    aeccar2 = Chgcar.from_file(YPO4 / "AECCAR2.xz")
    outcar = Outcar(YPO4 / "OUTCAR.xz")
    outcar.read_pseudo_zval()
    zval = outcar.zval_dict
    valence = aeccar2.data["total"]
    full = bader_from_chgcar(aeccar2, aeccar0, aeccar2, zval=zval)
    alone = bader_charges(aeccar2.structure, valence, zval=zval)
    assert full.reference == AECCAR and not full.valence_only
    assert alone.reference == VALENCE_ONLY and alone.valence_only
    ref, val = full.per_species("charges"), alone.per_species("charges")
    # Y_sv (4s4p in the valence): the same charge to 0.01 e
    assert val["Y"]["mean"] == pytest.approx(ref["Y"]["mean"], abs=0.01)
    assert ref["Y"]["mean"] == pytest.approx(0.878, abs=0.002)
    # P (3s3p only): +3.50 e with the reference, +4.77 e without; O takes it
    assert ref["P"]["mean"] == pytest.approx(3.50, abs=0.01)
    assert val["P"]["mean"] == pytest.approx(4.77, abs=0.01)
    assert val["O"]["mean"] - ref["O"]["mean"] == pytest.approx(-0.32, abs=0.01)
    p_sites = [i for i, s in enumerate(aeccar2.structure) if s.specie.symbol == "P"]
    assert full.volumes_A3[p_sites] == pytest.approx([3.44] * 2, abs=0.01)
    assert alone.volumes_A3[p_sites].max() < 0.2
    assert full.collapsed_atoms() == [] and full.charges_refused() is None
    assert alone.collapsed_atoms() == p_sites
    assert "P2, P3" in alone.charges_refused()
    assert alone.as_dict()["charges"] is None


def test_valence_only_with_every_basin_intact_is_kept_but_flagged():
    s = Structure(Lattice.cubic(5.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    rho = gaussians_on_grid(s, (48, 48, 48), [0.22, 0.3], [9, 17])
    result = bader_charges(s, rho, zval={"Na": 9.0, "Cl": 7.0}, vacuum_e_per_A3=-1)
    data = result.as_dict()
    assert data["valence_only"] and data["charges_refused"] is None
    assert data["collapsed_atoms"] == []
    assert data["charges"] == pytest.approx([0.0, -10.0], abs=1e-3)
    chgcar = Chgcar(s, {"total": rho})
    gpaw_like = bader_from_chgcar(chgcar, all_electron=True)
    assert gpaw_like.reference == ALL_ELECTRON and not gpaw_like.valence_only
    assert gpaw_like.as_dict()["valence_only_reason"] is None
    # the engines' readers: GPAW's density kind is all-electron, VASP's CHGCAR not
    for kind, reference, used in (
        ("all-electron density with cores (GPAW)", ALL_ELECTRON, True),
        ("CHGCAR", VALENCE_ONLY, False),
    ):
        result = analyse_outputs(
            StaticOutputs(
                structure=s,
                chgcar=chgcar,
                zval={"Na": 9.0, "Cl": 7.0},
                density_kind=kind,
            )
        )
        assert result["bader"]["reference"] == reference
        assert bool(result["redox"]["bader_charges"]) is used
        assert ("bader_net_charges" in result["skipped"]) is not used


def test_bad_reference_input_is_an_oredox_input_error():
    s = Structure(Lattice.cubic(4.0), ["Li"], [[0, 0, 0]])
    rho = np.ones((8, 8, 8))
    chgcar = Chgcar(s, {"total": rho})
    with pytest.raises(OredoxInputError, match="both AECCAR0 and AECCAR2"):
        bader_from_chgcar(chgcar, aeccar0=chgcar)
    with pytest.raises(OredoxInputError, match="unknown Bader reference"):
        bader_charges(s, rho, reference_kind="CHGCAR")
    with pytest.raises(OredoxInputError, match="needs the reference density"):
        bader_charges(s, rho, reference_kind=AECCAR)


def test_results_stored_before_the_flag_are_read_as_valence_only():
    legacy = {"reference": "CHGCAR", "volumes_A3": [0.0, 0.0, 24.8]}
    valence_only, refused = stored_flags(legacy)
    assert "valence density alone" in valence_only
    assert "2 basin(s) collapsed" in refused
    gpaw = {"reference": "all-electron density with cores (GPAW)"}
    assert stored_flags(gpaw) == (None, None)
    assert stored_flags({"charges": [1.0]}) == (None, None)  # built by hand


# --- the study level: verdict, tables and figure -----------------------------------


def static_record(study_entry, bader, co_state):
    """A static of ``study_entry`` with Co in ``co_state`` and the ``bader`` dict."""
    symbols = [s.specie.symbol for s in study_entry.structure]
    co = [i for i, s in enumerate(symbols) if s == "Co"]
    return StaticRecord(
        config_id=study_entry.config_id,
        job_uuid=study_entry.config_id,
        energy_eV=study_entry.energy_eV,
        magmoms_muB=[0.0] * len(symbols),
        analysis={
            "redox": {
                "tm_oxidation_states": {str(i): co_state for i in co},
                "mean_oxidation_state": {"Co": float(co_state)},
                "o_hole_total_muB": 0.0,
                "o_o_pairs": [],
            },
            "bader": bader,
        },
    )


def bader_dict(charges, valence_only, refused=None):
    per = {
        symbol: {"mean": q, "min": q, "max": q}
        for symbol, q in zip(("Li", "Co", "O"), charges[:3], strict=True)
    }
    return {
        "reference": VALENCE_ONLY if valence_only else AECCAR,
        "valence_only": valence_only,
        "valence_only_reason": "valence density alone" if valence_only else None,
        "charges_refused": refused,
        "populations": [0.0, 8.0, 7.0, 7.0],
        "charges": None if refused else charges,
        "per_species_charge": {} if refused else per,
    }


def test_the_verdict_falls_back_to_moments_and_the_tables_say_why(
    study,  # noqa: F811
    tmp_path,
):
    by_id = {e.config_id: e for e in study.entries}
    all_electron = [0.85, 1.3, -1.07, -1.07]
    study.statics = [
        static_record(by_id["k0-0"], bader_dict(all_electron, False), 3),
        static_record(by_id["k1-0"], bader_dict([0.85, 1.3, -0.9, -0.9], True), 3),
        static_record(
            by_id["k2-0"], bader_dict([1.0, 1.3, -0.8, -0.8], True, "Li0 collapsed"), 4
        ),
    ]
    steps = redox_summary(study)
    assert [("bader" in step, "moments" in step) for step in steps] == [
        (False, True),
        (False, True),
    ]
    assert steps[0]["bader_excluded"].startswith("k1-0: valence density alone")
    assert "k2-0: Li0 collapsed" in steps[1]["bader_excluded"]
    assert steps[1]["moments"]["fraction_from_O"] == 0.0  # Co3+ -> Co4+
    # the same study with all-electron charges everywhere keeps the Bader estimate
    study.statics[1] = static_record(
        by_id["k1-0"], bader_dict([0.85, 1.3, -0.9, -0.9], False), 3
    )
    assert "bader" in redox_summary(study)[0]
    study.statics[1] = static_record(
        by_id["k1-0"], bader_dict([0.85, 1.3, -0.9, -0.9], True), 3
    )

    rows = delithiation_path(study)
    assert [row.get("bader_valence_only", False) for row in rows] == [
        False,
        True,
        True,
    ]
    assert "bader_charge" not in rows[2] and rows[2]["bader_refused"]
    text = text_of(lambda c: report.print_path(study, tmp_path / "s.png", c))
    assert "O -1.07" in text and "O -1.07*" not in text  # all-electron: unmarked
    assert "O -0.90*" in text and "Co +1.30*" in text
    assert "refused*" in text
    assert "* Bader basins of the valence density alone" in text
    assert "k2-0: Li0 collapsed" in text
    assert "excluded*" in text
    assert "the moments estimate stands alone" in text
    assert (tmp_path / "s-path.png").stat().st_size > 10_000
    caption = _valence_only_caption(rows)
    assert caption.startswith("open markers: valence-only Bader")
    assert "refused (collapsed basins) at x = 0.00" in caption


def test_print_analysis_of_li2o_says_valence_only_not_net_charges(li2o_analysis):
    text = text_of(lambda c: report.print_analysis(li2o_analysis, c))
    assert "Bader (valence density only): valence-only Bader charges refused" in text
    assert "populations (e) [0.0, 0.0, 8.0]" in text
    assert "Bader net charges" not in text
    assert "skipped bader_net_charges: valence-only Bader charges refused" in text


def test_path_figure_with_valence_only_rows(tmp_path):
    rows = [
        {"x": 1.0, "bader_charge": {"Co": 1.2, "O": -1.1}},
        {"x": 0.5, "bader_charge": {"Co": 1.3, "O": -0.9}, "bader_valence_only": True},
    ]
    path = plot_delithiation_path(rows, tmp_path / "path.png", "Li")
    assert path.stat().st_size > 10_000
    assert _valence_only_caption(rows[:1]) == ""
