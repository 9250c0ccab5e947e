"""Shared fixtures: paths, small images the tests draw, and a workflow runner."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from .fabricate import Fabricated, fabricate

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = (
    "Snakefile",
    "rules",
    "scripts",
    "config",
    "profiles",
    "envs",
    "report",
)


def shared_data_dir() -> Path:
    """Where ../shared/data is (HERBARIUM_SHARED_DATA overrides)."""
    env = os.environ.get("HERBARIUM_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real reference data; skips the test when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"{path} is absent: real-data tests need ../shared/data")
    return path


def draw_sheet(
    path: Path, text: str = "00012345", size: tuple[int, int] = (400, 600)
) -> Path:
    """Write a small plain sheet with one line of text; format from the suffix."""
    image = Image.new("RGB", size, (240, 236, 225))
    ImageDraw.Draw(image).text((20, size[1] - 60), text, fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def sheets(tmp_path: Path) -> Callable[[int], Path]:
    """Make a folder of N small distinct sheets named sheet-000.jpg ..."""

    def make(count: int, folder: str = "images") -> Path:
        out = tmp_path / folder
        for index in range(count):
            draw_sheet(out / f"sheet-{index:03d}.jpg", text=f"{index:08d}")
        return out

    return make


class Workflow:
    """A copy of the workflow in a temporary folder, and ways to run it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for name in WORKFLOW_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, root / name)
            else:
                shutil.copy(source, root / name)

    def command(self, *args: str, config: dict[str, object] | None = None) -> list[str]:
        cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
        if config:
            cmd += ["--config", *(f"{k}={v}" for k, v in config.items())]
        return cmd

    def run(
        self, *args: str, config: dict[str, object] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args, config=config),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"snakemake failed ({done.returncode}):\n{done.stderr[-4000:]}"
            )
        return done

    def planned(self, config: dict[str, object] | None = None) -> dict[str, int]:
        """Dry-run and return the number of jobs planned per rule."""
        done = self.run("--dry-run", config=config)
        counts: dict[str, int] = {}
        text = done.stdout + done.stderr
        if "Job stats:" not in text:
            return counts
        table = text.split("Job stats:", 1)[1]
        for line in table.splitlines()[3:]:
            match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
            if not match or match.group(1) == "total":
                break
            counts[match.group(1)] = int(match.group(2))
        return counts


@pytest.fixture
def workflow(tmp_path: Path) -> Workflow:
    """A fresh copy of the workflow under tmp_path/wf."""
    return Workflow(tmp_path / "wf")


@pytest.fixture
def fabricated_with_images(tmp_path: Path) -> Fabricated:
    """A results folder with every state (tests/fabricate.py), whose records
    point at drawn sheets; s10's image is broken and s13's is missing."""
    images = {
        f"s{i:02d}": draw_sheet(tmp_path / "images" / f"s{i:02d}.jpg", f"0041{i:04d}")
        for i in range(13)
    }
    (tmp_path / "images" / "s10.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return fabricate(tmp_path / "results", images)
