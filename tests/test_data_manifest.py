"""The test data travels with the repository: listed, hashed, sourced, and nothing else.

- every file under tests/data is in tests/data/MANIFEST.tsv with its size, SHA-256,
  source and licence, and the manifest lists no file that is gone;
- no test, script or benchmark reads from outside the repository (the recorded VASP runs
  that used to be read from a sibling folder are copied into tests/data).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def _manifest() -> dict[str, dict[str, str]]:
    lines = (DATA / "MANIFEST.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    return {
        line.split("\t")[0]: dict(zip(header, line.split("\t"), strict=True))
        for line in lines[1:]
    }


def test_every_data_file_is_listed_with_its_hash_source_and_licence():
    manifest = _manifest()
    on_disk = {
        path.relative_to(DATA).as_posix()
        for path in DATA.rglob("*")
        if path.is_file() and path.name != "MANIFEST.tsv"
    }
    assert on_disk == set(manifest), (
        "tests/data and MANIFEST.tsv differ: run python scripts/data_manifest.py"
    )
    for relative, row in manifest.items():
        data = (DATA / relative).read_bytes()
        assert int(row["bytes"]) == len(data), relative
        assert row["sha256"] == hashlib.sha256(data).hexdigest(), relative
        assert row["source"] and row["licence"], relative
        assert (DATA / row["provenance"]).is_file(), relative


def test_the_manifest_script_agrees():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "data_manifest.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# tests that name the sibling folder only to check that no text mentions it
CHECKS_THE_TEXT = {"test_data_manifest.py", "test_docs.py"}


def test_nothing_reads_from_outside_the_repository():
    outside = re.compile(r"\.\./shared|/work/shared|shared/data")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("tests", "scripts", "benchmarks", "oredox")
        for path in (ROOT / folder).rglob("*.py")
        if outside.search(path.read_text(errors="replace"))
        and path.name not in CHECKS_THE_TEXT
    ]
    assert not offenders
