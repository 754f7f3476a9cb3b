"""The VASP delithiation hull flow: its jobs, their inputs, and real recorded outputs.

No VASP runs here. The flow is built and its dynamic jobs are executed as plain
functions to see what they would submit; every VASP input set is checked against the
preset. Where a recorded real run matches a job of the flow (the bcc Li reference:
pymatgen's Li_sv PBE relax at 520 eV; a static: quacc's MP PBE+U NiO), atomate2's
``monkeypatch_vasp`` checks the generated inputs against reference inputs written by
hand and copies the real outputs in (tests/data/vasp/recorded, PROVENANCE.md). No
same-scheme Li_xTMO2 series with its outputs was found in public repositories, so a
whole VASP hull cannot be replayed.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import RECORDED_VASP, copy_nio_static_reference
from jobflow import Flow, job, run_locally
from pymatgen.core import Structure
from pymatgen.io.vasp import Vasprun

from oredox.analysis.selection import static_candidates
from oredox.errors import OredoxInputError
from oredox.settings import load_settings
from oredox.store import STUDY_JOB_NAME, get_job_store
from oredox.structures.delithiation import apply_configuration
from oredox.structures.frameworks import o3_layered
from oredox.workflows.dftu import initial_magmoms
from oredox.workflows.engines import VaspEngine, analyse_static, get_engine
from oredox.workflows.hull_flow import (
    STATICS_JOB_NAME,
    DelithiationHullMaker,
    StaticsSettings,
    alkali_metal,
    screen_and_relax,
    statics_and_study,
)
from oredox.workflows.screening import ScreeningSettings
from oredox.workflows.study_document import (
    Relaxation,
    build_study_document,
    static_record,
)

HERE = Path(__file__).parent
LI_RELAX = RECORDED_VASP / "pymatgen_Li_relax"
NIO = RECORDED_VASP / "quacc_NiO_mp_static"


def vasp_maker(walltime_s=None, **kwargs) -> DelithiationHullMaker:
    return DelithiationHullMaker(
        engine=get_engine("vasp", "mp", walltime_s=walltime_s),
        screening=ScreeningSettings(relax_all=True, rankers=["ewald"]),
        **kwargs,
    )


def relax_incar(job_, structure):
    generator = job_.maker.input_set_generator
    return generator.get_input_set(structure, potcar_spec=True).incar


def test_flow_starts_with_the_host_relaxation_from_the_spin_rule():
    host = o3_layered("LiNiO2")  # Li3Ni3O6, Ni3+ d7
    maker = vasp_maker()
    flow = maker.make(host, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    host_job, screen = flow.jobs
    assert host_job.name == "relax host"
    start = host_job.function_args[0]
    ni = [i for i, site in enumerate(start) if site.specie.symbol == "Ni"]
    assert {start.site_properties["magmom"][i] for i in ni} == {1.0}  # low-spin d7
    incar = relax_incar(host_job, start)
    assert incar["LDAUU"] == [0, 6.2, 0]  # Li Ni O: the MP U table, written whole
    assert incar["LDAUL"] == [0, 2, 0]
    assert incar["ENCUT"] == 520 and incar["ISIF"] == 3
    assert (incar["ISMEAR"], incar["SIGMA"]) == (0, 0.05)  # Gaussian, an oxide
    assert incar["MAGMOM"] == [0.0] * 3 + [1.0] * 3 + [0.0] * 6  # Li, Ni3+ d7 LS, O
    # the screening receives the host relaxation's outputs by reference
    relaxed = screen.function_kwargs["relaxed_host"]
    assert relaxed["structure"].uuid == host_job.uuid
    assert relaxed["energy_eV"].attributes == (("a", "output"), ("a", "energy"))
    # the maker crosses the job boundary as an object (its makers built once), with
    # the host's symmetry computed once in make()
    assert screen.function_kwargs["hull_maker"] is maker
    assert screen.function_kwargs["host"].symmetry.space_group == "R-3m"


def test_screening_fans_out_vasp_relaxations_reusing_the_host():
    host = o3_layered("LiNiO2")
    maker = vasp_maker()
    flow = maker.make(host, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    host_job, screen = flow.jobs
    # stands for the relaxed host: other cell, moments relaxed to 0
    relaxed = initial_magmoms(host, {"Ni": 0.0, "Li": 0.0, "O": 0.0})
    relaxed.scale_lattice(relaxed.volume * 0.95)
    kwargs = screen.function_kwargs | {
        "relaxed_host": {
            "structure": relaxed,
            "energy_eV": host_job.output.output.energy,
            "converged": host_job.output.state,
        }
    }
    response = screen_and_relax.original(**kwargs)
    jobs = response.replace.jobs
    names = [j.name for j in jobs]
    # 3 Li sites: k0 (the host relaxation itself), k1, k2, k3 -> 3 relaxations
    relaxations = ["relax k1-0", "relax k2-0", "relax k3-0", "relax Li metal"]
    assert names == [*relaxations, STATICS_JOB_NAME]
    k1 = jobs[0].function_args[0]
    assert len(k1) == len(host) - 1
    # the relaxed host's geometry with the host's starting moments (HS Ni3+: 3 muB;
    # Li+ and O2- closed shells: 0)
    assert set(k1.site_properties["magmom"]) == {1.0, 0.0}
    assert k1.volume == pytest.approx(relaxed.volume)
    assert k1.composition["Li"] == host.composition["Li"] - 1
    reference = jobs[3].function_args[0]
    assert reference.composition.reduced_formula == "Li"
    metal_incar = relax_incar(jobs[3], reference)
    assert "LDAUU" not in metal_incar  # no O: no U, same set
    # a metal: Methfessel-Paxton as MP's MPMetalRelaxSet, no moment on Li
    assert (metal_incar["ISMEAR"], metal_incar["SIGMA"]) == (1, 0.2)
    assert metal_incar["MAGMOM"] == [0.0, 0.0]
    study_args = jobs[-1].function_kwargs
    assert study_args["relaxations"][0].energy_eV.uuid == host_job.uuid  # k0 = host
    scheme = study_args["relaxations"][0].energy_scheme
    assert scheme.hubbard_u_eV == {"Li": 0, "Ni": 6.2, "O": 0}
    assert scheme.potcars == ["Li_sv", "Ni_pv", "O"]
    assert study_args["alkali_reference"].energy_scheme == scheme


def small_study_args(structures=None):
    """Four LiCoO2 configurations with energies chosen by hand (a hull to select on)."""
    host = initial_magmoms(o3_layered("LiCoO2"))
    maker = vasp_maker()
    study_host = maker.study_host(
        host, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "O3 layered", "selection"
    )
    sym = study_host.symmetry
    configs = [c for k in range(4) for c in _configs(sym, k)]
    initial = [apply_configuration(host, sym, c) for c in configs]
    scheme = VaspEngine(preset="mp").energy_scheme(structure=host)
    # per f.u. (3 f.u.): -25.9, -24.3, -22.0, -20.0 at x = 1, 2/3, 1/3, 0;
    # the chord from 2/3 to 0 is -22.15 at 1/3: k2 is 0.15 eV/f.u. above
    energies = [-77.7, -72.9, -66.0, -60.0]
    relaxations = [
        Relaxation(
            label=f"k{c.n_vacancies}-0",
            initial=start,
            energy_eV=energy,
            structure=final,
            converged=True,
            energy_scheme=scheme,
            configuration=c,
        )
        for c, start, energy, final in zip(
            configs, initial, energies, structures or initial, strict=True
        )
    ]
    metal = alkali_metal("Li")
    reference = Relaxation("Li metal", metal, -3.8, metal, True, scheme)
    return {
        "host": study_host,
        "relaxations": relaxations,
        "alkali_reference": reference,
        "screening": {},
    }


def with_energies(args, energies, structures):
    """``args`` with the relaxations' energies and structures replaced."""
    relaxations = [
        Relaxation(**(r.__dict__ | {"energy_eV": e, "structure": s}))
        for r, e, s in zip(args["relaxations"], energies, structures, strict=True)
    ]
    return args | {"relaxations": relaxations}


