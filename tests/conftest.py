"""Shared fixtures: paths, small images the tests draw, and a workflow runner."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from .fabricate import Fabricated, fabricate
from .fake_provider import (
    FakeConfig,
    FakeProvider,
    draw_coded_sheet,
    load_real_replies,
)


def unused_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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

    def env(self) -> dict[str, str]:
        """The environment for snakemake: this checkout's src/ on PYTHONPATH.

        A relative PYTHONPATH=src would point into the temporary copy, which
        has no src/, so jobs would import nothing (or an installed version).
        """
        paths = [str(REPO / "src"), os.environ.get("PYTHONPATH", "")]
        return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}

    def run(
        self, *args: str, config: dict[str, object] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args, config=config),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=600,
            env=self.env(),
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


# -- the fake provider (issue 3) ------------------------------------------------

TEST_KEY_ENV = "HERBARIUM_TEST_API_KEY"


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh fake API key in the environment (and no proxy settings).

    Tests grep results, logs and .snakemake/ for it afterwards.
    """
    import uuid

    key = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv(TEST_KEY_ENV, key)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return key


@pytest.fixture
def fake_provider(api_key: str) -> Iterator[FakeProvider]:
    """A running fake provider on 127.0.0.1 that accepts ``api_key`` as "A".

    When ../shared/data is present, images without ground truth are answered
    with real model replies from aafc/replies.
    """
    fake = FakeProvider(FakeConfig(keys={api_key: "A"}))
    replies = shared_data_dir() / "aafc" / "replies"
    if replies.is_dir():
        fake.fallback_replies = load_real_replies(replies)
    with fake:
        yield fake


@pytest.fixture
def coded_sheets(tmp_path: Path, fake_provider: FakeProvider) -> Callable[..., Path]:
    """Draw N coded sheets (sheet-000.jpg ...) and teach them to the fake provider.

    Each sheet's truth is a catalogue number and a country, so records can be
    checked against what the provider was told.
    """

    def make(count: int, folder: str = "images") -> Path:
        out = tmp_path / folder
        for index in range(count):
            path = draw_coded_sheet(out / f"sheet-{index:03d}.jpg", index)
            truth = {"catalogNumber": f"HERB{index:06d}", "country": "Canada"}
            fake_provider.register(path, truth=truth)
        return out

    return make


def write_api_config(
    root: Path, fake: FakeProvider, images: Path, **openai: object
) -> Path:
    """Write api.yaml for an openai-engine run against the fake provider.

    Nested settings cannot go through --config, so tests pass this file with
    --configfile. base_url always points at the fake provider on 127.0.0.1.
    """
    import yaml

    section: dict[str, object] = {
        "base_url": fake.base_url,
        "api_key_env": TEST_KEY_ENV,
        "model": "fake/vision-1",
        "rpm": None,
        "timeout_s": 5,
        "backoff_s": 0.05,
        "backoff_max_s": 0.2,
        "concurrency": 2,
        **openai,
    }
    config = {"engine": "openai", "images": str(images), "truth": "", "openai": section}
    path = root / "api.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
