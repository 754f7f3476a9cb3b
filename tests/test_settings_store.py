"""Settings precedence; the embedded, MongoDB (mongomock), jobflow and Python stores."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import mongomock_ng
import pytest
from jobflow import JobStore, run_locally
from maggma.stores import MemoryStore, MongoStore, MontyStore

from oredox import settings as settings_module
from oredox import store as store_module
from oredox.errors import OredoxInputError
from oredox.schemas import EnergyScheme, StudyDocument
from oredox.settings import load_settings
from oredox.store import (
    INDEXED_FIELDS,
    STUDY_JOB_NAME,
    describe_store,
    find_studies,
    get_job_store,
    get_study,
    list_studies,
    redact_uri,
    study_entries,
)
from oredox.structures.delithiation import (
    alkali_symmetry,
    apply_configuration,
    enumerate_all,
)
from oredox.structures.frameworks import o3_layered
from oredox.workflows.hull_flow import alkali_metal
from oredox.workflows.study_document import (
    Relaxation,
    StudyHost,
    build_study_document,
)

URI = "mongodb://alice:s3cr3t-pw@db.example.org:27017/oredox_test"


def test_settings_precedence(tmp_path, monkeypatch):
    config = tmp_path / "oredox.yaml"
    config.write_text(f"work_dir: {tmp_path / 'from-yaml'}\ndft_u_preset: ltno-2022\n")
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(config))
    monkeypatch.delenv("OREDOX_WORK_DIR")
    settings = load_settings()
    assert settings.work_dir == tmp_path / "from-yaml"
    assert settings.dft_u_preset == "ltno-2022"
    monkeypatch.setenv("OREDOX_WORK_DIR", str(tmp_path / "from-env"))
    assert load_settings().work_dir == tmp_path / "from-env"
    assert (
        load_settings(work_dir=tmp_path / "from-arg").work_dir == tmp_path / "from-arg"
    )
    assert load_settings(work_dir=None).work_dir == tmp_path / "from-env"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("OREDOX_STORE", "postgres://x", "store must be"),
        ("OREDOX_DFT_U_PRESET", "nonsense", "unknown DFT\\+U preset"),
        ("OREDOX_MONGO_TIMEOUT_S", "-1", "mongo_timeout_s"),
    ],
)
def test_bad_settings(monkeypatch, key, value, message):
    monkeypatch.setenv(key, value)
    with pytest.raises(OredoxInputError, match=message):
        load_settings()


def test_unknown_key_in_yaml_is_an_error(tmp_path, monkeypatch):
    config = tmp_path / "oredox.yaml"
    config.write_text("stroe: montydb\n")
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(config))
    with pytest.raises(OredoxInputError, match="stroe"):
        load_settings()


def test_default_store_is_embedded_and_starts_no_server(isolated_settings, monkeypatch):
    def no_server(*args, **kwargs):
        raise AssertionError("the embedded store must not start or contact a server")

    monkeypatch.setattr(store_module, "MongoClient", no_server)
    monkeypatch.setattr(subprocess, "Popen", no_server)
    store = get_job_store(load_settings())
    assert isinstance(store.docs_store, MontyStore)
    assert isinstance(store.additional_stores["data"], MontyStore)
    store.docs_store.update([{"uuid": "a", "index": 1, "name": "probe"}], key="uuid")
    assert store.docs_store.count({"name": "probe"}) == 1
    assert (isolated_settings / "store").is_dir()
    assert "MontyDB (embedded)" in describe_store(load_settings())


def test_redact_uri():
    assert redact_uri(URI) == "mongodb://***@db.example.org:27017/oredox_test"
    assert redact_uri("mongodb+srv://u:p@c.net/db") == "mongodb+srv://***@c.net/db"
    assert redact_uri("mongodb://localhost:27017") == "mongodb://localhost:27017"


def test_unreachable_mongodb_fails_fast_without_leaking_password(monkeypatch):
    monkeypatch.setenv("OREDOX_STORE", "mongodb://bob:hunter2@127.0.0.1:1/oredox")
    monkeypatch.setenv("OREDOX_MONGO_TIMEOUT_S", "0.5")
    start = time.perf_counter()
    with pytest.raises(OredoxInputError) as err:
        get_job_store(load_settings())
    assert time.perf_counter() - start < 10
    assert "hunter2" not in str(err.value)
    assert "cannot reach MongoDB at mongodb://***@127.0.0.1:1/oredox" in str(err.value)


def small_study_job():
    """The study job of a real 3-Li host, fed with energies chosen for the test."""
    host = o3_layered("LiCoO2")
    sym = alkali_symmetry(host)
    configs = enumerate_all(sym)
    scheme = EnergyScheme(
        engine="test",
        engine_version="0",
        functional="none",
        relax_fmax_eV_per_A=0.05,
        relax_cell=False,
    )
    # 3 f.u.: per f.u. -25.9, -24.3, -22.5, -20.0 at x = 1, 2/3, 1/3, 0
    energies = [-77.7, -72.9, -67.5, -60.0]
    relaxations = [
        Relaxation(
            label=f"k{c.n_vacancies}-0",
            initial=apply_configuration(host, sym, c),
            energy_eV=energy,
            structure=apply_configuration(host, sym, c),
            converged=True,
            energy_scheme=scheme,
            configuration=c,
        )
        for c, energy in zip(configs, energies, strict=True)
    ]
    metal = alkali_metal("Li")
    return build_study_document(
        host=StudyHost(
            name="store round trip",
            structure=host,
            supercell_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            framework="O3 layered",
            symmetry=sym,
        ),
        relaxations=relaxations,
        alkali_reference=Relaxation("Li metal", metal, -3.8, metal, True, scheme),
    )


def test_mongodb_path_round_trip(monkeypatch, mongomock_server, capsys, caplog):
    monkeypatch.setenv("OREDOX_STORE", URI)
    settings = load_settings()
    store = get_job_store(settings)
    assert isinstance(store.docs_store, MongoStore)
    assert store.docs_store.database == "oredox_test"
    assert isinstance(store.additional_stores["data"], MongoStore)
    assert store.additional_stores["data"].collection_name == "oredox_data"

    job = small_study_job()
    responses = run_locally(job, store=store, log=False, ensure_success=True)
    written: StudyDocument = responses[job.uuid][1].output
    rows = list_studies(store)
    assert [row["study_id"] for row in rows] == [written.study_id]
    read = get_study(store, written.study_id[:8])
    assert read.model_dump(mode="json") == written.model_dump(mode="json")
    # hand check: e(2/3) = -24.3 vs chord -23.9667 -> on hull; e(1/3) = -22.5 vs chord
    # between 0 and 2/3 (-22.15) -> on hull; average V = -(-25.9 + 20.0 + 1.9) = 4.0
    assert read.hull_config_ids == ["k0-0", "k1-0", "k2-0", "k3-0"][::-1]
    assert read.average_voltage_V == pytest.approx(4.0)
    assert "s3cr3t-pw" not in describe_store(settings)
    out = capsys.readouterr()
    assert "s3cr3t-pw" not in out.out + out.err + caplog.text
    # the fields users filter by are indexed
    indexes = store.docs_store._collection.index_information()
    indexed = {key for info in indexes.values() for key, _ in info["key"]}
    assert set(INDEXED_FIELDS) <= indexed


def test_query_filters_entries_and_csv(isolated_settings, tmp_path, monkeypatch):
    store = get_job_store(load_settings())
    job = small_study_job()
    run_locally(job, store=store, log=False, ensure_success=True)
    (row,) = list_studies(store, chemsys="O-Li-Co")  # any order
    assert row["chemsys"] == "Co-Li-O" and row["x_range"] == [0.0, 1.0]
    assert list_studies(store, chemsys="Li-Ni-O") == []
    assert list_studies(store, framework="P2") == []
    assert (
        len(list_studies(store, engine="test", scheme=row["energy_scheme_id"][:4])) == 1
    )
    assert list_studies(store, scheme="ffffffffffff") == []
    assert len(list_studies(store, x_min=0.3, x_max=0.4)) == 1  # x = 1/3
    assert list_studies(store, x_min=0.4, x_max=0.6) == []
    (study,) = find_studies(store, chemsys="Li-Co-O")
    entries = study_entries(study, x_max=0.5)
    assert [e.data["config_id"] for e in entries] == ["k2-0", "k3-0"]
    assert entries[0].energy == pytest.approx(-67.5)
    assert entries[0].data["energy_scheme_id"] == study.energy_scheme_id
    # the CLI writes the same as CSV
    import csv
    import sys

    from oredox.cli import main

    csv_path = tmp_path / "studies.csv"
    monkeypatch.setattr(
        sys, "argv", ["oredox", "query", "--chemsys", "Li-Co-O", "--csv", str(csv_path)]
    )
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    (line,) = list(csv.DictReader(csv_path.open()))
    assert line["study_id"] == study.study_id and line["chemsys"] == "Co-Li-O"


def test_an_invalid_study_document_is_never_built():
    job = small_study_job()
    kwargs = dict(job.function_kwargs)
    # an incomplete scheme everywhere
    for key in ("relaxations", "alkali_reference"):
        value = kwargs[key]
        kwargs[key] = [
            Relaxation(**(r.__dict__ | {"energy_scheme": {"engine": "test"}}))
            for r in (value if isinstance(value, list) else [value])
        ]
    kwargs["alkali_reference"] = kwargs["alkali_reference"][0]
    with pytest.raises(Exception, match="validation error"):
        build_study_document.original(**kwargs)


def test_get_study_errors(isolated_settings):
    store = get_job_store(load_settings())
    with pytest.raises(OredoxInputError, match="no study"):
        get_study(store, "deadbeef")


def test_redact_uri_hides_everything_before_the_last_at():
    assert redact_uri("mongodb://alice:p@ss@host/db") == "mongodb://***@host/db"
    assert redact_uri("mongodb://alice:p%40ss@h:1/db") == "mongodb://***@h:1/db"
    assert (
        redact_uri("mongodb://a:b@h1,h2:27018/db?w=1")
        == "mongodb://***@h1,h2:27018/db?w=1"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"store: montydb\n  bad: [\n", "not valid YAML: line 2, column 6"),
        (b"\x00\x01\x02\xff binary", "binary data"),
        ("store: caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
        (b"- montydb\n- chgnet\n", "not a YAML list"),
        (b"montydb\n", "not a YAML single value"),
        (b"1: montydb\n", "not a setting name"),
        (b"mongo_timeout_s: [1, 2]\n", "mongo_timeout_s: Input should be a valid num"),
        (b"database: {a: 1}\n", "database: Input should be a valid string"),
        (b"database: 'a b'\n", "database: the database name must not contain"),
        (b"default_engine: " + b"x" * 5000 + b"\n", "default_engine: String should"),
        (b"x" * 1000 + b": 1\n", "Extra inputs are not permitted"),
        (b"# " + b"x" * (2 << 20) + b"\n", "larger than"),
    ],
    ids=[
        "yaml",
        "binary",
        "latin-1",
        "list",
        "scalar",
        "int-key",
        "timeout-type",
        "database-type",
        "database-chars",
        "long-engine",
        "long-key",
        "huge-file",
    ],
)
def test_settings_file_problems_are_one_clear_error(
    tmp_path, monkeypatch, content, message
):
    config = tmp_path / "oredox.yaml"
    config.write_bytes(content)
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(config))
    with pytest.raises(OredoxInputError, match=re.escape(message)) as err:
        load_settings()
    assert str(config) in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 1000


def test_settings_file_that_is_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(tmp_path))
    with pytest.raises(OredoxInputError, match="is a folder, not a YAML file"):
        load_settings()
    monkeypatch.setenv("OREDOX_CONFIG_FILE", "")  # empty: no file
    assert load_settings().store == "montydb"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mongodb://127.0.0.1:99999/db", "the port must be a number"),
        ("mongodb://127.0.0.1:abc/db", "the port must be a number"),
        ("mongodb://[::1/db", "an IPv6 host goes in brackets"),
        ("mongodb:///db", "the URI names no host"),
        ("mongodb://", "the URI names no host"),
        ("mongodb://127.0.0.1/db?nosuchoption=1", "an option after '?'"),
        ("mongodb://127.0.0.1/" + "d" * 100, "at most 63 characters"),
        ("mongodb://127.0.0.1/" + "d" * 10000, "longer than 8192 characters"),
        ("mongodb+srv://c.example.org:27017/db", "one host, no port"),
        ("redis://127.0.0.1/0", "not a redis:// URI"),
    ],
)
def test_bad_store_uris(monkeypatch, uri, message):
    monkeypatch.setenv("OREDOX_STORE", uri)
    with pytest.raises(OredoxInputError, match=re.escape(message)):
        load_settings()


def test_good_store_uris_are_checked_offline():
    for uri in (
        "mongodb+srv://u:p%40ss@cluster0.example.invalid/oredox?retryWrites=true",
        "mongodb://a:b@127.0.0.1:27017,127.0.0.1:27018/db?replicaSet=rs0",
        "mongodb://[::1]:27017/db.collection",
    ):
        settings = load_settings(store=uri)
        assert "***@" in describe_store(settings) or "[::1]" in uri
    assert describe_store(load_settings(store=uri)).endswith("database db")
    assert describe_store(load_settings(store="mongodb://h/?w=1")).endswith("oredox")


def test_work_dir_problems(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for work_dir, message in [
        (afile, "is a file"),
        (afile / "below", "cannot be created: " + str(afile) + " is a file"),
        (tmp_path / ("x" * 300), "File name too long"),
    ]:
        with pytest.raises(OredoxInputError, match=re.escape(message)):
            load_settings(work_dir=work_dir)
    monkeypatch.setenv("OREDOX_WORK_DIR", "")
    with pytest.raises(OredoxInputError, match="work_dir must not be empty"):
        load_settings()
    # writable is checked where the store is made, before anything is written
    monkeypatch.setattr(settings_module.os, "access", lambda *args: False)
    with pytest.raises(OredoxInputError, match=r"work_dir .* is not writable"):
        get_job_store(load_settings(work_dir=tmp_path / "ro"))
    assert not (tmp_path / "ro" / "store").exists()


def test_a_damaged_embedded_store_says_which_folder_to_move(isolated_settings):
    store = get_job_store(load_settings())
    run_locally(small_study_job(), store=store, log=False, ensure_success=True)
    folder = isolated_settings / "store"
    for path in folder.rglob("*.collection"):
        path.write_bytes(b"not a database" * 100)
    with pytest.raises(OredoxInputError, match=f"store in {re.escape(str(folder))}"):
        get_job_store(load_settings())
    # the advice works: with the folder moved away, a new, empty store
    folder.rename(folder.with_name("store.broken"))
    assert list_studies(get_job_store(load_settings())) == []


def test_a_new_mongodb_database_queries_say_so_and_the_first_run_works(
    monkeypatch, mongomock_server
):
    monkeypatch.setenv("OREDOX_STORE", URI)
    store = get_job_store(load_settings())
    with pytest.raises(OredoxInputError, match="has no oredox_outputs collection"):
        list_studies(store)
    with pytest.raises(OredoxInputError, match="is this the right database"):
        get_study(store, "abc")
    database = mongomock_ng.MongoClient(_store=mongomock_server)["oredox_test"]
    assert database.list_collection_names() == []  # the queries wrote nothing
    job = small_study_job()
    run_locally(job, store=store, log=False, ensure_success=True)
    assert len(list_studies(store)) == 1
    assert len(list_studies(get_job_store(load_settings()))) == 1
    indexed = {
        key
        for info in database["oredox_outputs"].index_information().values()
        for key, _ in info["key"]
    }
    assert set(INDEXED_FIELDS) <= indexed


def test_a_study_of_another_schema_is_an_input_error(isolated_settings):
    store = get_job_store(load_settings())
    run_locally(small_study_job(), store=store, log=False, ensure_success=True)
    (row,) = list_studies(store)
    store.docs_store._collection.update_many(
        {"name": STUDY_JOB_NAME}, {"$set": {"output.hull_config_ids": 5}}
    )
    with pytest.raises(OredoxInputError, match="does not match this version"):
        get_study(store, row["study_id"])


# --- which store: Python object > OREDOX_STORE / file > jobflow's JOB_STORE (opt-in)


def test_collection_names_come_from_the_settings(isolated_settings, monkeypatch):
    monkeypatch.setenv("OREDOX_OUTPUTS_COLLECTION", "ltno_outputs")
    monkeypatch.setenv("OREDOX_DATA_COLLECTION", "ltno_blobs")
    store = get_job_store(load_settings())
    assert store.docs_store.collection_name == "ltno_outputs"
    assert store.additional_stores["data"].collection_name == "ltno_blobs"
    run_locally(small_study_job(), store=store, log=False, ensure_success=True)
    database = isolated_settings / "store" / "oredox"
    assert (database / "ltno_outputs.collection").is_file()
    assert not (database / "oredox_outputs.collection").exists()
    assert len(list_studies(get_job_store(load_settings()))) == 1
    # the default names read other collections of the same database: no study there
    monkeypatch.delenv("OREDOX_OUTPUTS_COLLECTION")
    monkeypatch.delenv("OREDOX_DATA_COLLECTION")
    assert list_studies(get_job_store(load_settings())) == []
    # the former keyword still names both
    prefixed = get_job_store(load_settings(), collection_prefix="ltno")
    assert prefixed.docs_store.collection_name == "ltno_outputs"
    for bad in ("", "system.users", "a/b", "x" * 101):
        with pytest.raises(OredoxInputError, match="collection name"):
            load_settings(data_collection=bad)
    with pytest.raises(OredoxInputError, match="must differ"):
        load_settings(outputs_collection="same", data_collection="same")


def test_collection_names_on_mongodb(monkeypatch, mongomock_server):
    monkeypatch.setenv("OREDOX_STORE", URI)
    settings = load_settings(outputs_collection="runs", data_collection="blobs")
    store = get_job_store(settings)
    run_locally(small_study_job(), store=store, log=False, ensure_success=True)
    assert store.additional_stores["data"].collection_name == "blobs"
    database = mongomock_ng.MongoClient(_store=mongomock_server)["oredox_test"]
    assert database.list_collection_names() == ["runs"]  # no large object here
    assert database["runs"].count_documents({"name": STUDY_JOB_NAME}) == 1


def test_a_store_given_in_python_wins_over_the_environment(monkeypatch):
    # an unreachable server in the environment is never contacted
    monkeypatch.setenv("OREDOX_STORE", "mongodb://bob:hunter22@127.0.0.1:1/db")
    given = JobStore(MemoryStore("mine"), additional_stores={"data": MemoryStore("b")})
    settings = load_settings(store=given)
    assert settings.store == "python" and settings.job_store is given
    assert "job_store" not in settings.model_dump()
    store = get_job_store(settings)
    assert store is given
    run_locally(small_study_job(), store=store, log=False, ensure_success=True)
    assert len(list_studies(get_job_store(settings))) == 1
    assert describe_store(settings) == (
        "store given in Python: MemoryStore, collection mine"
    )
    # a plain maggma Store: outputs there, large objects in a sibling collection
    plain = get_job_store(load_settings(store=MemoryStore("outputs_here")))
    assert plain.docs_store.collection_name == "outputs_here"
    assert plain.additional_stores["data"].collection_name == "oredox_data"
    with pytest.raises(OredoxInputError, match="given in Python"):
        load_settings(job_store="mongodb://x/y")
    monkeypatch.setenv("OREDOX_JOB_STORE", "{}")
    with pytest.raises(OredoxInputError, match="given in Python"):
        load_settings()
    monkeypatch.delenv("OREDOX_JOB_STORE")
    monkeypatch.setenv("OREDOX_STORE", "python")
    with pytest.raises(OredoxInputError, match="store object given in Python"):
        load_settings()


def test_jobflow_job_store_only_when_asked(monkeypatch, tmp_path):
    from jobflow import SETTINGS

    theirs = JobStore(
        MontyStore("outputs", database_path=str(tmp_path / "jf"), storage="sqlite"),
        additional_stores={
            "data": MontyStore("data", database_path=str(tmp_path / "jf"))
        },
    )
    monkeypatch.setattr(SETTINGS, "JOB_STORE", theirs)
    assert isinstance(get_job_store(load_settings()).docs_store, MontyStore)
    assert get_job_store(load_settings()) is not theirs  # not used unasked
    monkeypatch.setenv("OREDOX_STORE", "jobflow")
    store = get_job_store(load_settings())
    assert store is theirs
    run_locally(small_study_job(), store=store, log=False, ensure_success=True)
    assert len(list_studies(get_job_store(load_settings()))) == 1
    embedded = get_job_store(load_settings(store="montydb"))
    assert list_studies(embedded) == []  # nothing went to oredox's own store
    assert "jobflow's JOB_STORE: MontyStore at" in describe_store(load_settings())
    # jobflow's default is in memory: results would vanish with the process
    monkeypatch.setattr(SETTINGS, "JOB_STORE", JobStore(MemoryStore()))
    with pytest.raises(OredoxInputError, match="jobflow has none configured"):
        get_job_store(load_settings())


def test_jobflow_job_store_from_jobflow_yaml(tmp_path):
    """The real path: JOBFLOW_CONFIG_FILE read by jobflow in a fresh process."""
    config = tmp_path / "jobflow.yaml"
    where = tmp_path / "jobflow-store"
    config.write_text(
        "JOB_STORE:\n"
        "  docs_store:\n    type: MontyStore\n"
        f"    database_path: {where}\n    collection_name: jf_outputs\n"
        "  additional_stores:\n    data:\n      type: MontyStore\n"
        f"      database_path: {where}\n      collection_name: jf_data\n"
    )
    code = (
        "from jobflow import run_locally\n"
        "from oredox.settings import load_settings\n"
        "from oredox.store import describe_store, get_job_store, list_studies\n"
        # by file, not as tests.test_settings_store: a package named "tests" in
        # site-packages (smol ships one) would shadow this folder
        "import sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_settings_store import small_study_job\n"
        "settings = load_settings()\n"
        "print(describe_store(settings))\n"
        "run_locally(small_study_job(), log=False, ensure_success=True)\n"
        "print(len(list_studies(get_job_store(settings))))\n"
    )
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("OREDOX_")
    }
    env |= {
        "JOBFLOW_CONFIG_FILE": str(config),
        "OREDOX_STORE": "jobflow",
        "OREDOX_CONFIG_FILE": "",
        "OREDOX_WORK_DIR": str(tmp_path / "work"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parents[1],
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    described, count = done.stdout.strip().splitlines()[-2:]
    assert described.startswith(f"jobflow's JOB_STORE: MontyStore at {where}")
    assert described.endswith("collection jf_outputs")
    assert count == "1"  # jobflow's own run_locally and oredox share the store
    assert not (tmp_path / "work" / "store").exists()


def test_a_jobflow_mongodb_store_never_shows_its_password(monkeypatch):
    from jobflow import SETTINGS

    docs = MongoStore(
        database="jf",
        collection_name="outputs",
        host="127.0.0.1",
        port=1,
        username="bob",
        password="hunter22",
        mongoclient_kwargs={"serverSelectionTimeoutMS": 300},
    )
    monkeypatch.setattr(SETTINGS, "JOB_STORE", JobStore(docs))
    monkeypatch.setenv("OREDOX_STORE", "jobflow")
    settings = load_settings()
    shown = describe_store(settings)
    assert "hunter22" not in shown and "mongodb://***@127.0.0.1:1/jf" in shown
    with pytest.raises(OredoxInputError) as err:
        get_job_store(settings)
    assert "hunter22" not in str(err.value)
    assert "MongoDB at mongodb://***@127.0.0.1:1/jf" in str(err.value)


def test_a_store_given_in_python_is_not_submitted_to_a_batch_queue(tmp_path):
    from oredox.workflows.cluster import ClusterProfile, store_identity
    from oredox.workflows.submit import submit_study
    from oredox.workflows.templates import load_template

    given = JobStore(MemoryStore("mine"), additional_stores={"data": MemoryStore("b")})
    settings = load_settings(store=given, work_dir=tmp_path)
    assert (
        store_identity(settings)
        == "store given in Python: MemoryStore, collection mine"
    )
    profile = ClusterProfile(name="test", partition="debug", walltime="00:10:00")
    with pytest.raises(OredoxInputError, match="given in Python cannot reach a batch"):
        submit_study(load_template("demo-chgnet"), profile, settings, queue=False)


def test_a_relative_work_dir_is_made_absolute(tmp_path, monkeypatch):
    # jobs run in their own folders: a relative store path would follow them there
    monkeypatch.chdir(tmp_path)
    settings = load_settings(work_dir="runs-here")
    assert settings.work_dir == tmp_path / "runs-here"
    assert settings.work_dir.is_absolute()
