"""Shared fixtures: each test has its own work directory and clean OREDOX_* settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """No OREDOX_* variable or ~/.oredox.yaml from the machine leaks into a test."""
    for key in list(os.environ):
        if key.startswith("OREDOX_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("OREDOX_CONFIG_FILE", str(tmp_path / "no-such-config.yaml"))
    monkeypatch.setenv("OREDOX_WORK_DIR", str(tmp_path / "work"))
    return tmp_path / "work"
