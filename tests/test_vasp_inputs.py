"""The VASP inputs of a study, checked against inputs a VASP user wrote by hand.

The LTNO study (template ``ltno-drx``, seed ``ltno-spread``, preset ``ltno-2022``)
with a ``vasp:`` section: every INCAR tag and k-mesh of its host relaxation, its
static and its bcc Li reference must equal tests/data/vasp/LTNO_ltno-2022/inputs
(README.md there says why each value). Then the k-mesh rule by hand, the overrides
and their errors, and the relaxed moments reaching a static through atomate2 with a
recorded real run (tests/data/vasp/recorded).
"""

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import RECORDED_VASP, copy_nio_static_reference
from jobflow import Flow, run_locally
from monty.json import MontyDecoder
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Incar, Kpoints, Outcar

from oredox.errors import OredoxInputError
from oredox.schemas import scheme_id
from oredox.settings import load_settings
from oredox.store import get_job_store
from oredox.structures.frameworks import o3_layered
from oredox.workflows.dftu import initial_magmoms
from oredox.workflows.engines import VaspEngine, get_engine
from oredox.workflows.engines.vasp_sets import kpoint_mesh
from oredox.workflows.hull_flow import alkali_metal
from oredox.workflows.templates import shipped_templates, template_from_data

HERE = Path(__file__).parent
LTNO_REFERENCE = HERE / "data/vasp/LTNO_ltno-2022/inputs"
OVERRIDES = {"incar": {"NCORE": 8, "KPAR": 2, "LREAL": False}}


def ltno_template(vasp=None):
    data = yaml.safe_load(shipped_templates()["ltno-drx"].read_text())
    if vasp is not None:
        data["vasp"] = vasp
    return template_from_data(data)


@pytest.fixture(scope="module")
def ltno():
    """The template's maker and the three input sets of the LTNO study."""
    template = ltno_template(OVERRIDES)
    maker = template.maker()
    host, _, _ = template.build_host()
    start = initial_magmoms(host, template.magmoms)
    relax = maker.relax_maker.input_set_generator
    static = maker.static_maker.input_set_generator
    return {
        "template": template,
        "maker": maker,
        "host": start,
        "relax": relax.get_input_set(start, potcar_spec=True),
        "static": static.get_input_set(start, potcar_spec=True),
        "reference-Li": relax.get_input_set(alkali_metal("Li"), potcar_spec=True),
    }


@pytest.mark.parametrize("stage", ["relax", "static", "reference-Li"])
def test_ltno_inputs_equal_the_hand_written_ones(ltno, stage):
    inputs = ltno[stage]
    reference = Incar.from_file(LTNO_REFERENCE / stage / "INCAR")
    assert dict(inputs.incar) == dict(reference)
    expected = Kpoints.from_file(LTNO_REFERENCE / stage / "KPOINTS")
    assert inputs.kpoints.style == expected.style == Kpoints.supported_modes.Gamma
    assert list(inputs.kpoints.kpts[0]) == list(expected.kpts[0])
    symbols = (LTNO_REFERENCE / "POTCAR.spec").read_text().split()
    assert inputs.potcar.split() == (["Li_sv"] if stage == "reference-Li" else symbols)


def test_ltno_k_density_is_met_and_pymatgen_fell_short(ltno):
    host = ltno["host"]
    for stage in ("relax", "static"):
        mesh = ltno[stage].kpoints.kpts[0]
        assert mesh[0] * mesh[1] * mesh[2] * len(host) >= 1728
    # what the preset's grid_density gave before: rounded down, 1296 < 1728
    old = Kpoints.automatic_density(host, 1728, force_gamma=True).kpts[0]
    assert list(old) == [3, 3, 3] and 27 * len(host) == 1296
    metal = ltno["reference-Li"].kpoints.kpts[0]
    assert metal[0] * metal[1] * metal[2] * 2 >= 1728


def test_smallest_mesh_by_hand():
    # 1 atom, a = 3, b = 4, c = 6 A: divisions in the ratio 4 : 3 : 2. The meshes of
    # that family around 100 k-points: 6x5x3 = 90 (short), then 7x5x4 = 140
    cell = Structure(Lattice.orthorhombic(3, 4, 6), ["Li"], [[0, 0, 0]])
    assert kpoint_mesh(cell, 100) == (7, 5, 4)
    assert kpoint_mesh(cell, 90) == (6, 5, 3)
    assert kpoint_mesh(cell, 1) == (1, 1, 1)
    # pymatgen's automatic_density rounds each division down: 6x4x3 = 72 < 100
    assert list(Kpoints.automatic_density(cell, 100).kpts[0]) == [6, 4, 3]