def _configs(sym, k):
    from oredox.structures.delithiation import enumerate_configurations

    return enumerate_configurations(sym, k)


def test_statics_of_hull_vertices_and_the_window():
    args = small_study_args()
    draft = build_study_document.original(**args)
    by_id = {e.config_id: e for e in draft.entries}
    assert by_id["k2-0"].e_above_hull_per_fu_eV == pytest.approx(0.15, abs=1e-9)
    # 4 atoms per f.u.: 0.15 eV/f.u. is 37.5 meV/atom
    assert [e.config_id for e in static_candidates(draft, 5.0)] == [
        "k0-0",
        "k1-0",
        "k3-0",
    ]
    wide = static_candidates(draft, 37.6)
    assert [e.config_id for e in wide] == ["k0-0", "k1-0", "k3-0", "k2-0"]
    assert len(static_candidates(draft, 37.6, limit=2)) == 2
    assert len(static_candidates(draft, 37.4)) == 3

    statics = StaticsSettings(window_meV_per_atom=5.0, projections=True)
    maker = vasp_maker(statics=statics)
    response = statics_and_study.original(**args, hull_maker=maker)
    jobs = response.replace.jobs
    assert [j.name for j in jobs] == [
        "static k0-0",
        "analyse k0-0",
        "static k1-0",
        "analyse k1-0",
        "static k3-0",
        "analyse k3-0",
        STUDY_JOB_NAME,
    ]
    # the analysis reads the static's folder and knows the removed Li sites
    analyse = jobs[3]
    assert analyse.function_args[1].uuid == jobs[2].uuid  # the static's dir_name
    assert len(analyse.function_args[2]) == 1  # k1: one vacancy
    structure = jobs[0].function_args[0]
    assert structure.site_properties["magmom"][0] == 0.0  # Li+
    generator = jobs[0].maker.input_set_generator
    incar = generator.get_input_set(structure, potcar_spec=True).incar
    assert incar["LORBIT"] == 12 and incar["LAECHG"] and incar["LCHARG"]
    assert incar["NSW"] == 0 and incar["LDAUU"] == [0, 3.32, 0]
    assert incar["ISMEAR"] == -5 and incar["NEDOS"] == 4001  # tetrahedron DOS
    statics = jobs[-1].function_kwargs["statics"]
    assert [s["config_id"] for s in statics] == ["k0-0", "k1-0", "k3-0"]
    assert statics[1]["analysis"].uuid == jobs[3].uuid
    assert statics[0]["job_uuid"] == jobs[0].uuid


