"""A store URI's password never reaches stdout, stderr, the logs or an error message.

Every error path that sees the URI is provoked, from each place a URI comes from
(settings file, ``OREDOX_STORE``, keyword), through ``oredox`` and through the
library: each error is one ``error:`` line with exit status 2, and no form of the
password (as written, percent-decoded, percent-encoded, or a piece of it) appears.
"""

import logging
import sys
import traceback
from urllib.parse import quote_plus, unquote

import mongomock_ng
import pytest
from pymongo.errors import OperationFailure

from oredox.cli import main
from oredox.errors import OredoxInputError
from oredox.settings import exception_detail, load_settings, redact_uri
from oredox.store import check_mongodb_reachable, get_job_store, list_studies

PASSWORD = "s3cr3t-p@ss%40word"
ENCODED = quote_plus(PASSWORD)  # s3cr3t-p%40ss%2540word
# the password in every form, and pieces a parser might quote
SECRETS = (PASSWORD, unquote(PASSWORD), ENCODED, "s3cr3t", "p@ss", "40word", "ss@w")
# pymongo refuses it (an unencoded @): the URI as users write it by mistake
RAW_URI = f"mongodb://alice:{PASSWORD}@127.0.0.1:1/oredox"
# valid, and no server listens there
URI = f"mongodb://alice:{ENCODED}@127.0.0.1:1/oredox"

BAD_URIS = {
    "unencoded @": RAW_URI,
    "port too large": f"mongodb://alice:{ENCODED}@127.0.0.1:99999/oredox",
    "port not a number": f"mongodb://alice:{ENCODED}@127.0.0.1:abc/oredox",
    "unencoded @, bad port": f"mongodb://alice:{PASSWORD}@127.0.0.1:abc/oredox",
    "IPv6 unclosed": f"mongodb://alice:{ENCODED}@[::1/oredox",
    "empty host": f"mongodb://alice:{ENCODED}@/oredox",
    "unencoded / (pymongo quotes the rest)": (
        f"mongodb://alice:{PASSWORD.replace('-', '/')}@127.0.0.1/oredox"
    ),
    "unknown option": f"mongodb://alice:{ENCODED}@127.0.0.1:1/oredox?foo=bar",
    "bad database name": f"mongodb://alice:{ENCODED}@127.0.0.1:1/a$b",
    "unsupported scheme": f"postgres://alice:{PASSWORD}@127.0.0.1/oredox",
    "srv with a port": f"mongodb+srv://alice:{ENCODED}@cluster.invalid:27017/db",
    "space in password": f"mongodb://alice:{PASSWORD} x@127.0.0.1:1/oredox",
}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked in: {text}"


def oredox(monkeypatch, capsys, caplog, *args: str) -> tuple[int, str, str, str]:
    """Run ``oredox ARGS`` like the shell does: exit code, stdout, stderr, log."""
    monkeypatch.setattr(sys, "argv", ["oredox", *args])
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    return done.value.code, out.out, out.err, caplog.text


def assert_one_error_line(result, *expected: str) -> str:
    """Status 2, nothing on stdout, one ``error:`` line on stderr; no secret."""
    code, out, err, log = result
    assert_no_secret(out, err, log)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def assert_library_error_is_clean(err: pytest.ExceptionInfo) -> str:
    """One line, no secret, and no traceback that shows a secret either."""
    message = str(err.value)
    assert "\n" not in message
    shown = "".join(traceback.format_exception(err.value))
    assert_no_secret(message, shown)
    return message


@pytest.fixture(autouse=True)
def _all_logs(caplog):
    caplog.set_level(logging.DEBUG)  # pymongo's debug logs too


def test_redact_uri_hides_a_password_with_at_signs():
    assert redact_uri(RAW_URI) == "mongodb://***@127.0.0.1:1/oredox"
    assert redact_uri(URI) == "mongodb://***@127.0.0.1:1/oredox"
    assert redact_uri("mongodb://alice:p@ss@host/db") == "mongodb://***@host/db"
    assert redact_uri("mongodb+srv://a:p%40ss@c.net/db") == "mongodb+srv://***@c.net/db"
    error = OperationFailure(f"auth failed: {RAW_URI} {URI} {unquote(PASSWORD)}")
    assert_no_secret(exception_detail(error, RAW_URI, URI))


