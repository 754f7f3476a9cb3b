"""The VASP path tested the atomate2 way: inputs checked, real outputs parsed.

The reference outputs are the real MP-style PBE+U static of ferromagnetic NiO recorded
by quacc (tests/data/vasp/recorded, PROVENANCE.md: U(Ni) = 6.2 eV, 520 eV, LORBIT 11);
they are copied into the job folder, never written by oredox. The reference inputs are
written by hand from oredox's "mp" preset (tests/data/vasp/NiO_mp_static/inputs).
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import RECORDED_VASP, copy_nio_static_reference
from jobflow import run_locally
from pymatgen.core import Structure
from pymatgen.io.vasp import Incar, Outcar

from oredox.errors import OredoxInputError
from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.workflows.dftu import (
    custom_preset,
    get_preset,
    initial_magmoms,
    initial_moment,
)
from oredox.workflows.engines import VaspEngine

HERE = Path(__file__).parent
NIO = RECORDED_VASP / "quacc_NiO_mp_static"
CHECKED = [
    "ENCUT",
    "ISPIN",
    "LDAU",
    "LDAUTYPE",
    "LDAUU",
    "LDAUL",
    "LDAUJ",
    "LMAXMIX",
    "LORBIT",
    "LAECHG",
    "LCHARG",
    "NSW",
    "ISMEAR",
    "NEDOS",
    "MAGMOM",
]


@pytest.fixture
def nio():
    structure = Structure.from_file(NIO / "POSCAR.gz")
    structure.add_oxidation_state_by_element({"Ni": 2, "O": -2})
    return initial_magmoms(structure)


@pytest.fixture
def reference_dir(tmp_path):
    copy_nio_static_reference(tmp_path / "refs")
    return tmp_path / "refs"


def test_mp_static_of_nio_inputs_checked_outputs_parsed(
    monkeypatch, reference_dir, nio, isolated_settings, tmp_path
):
    from atomate2.utils.testing.vasp import monkeypatch_vasp

    mock = next(monkeypatch_vasp(monkeypatch, reference_dir))
    mock(
        {"vasp static": "NiO_mp_static"},
        {
            "vasp static": {
                "incar_settings": CHECKED,
                "check_inputs": ["incar", "potcar", "poscar"],
            }
        },
    )
    store = get_job_store(load_settings())
    job = VaspEngine(preset="mp").static_maker().make(nio)
    responses = run_locally(
        job,
        store=store,
        create_folders=True,
        root_dir=tmp_path,
        ensure_success=True,
        log=False,
    )
    doc = responses[job.uuid][1].output
    assert doc.output.energy == pytest.approx(-4.52549, abs=1e-4)
    incar = doc.calcs_reversed[0].input.incar
    assert incar["LDAUU"] == [6.2, 0]
    assert incar["LDAUL"] == [2, 0]
    moments = [
        site["tot"] for site in doc.calcs_reversed[0].output.outcar["magnetization"]
    ]
    recorded = Outcar(NIO / "OUTCAR.gz")
    assert moments == pytest.approx([site["tot"] for site in recorded.magnetization])
    # ferromagnetic d8 Ni2+: two unpaired electrons per formula unit
    assert recorded.total_mag == pytest.approx(2.0, abs=0.01)
    assert moments[0] > 1.0  # the Ni carries most of it (PAW-sphere integral)
    # the DOS is parsed, projected on O 2p, and went to the data store
    from pymatgen.electronic_structure.core import OrbitalType

    dos = doc.vasp_objects["dos"]
    o_p = dos.get_element_spd_dos("O")[OrbitalType.p]
    assert np.trapezoid(sum(o_p.densities.values()), o_p.energies) > 3  # ~6 e in O 2p
    assert store.additional_stores["data"].count() >= 1
    stored = store.query_one({"uuid": job.uuid}, load=False)
    assert "blob_uuid" in str(stored["output"]["vasp_objects"])


def test_static_inputs_match_the_reference_file(tmp_path, nio):
    generator = VaspEngine(preset="mp").static_maker().input_set_generator
    inputs = generator.get_input_set(nio, potcar_spec=True)
    reference = Incar.from_file(HERE / "data/vasp/NiO_mp_static/inputs/INCAR")
    for key in CHECKED:
        assert inputs.incar[key] == reference[key], key
    assert inputs.incar["MAGMOM"] == [2.0, 0.0]  # high-spin Ni2+ d8; O2- closed shell
    assert generator.potcar_symbols == ["Ni_pv", "O"]


def test_ltno_preset_inputs():
    from oredox.structures.seeds import ltno_spread

    cell = initial_magmoms(ltno_spread(n_steps=2_000))
    engine = VaspEngine(preset="ltno-2022")
    generator = engine.relax_maker().input_set_generator
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheme = engine.energy_scheme(structure=cell)
    assert any("Ti" in str(w.message) for w in caught)  # d metal without a U, named
    inputs = generator.get_input_set(cell, potcar_spec=True)
    incar = inputs.incar
    assert incar["ENCUT"] == 600
    assert incar["EDIFF"] == 1e-5
    assert incar["EDIFFG"] == -0.02
    symbols = [el.symbol for el in cell.composition.elements]  # POSCAR order
    expected_u = {"Li": 0, "Ti": 0, "Ni": 6.4, "O": 0}
    assert incar["LDAUU"] == [expected_u[s] for s in inputs.poscar.site_symbols]
    assert incar["LDAUL"] == [2 if s == "Ni" else 0 for s in inputs.poscar.site_symbols]
    assert scheme.hubbard_u_eV == {s: expected_u[s] for s in symbols}
    # 1728 k-points per reciprocal atom (3x2x6 for 48 atoms in the study): 36
    # k-points for this 48-atom cell, met exactly by 4x3x3 (pymatgen's rounding
    # down gave 3x3x3, 1296)
    assert list(inputs.kpoints.kpts[0]) == [4, 3, 3]
    assert 36 * len(cell) == 1728
    written = inputs.poscar.structure  # MAGMOM follows the POSCAR's (sorted) order
    by_element = {
        (site.specie.symbol, moment)
        for site, moment in zip(written, incar["MAGMOM"], strict=True)
    }
    assert by_element == {("Li", 0.0), ("Ti", 0.0), ("Ni", 2.0), ("O", 0.0)}


def test_user_preset_keeps_every_u():
    preset = custom_preset("mine", {"Ni": 6.0, "Mn": 3.9, "Ru": 2.0})
    engine = VaspEngine(preset=preset)
    incar = engine.incar_settings()
    assert incar["LDAUU"]["O"] == {"Ni": 6.0, "Mn": 3.9, "Ru": 2.0}
    assert incar["LDAUL"]["O"] == {"Ni": 2, "Mn": 2, "Ru": 2}
    assert incar["ENCUT"] == get_preset("mp").encut_eV
    scheme = engine.energy_scheme()
    assert scheme.hubbard_u_eV == {"Ni": 6.0, "Mn": 3.9, "Ru": 2.0}
    with pytest.raises(OredoxInputError, match="not an element"):
        custom_preset("bad", {"Xx": 1.0})
    with pytest.raises(OredoxInputError, match="unknown DFT\\+U preset"):
        get_preset("hse")


def test_initial_moments_by_hand():
    from pymatgen.core import Element, Species

    # 3d: high spin from the d count
    assert initial_moment(Species("Ni", 2)) == 2.0  # d8
    assert initial_moment(Species("Mn", 3)) == 4.0  # d4, Jahn-Teller
    assert initial_moment(Species("Fe", 3)) == 5.0  # d5
    assert initial_moment(Species("Mn", 4)) == 3.0  # d3
    # ... except the late 3d ions that are low spin in oxides
    assert initial_moment(Species("Co", 3)) == 0.6  # t2g6 (LiCoO2), MP's start
    assert initial_moment(Species("Co", 4)) == 1.0  # t2g5 (CoO2)
    assert initial_moment(Species("Ni", 3)) == 1.0  # t2g6 eg1 (LiNiO2)
    assert initial_moment(Species("Ni", 4)) == 0.6  # t2g6 (NiO2)
    assert initial_moment(Species("Ti", 4)) == 0.0  # d0
    # 4d/5d: low spin, t2g first (octahedral)
    assert initial_moment(Species("Ru", 4)) == 2.0  # t2g4
    assert initial_moment(Species("Ru", 5)) == 3.0  # t2g3
    assert initial_moment(Species("Ir", 4)) == 1.0  # t2g5
    assert initial_moment(Species("Rh", 3)) == 0.0  # t2g6
    assert initial_moment(Species("Nb", 5)) == 0.0  # d0
    # closed-shell s and p ions, and the alkali metal: 0
    for species in (Species("Li", 1), Species("Na", 1), Species("O", -2)):
        assert initial_moment(species) == 0.0
    assert initial_moment(Species("F", -1)) == 0.0
    assert initial_moment(Element("Li")) == 0.0
    # a d metal of unknown valence: MP's 0.6
    assert initial_moment(Element("Ni")) == 0.6


def test_o_hole_search_is_an_explicit_override():
    from oredox.structures.frameworks import o3_layered

    cell = o3_layered("LiNiO2")
    plain = initial_magmoms(cell)
    holes = initial_magmoms(cell, {"O": 0.6})
    by_element = {}
    for site, a, b in zip(
        cell,
        plain.site_properties["magmom"],
        holes.site_properties["magmom"],
        strict=True,
    ):
        by_element[site.specie.symbol] = (a, b)
    assert by_element == {"Li": (0.0, 0.0), "Ni": (1.0, 1.0), "O": (0.0, 0.6)}


def test_missing_vasp_command_is_a_clear_error(monkeypatch):
    from atomate2 import SETTINGS

    monkeypatch.setattr(SETTINGS, "VASP_CMD", "no_such_vasp_binary")
    with pytest.raises(OredoxInputError, match="not on this machine"):
        VaspEngine().check_runnable()
