"""Stored studies as pymatgen entries: InsertionElectrode, PhaseDiagram and MP2020.

The two studies are real oredox results (tests/data/studies/README.md): a CHGNet
LiCoO2 demo (4 voltage steps) and a Li2MnO3 study with CHGNet geometries and GPAW
PBE+U energies (3 steps).
"""

import gzip
import warnings
from pathlib import Path

import pytest
from pymatgen.apps.battery.insertion_battery import InsertionElectrode
from pymatgen.core import Composition, Element
from pymatgen.entries.compatibility import (
    CompatibilityError,
    MaterialsProject2020Compatibility,
)
from pymatgen.entries.computed_entries import ComputedEntry

from oredox.entries import (
    alkali_entry,
    apply_mp2020,
    entry_parameters,
    hull_candidate_ids,
    study_electrode,
    study_entries,
    study_phase_diagram,
)
from oredox.errors import OredoxInputError
from oredox.schemas import StudyDocument
from oredox.store import study_entries as study_entries_from_store
from oredox.structures.frameworks import o3_layered
from oredox.workflows.engines.vasp import VaspEngine

STUDIES = Path(__file__).parent / "data" / "studies"
CHGNET_DEMO = "licoo2_chgnet_demo"
GPAW_PAIR = "li2mno3_chgnet_gpaw"


def load_study(name: str) -> StudyDocument:
    return StudyDocument.model_validate_json(
        gzip.decompress((STUDIES / f"{name}.json.gz").read_bytes())
    )


@pytest.fixture(scope="module", params=[CHGNET_DEMO, GPAW_PAIR])
def study(request):
    return load_study(request.param)


def test_insertion_electrode_reproduces_the_stored_voltages(study):
    entries = study_entries(study)
    electrode = InsertionElectrode.from_entries(entries, alkali_entry(study))
    # one voltage pair per stored step, from high x (discharged) to low x
    pairs = sorted(electrode.voltage_pairs, key=lambda pair: -pair.frac_discharge)
    stored = sorted(study.voltage_steps, key=lambda step: -step.x_high)
    assert len(pairs) == len(stored) >= 3
    for pair, step in zip(pairs, stored, strict=True):
        assert pair.voltage == pytest.approx(step.voltage_V, abs=1e-6)
    assert electrode.get_average_voltage() == pytest.approx(
        study.average_voltage_V, abs=1e-6
    )
    stable = [entry.data["config_id"] for entry in electrode.stable_entries]
    assert stable == study.hull_config_ids  # both by increasing alkali content
    # the same from the helper, which keeps what the study kept off its hull out
    helper = study_electrode(study)
    assert [p.voltage for p in helper.voltage_pairs] == pytest.approx(
        [p.voltage for p in electrode.voltage_pairs]
    )


def test_phase_diagram_has_the_study_hull_as_its_stable_set(study):
    entries = study_entries(study, hull_candidates_only=True)
    metal = alkali_entry(study)
    diagram = study_phase_diagram(study)
    stable = {e.data["config_id"] for e in diagram.stable_entries if e in entries}
    assert stable == set(study.hull_config_ids)
    assert metal in diagram.stable_entries
    for entry in entries:  # per atom here, per formula unit in the study: the signs
        above_eV_per_atom = diagram.get_e_above_hull(entry)
        above_eV_per_fu = entry.data["e_above_hull_per_fu_eV"]
        assert (above_eV_per_atom > 1e-6) == (above_eV_per_fu > 1e-6)


def test_entries_are_elements_only_and_carry_their_identity():
    study = load_study(CHGNET_DEMO)
    assert any(
        getattr(site.specie, "oxi_state", None) for site in study.entries[0].structure
    )  # the stored structures carry oxidation states
    entries = study_entries(study)
    species = {site.specie for entry in entries for site in entry.structure}
    assert all(isinstance(specie, Element) for specie in species)
    first = entries[0]
    assert first.entry_id == f"{study.study_id}:k0-0"
    assert first.data["config_id"] == "k0-0" and first.data["x"] == 1.0
    assert first.data["study_id"] == study.study_id
    assert first.energy == pytest.approx(study.entries[0].energy_eV)
    assert first.parameters["engine"] == "chgnet"
    assert first.parameters["energy_scheme_id"] == study.energy_scheme_id
    # the x filter of the former oredox.store function, same entries from there
    half = study_entries_from_store(study, x_min=0.4, x_max=0.6)
    assert sorted(e.data["config_id"] for e in half) == ["k2-0", "k2-1"]