def test_engines_without_statics_go_straight_to_the_document():
    args = small_study_args()
    response = statics_and_study.original(**args, hull_maker=DelithiationHullMaker())
    assert [j.name for j in response.replace.jobs] == [STUDY_JOB_NAME]
    study = build_study_document.original(**args, statics=[])
    assert study.statics == []


@pytest.fixture
def references(tmp_path):
    """Reference folders: hand-written inputs, real recorded outputs copied in."""
    refs = tmp_path / "refs"
    li = refs / "Li_mp_relax"
    shutil.copytree(HERE / "data/vasp/Li_mp_relax/inputs", li / "inputs")
    (li / "outputs").mkdir()
    for name in ("vasprun.xml.gz", "OUTCAR"):
        shutil.copy(LI_RELAX / name, li / "outputs" / name)
    # the upstream snapshot has no CONTCAR, which emmet requires: it is the final
    # structure of the recorded vasprun, written out (no number is invented)
    final = Vasprun(LI_RELAX / "vasprun.xml.gz", parse_potcar_file=False)
    final.final_structure.to(filename=str(li / "outputs" / "CONTCAR"), fmt="poscar")
    shutil.copy(li / "inputs" / "POTCAR.spec", li / "outputs" / "POTCAR.spec")
    copy_nio_static_reference(refs)
    return refs


