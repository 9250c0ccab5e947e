"""Shared fixtures: where the real reference data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shared_data() -> Path:
    """The shared reference data folder; skips the test when it is absent."""
    path = Path(
        os.environ.get("HERBARIUM_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")
    )
    if not path.is_dir():
        pytest.skip(
            f"shared data not found at {path}; set HERBARIUM_SHARED_DATA to run"
        )
    return path