def test_energy_changing_overrides_enter_the_scheme(ltno):
    host = ltno["host"]
    fmax = ltno["template"].relax.fmax_eV_per_A
    scheme = ltno["maker"].engine.energy_scheme(fmax, host)
    assert scheme.parameters["incar"] == {"LREAL": False}  # NCORE, KPAR: speed only
    assert "4001" not in str(scheme.parameters)  # statics' NEDOS is not an energy

    def scheme_of(vasp):
        engine = ltno_template(vasp).maker().engine
        return scheme_id(engine.energy_scheme(fmax, host))

    plain = scheme_of(None)
    assert scheme_of({"incar": {"NCORE": 8, "KPAR": 2, "NSIM": 4}}) == plain
    assert scheme_of(OVERRIDES) != plain
    assert scheme_of({"relax_incar": {"ENCUT": 700}}) != plain
    assert scheme_of({"kpoints": {"mesh": [3, 2, 6]}}) != plain
    engine = ltno_template({"relax_incar": {"ENCUT": 700}}).maker().engine
    assert engine.energy_scheme(fmax, host).encut_eV == 700


def test_explicit_mesh_from_a_template(ltno):
    maker = ltno_template({"kpoints": {"mesh": [3, 2, 6]}}).maker()
    host = ltno["host"]
    relax = maker.relax_maker.input_set_generator
    static = maker.static_maker.input_set_generator
    for generator in (relax, static):
        kpoints = generator.get_input_set(host, potcar_spec=True).kpoints
        assert list(kpoints.kpts[0]) == [3, 2, 6]
    # the mesh is the host's: the 2-atom metal keeps the preset's density
    metal = relax.get_input_set(alkali_metal("Li"), potcar_spec=True).kpoints
    assert list(metal.kpts[0]) == [10, 10, 10]
    density = ltno_template({"kpoints": {"per_reciprocal_atom": 3000}}).maker()
    generator = density.relax_maker.input_set_generator
    mesh = generator.get_input_set(host, potcar_spec=True).kpoints.kpts[0]
    assert mesh[0] * mesh[1] * mesh[2] * len(host) >= 3000


@pytest.mark.parametrize(
    ("vasp", "message"),
    [
        ({"incar": {"NCOR": 4}}, r"NCOR \(did you mean NCORE"),
        ({"static_incar": {"LORBITT": 11}}, "LORBITT"),
        ({"incar": {"MAGMOM": [1, 2]}}, "MAGMOM.*magmoms"),
        ({"relax_incar": {"LDAUU": [6.4]}}, "LDAUU.*hubbard_u"),
        ({"incar": {"NCORE": "four"}}, "NCORE: Four is not a int"),
        ({"kpoints": {"mesh": [3, 2]}}, "mesh"),
        ({"kpoints": {"mesh": [3, 2, 6], "per_reciprocal_atom": 1000}}, "exactly one"),
        ({"kpoints": {"mesh": [3, 0, 6]}}, ">= 1"),
        ({"incar": {"NCORE": 4}, "potcar": "Ni"}, "potcar"),
        # another functional is another engine: a user maker
        ({"incar": {"METAGGA": "R2SCAN"}}, "METAGGA would change the functional"),
        ({"relax_incar": {"GGA": "PS"}}, "GGA would change the functional"),
        ({"incar": {"LHFCALC": True, "HFSCREEN": 0.2}}, "HFSCREEN, LHFCALC would"),
        ({"incar": {"IVDW": 12}}, "IVDW would change the functional"),
        # no second tag smuggled in a value, no k-mesh behind the kpoints section
        ({"incar": {"SYSTEM": "x\nENCUT = 300"}}, "SYSTEM holds a newline"),
        ({"incar": {"SYSTEM": "x; LDAUU = 0 9 0"}}, "SYSTEM holds a newline"),
        ({"incar": {"KSPACING": 0.3}}, "KSPACING.*vasp.kpoints"),
        # values VASP does not know
        ({"incar": {"ISPIN": 3}}, "ISPIN: Cannot find 3"),
        ({"relax_incar": {"ALGO": "Fastt"}}, "ALGO: Cannot find Fastt"),
    ],
)
def test_bad_vasp_sections_are_clear_errors(vasp, message):
    with pytest.raises(OredoxInputError, match=message):
        ltno_template(vasp)


