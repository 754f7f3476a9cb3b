"""Documents users can rely on: task documents behind a study, the documented schema.

- The static of a study is found in the store as its engine's task document: emmet's
  ``TaskDoc`` for VASP (atomate2's ``MPGGAStaticMaker`` on real recorded NiO outputs),
  ``GpawStaticTaskDoc`` for GPAW (rebuilt from the folder of a static stored before
  GPAW statics had one), atomate2's ``ForceFieldTaskDocument`` for CHGNet.
- docs/schema.md is what scripts/schema_docs.py writes from the models.
- ``oredox query ID --json`` prints structures only with ``--structures``.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import sys
from pathlib import Path

import pytest
from jobflow import Flow, JobStore, job, run_locally
from maggma.stores import MemoryStore
from pymatgen.core import Lattice, Structure

from oredox.cli import main
from oredox.documents import static_task_document, task_document
from oredox.errors import OredoxInputError
from oredox.schemas import (
    ConfigurationEntry,
    EnergyScheme,
    StaticRecord,
    StudyDocument,
    VoltageStepDoc,
)
from oredox.settings import load_settings
from oredox.store import STUDY_JOB_NAME, get_job_store, get_study

HERE = Path(__file__).parent
DATA = HERE / "data" / "documents"
# the recorded NiO static (quacc), kept once for every test: tests/data/vasp/recorded
NIO_RUN = HERE / "data" / "vasp" / "recorded" / "quacc_NiO_mp_static"
ROOT = HERE.parent
STUDY_ID = "5ca1ab1e0123456789abcdef01234567"


def run_cli(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["oredox", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def nio_study(static_uuid: str, energy_eV: float, dir_name: str) -> StudyDocument:
    """A one-entry study of the recorded NiO whose static record names the static."""
    nio = Structure.from_file(NIO_RUN / "CONTCAR.gz")
    scheme = EnergyScheme(
        engine="vasp",
        engine_version="6.4.1",
        functional="PBE+U",
        hubbard_u_eV={"Ni": 6.2, "O": 0.0},
        potcars=["Ni_pv", "O"],
        encut_eV=520.0,
        relax_fmax_eV_per_A=0.05,
        relax_cell=True,
    )
    entry = ConfigurationEntry(
        config_id="k0-0",
        x=0.0,
        n_alkali=0,
        vacancies=[],
        multiplicity=1,
        energy_eV=energy_eV,
        energy_per_fu_eV=energy_eV,
        formation_energy_per_fu_eV=0.0,
        e_above_hull_per_fu_eV=0.0,
        on_hull=True,
        converged=True,
        structure=nio,
    )
    return StudyDocument(
        study_id=STUDY_ID,
        name="NiO static",
        host_formula="NiO",
        framework="rock salt",
        alkali="Li",
        host_structure=nio,
        supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        formula_units=1,
        n_alkali_sites=0,
        space_group="Fm-3m",
        n_symmetry_operations=1,
        configurations_per_x={"0.0": 1},
        energy_scheme=scheme,
        alkali_reference_energy_per_atom_eV=-1.9246,
        entries=[entry],
        hull_config_ids=["k0-0"],
        voltage_steps=[VoltageStepDoc(x_low=0.0, x_high=0.0, voltage_V=0.0)],
        average_voltage_V=0.0,
        statics=[
            StaticRecord(
                config_id="k0-0",
                job_uuid=static_uuid,
                dir_name=dir_name,
                energy_eV=energy_eV,
            )
        ],
    )


@pytest.fixture
def vasp_study(monkeypatch, isolated_settings, tmp_path):
    """atomate2's MP static of NiO played back from the recorded run, then a study
    whose static record names it, both in the embedded store; (store, static uuid)."""
    from atomate2.utils.testing.vasp import monkeypatch_vasp

    from oredox.workflows.dftu import initial_magmoms
    from oredox.workflows.engines import VaspEngine

    reference = tmp_path / "refs" / "NiO_mp_static"
    shutil.copytree(NIO_RUN, reference / "outputs")
    patches = monkeypatch_vasp(monkeypatch, tmp_path / "refs")
    mock = next(patches)
    mock({"static NiO": "NiO_mp_static"}, {"static NiO": {"check_inputs": []}})

    nio = Structure.from_file(reference / "outputs" / "POSCAR.gz")
    nio.add_oxidation_state_by_element({"Ni": 2, "O": -2})
    static = VaspEngine(preset="mp").static_maker().make(initial_magmoms(nio))
    static.name = "static NiO"
    study = job(nio_study, name=STUDY_JOB_NAME)(
        static.uuid, static.output.output.energy, static.output.dir_name
    )
    store = get_job_store(load_settings())
    run_locally(
        Flow([static, study]),
        store=store,
        root_dir=tmp_path / "runs",
        create_folders=True,
        ensure_success=True,
        raise_immediately=True,
        log=False,
    )
    yield store, static.uuid
    next(patches, None)  # atomate2's clean-up: its reference table emptied


# ------------------------------------------------------------- task documents


def test_a_vasp_static_of_a_study_is_emmets_taskdoc(vasp_study):
    from emmet.core.tasks import TaskDoc

    store, uuid = vasp_study
    study = get_study(store, STUDY_ID[:8])
    doc = static_task_document(store, study, "k0-0")
    assert isinstance(doc, TaskDoc)
    # the recorded run: E = -4.52549 eV, Ni_pv/O, U(Ni) 6.2 eV, ferromagnetic NiO
    assert doc.output.energy == pytest.approx(-4.52549, abs=1e-5)
    assert doc.output.energy == study.statics[0].energy_eV
    assert doc.calcs_reversed[0].input.potcar == ["Ni_pv", "O"]
    assert doc.input.incar["LDAUU"] == [6.2, 0]
    assert doc.formula_pretty == "NiO"
    assert doc.dir_name == study.statics[0].dir_name
    assert task_document(store, uuid).output.energy == doc.output.energy


def test_a_study_without_that_static_says_which_it_has(vasp_study):
    store, _ = vasp_study
    study = get_study(store, STUDY_ID)
    message = r"no static of 'k1-0' \(statics: k0-0\)"
    with pytest.raises(OredoxInputError, match=message):
        static_task_document(store, study, "k1-0")


def test_a_gpaw_static_stored_as_a_plain_dict_is_rebuilt_from_its_folder(tmp_path):
    """Statics stored before GPAW had a task document: the folder's summary."""
    from atomate2.ase.schemas import AseStructureTaskDoc

    from oredox.workflows.engines.gpaw_files import GpawStaticTaskDoc

    folder = tmp_path / "gpaw-static"
    shutil.copytree(DATA / "gpaw_Li2MnO3_static", folder)
    summary = json.loads((folder / "gpaw_static.json").read_text())

    @job
    def old_gpaw_static():
        # the keys GpawStaticMaker returned before its task document
        return {
            "dir_name": f"somehost:{folder}",
            "energy_eV": summary["energy_eV"],
            "band_gap_eV": summary["band_gap_eV"],
            "efermi_eV": summary["efermi_eV"],
            "structure": Structure.from_dict(summary["structure"]),
            "parameters": summary["parameters"],
        }

    store = JobStore(MemoryStore())
    static = old_gpaw_static()
    run_locally(static, store=store, root_dir=tmp_path, log=False)
    doc = task_document(store, static.uuid)
    assert isinstance(doc, GpawStaticTaskDoc) and isinstance(doc, AseStructureTaskDoc)
    # GPAW's own log of that SCF: "Extrapolated: -53.448143", "Fermi level: 1.773"
    log = (folder / "gpaw.txt").read_text()
    energy_eV = float(re.search(r"Extrapolated:\s+(-?\d+\.\d+)", log).group(1))
    efermi_eV = float(re.search(r"Fermi level:\s+(-?\d+\.\d+)", log).group(1))
    assert energy_eV == -53.448143
    assert doc.output.energy == pytest.approx(energy_eV, abs=1e-6)
    assert doc.efermi_eV == pytest.approx(efermi_eV, abs=1e-3)
    assert doc.output.energy_per_atom == pytest.approx(energy_eV / 10, abs=1e-6)
    assert (doc.formula_pretty, doc.nsites) == ("LiMnO3", 10)
    assert doc.electrons["Mn"] == {"Z": 25.0, "valence": 15.0}
    assert doc.total_magnetization_muB == pytest.approx(4.0, abs=0.01)
    assert doc.calculator_parameters["setups"]["Mn"] == ":d,3.9"
    assert doc.output.forces is None  # not in summaries of that time
    assert doc.files["density"] == "density_ae.vasp"


