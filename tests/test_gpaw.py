"""The GPAW engine: real GPAW PBE+U calculations on a 4-atom LiCoO2 cell.

The statics run once per module (about a minute each on 2 cores, plane waves 400 eV:
enough for energies and densities, not for stresses, which no test here uses) and
feed every analysis; a tiny hull runs the whole flow with a few relaxation steps.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure
from pymatgen.electronic_structure.core import OrbitalType

from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme, scheme_id
from oredox.structures.frameworks import o3_layered
from oredox.workflows.dftu import custom_preset, initial_magmoms
from oredox.workflows.engines import get_engine
from oredox.workflows.engines.gpaw import (
    DENSITY_FILE,
    DOS_FILE,
    PROJECTIONS_FILE,
    STATIC_FILE,
    GpawEngine,
    GpawStaticTaskDoc,
    hubbard_setups,
)

FAST = {"ecut_eV": 400.0, "kpoint_density_per_A": 1.2}


def licoo2() -> Structure:
    """LiCoO2, rhombohedral cell (Li Co O2), low-spin starting moments."""
    return initial_magmoms(o3_layered("LiCoO2").get_primitive_structure(), {"Co": 1.0})


def rotated(structure: Structure, axis, angle_deg: float) -> Structure:
    """The same crystal turned rigidly in space (cell and atoms together)."""
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_rotvec(np.radians(angle_deg) * np.asarray(axis, float))
    matrix = rotation.as_matrix()
    lattice = Lattice(structure.lattice.matrix @ matrix.T)
    return Structure(
        lattice,
        structure.species,
        structure.frac_coords,
        site_properties=structure.site_properties,
    )


# ----------------------------------------------------------------- no GPAW needed


def test_hubbard_setups_come_from_the_shared_presets():
    assert hubbard_setups("mp")["Co"] == ":d,3.32"
    assert hubbard_setups("mp")["Ni"] == ":d,6.2"
    assert hubbard_setups("ltno-2022") == {"Ni": ":d,6.4"}
    user = custom_preset(
        "user",
        {"Ni": 6.0, "Ce": 5.0},
        hubbard_l={"Ni": 2, "Ce": 3},
        hubbard_j_eV={"Ni": 1.0, "Ce": 0.0},
    )
    # Dudarev: only U - J enters; L picks the shell
    assert hubbard_setups(user) == {"Ce": ":f,5", "Ni": ":d,5"}


def test_engine_options_are_checked():
    engine = get_engine("gpaw", "mp", options={"ecut_eV": 500})
    assert engine.calculator_kwargs()["mode"] == {"name": "pw", "ecut": 500.0}
    with pytest.raises(OredoxInputError, match="unknown gpaw engine option"):
        get_engine("gpaw", options={"encut": 500})
    with pytest.raises(OredoxInputError, match="unknown chgnet engine option"):
        get_engine("chgnet", options={"ecut_eV": 500})
    with pytest.raises(OredoxInputError, match="ecut_eV: Input should be greater"):
        get_engine("gpaw", options={"ecut_eV": 0})
    with pytest.raises(ValidationError, match="ecut_eV"):
        GpawEngine(ecut_eV=0)
    loose = get_engine("gpaw", options={"scf_eigenstates_eV2_per_electron": 1e-6})
    kwargs = loose.calculator_kwargs()
    assert kwargs["convergence"]["eigenstates"] == 1e-6
    # GPAW 26 reads the mixer by "name" (it drops an old-style "method")
    assert kwargs["mixer"]["name"] == "msr1"


def test_gpaw_mixer_settings_are_the_ones_gpaw_uses():
    pytest.importorskip("gpaw", reason="the gpaw extra is not installed")
    from gpaw.dft import Mixer

    mixer = Mixer.from_param(GpawEngine().calculator_kwargs()["mixer"]).todict()
    assert mixer["name"] == "msr1"
    assert (mixer["nmaxold"], mixer["weight"]) == (5, 50.0)


def test_scheme_records_the_numerical_settings_and_old_ids_stay():
    a = GpawEngine(kpoint_density_per_A=2.0).energy_scheme(0.05, licoo2())
    b = GpawEngine(kpoint_density_per_A=3.0).energy_scheme(0.05, licoo2())
    assert a.hubbard_u_eV == {"Co": 3.32, "Li": 0.0, "O": 0.0}
    assert a.encut_eV == 600
    assert a.parameters["kpoint_density_per_A"] == 2.0
    assert scheme_id(a) != scheme_id(b)  # two k-meshes never share a hull
    # schemes without parameters keep the ids stored before the field existed
    old = EnergyScheme(
        engine="chgnet",
        engine_version="0.4",
        functional="PBE",
        relax_fmax_eV_per_A=0.05,
        relax_cell=True,
    )
    legacy_json = old.model_dump_json(exclude={"parameters"})
    assert "parameters" not in legacy_json
    assert scheme_id(old) == hashlib.sha256(legacy_json.encode()).hexdigest()[:12]


# ------------------------------------------------------------------ GPAW statics


def folder_of(output: GpawStaticTaskDoc) -> Path:
    return Path(output.dir_name.split(":", 1)[-1])


def static_summary(output: GpawStaticTaskDoc) -> dict:
    return json.loads((folder_of(output) / STATIC_FILE).read_text())


def run_static(structure: Structure, folder, store: JobStore | None = None):
    """A GpawStaticMaker job run by jobflow in ``folder``: the job and its output."""
    maker = GpawEngine(**FAST).static_maker()
    job = maker.make(structure)
    responses = run_locally(
        job, store=store, root_dir=folder, create_folders=True, log=False
    )
    return job, responses[job.uuid][1].output


@pytest.fixture(scope="module")
def plain_static(tmp_path_factory):
    """The static of LiCoO2, stored in a memory JobStore: (job, document, store)."""
    pytest.importorskip("gpaw", reason="the gpaw extra is not installed")
    store = JobStore(MemoryStore())
    job, output = run_static(licoo2(), tmp_path_factory.mktemp("plain"), store)
    return job, output, store


@pytest.fixture(scope="module")
def statics(plain_static, tmp_path_factory):
    from oredox.analysis.electronic import analyse_outputs
    from oredox.workflows.engines import read_static as read_outputs

    turned = rotated(licoo2(), [1.0, 2.0, -0.5], 37.0)
    out = {}
    for label, output in (
        ("plain", plain_static[1]),
        ("rotated", run_static(turned, tmp_path_factory.mktemp("rotated"))[1]),
    ):
        outputs = read_outputs(output.dir_name)
        out[label] = (output, outputs, analyse_outputs(outputs))
    return out


@pytest.mark.gpaw
def test_static_task_document_is_atomate2s_ase_document(plain_static):
    """The stored output is a task document that agrees with the files it names."""
    from atomate2.ase.schemas import AseStructureTaskDoc
    from emmet.core.types.enums import TaskState

    from oredox.documents import task_document

    job, output, store = plain_static
    doc = task_document(store, job.uuid)
    assert isinstance(doc, GpawStaticTaskDoc) and isinstance(doc, AseStructureTaskDoc)
    summary = static_summary(doc)
    assert doc.output.energy == summary["energy_eV"] == output.output.energy
    assert doc.output.energy_per_atom == pytest.approx(doc.output.energy / 4)
    assert doc.entry.energy == doc.output.energy
    assert (doc.state, doc.ase_calculator_name, doc.output.n_steps) == (
        TaskState.SUCCESS,
        "GPAW",
        1,
    )
    assert (doc.formula_pretty, doc.nsites, doc.chemsys) == ("LiCoO2", 4, "Co-Li-O")
    assert doc.band_gap_eV == summary["band_gap_eV"] > 1.0
    assert doc.efermi_eV == summary["efermi_eV"]
    assert doc.magmoms_muB == summary["magmoms_muB"]
    assert doc.structure.site_properties["magmom"] == pytest.approx(
        doc.magmoms_muB, abs=1e-4
    )
    assert doc.calculator_parameters["setups"]["Co"] == ":d,3.32"
    assert doc.electrons["Co"] == {"Z": 27.0, "valence": 9.0}
    assert doc.input.structure.site_properties["magmom"] == [1.0, 0.0, 0.0, 0.0]
    for name in doc.files.values():
        assert (folder_of(doc) / name).stat().st_size > 0, name
    # R-3m LiCoO2: Co and Li sit on inversion centres (no force), the two O feel
    # opposite forces along c (Newton's third law: they sum to zero)
    forces = np.array(doc.output.forces)
    assert forces.shape == (4, 3)
    assert np.abs(forces.sum(axis=0)).max() < 1e-3
    assert np.abs(forces[:2]).max() < 1e-3
    # the engine's references (what a static record keeps) resolve in the store
    refs = GpawEngine().static_outputs(job)
    resolved = {key: ref.resolve(store) for key, ref in refs.items()}
    assert resolved["energy_eV"] == doc.output.energy
    assert resolved["band_gap_eV"] == doc.band_gap_eV
    assert resolved["dir_name"] == doc.dir_name
    assert resolved["structure"] == doc.structure


@pytest.mark.gpaw
def test_static_writes_every_file_the_analysis_reads(statics):
    output, _, result = statics["plain"]
    files = (STATIC_FILE, PROJECTIONS_FILE, DOS_FILE, DENSITY_FILE, "gpaw.txt")
    for name in files:
        assert (folder_of(output) / name).stat().st_size > 0, name
    summary = static_summary(output)
    # the SCF keeps the crystal's symmetry, the projections cover the whole zone
    assert summary["parameters"]["symmetry"]["tolerance"] == 1e-3
    assert summary["projections"]["zone"] == "full (time reversal only)"
    scf_log = (folder_of(output) / "gpaw.txt").read_text()
    ibz = int(re.search(r"Number of IBZ points: (\d+)", scf_log).group(1))
    assert summary["projections"]["k_points"] > ibz
    assert (folder_of(output) / "gpaw-bands.txt").exists()
    assert summary["parameters"]["setups"]["Co"] == ":d,3.32"
    # low-spin Co3+ d6: no moment, a band gap
    assert abs(summary["total_magnetization_muB"]) < 0.05
    assert output.band_gap_eV > 1.0
    assert output.structure.site_properties["magmom"][0] == pytest.approx(0, abs=0.05)
    # every analysis ran: nothing skipped
    assert result["skipped"] == {}
    for key in ("environments", "o2p", "o2p_dos", "bader", "projections", "redox"):
        assert key in result, key


@pytest.mark.gpaw
def test_dos_integrates_to_the_electron_count(statics):
    output, outputs, _ = statics["plain"]
    dos = outputs.dos
    electrons = static_summary(output)["electrons"]
    valence = sum(electrons[site.specie.symbol]["valence"] for site in dos.structure)
    assert valence == 22  # Li 1 + Co 9 + 2 O 6 (GPAW's setups)
    below = dos.energies <= dos.efermi
    total = sum(dos.densities.values())
    assert np.trapezoid(total[below], dos.energies[below]) == pytest.approx(
        valence, abs=0.02
    )
    # squared PAW projections (GPAW's PDOS) are not bounded by the sphere charge:
    # they hold the occupied states, with d weights above 1 (28 for 22 e measured)
    projected = 0.0
    for site in dos.structure:
        for by_spin in dos.get_site_spd_dos(site).values():
            density = sum(by_spin.densities.values())
            projected += np.trapezoid(density[below], dos.energies[below])
    assert 0.5 * valence < projected < 2 * valence
    # O: the filled 2s band (about 2 e) and most of a 2p6 shell (4.48 e measured:
    # the rest of the O 2p weight lies outside the PAW sphere)
    o_site = next(s for s in dos.structure if s.specie.symbol == "O")
    spd = dos.get_site_spd_dos(o_site)
    occupied = {
        shell: np.trapezoid(
            sum(spd[shell].densities.values())[below], dos.energies[below]
        )
        for shell in (OrbitalType.s, OrbitalType.p)
    }
    assert 1.5 < occupied[OrbitalType.s] < 2.1
    assert 3.5 < occupied[OrbitalType.p] < 6.0


@pytest.mark.gpaw
def test_bader_charges_sum_to_the_valence_charge(statics):
    output, outputs, result = statics["plain"]
    bader = result["bader"]
    electrons = static_summary(output)["electrons"]
    structure = outputs.structure
    cores = sum(
        electrons[s.specie.symbol]["Z"] - electrons[s.specie.symbol]["valence"]
        for s in structure
    )
    # the all-electron density holds the cores: populations minus cores are the
    # valence electrons, and the net charges add up to zero
    assert sum(bader["populations"]) - cores == pytest.approx(22, abs=0.02)
    assert sum(bader["charges"]) == pytest.approx(0, abs=0.02)
    charge = bader["per_species_charge"]
    assert 0.7 < charge["Li"]["mean"] < 1.0
    assert 1.0 < charge["Co"]["mean"] < 2.0
    assert -1.4 < charge["O"]["mean"] < -0.8
    # interpolation ripples of the all-electron density near Li: thousandths of e
    assert sum(m["electrons"] for m in bader["nonnuclear_maxima"]) < 0.01


@pytest.mark.gpaw
def test_rotated_crystal_gives_the_same_local_frame_projections(statics):
    _, _, plain = statics["plain"]
    _, _, turned = statics["rotated"]
    a = plain["projections"]["per_tm"]
    b = turned["projections"]["per_tm"]
    assert a.keys() == b.keys()
    for tm in a:
        for window in ("occupied", "empty"):
            for key in ("eg", "t2g", "o_sigma", "o_pi", "pi_mixing"):
                assert b[tm][window][key] == pytest.approx(
                    a[tm][window][key], abs=2e-3
                ), (tm, window, key)
    # LS d6 at the top of the valence band: t2g, not eg
    occupied = a["0"]["occupied"]
    assert occupied["t2g"] > 1.0
    assert occupied["eg"] < 0.1
    # and the densities and charges do not turn with the crystal either
    assert turned["bader"]["charges"] == pytest.approx(
        plain["bader"]["charges"], abs=0.01
    )
    assert turned["o2p"]["all_oxygen"]["band_centre_eV"] == pytest.approx(
        plain["o2p"]["all_oxygen"]["band_centre_eV"], abs=0.01
    )


# ------------------------------------------------------------------- a GPAW hull


@pytest.mark.gpaw
def test_a_gpaw_hull_runs_relaxations_statics_and_analysis(isolated_settings):
    """LiCoO2 -> CoO2 in the 4-atom cell: the whole flow, a few relaxation steps."""
    pytest.importorskip("gpaw", reason="the gpaw extra is not installed")
    from oredox.analysis.path import delithiation_path
    from oredox.settings import load_settings
    from oredox.store import get_job_store, get_study
    from oredox.workflows.hull_flow import (
        DelithiationHullMaker,
        RelaxSettings,
        StaticsSettings,
    )
    from oredox.workflows.screening import ScreeningSettings
    from oredox.workflows.study import run_hull_flow

    settings = load_settings(store="montydb")
    store = get_job_store(settings)
    maker = DelithiationHullMaker(
        # 600 eV: the cell relaxes (400 eV carries tens of GPa of Pulay stress)
        # metallic CoO2 on a coarse mesh sloshes for 140+ iterations at 0.05 eV
        engine=get_engine(
            "gpaw",
            options={
                "ecut_eV": 600.0,
                "kpoint_density_per_A": 1.2,
                "smearing_eV": 0.2,
                "scf_density_per_electron": 5e-4,
            },
        ),
        relax=RelaxSettings(fmax_eV_per_A=0.2, max_steps=3),
        screening=ScreeningSettings(relax_all=True),
        magmoms={"Co": 1.0},
        statics=StaticsSettings(projections=True),
    )
    host = o3_layered("LiCoO2").get_primitive_structure()
    flow = maker.make(host, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "O3 layered")
    study = run_hull_flow(flow, store, settings, "gpaw-hull", progress=False)

    assert study.energy_scheme.engine == "gpaw"
    assert study.energy_scheme.hubbard_u_eV == {"Co": 3.32, "Li": 0.0, "O": 0.0}
    assert study.energy_scheme.encut_eV == 600
    assert study.energy_scheme.parameters["kpoint_density_per_A"] == 1.2
    assert [entry.x for entry in study.entries] == [1.0, 0.0]
    assert study.voltage_steps and 2.0 < study.average_voltage_V < 7.0
    # bcc Li from GPAW: about -1.9 eV/atom against GPAW's reference energies
    assert -2.2 < study.alkali_reference_energy_per_atom_eV < -1.6
    assert {static.config_id for static in study.statics} == {"k0-0", "k1-0"}
    for static in study.statics:
        assert static.dir_name and static.energy_eV < 0
        assert static.analysis["skipped"] == {}
        assert static.analysis["projections"]["per_tm"]
    by_id = {static.config_id: static for static in study.statics}
    # CoO2: low-spin Co4+ (d5), one hole, about 1 muB on Co
    cobalt = [
        m
        for m, site in zip(
            by_id["k1-0"].magmoms_muB,
            next(e for e in study.entries if e.config_id == "k1-0").structure,
            strict=True,
        )
        if site.specie.symbol == "Co"
    ]
    assert 0.5 < abs(cobalt[0]) < 1.3
    # the static started from its relaxation's moments, not the configuration's
    relaxed = next(e for e in study.entries if e.config_id == "k1-0").structure
    log = (Path(by_id["k1-0"].dir_name.split(":", 1)[-1]) / "gpaw.txt").read_text()
    table = log.split("initial magnetic moments", 1)[1].split("Unit cell", 1)[0]
    start = [float(m) for m in re.findall(r",\s*(-?\d+\.\d+)\)", table)]
    final = relaxed.site_properties["final_magmom"]
    assert start == pytest.approx(final, abs=1e-3)
    assert start != pytest.approx(relaxed.site_properties["magmom"], abs=1e-3)
    rows = delithiation_path(study)
    assert [row["x"] for row in rows] == [1.0, 0.0]
    # oxidation empties Co t2g / O 2p states below E_F; Co gets more positive
    assert rows[1]["bader_charge"]["Co"] > rows[0]["bader_charge"]["Co"]
    assert all("t2g_occupied" in row for row in rows)
    assert get_study(store, study.study_id).study_id == study.study_id
