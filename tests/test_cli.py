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
