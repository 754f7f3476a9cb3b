"""Study templates: validation, round trips, dry runs of VASP inputs, a CHGNet run."""

import json

import pytest
from jobflow import Flow
from monty.json import MontyDecoder, jsanitize
from pymatgen.io.vasp import Incar, Kpoints, Poscar

from oredox.errors import OredoxInputError
from oredox.settings import load_settings
from oredox.store import get_job_store, list_studies
from oredox.workflows.study import dry_run, run_study
from oredox.workflows.templates import StudyTemplate, load_template, shipped_templates

SHIPPED = [
    "demo-chgnet",
    "demo-gpaw",
    "li2mno3-chgnet-gpaw",
    "li2mno3-honeycomb",
    "ltno-chgnet-beam",
    "ltno-chgnet-converge",
    "ltno-chgnet-gpaw",
    "ltno-drx",
    "p2-nlmo-ribbon",
    "p2-nlmro-ribbon",
]


def test_shipped_templates_load_and_round_trip(tmp_path):
    assert sorted(shipped_templates()) == SHIPPED
    for name in SHIPPED:
        template = load_template(name)
        copy = tmp_path / f"{name}.yaml"
        copy.write_text(template.to_yaml())
        assert load_template(copy) == template
        maker = template.maker()
        assert round_trip(maker) == json_of(maker)


def json_of(obj) -> dict:
    return json.loads(json.dumps(jsanitize(obj.as_dict(), strict=True)))


def round_trip(obj) -> dict:
    """``obj`` written to JSON, read back, and written again."""
    return json_of(MontyDecoder().process_decoded(json_of(obj)))