def test_outputs_that_are_no_task_document_are_refused(tmp_path):
    @job
    def plain_number():
        return 4.2

    store = JobStore(MemoryStore())
    number = plain_number()
    run_locally(number, store=store, root_dir=tmp_path, log=False)
    with pytest.raises(OredoxInputError, match="stored a float, not a task document"):
        task_document(store, number.uuid)
    with pytest.raises(OredoxInputError, match="no job 'nope' in the store"):
        task_document(store, "nope")


@pytest.mark.slow
def test_a_chgnet_relaxation_is_atomate2s_force_field_document(tmp_path):
    from atomate2.forcefields.schemas import ForceFieldTaskDocument

    from oredox.workflows.engines.chgnet import ChgnetEngine

    lithium = Structure(Lattice.cubic(3.44), ["Li", "Li"], [[0, 0, 0], [0.5] * 3])
    relax = ChgnetEngine().relax_maker(fmax=0.1, steps=5).make(lithium)
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    run_locally(relax, store=store, root_dir=tmp_path, log=False)
    doc = task_document(store, relax.uuid)
    assert isinstance(doc, ForceFieldTaskDocument)
    assert "CHGNet" in doc.forcefield_name
    # bcc Li in MPtrj's PBE energies: about -1.9 eV/atom
    assert -2.1 < doc.output.energy_per_atom < -1.7