@pytest.mark.parametrize("uri", BAD_URIS.values(), ids=BAD_URIS.keys())
def test_bad_uri_in_the_environment(monkeypatch, capsys, caplog, uri):
    monkeypatch.setenv("OREDOX_STORE", uri)
    line = assert_one_error_line(oredox(monkeypatch, capsys, caplog, "query"))
    assert "invalid oredox settings: store:" in line


@pytest.mark.parametrize("uri", BAD_URIS.values(), ids=BAD_URIS.keys())
def test_bad_uri_in_the_settings_file(tmp_path, monkeypatch, capsys, caplog, uri):
    config = tmp_path / "oredox.yaml"
    config.write_text(f"store: '{uri}'\n")
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(config))
    line = assert_one_error_line(oredox(monkeypatch, capsys, caplog, "query"))
    assert str(config) in line


@pytest.mark.parametrize("uri", BAD_URIS.values(), ids=BAD_URIS.keys())
def test_bad_uri_as_a_keyword(caplog, uri):
    with pytest.raises(OredoxInputError) as err:
        load_settings(store=uri)
    assert "store" in assert_library_error_is_clean(err)
    assert_no_secret(caplog.text)


@pytest.mark.parametrize(
    "text",
    [
        f"store: {RAW_URI}\n  database: [\n",  # yaml quotes the offending line
        f"store: '{RAW_URI}\n",  # an unclosed quote
        f"store:\t{RAW_URI}\n",  # a tab
        f"store: {RAW_URI}\n- {PASSWORD}\n",  # a list item in a mapping
        f"store: !!python/object {RAW_URI}\n",  # a tag safe_load refuses
        f"store: *{PASSWORD}\n",  # an undefined alias named like the password
        f"store: [{RAW_URI}\n",  # an unclosed list
    ],
    ids=["indent", "quote", "tab", "list-item", "tag", "alias", "unclosed-list"],
)
def test_bad_yaml_in_the_settings_file(tmp_path, monkeypatch, capsys, caplog, text):
    config = tmp_path / "oredox.yaml"
    config.write_text(text)
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(config))
    line = assert_one_error_line(
        oredox(monkeypatch, capsys, caplog, "query"), str(config)
    )
    assert "not valid YAML" in line and "line " in line
    with pytest.raises(OredoxInputError) as err:
        load_settings()
    assert_library_error_is_clean(err)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{RAW_URI}: 1\n", "Extra inputs are not permitted"),  # the URI as a key
        (f"store: {URI}\nmongo_timeout_s: -1\n", "mongo_timeout_s"),
        (f"store: {URI}\ndatabase: [{PASSWORD}]\n", "database"),
        (f"store: {URI}\ndefault_engine: {{a: {PASSWORD}}}\n", "default_engine"),
        (f"store: [{RAW_URI}]\n", "store: Input should be a valid string"),
        (f"store: {URI}\n{PASSWORD}: x\n", "Extra inputs are not permitted"),
    ],
    ids=["uri-key", "timeout", "database-type", "engine-type", "store-list", "pw"],
)
def test_validation_errors_beside_a_password(
    tmp_path, monkeypatch, capsys, caplog, text, expected
):
    config = tmp_path / "oredox.yaml"
    config.write_text(text)
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(config))
    assert_one_error_line(oredox(monkeypatch, capsys, caplog, "query"), expected)
    with pytest.raises(OredoxInputError) as err:
        load_settings()
    assert_library_error_is_clean(err)