def test_vasp_section_needs_the_vasp_engine():
    data = yaml.safe_load(shipped_templates()["ltno-drx"].read_text())
    data |= {"engine": "chgnet", "dft_u_preset": "mp", "vasp": OVERRIDES}
    with pytest.raises(OredoxInputError, match="vasp: section"):
        template_from_data(data)
    # an engine override on the command line drops the section with the engine
    template = ltno_template(OVERRIDES)
    assert template.options("chgnet") == {}
    assert template.options() == {"incar": {"NCORE": 8, "KPAR": 2, "LREAL": False}}


def test_python_engine_options_are_checked_too():
    with pytest.raises(OredoxInputError, match="NCOR"):
        get_engine("vasp", options={"incar": {"NCOR": 4}})
    engine = get_engine("vasp", options={"incar": {"ncore": 4}})
    assert engine.incar == {"NCORE": 4}  # VASP tags are upper case


def test_input_sets_cross_job_boundaries(ltno):
    host = ltno["host"]
    for maker in (ltno["maker"].relax_maker, ltno["maker"].static_maker):
        copy = MontyDecoder().process_decoded(maker.as_dict())
        generator = copy.input_set_generator
        assert type(generator) is type(maker.input_set_generator)
        again = generator.get_input_set(host, potcar_spec=True)
        original = maker.input_set_generator.get_input_set(host, potcar_spec=True)
        assert dict(again.incar) == dict(original.incar)
        assert list(again.kpoints.kpts[0]) == list(original.kpoints.kpts[0])


def test_a_static_starts_from_the_moments_of_the_job_before(
    monkeypatch, isolated_settings, tmp_path
):
    """The static gets the previous job's ``output.structure`` (as in the hull flow):
    emmet puts the OUTCAR's moments on it as ``magmom``, and they become MAGMOM."""
    from atomate2.utils.testing.vasp import monkeypatch_vasp

    refs = tmp_path / "refs"
    nio_ref = copy_nio_static_reference(refs)
    follow = refs / "NiO_static_from_relaxed"
    shutil.copytree(
        HERE / "data/vasp/NiO_static_from_relaxed/inputs", follow / "inputs"
    )
    shutil.copytree(nio_ref / "outputs", follow / "outputs")
    mock = next(monkeypatch_vasp(monkeypatch, refs))
    checked = ["MAGMOM", "ISMEAR", "NEDOS", "LDAUU", "ENCUT"]
    mock(
        {"first": "NiO_mp_static", "second": "NiO_static_from_relaxed"},
        {
            "first": {"incar_settings": checked, "check_inputs": ["incar"]},
            "second": {"incar_settings": checked, "check_inputs": ["incar", "potcar"]},
        },
    )
    nio = Structure.from_file(RECORDED_VASP / "quacc_NiO_mp_static/POSCAR.gz")
    nio.add_oxidation_state_by_element({"Ni": 2, "O": -2})
    engine = VaspEngine(preset="mp")
    first = engine.static_maker().make(initial_magmoms(nio))
    first.name = "first"
    second = engine.static_maker().make(first.output.structure)
    second.name = "second"
    responses = run_locally(
        Flow([first, second]),
        store=get_job_store(load_settings()),
        create_folders=True,
        root_dir=tmp_path,
        ensure_success=True,
        raise_immediately=True,
        log=False,
    )
    recorded = [
        site["tot"]
        for site in Outcar(
            RECORDED_VASP / "quacc_NiO_mp_static/OUTCAR.gz"
        ).magnetization
    ]
    structure = responses[first.uuid][1].output.structure
    assert structure.site_properties["magmom"] == pytest.approx(recorded)
    assert recorded == pytest.approx([1.122, 0.903])  # the hand-written MAGMOM


def test_mp_densities_are_rounded_up_too():
    """MP's 64 (relax) and 100 (static) k-points per A^-3, met rather than missed."""
    host = initial_magmoms(o3_layered("LiCoO2"))  # 12 atoms, hexagonal cell
    engine = VaspEngine(preset="mp")
    for maker, per_volume in ((engine.relax_maker(), 64), (engine.static_maker(), 100)):
        inputs = maker.input_set_generator.get_input_set(host, potcar_spec=True)
        n1, n2, n3 = inputs.kpoints.kpts[0]
        needed = per_volume * host.lattice.reciprocal_lattice.volume * len(host)
        assert n1 * n2 * n3 * len(host) >= needed
    relax = engine.relax_maker().input_set_generator.get_input_set(
        host, potcar_spec=True
    )
    assert tuple(relax.kpoints.kpts[0]) == (10, 10, 2)  # pymatgen's rounding: 9x9x1
