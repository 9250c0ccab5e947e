"""Shared helpers for the benchmarks: where the repository and the data are."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Where ../shared/data is (HERBARIUM_SHARED_DATA overrides)."""
    env = os.environ.get("HERBARIUM_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def herb_sheets() -> list[Path]:
    """The 54 aocr herbarium sheets, or exit with a clear message."""
    folder = shared_data_dir() / "aocr" / "herb" / "images"
    if not folder.is_dir():
        sys.exit(f"{folder} is absent: this benchmark needs ../shared/data")
    return sorted(folder.glob("*.jpg"))
