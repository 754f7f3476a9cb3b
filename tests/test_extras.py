"""The light core and its optional extras (oredox.extras).

The commands run in subprocesses whose ``sys.meta_path`` starts with a finder that
refuses the extras' modules, as if they were not installed: the core commands still
work, and each command that needs an extra prints one ``error:`` line naming it and
exits with status 2.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oredox.errors import OredoxInputError
from oredox.extras import EXTRAS, MissingExtraError, has_extra, require

DATA = Path(__file__).parent / "data"
VASP_STATIC = DATA / "vasp" / "recorded" / "quacc_NiO_mp_static"
GPAW_STATIC = DATA / "documents" / "gpaw_Li2MnO3_static"
# the top-level modules the extras bring (emmet: atomate2's documents)
HEAVY = ("torch", "chgnet", "atomate2", "custodian", "fireworks", "jobflow_remote")
EVERY_EXTRA = (*sorted({m for ms in EXTRAS.values() for m in ms}), "emmet")

# refuses the top-level modules of argv[1] (JSON), before anything imports them
BLOCKER = """
import contextlib, importlib.abc, io, json, sys
BLOCKED = set(json.loads(sys.argv[1]))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
"""
# runs each command of argv[2] (JSON) through oredox.cli.main, catching its exit;
# prints one JSON row per command and the blocked modules that were loaded
RUNNER = (
    BLOCKER
    + """
from oredox.cli import main

rows = []
for argv in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code
    rows.append({"argv": argv, "code": code, "stdout": out.getvalue(),
                 "stderr": err.getvalue()})
loaded = sorted({k.split(".")[0] for k in sys.modules} & BLOCKED)
print(json.dumps({"rows": rows, "loaded": loaded}))
"""
)


def run_blocked(blocked, commands, work_dir: Path) -> dict:
    """Run ``commands`` (argv lists) in one subprocess with ``blocked`` refused."""
    env = os.environ | {
        "OREDOX_WORK_DIR": str(work_dir),
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "200",
    }
    env.pop("OREDOX_CONFIG_FILE", None)
    env.pop("OREDOX_STORE", None)
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            RUNNER,
            json.dumps(list(blocked)),
            json.dumps(commands),
        ],
        capture_output=True,
        text=True,
        cwd=work_dir,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def error_lines(row: dict) -> list[str]:
    """The lines of a command's stderr that start with ``error:``."""
    return [line for line in row["stderr"].splitlines() if line.startswith("error:")]


@pytest.fixture
def cluster_files(tmp_path):
    """A cluster profile and a template folder in ``tmp_path``."""
    (tmp_path / "profile.yaml").write_text("name: c\npartition: cpu\n")
    return tmp_path


def test_each_command_that_needs_an_extra_names_it(cluster_files):
    work = cluster_files
    gpaw_static = work / "gpaw-static"
    shutil.copytree(GPAW_STATIC, gpaw_static)
    profile = str(work / "profile.yaml")
    cases = {
        "chgnet": [["demo", "--no-progress"], ["run", "demo-chgnet"]],
        "gpaw": [
            ["demo", "--engine", "gpaw", "--no-progress"],
            ["analyse", str(gpaw_static), "-o", str(work / "gpaw-analysis")],
        ],
        "vasp": [["run", "li2mno3-honeycomb", "--dry-run", "-o", str(work / "dry")]],
        "cluster": [
            ["submit", "demo-chgnet", "--profile", profile],
            [
                "submit",
                "demo-chgnet",
                "--profile",
                profile,
                "--via",
                "jobflow-remote",
                "--worker",
                "w",
            ],
            ["status", "--profile", profile],
            ["rerun", "--profile", profile],
        ],
    }
    commands = [argv for argvs in cases.values() for argv in argvs]
    result = run_blocked(EVERY_EXTRA, commands, work)
    rows = iter(result["rows"])
    for extra, argvs in cases.items():
        for argv in argvs:
            row = next(rows)
            assert row["argv"] == argv
            assert row["code"] == 2, row
            errors = error_lines(row)
            assert len(errors) == 1, row["stderr"]
            assert f"optional extra [{extra}]" in errors[0], errors[0]
            assert f"pip install 'oredox[{extra}]'" in errors[0], errors[0]
            assert "Traceback" not in row["stderr"]
    assert result["loaded"] == []
    assert not (work / "dry").exists()  # refused before anything was written
    assert not (work / "gpaw-analysis").exists()


def test_chgnet_screening_needs_the_chgnet_extra(tmp_path):
    # the VASP engine is there, CHGNet is not: the screening says so first
    argv = ["run", "p2-nlmo-ribbon", "--dry-run", "-o", str(tmp_path / "dry")]
    (row,) = run_blocked(("chgnet", "torch"), [argv], tmp_path)["rows"]
    assert row["code"] == 2, row
    (error,) = error_lines(row)
    assert error.startswith("error: CHGNet screening (rankers: chgnet) needs")
    assert "[chgnet] (missing: chgnet, torch)" in error
    assert "rankers: [ewald]" in error


