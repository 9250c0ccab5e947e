"""Sheets per second of the prepare stage over all 54 aocr herbarium sheets.

Runs the real workflow (a copy under /tmp) with snakemake --cores 2 and the
noop engine, asking only for the prepare_image jobs (``--until``). The first
run starts from an empty cache; the second deletes the stage's manifests
and runs again, so every sheet is hashed and found in the cache. For
comparison it also prepares the sheets in one process, one after another.
Run: PYTHONPATH=src python benchmarks/prepare_throughput.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, herb_sheets

from herbarium_dwc.images import PrepareSettings, prepare_image

WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "profiles", "envs")


def copy_workflow(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy(source, root / name)


def run_stage(root: Path, images: Path, cores: int) -> float:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        str(cores),
        "--until",
        "prepare_image",
        "--config",
        f"images={images}",
        "engine=noop",
        "truth=",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    sheets = herb_sheets()
    images = sheets[0].parent
    root = Path(tempfile.gettempdir()) / "herbarium-dwc-bench" / "throughput"
    copy_workflow(root)
    cold = run_stage(root, images, cores=2)
    manifests = list((root / "results" / "work" / "prepared").glob("*.json"))
    assert len(manifests) == len(sheets), f"{len(manifests)} manifests written"
    for manifest in manifests:
        manifest.unlink()
    warm = run_stage(root, images, cores=2)
    settings = PrepareSettings()
    started = time.perf_counter()
    for sheet in sheets:
        prepare_image(sheet, settings)
    serial = time.perf_counter() - started
    count = len(sheets)
    print(f"{count} sheets, 3744x5616 greyscale JPEG, noop engine")
    print(
        f"snakemake --cores 2, empty cache: {cold:.1f} s, {count / cold:.2f} sheets/s"
    )
    print(
        f"snakemake --cores 2, cached (hash only): {warm:.1f} s, "
        f"{count / warm:.2f} sheets/s"
    )
    print(
        f"one process, one core, no snakemake: {serial:.1f} s, "
        f"{count / serial:.2f} sheets/s"
    )


if __name__ == "__main__":
    main()
