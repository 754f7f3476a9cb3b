"""Bad input: one clear message, exit status 2, nothing written to the store."""

import sys

import pytest

from oredox.cli import main


def run_cli(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["oredox", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["demo", "--formula", "NaMgO2"], {}, "not charge balanced"),
        (
            ["demo", "--formula", "LiCoO2", "--oxidation-state", "Co=4"],
            {},
            "not charge balanced",
        ),
        (["demo", "--formula", "CoO2"], {}, "no Li, Na or K sites"),
        (["demo", "--engine", "castep"], {}, "unknown engine 'castep'"),
        (["demo", "--engine", "vasp"], {}, "the VASP command 'vasp_std' is not on"),
        (["demo", "--supercell", "0", "1", "1"], {}, "determinant 0"),
        (
            ["demo"],
            {
                "OREDOX_STORE": "mongodb://carol:pa55word@127.0.0.1:1/x",
                "OREDOX_MONGO_TIMEOUT_S": "0.5",
            },
            "cannot reach MongoDB",
        ),
        (["demo"], {"OREDOX_STORE": "sqlite:///x"}, "store must be"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    monkeypatch, capsys, isolated_settings, args, env, message
):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert run_cli(monkeypatch, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:")
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert "pa55word" not in err
    assert not (isolated_settings / "store").exists()
    assert not (isolated_settings / "runs").exists()


def test_query_on_empty_store(monkeypatch, capsys):
    assert run_cli(monkeypatch, "query", "--json") == 0
    assert capsys.readouterr().out.strip() == "[]"


def test_structure_commands_write_files_and_records(monkeypatch, tmp_path):
    import json

    from pymatgen.core import Structure

    out = tmp_path / "li2mno3.cif"
    assert run_cli(monkeypatch, "structure", "seed", "li2mno3", "-o", str(out)) == 0
    assert Structure.from_file(out).composition.reduced_formula == "Li2MnO3"
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["space_group"] == "C2/m"
    assert record["provenance"]["motif"] == "honeycomb"

    poscar = tmp_path / "POSCAR"
    args = ["structure", "sqs", "--steps", "20000", "--seed", "3", "-o", str(poscar)]
    assert run_cli(monkeypatch, *args) == 0
    assert Structure.from_file(poscar).composition.formula == "Li14 Ti7 Ni3 O24"
    quality = json.loads((tmp_path / "POSCAR.json").read_text())["provenance"][
        "quality"
    ]
    assert quality["cluster_vector_mismatch"] < 0.2
    assert len(quality["warren_cowley_alpha"]) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["structure", "layered", "--ordering", "zigzag", "-o", "x.cif"],
            "unknown ordering",
        ),
        (
            ["structure", "sqs", "--cations", "Li=0.4,Ti=0.2,Ni=0.4", "-o", "x.cif"],
            "24 sites cannot hold",
        ),
        (
            ["structure", "rocksalt", "--cations", "Li=0.5,Ni=0.6", "-o", "x.cif"],
            "must sum to 1",
        ),
        (["structure", "rocksalt", "-o", "x.vasp"], "cannot hold partial occupancies"),
        (["structure", "seed", "lto", "-o", "x.cif"], "unknown seed"),
    ],
)
def test_structure_bad_input(monkeypatch, capsys, tmp_path, args, message):
    monkeypatch.chdir(tmp_path)
    assert run_cli(monkeypatch, *args) == 2
    assert message in " ".join(capsys.readouterr().err.split())


def test_version_names_oredox_python_and_each_extra(monkeypatch, capsys):
    from oredox import __version__
    from oredox.extras import EXTRAS

    assert run_cli(monkeypatch, "--version") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"oredox {__version__}\n")
    assert "python 3." in out
    extras = out.splitlines()[-1]
    assert extras.startswith("extras: ")
    for extra in EXTRAS:
        assert f"{extra} " in extras


def test_query_list_says_when_the_store_is_empty(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OREDOX_WORK_DIR", str(tmp_path))
    assert run_cli(monkeypatch, "query") == 0
    assert "no studies in the store" in capsys.readouterr().out
    assert not (tmp_path / "store").exists()  # a query creates no store


def test_query_list_has_no_figure(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("OREDOX_WORK_DIR", str(tmp_path))
    assert run_cli(monkeypatch, "query", "--png", str(tmp_path / "hull.png")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "go with a study id" in err