def test_core_commands_work_with_every_extra_missing(tmp_path):
    vasp_static = tmp_path / "NiO"
    shutil.copytree(VASP_STATIC, vasp_static)
    sqs = tmp_path / "sqs.cif"
    commands = [
        ["template", "list"],
        ["template", "show", "demo-gpaw"],
        ["query"],
        ["structure", "seed", "li2mno3", "-o", str(tmp_path / "POSCAR")],
        [
            "structure",
            "sqs",
            "--n-cells",
            "8",
            "--cations",
            "Li=1/2,Ni=1/2",
            "--steps",
            "200",
            "-o",
            str(sqs),
        ],
        ["analyse", str(vasp_static), "-o", str(tmp_path / "analysis")],
    ]
    result = run_blocked(EVERY_EXTRA, commands, tmp_path)
    for row in result["rows"]:
        assert row["code"] == 0, row
        assert not error_lines(row), row["stderr"]
    listed = result["rows"][0]["stdout"]
    assert "demo-chgnet" in listed and "li2mno3-honeycomb" in listed
    assert "engine: gpaw" in result["rows"][1]["stdout"]
    assert (tmp_path / "POSCAR").is_file() and sqs.is_file()
    assert (tmp_path / "analysis" / "analysis.json").is_file()
    assert result["loaded"] == []


# imports every module the core install must import (structures and analysis: all
# of them), prints which of the modules of argv[2] (JSON) were loaded
CORE_MODULES = (
    BLOCKER
    + """
import importlib, pkgutil
import oredox.analysis, oredox.structures
names = ["oredox", "oredox.store", "oredox.store_oxygen", "oredox.store_sources",
         "oredox.cli", "oredox.report", "oredox.documents", "oredox.settings",
         "oredox.workflows.engines", "oredox.workflows.templates",
         "oredox.workflows.screening", "oredox.workflows.demo",
         "oredox.workflows.study", "oredox.workflows.submit",
         "oredox.workflows.cluster", "oredox.workflows.oxygen_run"]
for package in (oredox.structures, oredox.analysis):
    names += [m.name for m in pkgutil.walk_packages(
        package.__path__, package.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"n": len(names), "loaded": sorted(
    {k.split(".")[0] for k in sys.modules} & set(json.loads(sys.argv[2])))}))
"""
)


@pytest.mark.parametrize("blocked", [True, False], ids=["blocked", "installed"])
def test_core_modules_import_no_extra(blocked):
    # blocked: they import without the extras; installed: they do not load them
    refused = EVERY_EXTRA if blocked else ()
    args = [json.dumps(refused), json.dumps(HEAVY)]
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CORE_MODULES, *args],
        capture_output=True,
        text=True,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["n"] > 30
    # ASE loads the plugins of an installed GPAW itself (an entry point): not ours
    assert [m for m in found["loaded"] if m in HEAVY] == []


def test_require_names_the_extra_and_what_is_missing(monkeypatch):
    from oredox import extras

    def find_spec(name):
        return None if name in ("fireworks", "torch") else object()

    monkeypatch.setattr(extras, "find_spec", find_spec)
    with pytest.raises(MissingExtraError) as info:
        require("cluster", "oredox status", modules=("fireworks",))
    assert isinstance(info.value, OredoxInputError)
    assert str(info.value) == (
        "oredox status needs the optional extra [cluster] (missing: fireworks); "
        "install it with pip install 'oredox[cluster]'"
    )
    require("cluster", "jobflow-remote", modules=("jobflow_remote",))  # present
    assert not has_extra("chgnet") and has_extra("vasp")
    with pytest.raises(ValueError, match="not all modules"):
        require("vasp", "x", modules=("torch",))
    with pytest.raises(ValueError, match="unknown extra"):
        require("castep", "x")


def test_engine_lookup_checks_the_extra_and_stays_a_mapping(monkeypatch):
    from oredox import extras
    from oredox.workflows.engines import ENGINES, engine_class, get_engine

    assert list(ENGINES) == ["chgnet", "vasp", "gpaw"] and "gpaw" in ENGINES
    assert "castep" not in ENGINES
    with pytest.raises(KeyError):
        ENGINES["castep"]
    monkeypatch.setattr(extras, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r"the GPAW engine needs .*\[gpaw\]"):
        get_engine("gpaw")
    with pytest.raises(MissingExtraError, match=r"CHGNet engine .*\[chgnet\]"):
        get_engine("chgnet+vasp")
    assert engine_class("vasp", check_extra=False).name == "vasp"


def test_the_written_out_gpaw_options_are_the_engine_fields():
    # ENGINE_OPTIONS["gpaw"] is written out so that templates need no atomate2
    from oredox.workflows.engines import ENGINE_OPTIONS, GPAW_STATIC_FILE
    from oredox.workflows.engines.gpaw import GpawEngine
    from oredox.workflows.engines.gpaw_files import STATIC_FILE

    fields = tuple(
        f for f in GpawEngine.model_fields if f not in ("preset", "walltime_s")
    )
    assert ENGINE_OPTIONS["gpaw"] == fields
    assert GPAW_STATIC_FILE == STATIC_FILE


def test_a_task_document_whose_class_needs_an_extra_names_it(tmp_path, monkeypatch):
    from jobflow import JobStore, job, run_locally
    from maggma.stores import MemoryStore

    from oredox import extras
    from oredox.documents import task_document

    @job
    def relax():
        # as a force-field relaxation stores it, its class not importable here
        return {"@module": "atomate2.forcefields.gone", "@class": "Doc", "energy": 1}

    store = JobStore(MemoryStore())
    stored = relax()
    run_locally(stored, store=store, root_dir=tmp_path, log=False)
    with pytest.raises(OredoxInputError, match="stored a dict, not a task document"):
        task_document(store, stored.uuid)  # atomate2 is here: the class is gone
    monkeypatch.setattr(extras, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError) as info:
        task_document(store, stored.uuid)
    assert str(info.value).startswith(
        f"the Doc document of job {stored.uuid} needs the optional extra [chgnet] "
        "(missing: atomate2)"
    )
