"""Engine pairs (MLIP geometry, DFT+U static), unconverged entries, redox summary."""

from __future__ import annotations

import json

import pytest
from monty.json import MontyDecoder
from test_vasp_flow import small_study_args

from oredox.analysis.path import redox_summary
from oredox.errors import OredoxInputError
from oredox.schemas import StaticRecord, check_single_scheme
from oredox.store import STUDY_JOB_NAME
from oredox.structures.frameworks import o3_layered
from oredox.workflows.dftu import initial_magmoms
from oredox.workflows.engines import (
    ChgnetEngine,
    EnginePair,
    GpawEngine,
    get_engine,
)
from oredox.workflows.hull_flow import (
    DelithiationHullMaker,
    StaticsSettings,
    statics_and_study,
)
from oredox.workflows.screening import ScreeningSettings
from oredox.workflows.study_document import Relaxation, build_study_document
from oredox.workflows.templates import template_from_data


def lnio():
    return initial_magmoms(o3_layered("LiNiO2"))


def test_a_pair_is_one_engine_whose_scheme_names_both_parts():
    pair = get_engine("chgnet+gpaw", "mp", options={"ecut_eV": 500.0})
    assert isinstance(pair, EnginePair) and pair.label == "chgnet+gpaw"
    assert pair.static_engine.ecut_eV == 500.0
    scheme = pair.energy_scheme(0.05, lnio())
    assert scheme.engine == "chgnet+gpaw"
    assert scheme.hubbard_u_eV["Ni"] == 6.2 and scheme.encut_eV == 500.0
    assert scheme.model.startswith("CHGNet")
    assert "geometry from CHGNet" in scheme.functional
    assert "relaxed with chgnet" in scheme.parameters["geometry"]
    # never on one hull with full-DFT or CHGNet energies
    gpaw = GpawEngine(ecut_eV=500.0).energy_scheme(0.05, lnio())
    chgnet = ChgnetEngine().energy_scheme(0.05)
    for other in (gpaw, chgnet):
        with pytest.raises(OredoxInputError, match="another energy scheme"):
            check_single_scheme({"a": scheme, "b": scheme, "odd": other})


def test_pair_names_and_options_are_checked():
    assert isinstance(get_engine("chgnet+chgnet"), ChgnetEngine)
    assert isinstance(get_engine("GPAW+gpaw"), GpawEngine)
    with pytest.raises(OredoxInputError, match="runs no statics"):
        get_engine("gpaw+chgnet")
    with pytest.raises(OredoxInputError, match="relax\\+static"):
        get_engine("chgnet+gpaw+vasp")
    with pytest.raises(OredoxInputError, match="unknown engine 'castep'"):
        get_engine("chgnet+castep")
    with pytest.raises(OredoxInputError, match="unknown chgnet\\+gpaw engine option"):
        get_engine("chgnet+gpaw", options={"encut": 520})


def test_a_pair_relaxation_is_a_relax_then_a_static_at_its_geometry():
    pair = get_engine("chgnet+vasp")
    flow = pair.relax_maker(0.05, 100).make(lnio())
    relax, start, static, converged = flow.jobs
    assert relax.maker.force_field_name.endswith("CHGNet")
    assert static.maker.name == "vasp static"
    # the static starts from the relaxed geometry with the starting moments
    assert start.function_args[0].uuid == relax.uuid
    assert static.function_args[0].uuid == start.uuid
    outputs = pair.relax_outputs(flow)
    assert set(outputs) == {"energy_eV", "structure", "converged", "static"}
    assert outputs["energy_eV"].uuid == static.uuid
    assert outputs["converged"].uuid == converged.uuid
    assert outputs["static"]["job_uuid"] == static.uuid


def test_a_pair_maker_round_trips_through_json():
    maker = DelithiationHullMaker(
        engine=get_engine("chgnet+gpaw", "ltno-2022", options={"ecut_eV": 450.0})
    )
    back = MontyDecoder().process_decoded(maker.as_dict())
    assert isinstance(back.engine, EnginePair)
    assert back.engine == maker.engine
    assert back.engine.static_engine.preset.name == "ltno-2022"


def with_pair_statics(args):
    """``args`` as an engine pair leaves them: each relaxation with its static."""
    relaxations = [
        Relaxation(
            **(
                r.__dict__
                | {
                    "static": {
                        "job_uuid": f"uuid-{r.label}",
                        "dir_name": f"host:/runs/{r.label}",
                        "energy_eV": r.energy_eV,
                        "band_gap_eV": 1.0,
                        "structure": r.structure,
                    }
                }
            )
        )
        for r in args["relaxations"]
    ]
    return args | {"relaxations": relaxations}


