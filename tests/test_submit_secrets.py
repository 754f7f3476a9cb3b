"""``submit`` keeps the store's password out of the LaunchPad, the files, the output.

The settings file names a MongoDB store whose URI holds a password; MongoDB and the
FireWorks LaunchPad are mongomock (one in-memory server, as ``mongodb://`` on
127.0.0.1). After ``submit_study`` every document of every database on that server,
every file written under the test's folders (the settings file itself excepted), the
batch script, what was printed and logged are searched for the password. The worker
side then builds the same store from the settings (by reference) and runs a job whose
output lands in MongoDB.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import mongomock_ng
import pytest
import yaml
from bson import json_util
from fireworks import FWorker
from fireworks.core.rocket_launcher import launch_rocket
from jobflow import SETTINGS, Flow, job

from oredox import store as store_module
from oredox.errors import OredoxInputError
from oredox.settings import load_settings
from oredox.workflows.cluster import (
    SUBMITTED_STORE,
    load_profile,
    run_worker,
    store_identity,
    use_oredox_store,
)
from oredox.workflows.submit import get_launchpad, submit_fireworks, submit_study
from oredox.workflows.templates import load_template

PASSWORD = "s3cr3t-Pw-7f9c2e"
URI = f"mongodb://bob:{PASSWORD}@127.0.0.1:27017/oredox_secrets"


@job
def add(a, b):
    """A job the worker runs."""
    return a + b


class _Client(mongomock_ng.MongoClient):
    """mongomock's client, but closing it leaves the shared server's data alone."""

    def close(self) -> None:
        """Nothing to release (mongomock's close empties the whole server)."""


@pytest.fixture
def mongo(monkeypatch):
    """pymongo replaced by mongomock clients sharing one server (store, LaunchPad)."""
    server = mongomock_ng.store.ServerStore()

    def client(*args, **kwargs):
        for key in ("serverSelectionTimeoutMS", "connectTimeoutMS"):
            kwargs.pop(key, None)
        return _Client(*args, _store=server, **kwargs)

    monkeypatch.setattr(store_module, "MongoClient", client)
    monkeypatch.setattr("maggma.stores.mongolike.MongoClient", client)
    monkeypatch.setattr("fireworks.core.launchpad.MongoClient", client)
    monkeypatch.setattr("fireworks.core.launchpad.GRIDFS_FALLBACK_COLLECTION", None)
    monkeypatch.setattr(SETTINGS, "JOB_STORE", SETTINGS.JOB_STORE)  # restored after
    return server


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """Settings file (with the password), profile, LaunchPad file, a stand-in sbatch."""
    settings_file = tmp_path / "oredox.yaml"
    settings_file.write_text(yaml.safe_dump({"store": URI}))
    settings_file.chmod(0o600)
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(settings_file))
    launchpad_file = tmp_path / "my_launchpad.yaml"
    launchpad_file.write_text("host: 127.0.0.1\nname: fw_secrets\n")
    profile_file = tmp_path / "profile.yaml"
    profile_file.write_text(
        yaml.safe_dump(
            {
                "name": "test",
                "partition": "debug",
                "launchpad_file": str(launchpad_file),
                "pre_run": ["export OMP_NUM_THREADS=1"],
            }
        )
    )
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "sbatch").write_text('#!/bin/sh\necho "Submitted batch job 77"\n')
    (folder / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return {"settings": settings_file, "profile": profile_file}


def dump_server(server) -> str:
    """Every document of every collection of every database, as extended JSON."""
    client = mongomock_ng.MongoClient(_store=server)
    return "\n".join(
        f"{name}.{collection}: {json_util.dumps(doc)}"
        for name in client.list_database_names()
        for collection in client[name].list_collection_names()
        for doc in client[name][collection].find()
    )


def files_holding(root: Path, secret: str, skip: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and path != skip and secret.encode() in path.read_bytes()
    ]


def test_submit_keeps_the_password_out_of_the_launchpad_files_and_output(
    tmp_path, mongo, cluster, capfd, caplog
):
    template = tmp_path / "lco.yaml"
    template.write_text(
        yaml.safe_dump(
            {
                "name": "LiCoO2 secrets",
                "host": {"o3_formula": "LiCoO2", "supercell": [1, 1, 1]},
                "engine": "chgnet",
                "screening": {"relax_all": True, "rankers": ["ewald"]},
            }
        )
    )
    settings = load_settings()
    assert settings.store == URI  # the password is really in play
    result = submit_study(
        load_template(template),
        load_profile(cluster["profile"]),
        settings,
        launch_dir=tmp_path / "launch",
    )
    assert result["job_id"] == "77" and len(result["fw_ids"]) == 2

    dump = dump_server(mongo)
    assert "fw_secrets.fireworks" in dump and "JobFiretask" in dump
    assert PASSWORD not in dump
    client = mongomock_ng.MongoClient(_store=mongo)
    for fw in client["fw_secrets"]["fireworks"].find():
        (task,) = fw["spec"]["_tasks"]
        assert task["store"] is None  # by reference: the worker's settings
    assert not files_holding(tmp_path, PASSWORD, skip=cluster["settings"])
    script = Path(result["script"]).read_text()
    assert f"export OREDOX_CONFIG_FILE={cluster['settings']}" in script
    assert "mongodb://" in script  # the store's address, its credentials withheld
    assert f"{SUBMITTED_STORE}='mongodb://***@127.0.0.1:27017" in script
    assert PASSWORD not in json.dumps(result)
    out = capfd.readouterr()
    assert PASSWORD not in out.out + out.err + caplog.text


def test_the_worker_builds_the_store_from_the_settings(
    tmp_path, mongo, cluster, monkeypatch
):
    settings = load_settings()
    adder = add(1, 2)
    result = submit_fireworks(
        Flow([adder], name="adder"),
        load_profile(cluster["profile"]),
        settings,
        tmp_path / "launch",
    )
    script = Path(result["script"]).read_text()
    identity = store_identity(settings)
    assert identity in script
    # the worker: its settings come from the file the script names
    store = use_oredox_store(load_settings(), expected=identity)
    assert SETTINGS.JOB_STORE is store
    launchpad = get_launchpad(load_profile(cluster["profile"]))
    monkeypatch.chdir(tmp_path)
    assert launch_rocket(launchpad, FWorker())
    doc = store.query_one({"uuid": adder.uuid}, load=True)
    assert doc["output"] == 3
    raw = mongomock_ng.MongoClient(_store=mongo)["oredox_secrets"]["oredox_outputs"]
    assert raw.count_documents({"uuid": adder.uuid}) == 1  # MongoDB, not memory
    assert PASSWORD not in dump_server(mongo)


def test_a_worker_with_another_store_stops_before_running(
    tmp_path, mongo, cluster, monkeypatch, capsys
):
    submitted = store_identity(load_settings())
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(tmp_path / "none.yaml"))
    monkeypatch.setenv(SUBMITTED_STORE, submitted)
    other = load_settings()  # the embedded store
    with pytest.raises(OredoxInputError, match="not the one") as err:
        use_oredox_store(other, expected=submitted)
    assert PASSWORD not in str(err.value)
    assert run_worker(["-l", str(tmp_path / "my_launchpad.yaml"), "singleshot"]) == 2
    out = capsys.readouterr()
    assert "oredox worker:" in out.err and PASSWORD not in out.out + out.err
