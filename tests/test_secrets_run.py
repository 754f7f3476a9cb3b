"""A local run against a MongoDB whose URI holds a password: the password is nowhere.

The run (a real study-document job through oredox's journalled local runner, into a
mongomock server standing in for MongoDB) and the queries after it; then everything
written is searched: stdout, stderr, the log records, every file under the work
folder (journal, run record, run log, job folders) and every document of every
database on the server.
"""

import json
import logging
import sys

import mongomock_ng
import pytest
from jobflow import Flow
from test_settings_store import small_study_job

from oredox.cli import main
from oredox.settings import load_settings
from oredox.store import get_job_store, list_studies
from oredox.workflows.execution import run_identity
from oredox.workflows.study import run_hull_flow

PASSWORD = "s3cr3t-p@ss"
URI = "mongodb://alice:s3cr3t-p%40ss@127.0.0.1:27017/oredox_secret"


def everything_written(server, work_dir) -> str:
    texts = [
        path.read_bytes().decode("utf-8", "replace")
        for path in sorted(work_dir.rglob("*"))
        if path.is_file()
    ]
    client = mongomock_ng.MongoClient(_store=server)
    for name in client.list_database_names():
        database = client[name]
        for collection in database.list_collection_names():
            texts += [json.dumps(d, default=str) for d in database[collection].find()]
    return "\n".join(texts)


def test_a_run_and_its_queries_never_write_the_password(
    mongomock_server,
    isolated_settings,
    monkeypatch,
    capsys,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OREDOX_STORE", URI)
    settings = load_settings()
    store = get_job_store(settings)
    job = small_study_job()
    identity = run_identity("secret test", {"name": "secret test"}, "test")
    study = run_hull_flow(
        Flow([job], job.output),
        store,
        settings,
        "secret test",
        progress=False,
        identity=identity,
    )
    assert [row["study_id"] for row in list_studies(store)] == [study.study_id]
    for argv in (["query"], ["query", "--json"], ["query", study.study_id[:8]]):
        monkeypatch.setattr(sys, "argv", ["oredox", *argv])
        with pytest.raises(SystemExit) as done:
            main()
        assert done.value.code == 0
    out = capsys.readouterr()
    written = everything_written(mongomock_server, isolated_settings)
    assert study.study_id in written  # the search does see the stored documents
    for secret in (PASSWORD, "s3cr3t-p%40ss", "s3cr3t"):
        assert secret not in out.out + out.err, secret
        assert secret not in caplog.text, secret
        assert secret not in written, secret