def test_validation_errors_with_a_password_in_env_and_keyword(
    monkeypatch, capsys, caplog
):
    monkeypatch.setenv("OREDOX_STORE", URI)
    monkeypatch.setenv("OREDOX_MONGO_TIMEOUT_S", "inf")
    assert_one_error_line(oredox(monkeypatch, capsys, caplog, "query"), "mongo")
    with pytest.raises(OredoxInputError) as err:
        load_settings(store=URI, database="no spaces allowed", **{PASSWORD: 1})
    message = assert_library_error_is_clean(err)
    assert "database" in message and "Extra inputs" in message


def test_unreachable_server(monkeypatch, capsys, caplog):
    monkeypatch.setenv("OREDOX_STORE", URI)
    monkeypatch.setenv("OREDOX_MONGO_TIMEOUT_S", "1")
    assert_one_error_line(
        oredox(monkeypatch, capsys, caplog, "query"),
        "cannot reach MongoDB at mongodb://***@127.0.0.1:1/oredox within 1 s",
    )
    with pytest.raises(OredoxInputError) as err:
        get_job_store(load_settings(store=URI, mongo_timeout_s=1))
    assert_library_error_is_clean(err)
    # a URI that skipped the settings' check: pymongo's own error, scrubbed
    for uri in (RAW_URI, BAD_URIS["port too large"]):
        with pytest.raises(OredoxInputError) as err:
            check_mongodb_reachable(uri, 1)
        assert_library_error_is_clean(err)
    assert_no_secret(caplog.text)


def test_mongodb_errors_that_quote_the_uri(mongomock_server, monkeypatch, caplog):
    monkeypatch.setenv("OREDOX_STORE", URI.replace(":1/", ":27017/"))
    store = get_job_store(load_settings())
    store.docs_store.update([{"uuid": "a", "index": 1, "name": "x"}], key="uuid")

    def fails(*args, **kwargs):
        raise OperationFailure(f"not authorized: {RAW_URI} / {unquote(PASSWORD)}")

    monkeypatch.setattr(store, "query", fails)
    with pytest.raises(OredoxInputError) as err:
        list_studies(store)
    message = assert_library_error_is_clean(err)
    assert "MongoDB at mongodb://***@127.0.0.1:27017/oredox" in message
    assert "OperationFailure" in message
    assert_no_secret(caplog.text)


def test_query_of_a_database_without_oredox_outputs(
    mongomock_server, monkeypatch, capsys, caplog
):
    uri = f"mongodb://alice:{ENCODED}@127.0.0.1:27017/wrong_db"
    monkeypatch.setenv("OREDOX_STORE", uri)
    assert_one_error_line(
        oredox(monkeypatch, capsys, caplog, "query"),
        "database wrong_db at mongodb://***@127.0.0.1:27017/wrong_db has no "
        "oredox_outputs collection: is this the right database?",
    )
    # the query wrote nothing there
    client = mongomock_ng.MongoClient(_store=mongomock_server)
    assert client["wrong_db"].list_collection_names() == []


@pytest.mark.parametrize("damage", ["garbage", "garbage-pages", "a-folder"])
def test_damaged_embedded_store(isolated_settings, monkeypatch, capsys, caplog, damage):
    store = get_job_store(load_settings())
    docs = [
        {"uuid": f"u{i}", "index": 1, "name": "x", "pad": "y" * 3000} for i in range(9)
    ]
    store.docs_store.update(docs, key="uuid")
    folder = isolated_settings / "store"
    files = sorted(folder.rglob("*.collection"))
    assert files
    for path in files:
        raw = path.read_bytes()
        if damage == "garbage":
            path.write_bytes(b"\x8f\x00garbage" * 500)
        elif damage == "garbage-pages":  # a valid header, then garbage
            path.write_bytes(raw[:100] + b"\xa5" * (len(raw) - 100))
        else:
            path.unlink()
            path.mkdir()
    for args in (["query"], ["query", "deadbeef"], ["query", "--json"]):
        line = assert_one_error_line(
            oredox(monkeypatch, capsys, caplog, *args), str(folder), "Move the folder"
        )
        assert "damaged" in line
    # a store opened before the damage fails at its next read, with the same advice
    if damage != "a-folder":
        with pytest.raises(OredoxInputError, match="is damaged"):
            list_studies(store)
