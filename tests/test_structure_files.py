"""Structure files a VASP user can use as they are.

POSCARs sorted by element (one POTCAR block per element) with the site order in the
JSON record, CIFs with their space group, and the ``oredox structure`` commands that
write them.
"""

import json
import sys
from itertools import pairwise

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.cif import CifParser
from pymatgen.io.vasp import Poscar

from oredox.cli import main
from oredox.errors import OredoxInputError
from oredox.structures.frameworks import make_supercell, o3_layered, rock_salt
from oredox.structures.output import read_structure, write_structure
from oredox.structures.seeds import LTNO_CATIONS
from oredox.structures.sqs import generate_sqs


@pytest.fixture(scope="module")
def ltno_sqs():
    parent = rock_salt(LTNO_CATIONS, a=4.15, cell="primitive")
    return generate_sqs(parent, n_cells=24, n_steps=2000, seed=0)


def run_cli(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["oredox", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def test_sqs_poscar_has_one_block_per_element_and_maps_back(ltno_sqs, tmp_path):
    symbols = [site.specie.symbol for site in ltno_sqs]
    # the SQS interleaves the cations: Poscar(structure) alone would repeat Li, Ti
    runs = sum(1 for a, b in pairwise(symbols) if a != b) + 1
    assert runs > 4

    path, record_file = write_structure(ltno_sqs, tmp_path / "ltno.vasp")
    poscar = Poscar.from_file(path)
    # electronegativity order: Li 0.98, Ti 1.54, Ni 1.91, O 3.44
    assert poscar.site_symbols == ["Li", "Ti", "Ni", "O"]
    assert poscar.natoms == [14, 7, 3, 24]
    lines = path.read_text().splitlines()
    assert lines[5].split() == ["Li", "Ti", "Ni", "O"]

    record = json.loads(record_file.read_text())
    order = record["poscar_site_order"]
    assert sorted(order) == list(range(48))
    original = Structure.from_dict(record["structure"])
    assert (
        original.site_properties["sublattice"] == ltno_sqs.site_properties["sublattice"]
    )
    for k, i in enumerate(order):
        assert poscar.structure[k].specie.symbol == ltno_sqs[i].specie.symbol
        assert np.allclose(poscar.structure[k].frac_coords, ltno_sqs[i].frac_coords)

    back = read_structure(path)
    assert [str(s) for s in back.species] == [str(s) for s in ltno_sqs.species]
    assert np.allclose(back.frac_coords, ltno_sqs.frac_coords)
    assert back.site_properties["sublattice"] == ltno_sqs.site_properties["sublattice"]
    assert back.properties["provenance"]["method"] == "sqs"


def test_a_contcar_with_moved_atoms_comes_back_in_build_order(ltno_sqs, tmp_path):
    path, record = write_structure(ltno_sqs, tmp_path / "POSCAR")
    assert record.name == "POSCAR.json"
    relaxed = Poscar.from_file(path).structure
    relaxed.translate_sites([0], [0.01, 0.0, 0.0])  # the first Li moves
    relaxed.scale_lattice(relaxed.volume * 1.03)
    Poscar(relaxed).write_file(tmp_path / "CONTCAR")

    back = read_structure(tmp_path / "CONTCAR", record)
    first_li = json.loads(record.read_text())["poscar_site_order"][0]
    moved = back[first_li].frac_coords - ltno_sqs[first_li].frac_coords
    assert moved == pytest.approx([0.01, 0, 0], abs=1e-6)
    assert back.volume == pytest.approx(ltno_sqs.volume * 1.03)
    assert back.site_properties["sublattice"] == ltno_sqs.site_properties["sublattice"]

    wrong = Poscar(o3_layered("LiCoO2")).structure
    Poscar(wrong).write_file(tmp_path / "OTHER")
    with pytest.raises(OredoxInputError, match="give the record written with"):
        read_structure(tmp_path / "OTHER", record)


def test_mixed_valence_metals_share_one_block(tmp_path):
    from oredox.structures.p2 import p2_host

    structure = p2_host("NaMnO2", 2 / 3)
    path, _ = write_structure(structure, tmp_path / "p2.vasp")
    poscar = Poscar.from_file(path)
    assert poscar.site_symbols == ["Na", "Mn", "O"]
    assert poscar.natoms == [4, 6, 12]


def test_o3_licoo2_cif_carries_r3m_and_round_trips(tmp_path):
    for cell, n_sites in (("conventional", 12), ("primitive", 4)):
        structure = o3_layered("LiCoO2", cell=cell)
        path, _ = write_structure(structure, tmp_path / f"lco_{cell}.cif")
        text = path.read_text()
        assert "_symmetry_space_group_name_H-M   R-3m" in text
        assert "_symmetry_Int_Tables_number   166" in text
        # symmetry-distinct sites only: Li, Co, O
        assert text.count("Co3+  Co") == 1
        back = CifParser(path).parse_structures(primitive=False)[0]
        assert len(back) == n_sites
        assert back.composition.reduced_formula == "LiCoO2"
        assert back.lattice.abc == pytest.approx(structure.lattice.abc)
        assert back.matches(structure, scale=False)


def test_cif_keeps_the_cell_given_and_p1_when_asked(tmp_path):
    supercell = make_supercell(o3_layered("LiCoO2"), (2, 1, 1))
    path, record = write_structure(supercell, tmp_path / "lco_211.cif")
    back = CifParser(path).parse_structures(primitive=False)[0]
    assert len(back) == 24
    assert back.composition.formula == "Li6 Co6 O12"
    assert "R-3m" in path.read_text()
    labels = Structure.from_dict(json.loads(record.read_text())["structure"])
    assert set(labels.site_properties["sublattice"]) == {"alkali", "metal", "anion"}

    path, _ = write_structure(supercell, tmp_path / "p1.cif", symprec=None)
    assert "_symmetry_space_group_name_H-M   'P 1'" in path.read_text()


def test_disordered_rock_salt_cif_is_fm3m(tmp_path):
    path, _ = write_structure(rock_salt(), tmp_path / "rs.cif")
    assert "Fm-3m" in path.read_text()
    back = CifParser(path).parse_structures(primitive=False)[0]
    assert back.composition.reduced_formula == "LiNiO2"
    assert len(back) == 8


def test_cli_p2_writes_a_charge_balanced_sorted_host(monkeypatch, tmp_path):
    out = tmp_path / "p2.vasp"
    args = ["structure", "p2", "--alkali", "0.67", "-o", str(out)]
    assert run_cli(monkeypatch, *args) == 0
    poscar = Poscar.from_file(out)
    assert poscar.site_symbols == ["Na", "Mn", "O"]
    assert poscar.natoms == [4, 6, 12]  # Na2/3MnO2, not the over-full Na4Mn2O4
    record = json.loads(out.with_suffix(".json").read_text())
    host = Structure.from_dict(record["structure"])
    assert host.charge == pytest.approx(0)
    assert sorted(str(s) for s in host.species if s.symbol == "Mn") == [
        "Mn3+",
        "Mn3+",
        "Mn3+",
        "Mn3+",
        "Mn4+",
        "Mn4+",
    ]
    assert record["provenance"]["prisms_occupied"] == {"edge": 4, "face": 0}
    labels = {p for p in host.site_properties["prism"] if p}
    assert labels == {"edge"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alkali", "2/3", "--metal-state", "4"], "not charge balanced with Mn4+"),
        (["--formula", "NaMgO2"], "Mg takes only"),
        (["--alkali", "0.65"], "choose a nearby content such as 2/3"),
        (["--alkali", "1.5"], "in (0, 1]"),
    ],
)
def test_cli_p2_refuses_what_cannot_balance(
    monkeypatch, capsys, tmp_path, args, message
):
    monkeypatch.chdir(tmp_path)
    assert run_cli(monkeypatch, "structure", "p2", *args, "-o", "x.vasp") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "x.vasp").exists()
