"""Shared fixtures: each test has its own work directory and clean OREDOX_* settings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mongomock_ng
import pytest

# real VASP runs of others, copied into the repository (PROVENANCE.md there)
RECORDED_VASP = Path(__file__).parent / "data" / "vasp" / "recorded"


INTEGRATION = ("slow", "gpaw", "slurm")


def pytest_collection_modifyitems(config, items):
    """Tests that run an engine or a cluster are ``integration`` tests too.

    ``pytest -m "not integration"`` runs the unit tests alone (about a minute);
    ``.ci/run`` runs everything.
    """
    for item in items:
        if any(item.get_closest_marker(name) for name in INTEGRATION):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """No OREDOX_* variable or ~/.oredox.yaml from the machine leaks into a test.

    ``OREDOX_THREADS=1``: a local run in a test neither samples the machine's load
    nor leaves PyTorch's process-wide count at what the load gave; tests of the
    thread rule unset it.
    """
    for key in list(os.environ):
        if key.startswith("OREDOX_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OREDOX_THREADS", "1")
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(tmp_path / "no-such-config.yaml"))
    monkeypatch.setenv("OREDOX_WORK_DIR", str(tmp_path / "work"))
    return tmp_path / "work"


@pytest.fixture
def mongomock_server(monkeypatch):
    """pymongo's MongoClient replaced by mongomock clients sharing one server."""
    server = mongomock_ng.store.ServerStore()

    def client(*args, **kwargs):
        for key in ("serverSelectionTimeoutMS", "connectTimeoutMS"):
            kwargs.pop(key, None)
        made = mongomock_ng.MongoClient(*args, _store=server, **kwargs)
        made.close = lambda: None  # mongomock's close() empties the shared server
        return made

    monkeypatch.setattr("oredox.store.MongoClient", client)
    monkeypatch.setattr("maggma.stores.mongolike.MongoClient", client)
    return server


def copy_nio_static_reference(refs: Path) -> Path:
    """refs/NiO_mp_static: hand-written inputs, the recorded quacc NiO outputs.

    The layout of atomate2's ``monkeypatch_vasp`` reference folders; nothing written
    here is a VASP output (the outputs are copied byte for byte).
    """
    here = Path(__file__).parent
    recorded = RECORDED_VASP / "quacc_NiO_mp_static"
    ref = refs / "NiO_mp_static"
    shutil.copytree(here / "data/vasp/NiO_mp_static/inputs", ref / "inputs")
    shutil.copy(recorded / "POSCAR.gz", ref / "inputs" / "POSCAR.gz")
    (ref / "outputs").mkdir()
    for name in ("vasprun.xml.gz", "OUTCAR.gz", "CONTCAR.gz", "INCAR.gz", "POSCAR.gz"):
        shutil.copy(recorded / name, ref / "outputs" / name)
    shutil.copy(ref / "inputs" / "POTCAR.spec", ref / "outputs" / "POTCAR.spec")
    return ref