def test_alkali_reference_and_a_static_record_from_real_runs(
    monkeypatch, references, isolated_settings, tmp_path
):
    from atomate2.utils.testing.vasp import monkeypatch_vasp

    mock = next(monkeypatch_vasp(monkeypatch, references))
    mock(
        {"relax Li metal": "Li_mp_relax", "static NiO": "NiO_mp_static"},
        {
            "relax Li metal": {
                "incar_settings": [
                    "ENCUT",
                    "ISPIN",
                    "IBRION",
                    "ISIF",
                    "EDIFFG",
                    "NSW",
                    "LDAU",
                    "LDAUU",
                    "ISMEAR",
                    "SIGMA",
                    "MAGMOM",
                ],
                "check_inputs": ["incar", "potcar"],
            },
            "static NiO": {
                "incar_settings": [
                    "ENCUT",
                    "LDAUU",
                    "LDAUL",
                    "LORBIT",
                    "LAECHG",
                    "ISMEAR",
                    "NEDOS",
                    "MAGMOM",
                ],
                "check_inputs": ["incar", "potcar"],
            },
        },
    )
    engine = VaspEngine(preset="mp")
    reference = engine.relax_maker(fmax=0.05, steps=99).make(alkali_metal("Li"))
    reference.name = "relax Li metal"
    nio = Structure.from_file(NIO / "POSCAR.gz")
    nio.add_oxidation_state_by_element({"Ni": 2, "O": -2})
    static = engine.static_maker().make(initial_magmoms(nio))
    static.name = "static NiO"
    analysis = analyse_static(engine, engine.static_outputs(static)["dir_name"])
    record = job(static_record)(
        {"config_id": "NiO", "job_uuid": static.uuid, "analysis": analysis.output}
        | engine.static_outputs(static)
    )
    store = get_job_store(load_settings())
    responses = run_locally(
        Flow([reference, static, analysis, record]),
        store=store,
        create_folders=True,
        root_dir=tmp_path,
        ensure_success=True,
        raise_immediately=True,
        log=False,
    )
    # the recorded Li_sv relax: -1.9246 eV per atom (MANIFEST), 1 atom
    li_doc = responses[reference.uuid][1].output
    assert li_doc.output.energy == pytest.approx(-1.9246, abs=1e-4)
    assert li_doc.calcs_reversed[0].input.potcar == ["Li_sv"]
    rec = responses[record.uuid][1].output
    assert rec.energy_eV == pytest.approx(-4.52549, abs=1e-4)
    assert rec.lorbit == 11
    recorded = Vasprun(NIO / "vasprun.xml.gz", parse_potcar_file=False)
    assert rec.band_gap_eV == pytest.approx(
        recorded.get_band_structure().get_band_gap()["energy"]
    )
    # site moments from the OUTCAR, on the static's structure: ferromagnetic, about
    # 2 muB per NiO summed over the PAW spheres
    assert rec.magmoms_muB == pytest.approx([1.122, 0.903])
    assert rec.total_magnetization_muB == pytest.approx(np.sum(rec.magmoms_muB))
    assert rec.dir_name
    # the analysis read the static's folder: O 2p DOS and moments, no CHGCAR kept
    assert rec.analysis["o2p"]["classes"][0]["environment_class"] == "0 A-O-A'"
    assert rec.analysis["redox"]["o_holes"] == {"1": pytest.approx(0.903)}
    assert "bader" in rec.analysis["skipped"]