def test_statics_of_a_pair_analyse_the_statics_it_already_ran():
    args = with_pair_statics(small_study_args())
    maker = DelithiationHullMaker(
        engine=get_engine("chgnet+vasp"),
        screening=ScreeningSettings(relax_all=True),
        statics=StaticsSettings(window_meV_per_atom=5.0),
    )
    jobs = statics_and_study.original(**args, hull_maker=maker).replace.jobs
    # no second static: one analysis per chosen entry, on the pair's folder
    assert [j.name for j in jobs] == [
        "analyse k0-0",
        "analyse k1-0",
        "analyse k3-0",
        STUDY_JOB_NAME,
    ]
    assert jobs[1].function_args[1] == "host:/runs/k1-0"
    statics = jobs[-1].function_kwargs["statics"]
    assert [s["job_uuid"] for s in statics] == ["uuid-k0-0", "uuid-k1-0", "uuid-k3-0"]


def test_template_static_engine_makes_a_pair():
    data = {
        "name": "pair",
        "host": {"o3_formula": "LiNiO2"},
        "engine": "chgnet",
        "static_engine": "gpaw",
        "dft_u_preset": "ltno-2022",
        "engine_options": {"ecut_eV": 400.0},
    }
    template = template_from_data(data)
    pair = template.engine_for()
    assert isinstance(pair, EnginePair) and pair.static_engine.ecut_eV == 400.0
    assert pair.static_engine.preset.name == "ltno-2022"
    assert isinstance(template.engine_for("gpaw"), GpawEngine)  # override: GPAW only
    assert template.engine_for("chgnet+vasp").label == "chgnet+vasp"
    with pytest.raises(OredoxInputError, match="runs no statics"):
        template_from_data(data | {"engine": "gpaw", "static_engine": "chgnet"})
    with pytest.raises(OredoxInputError, match="uses no DFT\\+U preset"):
        template_from_data(data | {"static_engine": None})


def test_an_unconverged_relaxation_does_not_build_the_hull():
    args = small_study_args()
    k1 = args["relaxations"][1]
    args["relaxations"][1] = Relaxation(**(k1.__dict__ | {"converged": False}))
    study = build_study_document.original(**args)
    assert "k1-0" in [e.config_id for e in study.entries]
    assert "k1-0" not in study.hull_config_ids
    (failed,) = study.failed
    assert failed["config_id"] == "k1-0" and "force criterion" in failed["reason"]
    entry = next(e for e in study.entries if e.config_id == "k1-0")
    assert not entry.converged and not entry.on_hull


def test_redox_summary_splits_the_removed_charge_between_o_and_tm():
    args = small_study_args()
    study = build_study_document.original(**args)
    by_id = {e.config_id: e for e in study.entries}
    n_co = 3

    def record(config_id, co_states, o_charge):
        entry = by_id[config_id]
        symbols = [s.specie.symbol for s in entry.structure]
        co = [i for i, s in enumerate(symbols) if s == "Co"]
        charges = [{"Li": 0.9, "Co": 1.3, "O": o_charge}[symbol] for symbol in symbols]
        moments = [{"Li": 0.0, "Co": 0.0, "O": 0.0}[symbol] for symbol in symbols]
        return {
            "config_id": config_id,
            "job_uuid": config_id,
            "energy_eV": entry.energy_eV,
            "magmoms_muB": moments,
            "analysis": {
                "redox": {
                    "tm_oxidation_states": {
                        str(i): state for i, state in zip(co, co_states, strict=True)
                    }
                },
                "bader": {"charges": charges},
            },
        }

    # k0 -> k1: one Co3+ -> Co4+ (moments) while O charge rises by 0.1 e x 6 O
    study.statics = [
        StaticRecord(**record("k0-0", [3] * n_co, -1.1)),
        StaticRecord(**record("k1-0", [3, 3, 4], -1.0)),
    ]
    (step,) = redox_summary(study)
    assert (step["x_from"], step["x_to"]) == (1.0, pytest.approx(2 / 3))
    assert step["removed_e"] == 1
    assert step["moments"]["tm_e"] == 1 and step["moments"]["fraction_from_O"] == 0
    # Bader: O took 6 x 0.1 = 0.6 e, Co nothing
    assert step["bader"]["o_e"] == pytest.approx(0.6)
    assert step["bader"]["fraction_from_O"] == pytest.approx(1.0)


