"""The documentation site: it builds with warnings as errors, and says what it should.

- ``mkdocs build --strict`` succeeds (broken links, missing anchors and docstrings
  mkdocstrings cannot read fail it), and the key pages exist;
- every module of the package (but the command line) has its API reference;
- docs/config-schema.md is what scripts/schema_docs.py writes from the models
  (docs/schema.md is checked in tests/test_documents.py);
- no page refers to the project's internal notes.
"""

from __future__ import annotations

import html
import os
import re
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INTERNAL = ("../shared", "DESIGN.md", "SCIENCE.md", "STYLE.md")
# the two commands of a fresh machine, as README.md's first block has them
README_COMMANDS = (
    "scripts/install && .venv/bin/oredox demo",
    "scripts/install test && .venv/bin/python -m pytest -q -p no:cacheprovider",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once with ``--strict`` into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            "mkdocs.yml",
            "-d",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    seconds = time.perf_counter() - start
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert result.returncode == 0, "\n".join(warnings) or result.stderr[-3000:]
    assert seconds < 60, f"the docs build took {seconds:.0f} s"
    return out


def text_of(page: Path) -> str:
    """A built page's text, tags (highlighting spans too) removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_key_pages_exist(site):
    index = text_of(site / "index.html")
    for command in README_COMMANDS:
        assert command in index, command
    tutorial = (site / "tutorials" / "li2mno3" / "index.html").read_text()
    assert "li2mno3/hull.png" in tutorial
    assert (site / "reproductions" / "li2mno3" / "hull.png").is_file()
    api = text_of(site / "reference" / "api" / "analysis" / "index.html")
    assert "voltage_profile" in api and "formation_energies" in api
    assert "Capacity-weighted average voltage" in api  # a docstring, rendered
    for page in (
        "getting-started",
        "guide/what-the-numbers-mean",
        "schema",
        "config-schema",
        "changelog",
        "license",
    ):
        assert (site / page / "index.html").is_file(), page


def test_every_module_has_its_api_reference():
    modules = set()
    for path in (ROOT / "oredox").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        if not name.startswith("oredox.cli"):
            modules.add(name)
    listed = set()
    for page in (DOCS / "reference" / "api").glob("*.md"):
        listed |= set(re.findall(r"^::: ([\w.]+)", page.read_text(), re.M))
    assert not modules - listed, f"no API page: {sorted(modules - listed)}"
    assert not listed - modules, f"no such module: {sorted(listed - modules)}"


def test_config_schema_is_what_the_script_writes():
    script = runpy.run_path(str(ROOT / "scripts" / "schema_docs.py"))
    page = (DOCS / "config-schema.md").read_text()
    assert page == script["render_config"](), (
        "docs/config-schema.md is stale: run python scripts/schema_docs.py"
    )
    for heading in ("## StudyTemplate", "## ScreeningSettings", "## ClusterProfile"):
        assert heading in page


def test_home_page_has_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    home = (DOCS / "index.md").read_text()
    for command in README_COMMANDS:
        assert command in readme and command in home, command


def test_no_page_mentions_internal_notes():
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    found = [
        f"{page.relative_to(ROOT)}: {word}"
        for page in pages
        for word in INTERNAL
        if word in page.read_text()
    ]
    assert not found, found