def test_a_failed_configuration_is_listed_and_the_hull_built_from_the_rest():
    args = small_study_args()
    finals = [r.structure for r in args["relaxations"]]
    # k1's relaxation failed
    args = with_energies(
        args, [-77.7, None, -66.0, -60.0], [finals[0], None, *finals[2:]]
    )
    statics = [{"config_id": "k0-0", "job_uuid": "u", "energy_eV": None}]
    study = build_study_document.original(**args, statics=statics)
    assert [e.config_id for e in study.entries] == ["k0-0", "k2-0", "k3-0"]
    assert [(f["config_id"], f["stage"]) for f in study.failed] == [
        ("k1-0", "relax"),
        ("k0-0", "static"),
    ]
    # without k1 the hull runs 1 -> 1/3 -> 0: k2 (-22.0 per f.u.) is now a vertex
    assert study.hull_config_ids == ["k3-0", "k2-0", "k0-0"]
    assert study.chemsys == "Co-Li-O" and len(study.energy_scheme_id) == 12
    failed_metal = Relaxation(
        **(args["alkali_reference"].__dict__ | {"energy_eV": None, "structure": None})
    )
    with pytest.raises(Exception, match="Li metal reference"):
        build_study_document.original(**(args | {"alkali_reference": failed_metal}))


def test_the_study_and_statics_jobs_survive_missing_inputs():
    from jobflow import OnMissing

    host = o3_layered("LiNiO2")
    flow = vasp_maker().make(host, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    screen = flow.jobs[1]
    kwargs = screen.function_kwargs | {"relaxed_host": None}
    jobs = screen_and_relax.original(**kwargs).replace.jobs
    assert jobs[-1].config.on_missing_references == OnMissing.NONE
    args = small_study_args()
    study_job = statics_and_study.original(
        **args, hull_maker=vasp_maker()
    ).replace.jobs[-1]
    assert study_job.config.on_missing_references == OnMissing.NONE


def test_walltime_reaches_every_vasp_job():
    host = o3_layered("LiNiO2")
    flow = vasp_maker(walltime_s=3600).make(host, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    host_job, screen = flow.jobs
    assert host_job.maker.run_vasp_kwargs == {"wall_time": 3600}
    kwargs = screen.function_kwargs | {"relaxed_host": None}
    jobs = screen_and_relax.original(**kwargs).replace.jobs
    assert {j.maker.run_vasp_kwargs["wall_time"] for j in jobs[:-1]} == {3600}
    static_jobs = statics_and_study.original(
        **small_study_args(), hull_maker=kwargs["hull_maker"]
    ).replace.jobs
    assert static_jobs[0].maker.run_vasp_kwargs == {"wall_time": 3600}


def test_one_energy_scheme_per_hull_is_checked_in_the_document():
    args = small_study_args()
    other = VaspEngine(preset="ltno-2022").energy_scheme(
        structure=args["host"].structure
    )
    odd = args["relaxations"][2]
    mixed = [
        *args["relaxations"][:2],
        Relaxation(**(odd.__dict__ | {"energy_scheme": other})),
        *args["relaxations"][3:],
    ]
    with pytest.raises(OredoxInputError, match=r"k2-0 \(.*hubbard_u_eV.*encut_eV"):
        build_study_document.original(**(args | {"relaxations": mixed}))


def test_statics_receive_the_relaxed_moments():
    """The static of an entry starts from its relaxation's output structure, with the
    moments emmet put on it (``magmom``), not from the starting moments."""
    args = small_study_args()
    relaxed = []
    for i, relaxation in enumerate(args["relaxations"]):
        final = relaxation.initial.copy()
        final.add_site_property(
            "magmom", [0.01 * (i + 1) + j for j in range(len(final))]
        )
        relaxed.append(final)
    energies = [r.energy_eV for r in args["relaxations"]]
    args = with_energies(args, energies, relaxed)
    response = statics_and_study.original(**args, hull_maker=vasp_maker())
    static = response.replace.jobs[0]
    assert static.name == "static k0-0"
    structure = static.function_args[0]
    assert structure.site_properties["magmom"] == relaxed[0].site_properties["magmom"]
    generator = static.maker.input_set_generator
    incar = generator.get_input_set(structure, potcar_spec=True).incar
    written = generator.get_input_set(structure, potcar_spec=True).poscar.structure
    assert incar["MAGMOM"] == pytest.approx(written.site_properties["magmom"])