def test_flow_of_a_template_serialises():
    template = load_template("li2mno3-honeycomb")
    flow = template.flow("chgnet")
    again = Flow.from_dict(json.loads(json.dumps(flow.as_dict(), default=str)))
    assert [job.name for job in again.jobs] == [job.name for job in flow.jobs]
    screen = again.jobs[1].function_kwargs
    assert screen["hull_maker"].engine.name == "chgnet"
    assert screen["host"].name == template.name
    assert screen["host"].symmetry.space_group == "C2/m"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nhost: {seed: li2mno3}\nscreenin: {}\n", "screenin: Extra inputs"),
        (
            "name: x\nhost: {seed: li2mno3}\nrelax: {max_steps: many}\n",
            "relax.max_steps",
        ),
        ("name: x\nhost: {seed: lto}\n", "host.seed"),
        ("name: x\nhost: {}\n", "exactly one of host.seed or host.o3_formula"),
        (
            "name: x\nhost: {seed: li2mno3}\nengine: chgnet\ndft_u_preset: ltno-2022\n",
            "engine chgnet uses no DFT\\+U preset",
        ),
        ("name: x\nhost: {seed: li2mno3}\nengine: castep\n", "engine"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_templates(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(OredoxInputError, match=message):
        load_template(path)


def test_unknown_template_name():
    shipped = "shipped: demo-chgnet, demo-gpaw, li2mno3-chgnet-gpaw, li2mno3-honeycomb"
    with pytest.raises(OredoxInputError, match=shipped):
        load_template("lco")


def read_inputs(folder):
    return Incar.from_file(folder / "INCAR"), Poscar.from_file(folder / "POSCAR")


def test_dry_run_ltno_writes_the_ltno_preset(tmp_path):
    folders = dry_run(load_template("ltno-drx"), tmp_path / "ltno")
    names = [f.name for f in folders]
    assert "k0-0" in names and "k14-0" in names
    # the end members are hull vertices whatever the energies: their statics are known
    assert sorted(names[-3:]) == ["reference-Li", "static-k0-0", "static-k14-0"]
    incar, poscar = read_inputs(tmp_path / "ltno" / "k0-0")
    symbols = poscar.site_symbols
    assert incar["ENCUT"] == 600 and incar["EDIFF"] == 1e-5 and incar["EDIFFG"] == -0.02
    assert incar["LDAUU"] == [6.4 if s == "Ni" else 0 for s in symbols]
    assert incar["LDAUL"] == [2 if s == "Ni" else 0 for s in symbols]
    assert (tmp_path / "ltno" / "k0-0" / "POTCAR.spec").read_text().split() == [
        {"Li": "Li_sv", "Ti": "Ti_pv", "Ni": "Ni_pv", "O": "O"}[s] for s in symbols
    ]
    # the Li reference: same scheme, no U without O
    ref_incar, _ = read_inputs(tmp_path / "ltno" / "reference-Li")
    assert ref_incar["ENCUT"] == 600 and not ref_incar.get("LDAU", False)
    record = json.loads((tmp_path / "ltno" / "screening.json").read_text())
    assert record["screening"]["settings"]["method"] == "beam"
    assert len(folders) - 3 == sum(
        v["selected"] for v in record["screening"]["selected_per_x"].values()
    )
    static, _ = read_inputs(tmp_path / "ltno" / "static-k14-0")
    assert static["NSW"] == 0 and static["LORBIT"] == 12  # projections: true
    assert static["LAECHG"] and static["LCHARG"] and static["ENCUT"] == 600
    assert static["EDIFF"] == 1e-5
    # smearing per stage: Gaussian relax, tetrahedron static with NEDOS, MP metal
    assert (incar["ISMEAR"], incar["SIGMA"]) == (0, 0.05)
    assert (static["ISMEAR"], static["NEDOS"]) == (-5, 4001)
    assert (ref_incar["ISMEAR"], ref_incar["SIGMA"]) == (1, 0.2)
    # 0 on closed shells (Li+, O2-, Ti4+ d0), Ni2+ d8 high-spin 2 muB
    moments = dict(zip(poscar.structure.species, incar["MAGMOM"], strict=True))
    assert {el.symbol: m for el, m in moments.items()} == {
        "Li": 0.0,
        "Ti": 0.0,
        "Ni": 2.0,
        "O": 0.0,
    }
    # >= 1728 k-points per reciprocal atom, relax and static
    for folder in ("k0-0", "static-k0-0"):
        mesh = Kpoints.from_file(tmp_path / "ltno" / folder / "KPOINTS").kpts[0]
        assert mesh[0] * mesh[1] * mesh[2] * len(poscar.structure) >= 1728


@pytest.mark.parametrize(
    "name", ["p2-nlmo-ribbon", "p2-nlmro-ribbon", "li2mno3-honeycomb"]
)
def test_dry_run_mp_templates(tmp_path, name):
    folders = dry_run(load_template(name), tmp_path / name)
    incar, poscar = read_inputs(folders[0])
    u = {"Mn": 3.9}
    assert incar["ENCUT"] == 520
    assert incar["LDAUU"] == [u.get(s, 0) for s in poscar.site_symbols]
    assert incar["ISPIN"] == 2
    if "Ru" in poscar.site_symbols:  # Ru: no U in the mp preset
        assert incar["LDAUU"][poscar.site_symbols.index("Ru")] == 0
        # Ru4+ d4 starts low-spin (t2g4: 2 muB), Mn4+ d3 high-spin 3 muB
        moments = dict(zip(poscar.structure.species, incar["MAGMOM"], strict=True))
        assert {
            el.symbol: m for el, m in moments.items() if el.symbol in ("Ru", "Mn")
        } == {
            "Ru": 2.0,
            "Mn": 3.0,
        }


def test_vasp_section_round_trips_and_reaches_the_engine(tmp_path):
    text = load_template("ltno-drx").to_yaml() + (
        "vasp:\n"
        "  incar: {ncore: 8, LREAL: false}\n"
        "  static_incar: {ALGO: All}\n"
        "  kpoints: {mesh: [3, 2, 6]}\n"
    )
    path = tmp_path / "ltno-vasp.yaml"
    path.write_text(text.replace("vasp: null\n", ""))
    template = load_template(path)
    again = tmp_path / "again.yaml"
    again.write_text(template.to_yaml())
    assert load_template(again) == template
    engine = template.maker().engine
    assert engine.incar == {"NCORE": 8, "LREAL": False}
    assert engine.static_incar == {"ALGO": "All"}
    assert engine.kpoints.mesh == [3, 2, 6]
    scheme = engine.energy_scheme(0.02)
    assert scheme.parameters["incar"] == {"LREAL": False}
    assert scheme.parameters["kpoints"] == "Gamma 3x2x6"
    assert "static_incar" not in scheme.parameters  # ALGO: the same energy


@pytest.mark.slow
def test_run_template_with_chgnet_to_a_stored_hull(tmp_path):
    template = load_template("li2mno3-honeycomb")
    settings = load_settings(work_dir=tmp_path / "work")
    study = run_study(
        template,
        engine="chgnet",
        settings=settings,
        png=tmp_path / "hull.png",
        progress=False,
    )
    assert study.host_formula == "Li2MnO3"
    assert study.energy_scheme.engine == "chgnet"
    assert [row["study_id"] for row in list_studies(get_job_store(settings))] == [
        study.study_id
    ]
    assert sorted({e.n_alkali for e in study.entries}) == [0, 1, 2, 3, 4]
    assert 2.0 < study.average_voltage_V < 6.0
    assert (tmp_path / "hull.png").stat().st_size > 10_000


USER_U = """\
name: LiNiO2 with a user U table
host: {o3_formula: LiNiO2, supercell: [1, 1, 1]}
engine: vasp
hubbard_u:
  name: ni-5.0
  U_eV: {Ni: 5.0, Mn: 3.9}
  L: {Ni: 2, Mn: 2}
magmoms: {Ni: 1.0}
screening: {relax_all: true, rankers: [ewald]}
statics: {projections: true}
"""


def test_user_u_table_in_a_template(tmp_path):
    path = tmp_path / "user.yaml"
    path.write_text(USER_U)
    template = load_template(path)
    folders = dry_run(template, tmp_path / "out")
    incar, poscar = read_inputs(folders[0])
    u = {"Ni": 5.0}
    assert incar["LDAUU"] == [u.get(s, 0) for s in poscar.site_symbols]
    assert incar["LDAUL"] == [2 if s == "Ni" else 0 for s in poscar.site_symbols]
    assert incar["ENCUT"] == 520  # the rest from the base preset (mp)
    ni = [i for i, site in enumerate(poscar.structure) if site.specie.symbol == "Ni"]
    assert [incar["MAGMOM"][i] for i in ni] == [1.0] * len(ni)  # the override
    static, _ = read_inputs(tmp_path / "out" / "static-k0-0")
    assert static["LORBIT"] == 12  # phase-resolved projections asked for
    maker = template.maker()
    assert maker.engine.preset.hubbard_u_eV == {"Ni": 5.0, "Mn": 3.9}
    assert round_trip(maker) == json_of(maker)
    copy = tmp_path / "again.yaml"
    copy.write_text(template.to_yaml())
    assert load_template(copy) == template


@pytest.mark.parametrize(
    ("l_line", "message"),
    [
        ("  L: {Ni: 2}", "no L for Mn"),
        ("  L: {Ni: 2, Mn: 2, Co: 2}", "L without U for Co"),
        ("  L: {Ni: 2, Mn: 7}", "L\\(Mn\\) = 7"),
        ("  L: {Ni: 2, Mn: two}", "hubbard_u.L.Mn"),
    ],
)
def test_bad_user_u_tables(tmp_path, l_line, message):
    path = tmp_path / "bad.yaml"
    path.write_text(USER_U.replace("  L: {Ni: 2, Mn: 2}", l_line))
    with pytest.raises(OredoxInputError, match=message):
        load_template(path)


def test_chgnet_template_with_a_u_table_is_an_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(USER_U.replace("engine: vasp", "engine: chgnet"))
    with pytest.raises(OredoxInputError, match="engine chgnet uses no DFT"):
        load_template(path)


def test_template_model_rejects_bad_supercell():
    with pytest.raises(ValueError, match="three positive integers"):
        StudyTemplate(name="x", host={"o3_formula": "LiCoO2", "supercell": [0, 1, 1]})


def test_the_demo_is_a_shipped_template_with_overrides():
    from oredox.workflows.demo import demo_template

    chgnet = demo_template("chgnet")
    assert chgnet == load_template("demo-chgnet")
    assert chgnet.host.supercell == [2, 1, 1] and chgnet.screening.relax_all
    maker = chgnet.maker()
    assert maker.engine.name == "chgnet" and maker.static_maker is None
    host = chgnet.study_host(maker)
    assert host.name == "LiCoO2 O3 layered" and host.symmetry.n_sites == 6

    gpaw = demo_template("gpaw", formula="LiNiO2", fmax=0.2)
    maker = gpaw.maker()
    assert maker.engine.ecut_eV == 600 and maker.engine.kpoint_density_per_A == 1.5
    assert maker.relax.fmax_eV_per_A == 0.2 and maker.statics.projections
    assert gpaw.name == "LiNiO2 O3 layered (primitive cell)"
    assert gpaw.build_host()[2] == "O3 layered (primitive cell)"

    identity = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    na = demo_template("chgnet", formula="NaCoO2", supercell=identity)
    assert na.alkali == "Na"
    with pytest.raises(OredoxInputError, match="castep"):
        demo_template("castep")
    with pytest.raises(OredoxInputError, match="supercell"):
        demo_template("chgnet", supercell=(0, 1, 1))