def test_screening_with_a_pair_keeps_each_relaxation_static():
    from oredox.workflows.hull_flow import screen_and_relax

    maker = DelithiationHullMaker(
        engine=get_engine("chgnet+vasp"),
        screening=ScreeningSettings(relax_all=True),
    )
    flow = maker.make(o3_layered("LiCoO2"), [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    screen = flow.jobs[1]
    kwargs = screen.function_kwargs | {"relaxed_host": None}
    jobs = screen_and_relax.original(**kwargs).replace.jobs
    study_job = jobs[-1]
    inner = {job.uuid for flow in jobs[:-1] for job in flow.jobs}
    relaxations = [
        *study_job.function_kwargs["relaxations"],
        study_job.function_kwargs["alkali_reference"],
    ]
    statics = [r.static["job_uuid"] for r in relaxations]
    assert len(set(statics)) == len(relaxations) == 5  # k0 to k3 and Li metal
    assert set(statics) <= inner
    # the hull's energies are those statics'
    assert statics == [r.energy_eV.uuid for r in relaxations]


def test_the_study_document_refuses_pair_and_full_dft_entries_on_one_hull():
    args = small_study_args()
    host = args["host"].structure
    pair = get_engine("chgnet+vasp").energy_scheme(0.05, host)
    full = get_engine("vasp").energy_scheme(0.05, host)
    relaxations = [
        Relaxation(**(r.__dict__ | {"energy_scheme": pair}))
        for r in args["relaxations"]
    ]
    relaxations[2] = Relaxation(**(relaxations[2].__dict__ | {"energy_scheme": full}))
    reference = Relaxation(
        **(args["alkali_reference"].__dict__ | {"energy_scheme": pair})
    )
    with pytest.raises(OredoxInputError, match=r"k2-0 \(engine, engine_version"):
        build_study_document.original(
            **(args | {"relaxations": relaxations, "alkali_reference": reference})
        )
    # all from the pair: one hull
    relaxations[2] = Relaxation(**(relaxations[2].__dict__ | {"energy_scheme": pair}))
    study = build_study_document.original(
        **(args | {"relaxations": relaxations, "alkali_reference": reference})
    )
    assert study.energy_scheme.engine == "chgnet+vasp"


def test_dry_run_of_a_pair_writes_both_steps_of_each_relaxation(tmp_path):
    from oredox.workflows.study import dry_run

    data = {
        "name": "pair dry run",
        "host": {"o3_formula": "LiCoO2"},
        "engine": "chgnet",
        "static_engine": "vasp",
        "screening": {"relax_all": True},
    }
    folders = dry_run(template_from_data(data), tmp_path / "inputs")
    names = sorted(folder.name for folder in folders)
    assert names == ["k0-0", "k1-0", "k2-0", "k3-0", "reference-Li"]
    for folder in folders:
        assert (folder / "relax" / "POSCAR").exists()
        assert (folder / "static" / "INCAR").exists()
        assert (folder / "static" / "POTCAR.spec").exists()
    # the CHGNet step's POSCAR is sorted by element, its record maps it back
    from pymatgen.io.vasp import Poscar

    poscar = Poscar.from_file(tmp_path / "inputs" / "k0-0" / "relax" / "POSCAR")
    assert poscar.site_symbols == ["Li", "Co", "O"]
    record = json.loads(
        (tmp_path / "inputs" / "k0-0" / "relax" / "POSCAR.json").read_text()
    )
    assert sorted(record["poscar_site_order"]) == list(range(12))


def test_a_dft_relaxation_hands_its_moments_to_the_static():
    from oredox.workflows.engines.pair import static_start

    start = initial_magmoms(o3_layered("LiCoO2"))  # Co3+ low spin: 0.6 muB
    relaxed = start.copy()
    relaxed.add_site_property("magmom", [0.0, 0.0, 0.0, 0.02, 0.03, 0.01] + [0.0] * 6)
    mlip = static_start.original(relaxed, start)
    assert mlip.site_properties["magmom"] == start.site_properties["magmom"]
    dft = static_start.original(relaxed, start, relaxed_moments=True)
    assert dft.site_properties["magmom"] == relaxed.site_properties["magmom"]
    # the pairs: CHGNet's moments are no start, a VASP relaxation's are
    assert not get_engine("chgnet+vasp").relax_maker().relaxed_moments
    assert get_engine("vasp+gpaw").relax_maker().relaxed_moments
