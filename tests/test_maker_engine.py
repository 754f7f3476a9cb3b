"""A user's own atomate2 makers as the engine (MakerEngine).

The makers below stand for a user's: subclasses of atomate2 makers defined at the
top level of an importable module, as the engine needs.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import pytest
from atomate2.forcefields.jobs import ForceFieldRelaxMaker, ForceFieldStaticMaker
from atomate2.vasp.jobs.mp import MPGGARelaxMaker, MPMetaGGAStaticMaker
from atomate2.vasp.sets.base import VaspInputGenerator
from jobflow import Flow
from monty.json import MontyDecoder, MontyEncoder
from pymatgen.io.vasp import Incar
from pymatgen.io.vasp.sets import MPRelaxSet
from test_vasp_flow import small_study_args

from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme, check_single_scheme
from oredox.settings import load_settings
from oredox.store import get_job_store, get_study
from oredox.structures.frameworks import o3_layered
from oredox.workflows.demo import demo_template
from oredox.workflows.dftu import initial_magmoms
from oredox.workflows.engines import (
    ChgnetEngine,
    MakerEngine,
    VaspEngine,
    get_engine,
)
from oredox.workflows.engines.pair import PairRelaxMaker
from oredox.workflows.study import dry_run, run_study, write_inputs
from oredox.workflows.study_document import Relaxation, build_study_document

RECORDED_NIO = "tests/data/vasp/recorded/quacc_NiO_mp_static"


@dataclass
class FixedCellChgnetRelaxMaker(ForceFieldRelaxMaker):
    """A user's CHGNet relaxation: ions only, in the starting cell, to 0.1 eV/A."""

    name: str = "fixed-cell chgnet relax"
    force_field_name: str = "CHGNet"
    relax_cell: bool = False
    steps: int = 300
    relax_kwargs: dict = field(default_factory=lambda: {"fmax": 0.1})


@dataclass
class TightMPGGARelaxMaker(MPGGARelaxMaker):
    """A user's PBE+U relaxation: MP's set, forces below 0.03 eV/A."""

    name: str = "tight MP GGA relax"
    input_set_generator: VaspInputGenerator = field(
        default_factory=lambda: MPRelaxSet(
            force_gamma=True, user_incar_settings={"EDIFFG": -0.03}
        )
    )


def licoo2_primitive():
    """Rhombohedral LiCoO2, 4 atoms."""
    return initial_magmoms(o3_layered("LiCoO2")).get_primitive_structure()


def r2scan_engine(**kwargs) -> MakerEngine:
    return MakerEngine(
        relax=TightMPGGARelaxMaker(**kwargs), static=MPMetaGGAStaticMaker()
    )


@pytest.mark.slow
def test_a_user_chgnet_maker_runs_the_hull_flow_and_names_itself(tmp_path):
    template = demo_template("chgnet", "LiCoO2", supercell=[2, 1, 1], primitive=True)
    settings = load_settings(work_dir=tmp_path / "work", store="montydb")
    engine = MakerEngine(relax=FixedCellChgnetRelaxMaker())
    assert engine.label.startswith("FixedCellChgnetRelaxMaker@")
    # the maker runs as given: its 0.1 eV/A, not the template's 0.05
    with pytest.warns(UserWarning, match="below 0.1 eV/A, not the study's 0.05"):
        assert engine.relax_maker(template.relax.fmax_eV_per_A) is engine.relax
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "relax maker", UserWarning)
        study = run_study(template, engine=engine, settings=settings, progress=False)

    scheme = study.energy_scheme
    assert scheme.engine == "test_maker_engine.FixedCellChgnetRelaxMaker"
    assert scheme.model.startswith("CHGNet (chgnet ")
    assert scheme.relax_fmax_eV_per_A == 0.1 and scheme.relax_cell is False
    stored = get_study(get_job_store(settings), study.study_id)
    assert stored.energy_scheme == scheme
    # x = 1, 1/2, 0 of Li2Co2O4, all converged, in the host's cell (relax_cell=False)
    host_volume = study.host_structure.volume
    assert [e.x for e in study.entries] == [1.0, 0.5, 0.0]
    for entry in study.entries:
        assert entry.converged
        assert entry.structure.volume == pytest.approx(host_volume, rel=1e-9)
    # voltage from the two end members and the Li metal energy, by hand (2 f.u.)
    energy = {e.x: e.energy_eV / 2 for e in study.entries}
    mu = study.alkali_reference_energy_per_atom_eV
    assert study.average_voltage_V == pytest.approx(-(energy[1.0] - energy[0.0] - mu))
    assert 2.5 < study.average_voltage_V < 4.5
    # never on one hull with the stock CHGNet engine's energies
    with pytest.raises(OredoxInputError, match="another energy scheme"):
        check_single_scheme(
            {"a": scheme, "b": scheme, "c": ChgnetEngine().energy_scheme(0.05)}
        )