def test_chgnet_entries_already_carry_mp2020_and_are_not_corrected_twice():
    study = load_study(CHGNET_DEMO)
    entries, metal = study_entries(study), alkali_entry(study)
    params = entries[0].parameters  # LiCoO2: an oxide, with MP's U on Co
    assert params["run_type"] == "GGA+U" and params["is_hubbard"]
    assert params["hubbards"] == {"Co": 3.32, "Li": 0.0, "O": 0.0}
    assert metal.parameters["run_type"] == "GGA" and metal.parameters["hubbards"] == {}
    # CHGNet learned MP2020-corrected energies: no POTCAR, flagged, refused again
    assert params["potcar_symbols"] == []
    assert params["energies_include_mp2020"] is True
    assert params["mp2020_compatible"] is False
    assert "already include MP2020" in params["mp2020_problems"][0]
    with pytest.raises(OredoxInputError, match="already include MP2020"):
        apply_mp2020([*entries, metal])
    with pytest.raises(CompatibilityError, match="Incompatible POTCAR"):
        MaterialsProject2020Compatibility().process_entries(
            entries[:1], inplace=False, on_error="raise"
        )


def test_gpaw_energies_are_refused_by_mp2020():
    study = load_study(GPAW_PAIR)
    entries = study_entries(study)
    assert entries[0].parameters["potcar_symbols"] == []
    assert entries[0].parameters["mp2020_compatible"] is False
    assert "gpaw-data" in entries[0].parameters["mp2020_problems"][0]
    compatibility = MaterialsProject2020Compatibility()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert compatibility.process_entries(entries, inplace=False) == []
    with pytest.raises(CompatibilityError, match="Incompatible POTCAR"):
        compatibility.process_entries(entries[:1], inplace=False, on_error="raise")
    with pytest.raises(OredoxInputError, match="MP2020 corrections do not apply"):
        apply_mp2020(entries)


def test_vasp_parameters_with_mp_and_non_mp_u_values():
    structure = o3_layered("LiNiO2")
    composition = Composition("LiNiO2")
    mp = VaspEngine(preset="mp").energy_scheme(structure=structure)
    params = entry_parameters(mp, composition)
    assert params["run_type"] == "GGA+U"
    assert params["hubbards"] == {"Li": 0.0, "Ni": 6.2, "O": 0.0}
    assert params["potcar_symbols"] == ["PAW_PBE Li_sv", "PAW_PBE Ni_pv", "PAW_PBE O"]
    assert params["mp2020_compatible"], params["mp2020_problems"]
    compatibility = MaterialsProject2020Compatibility()
    good = ComputedEntry(composition, -20.0, parameters=params)
    assert compatibility.process_entry(good, inplace=False).correction == (
        pytest.approx(-2.541 - 2 * 0.687)
    )
    ltno = VaspEngine(preset="ltno-2022").energy_scheme(structure=structure)
    params = entry_parameters(ltno, composition)
    assert params["hubbards"]["Ni"] == 6.4
    assert not params["mp2020_compatible"]
    assert any("U(Ni) = 6.4 eV, MP uses 6.2" in p for p in params["mp2020_problems"])
    assert any("cutoff 600 eV" in p for p in params["mp2020_problems"])
    bad = ComputedEntry(composition, -20.0, parameters=params)
    # pymatgen alone: the entry silently disappears, or an error with on_error="raise"
    assert compatibility.process_entries([bad], inplace=False) == []
    with pytest.raises(CompatibilityError, match=r"Invalid U value of 6\.4 on Ni"):
        compatibility.process_entry(bad, inplace=False, on_error="raise")
    with pytest.raises(OredoxInputError, match=r"U\(Ni\) = 6\.4 eV"):
        apply_mp2020([bad])


def test_hull_candidates_leave_out_unconverged_and_flagged_entries():
    study = load_study(GPAW_PAIR)
    assert hull_candidate_ids(study) == {e.config_id for e in study.entries}
    study.entries[4].converged = False  # k2-0
    study.entries[5].framework_flags = ["TM migrated"]  # k2-1
    kept = study_entries(study, hull_candidates_only=True)
    assert {e.data["config_id"] for e in kept} == (
        {e.config_id for e in study.entries} - {"k2-0", "k2-1"}
    )
    study.entries[-1].converged = False  # the only x = 0 entry: the study used all
    assert hull_candidate_ids(study) == {e.config_id for e in study.entries}