# ------------------------------------------------------------ the documented schema


def test_every_study_field_is_described():
    for model in (
        StudyDocument,
        ConfigurationEntry,
        StaticRecord,
        VoltageStepDoc,
        EnergyScheme,
    ):
        bare = [name for name, f in model.model_fields.items() if not f.description]
        assert not bare, f"{model.__name__}: {bare}"


def test_schema_docs_are_what_the_script_writes(tmp_path, monkeypatch):
    script = runpy.run_path(str(ROOT / "scripts" / "schema_docs.py"))
    text = script["render"]()
    docs = (ROOT / "docs" / "schema.md").read_text()
    assert docs == text, "docs/schema.md is stale: run python scripts/schema_docs.py"
    for name in StudyDocument.model_fields:
        assert f"| `{name}` |" in docs
    assert "| `formula_units` | number | required |" in docs
    # the check mode catches a stale page
    stale = tmp_path / "schema.md"
    stale.write_text(text.replace("Alkali atoms in the supercell", "Alkali atoms"))
    main_globals = script["main"].__globals__
    monkeypatch.setitem(main_globals, "DOCS_FILE", stale)
    assert script["main"](["--check"]) == 1
    stale.write_text(text)
    assert script["main"](["--check"]) == 0


def test_stored_integer_formula_units_still_validate():
    study = nio_study("uuid", -4.5, "host:/x").model_dump(mode="json")
    study.pop("formula_unit")
    study["formula_units"] = 4  # as documents stored before the field was a float
    back = StudyDocument.model_validate(study)
    assert back.formula_units == 4.0 and back.formula_unit == ""


# --------------------------------------------------------------- oredox query --json


# (no "json" in this test's name: atomate2's fake VASP reads a reference path that
# contains "json" as a JSON file, and pytest's tmp_path holds the test's name)
def test_query_prints_structures_only_when_asked(vasp_study, monkeypatch, capsys):
    assert run_cli(monkeypatch, "query", STUDY_ID[:10], "--json") == 0
    plain = json.loads(capsys.readouterr().out)
    assert "host_structure" not in plain
    assert all("structure" not in entry for entry in plain["entries"])
    assert plain["statics"][0]["energy_eV"] == pytest.approx(-4.52549, abs=1e-5)

    assert run_cli(monkeypatch, "query", STUDY_ID[:10], "--json", "--structures") == 0
    full = json.loads(capsys.readouterr().out)
    nio = Structure.from_file(NIO_RUN / "CONTCAR.gz")
    assert Structure.from_dict(full["host_structure"]) == nio
    assert Structure.from_dict(full["entries"][0]["structure"]) == nio
    # the rest is today's output, unchanged
    full.pop("host_structure")
    full["entries"][0].pop("structure")
    assert full == plain


@pytest.mark.parametrize(
    "args",
    [
        ["query", STUDY_ID, "--structures"],
        ["query", "--json", "--structures"],
    ],
)
def test_structures_without_one_study_json_is_refused(
    isolated_settings, monkeypatch, capsys, args
):
    assert run_cli(monkeypatch, *args) == 2
    err = capsys.readouterr().err
    assert "--structures goes with --json and a study id" in " ".join(err.split())
    assert "Traceback" not in err