def test_the_engine_and_its_flow_round_trip_through_json():
    engine = MakerEngine(relax=FixedCellChgnetRelaxMaker())
    data = json.loads(json.dumps(engine.as_dict()))
    back = MontyDecoder().process_decoded(data)
    assert isinstance(back, MakerEngine)
    assert type(back.relax) is FixedCellChgnetRelaxMaker
    assert back.relax.relax_kwargs == {"fmax": 0.1} and back.relax.relax_cell is False
    assert back.as_dict() == engine.as_dict()
    # the label (recorded by a run, checked on resume) follows the settings
    assert back.label == engine.label
    looser = FixedCellChgnetRelaxMaker(relax_kwargs={"fmax": 0.2})
    assert MakerEngine(relax=looser).label != engine.label
    # the whole hull flow, as a journal or a queue stores it
    template = demo_template("chgnet", "LiCoO2", supercell=[2, 1, 1], primitive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        flow = template.flow(engine=engine)
    decoded = Flow.from_dict(json.loads(json.dumps(flow.as_dict(), cls=MontyEncoder)))
    host_relax, screen = decoded.jobs
    assert type(host_relax.maker) is FixedCellChgnetRelaxMaker
    hull_maker = screen.function_kwargs["hull_maker"]
    assert type(hull_maker.engine.relax) is FixedCellChgnetRelaxMaker


def test_a_vasp_user_maker_derives_an_r2scan_scheme_without_vasp():
    host = licoo2_primitive()
    engine = r2scan_engine()
    assert engine.label.startswith("TightMPGGARelaxMaker+MPMetaGGAStaticMaker@")
    scheme = engine.energy_scheme(0.03, host)
    assert scheme.engine == (
        "test_maker_engine.TightMPGGARelaxMaker"
        "+atomate2.vasp.jobs.mp.MPMetaGGAStaticMaker"
    )
    # energies: r2SCAN statics without U (MPScanStaticSet), PBE_54 POTCARs, 680 eV
    assert scheme.functional == "r2SCAN, geometry from PBE+U (Dudarev)"
    assert scheme.hubbard_u_eV is None
    # the r2SCAN static starts from the PBE+U relaxation's converged moments
    assert engine.relax_maker(0.03, 99).relaxed_moments
    assert scheme.potcars == ["Co", "Li_sv", "O"]
    assert scheme.encut_eV == 680.0
    assert scheme.parameters["potcar_functional"] == "PBE_54"
    # geometry: MP's PBE+U relaxation with the user's EDIFFG
    assert scheme.relax_fmax_eV_per_A == 0.03 and scheme.relax_cell is True
    relax = scheme.parameters["relax_scheme"]
    assert relax["hubbard_u_eV"] == {"Co": 3.32, "Li": 0.0, "O": 0.0}
    assert relax["encut_eV"] == 520.0

    # the relaxation alone is another scheme: PBE+U, MP's U for Co
    pbe_u = MakerEngine(relax=TightMPGGARelaxMaker()).energy_scheme(0.03, host)
    assert pbe_u.functional == "PBE+U (Dudarev)"
    assert pbe_u.hubbard_u_eV["Co"] == 3.32 and pbe_u.encut_eV == 520.0
    with pytest.raises(OredoxInputError, match="another energy scheme"):
        check_single_scheme({"a": scheme, "b": scheme, "c": pbe_u})
    # no VASP command: refused before anything runs
    missing = r2scan_engine(run_vasp_kwargs={"vasp_cmd": "no-such-vasp_std"})
    with pytest.raises(OredoxInputError, match=r"no-such-vasp_std.*not on this"):
        missing.check_runnable()


def test_a_vasp_user_maker_writes_its_own_inputs(tmp_path):
    host = licoo2_primitive()
    engine = r2scan_engine()
    with pytest.warns(UserWarning, match="below 0.03 eV/A, not the study's 0.05"):
        relax_maker = engine.relax_maker(0.05, 200)
    assert isinstance(relax_maker, PairRelaxMaker)
    flow = relax_maker.make(host)
    relax, _start, static, _converged = flow.jobs
    assert type(relax.maker) is TightMPGGARelaxMaker
    assert type(static.maker) is MPMetaGGAStaticMaker
    outputs = engine.relax_outputs(flow)
    assert outputs["energy_eV"].uuid == static.uuid  # the r2SCAN energy

    folder = write_inputs(relax_maker, host, tmp_path / "k0-0")
    relax_incar = Incar.from_file(folder / "relax" / "INCAR")
    static_incar = Incar.from_file(folder / "static" / "INCAR")
    symbols = (folder / "relax" / "POSCAR").read_text().split("\n")[5].split()
    assert symbols == ["Li", "Co", "O"]
    assert relax_incar["LDAUU"] == [0, 3.32, 0] and relax_incar["EDIFFG"] == -0.03
    assert relax_incar["ISIF"] == 3 and relax_incar["ENCUT"] == 520
    assert static_incar["METAGGA"].lower() == "r2scan" and static_incar["NSW"] == 0
    assert "LDAUU" not in static_incar and static_incar["ENCUT"] == 680
    spec = (folder / "static" / "POTCAR.spec").read_text().split()
    assert spec == ["Li_sv", "Co", "O"]


def test_dry_run_of_a_template_with_a_maker_engine(tmp_path):
    template = demo_template("chgnet", "LiCoO2", supercell=[2, 1, 1], primitive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        folders = dry_run(template, tmp_path, engine=r2scan_engine())
    # 3 configurations and the Li metal; each a relax then its static
    assert [f.name for f in folders] == ["k0-0", "k1-0", "k2-0", "reference-Li"]
    for folder in folders:
        assert Incar.from_file(folder / "static" / "INCAR")["METAGGA"]
    record = json.loads((tmp_path / "screening.json").read_text())
    assert record["engine"] == r2scan_engine().label


def test_maker_entries_never_share_a_hull_with_the_vasp_engines():
    args = small_study_args()
    host = args["host"].structure
    mine = MakerEngine(relax=TightMPGGARelaxMaker()).energy_scheme(0.03, host)
    oredox_vasp = VaspEngine(preset="mp").energy_scheme(0.03, host)
    relaxations = [
        Relaxation(**(r.__dict__ | {"energy_scheme": mine}))
        for r in args["relaxations"]
    ]
    relaxations[2] = Relaxation(
        **(relaxations[2].__dict__ | {"energy_scheme": oredox_vasp})
    )
    reference = Relaxation(
        **(args["alkali_reference"].__dict__ | {"energy_scheme": mine})
    )
    with pytest.raises(OredoxInputError, match=r"k2-0 \(engine,"):
        build_study_document.original(
            **(args | {"relaxations": relaxations, "alkali_reference": reference})
        )
    # even oredox's own VASP relaxation, brought as a maker, is another engine
    brought = MakerEngine(relax=VaspEngine(preset="mp").relax_maker(0.03, 99))
    scheme = brought.energy_scheme(0.03, host)
    assert scheme.hubbard_u_eV["Co"] == oredox_vasp.hubbard_u_eV["Co"] == 3.32
    assert scheme.engine == "atomate2.vasp.jobs.mp.MPGGARelaxMaker"
    with pytest.raises(OredoxInputError, match="another energy scheme"):
        check_single_scheme({"a": scheme, "b": scheme, "c": oredox_vasp})


def test_relax_energies_with_statics_for_the_analysis_only():
    host = licoo2_primitive()
    engine = MakerEngine(
        relax=TightMPGGARelaxMaker(), static=MPMetaGGAStaticMaker(), energies="relax"
    )
    assert engine.label.startswith("TightMPGGARelaxMaker@")
    assert engine.converged_value == "successful"  # emmet's task state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert engine.relax_maker(0.03, 99) is engine.relax
    assert engine.static_maker() is engine.static
    static_job = engine.static_maker().make(host)
    outputs = engine.static_outputs(static_job)
    assert outputs["energy_eV"].uuid == static_job.uuid
    assert set(outputs) == {
        "dir_name",
        "energy_eV",
        "band_gap_eV",
        "structure",
        "lorbit",
    }
    with pytest.warns(UserWarning, match="analysis describes another functional"):
        scheme = engine.energy_scheme(0.03, host)
    assert scheme.functional == "PBE+U (Dudarev)"
    # its statics are read like the VASP engine's (a recorded NiO static)
    assert engine.reads_static(RECORDED_NIO)
    outputs = engine.read_static(RECORDED_NIO)
    assert outputs.moments_muB == pytest.approx([1.122, 0.903], abs=1e-3)


def test_an_explicit_scheme_keeps_the_makers_name():
    given = EnergyScheme(
        engine="vasp",
        engine_version="6.4.1",
        functional="PBE+U",
        relax_fmax_eV_per_A=0.1,
        relax_cell=False,
    )
    engine = MakerEngine(relax=FixedCellChgnetRelaxMaker(), scheme=given)
    scheme = engine.energy_scheme(0.1, None)
    assert scheme.functional == "PBE+U" and scheme.engine_version == "6.4.1"
    assert scheme.engine == "test_maker_engine.FixedCellChgnetRelaxMaker"


def test_get_engine_returns_an_engine_object_unchanged():
    engine = MakerEngine(relax=FixedCellChgnetRelaxMaker())
    assert get_engine(engine) is engine
    with pytest.raises(OredoxInputError, match="already built: options"):
        get_engine(engine, options={"ecut_eV": 500})


def test_bad_makers_are_refused_with_what_to_do():
    chgnet = ForceFieldRelaxMaker(force_field_name="CHGNet")
    cases = [
        ({"relax": "MPGGARelaxMaker"}, "needs jobflow Makers, got str"),
        ({"relax": MPMetaGGAStaticMaker()}, "does not relax"),
        ({"relax": ForceFieldStaticMaker(force_field_name="CHGNet")}, "not relax"),
        ({"relax": MPGGARelaxMaker()}, "energy change.*'EDIFFG': -0.05"),
        (
            {"relax": chgnet, "static": ForceFieldStaticMaker()},
            "static maker .*static makers: VASP makers",
        ),
        ({"relax": chgnet, "energies": "static"}, "needs a static maker"),
        ({"relax": chgnet, "energies": "both"}, "energies: Input should be"),
        ({}, "relax: Field required"),
        (
            {"relax": {"@module": "no_such_module", "@class": "MyMaker"}},
            "cannot import the relax maker class no_such_module.MyMaker",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(OredoxInputError, match=message):
            MakerEngine(**kwargs)

    @dataclass
    class LocalMaker(ForceFieldRelaxMaker):
        force_field_name: str = "CHGNet"

    with pytest.raises(OredoxInputError, match="inside a function"):
        MakerEngine(relax=LocalMaker())


def test_a_user_chgnet_maker_is_known_to_carry_mp2020():
    from oredox.entries import entry_parameters

    host = licoo2_primitive()
    scheme = MakerEngine(relax=FixedCellChgnetRelaxMaker()).energy_scheme(0.1, host)
    assert scheme.model.endswith("pretrained on MPtrj")
    parameters = entry_parameters(scheme, host.composition)
    # the same reading as the built-in chgnet engine's: MP2020 is in the energies
    assert parameters["energies_include_mp2020"] is True
    assert parameters["run_type"] == "GGA+U"
