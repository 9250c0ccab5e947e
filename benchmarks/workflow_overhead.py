"""Measure the workflow's own overhead: the noop engine against bare Snakemake.

Runs, side by side in one go on the same N drawn sheets:
  1. herbarium-dwc with the noop engine (prepare_image + extract_specimen per
     specimen, then the aggregates), and
  2. a bare Snakefile with the same number of per-specimen jobs, each a
     `script:` that only writes its output (Snakemake's own cost per job),
  3. the same bare jobs as `shell: touch` (no Python start-up at all).
Prints wall time and seconds per specimen for each; asserts nothing.

    python benchmarks/workflow_overhead.py --specimens 40 --cores 2
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]

BARE_SNAKEFILE = """
IDS = [f"s{i:04d}" for i in range(int(config["count"]))]

rule all:
    input: expand("out/b/{id}.json", id=IDS)

rule first:
    output: "out/a/{id}.json"
    script: "noop.py"

rule second:
    input: "out/a/{id}.json"
    output: "out/b/{id}.json"
    script: "noop.py"
"""

SHELL_SNAKEFILE = """
IDS = [f"s{i:04d}" for i in range(int(config["count"]))]

rule all:
    input: expand("out/b/{id}.json", id=IDS)

rule first:
    output: "out/a/{id}.json"
    shell: "echo {{}} > {output}"

rule second:
    input: "out/a/{id}.json"
    output: "out/b/{id}.json"
    shell: "echo {{}} > {output}"
"""


def _timed(cmd: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--specimens", type=int, default=40)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    snakemake = [sys.executable, "-m", "snakemake", "--cores", str(args.cores)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = root / "images"
        images.mkdir()
        for i in range(args.specimens):
            sheet = Image.new("RGB", (800, 1200), (240, 236, 225))
            ImageDraw.Draw(sheet).text((40, 1100), f"{i:08d}", fill=(0, 0, 0))
            sheet.save(images / f"s{i:04d}.jpg")
        ours = root / "ours"
        ours.mkdir()
        for name in ("Snakefile", "rules", "scripts", "config", "profiles", "envs"):
            source = REPO / name
            (shutil.copytree if source.is_dir() else shutil.copy)(source, ours / name)
        bare = root / "bare"
        bare.mkdir()
        (bare / "Snakefile").write_text(BARE_SNAKEFILE)
        (bare / "noop.py").write_text("open(snakemake.output[0], 'w').write('{}')\n")
        shell = root / "shell"
        shell.mkdir()
        (shell / "Snakefile").write_text(SHELL_SNAKEFILE)
        n = args.specimens
        results = {
            "herbarium-dwc, noop engine": _timed(
                [*snakemake, "--config", f"images={images}", "engine=noop", "truth="],
                ours,
            ),
            "bare snakemake, 2 script jobs each": _timed(
                [*snakemake, "--config", f"count={n}"], bare
            ),
            "bare snakemake, 2 shell jobs each": _timed(
                [*snakemake, "--config", f"count={n}"], shell
            ),
        }
    print(f"{n} specimens, --cores {args.cores}")
    base = results["bare snakemake, 2 script jobs each"]
    for name, seconds in results.items():
        print(
            f"{name:38} {seconds:7.1f} s  {seconds / n:6.3f} s/specimen  "
            f"{seconds / base:5.2f}x bare script jobs"
        )


if __name__ == "__main__":
    main()
