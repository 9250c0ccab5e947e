"""Dry-run time and peak memory of the workflow's DAG at large specimen counts.

Generates a manifest of N specimen ids whose image paths do not exist (a
dry-run never opens them), then times ``snakemake --dry-run`` on

- ours: a copy of this workflow (config validation, specimen table, input
  functions, groups), and
- bare: a minimal Snakefile with the same DAG shape (three per-specimen rules
  with the same inputs, outputs, temp flags, logs and group, two aggregates
  over all records, ``all``) and none of our code,

each without the ``group:`` directive, with it alone (one job per
specimen), and with ``--group-components specimen=K``, and
reports wall time, CPU time and peak resident memory (of the snakemake
process, from wait4), the number of jobs and the number of cluster
submissions the plan needs (group jobs plus ungrouped non-local jobs).
Prints figures, asserts nothing. Work folders are cached under --out
(default /tmp/herbarium-dag-scale).

    PYTHONPATH=src python benchmarks/dag_scale.py --sizes 100 10000 100000
    PYTHONPATH=src python benchmarks/dag_scale.py --sizes 10000 --cprofile
    PYTHONPATH=src python benchmarks/dag_scale.py --sizes 100000 --limit 20000
"""

from __future__ import annotations

import argparse
import csv
import os
import pstats
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "rules", "scripts", "config", "profiles", "envs")

BARE_SNAKEFILE = """\
# The same DAG shape as herbarium-dwc, with none of its code.
import csv

with open(config["manifest"], newline="") as handle:
    ROWS = sorted(csv.DictReader(handle), key=lambda row: row["specimen_id"])
OFFSET = int(config.get("offset", 0))
LIMIT = config.get("limit")
ROWS = ROWS[OFFSET : None if LIMIT is None else OFFSET + int(LIMIT)]
PATHS = {row["specimen_id"]: row["path"] for row in ROWS}
RUN = "offline-rapidocr-parser-v1"
RECORDS = expand("results/specimens/{run}/{id}.json", run=RUN, id=list(PATHS))


rule all:
    input:
        "results/occurrence.csv",
        "results/quality.json",
        RECORDS,


rule merge_occurrences:
    input:
        RECORDS,
    output:
        "results/occurrence.csv",
    log:
        "logs/merge_occurrences/merge_occurrences.log",
    shell:
        "touch {output}"


rule summarise_quality:
    input:
        RECORDS,
    output:
        "results/quality.json",
    log:
        "logs/summarise_quality/summarise_quality.log",
    shell:
        "touch {output}"


rule extract_specimen:
    input:
        prepared="results/work/prepared/{id}.json",
        ocr="results/work/ocr/{id}.json",
    output:
        f"results/specimens/{RUN}/{{id}}.json",
    log:
        f"logs/extract_specimen/{RUN}/{{id}}.log",
    group:
        "specimen"
    shell:
        "touch {output}"


rule ocr_image:
    input:
        "results/work/prepared/{id}.json",
    output:
        temp("results/work/ocr/{id}.json"),
    log:
        "logs/ocr_image/{id}.log",
    group:
        "specimen"
    shell:
        "touch {output}"


rule prepare_image:
    output:
        temp("results/work/prepared/{id}.json"),
    log:
        "logs/prepare_image/{id}.log",
    group:
        "specimen"
    params:
        path=lambda wildcards: PATHS[wildcards.id],
    shell:
        "touch {output}"
"""


@dataclass
class Measure:
    """One dry-run: what ran and what it cost."""

    variant: str
    specimens: int
    group_size: int
    seconds: float
    cpu_seconds: float
    peak_mb: float
    jobs: int
    submissions: int
    returncode: int


def write_manifest(folder: Path, count: int) -> Path:
    """A manifest of ``count`` generated ids pointing at absent images."""
    path = folder / f"manifest-{count}.csv"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["specimen_id", "path"])
            for index in range(count):
                sid = f"NY{index:08d}"
                writer.writerow([sid, f"/absent/herbarium/{sid[:6]}/{sid}.jpg"])
        tmp.replace(path)
    return path


_GROUP_DIRECTIVE = re.compile(r"^    group:\n        .*\n", re.MULTILINE)


def prepare_folder(variant: str, folder: Path, grouped: bool) -> None:
    """Lay out a fresh workflow copy (ours) or the bare Snakefile; without
    ``grouped`` the rules lose their ``group:`` directive."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if variant == "ours":
        for name in WORKFLOW_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, folder / name)
            else:
                shutil.copy(source, folder / name)
    else:
        (folder / "Snakefile").write_text(BARE_SNAKEFILE, encoding="utf-8")
    if not grouped:
        for path in [folder / "Snakefile", *folder.glob("rules/*.smk")]:
            text = path.read_text(encoding="utf-8")
            path.write_text(_GROUP_DIRECTIVE.sub("", text), encoding="utf-8")


def count_plan(log: Path) -> tuple[int, int]:
    """Jobs in the plan, and sbatch submissions it needs under a cluster
    executor: one per group job plus one per ungrouped job that is not `all`."""
    jobs = 0
    group_jobs = 0
    grouped_rules: set[str] = set()
    ungrouped = 0
    in_group = False
    in_stats = False
    with open(log, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if "Group job " in line:
                group_jobs += 1
                in_group = True
                continue
            match = re.match(r"^\s*(local)?rule (\w+):", line)
            if match:
                if in_group and line.startswith("    "):
                    grouped_rules.add(match.group(2))
                else:
                    in_group = False
                    if match.group(2) != "all":
                        ungrouped += 1
            if line.startswith("Job stats:") and not jobs:
                in_stats = True
                continue
            if in_stats:
                total = re.match(r"^total\s+(\d+)", line.strip())
                if total:
                    jobs = int(total.group(1))
                    in_stats = False
    return jobs, group_jobs + ungrouped


def dry_run(
    variant: str,
    count: int,
    group_size: int,
    out: Path,
    cprofile: bool,
    limit: int | None = None,
) -> Measure:
    """Time one ``snakemake --dry-run`` in a fresh folder (on the first
    ``limit`` specimens of the table when given: one batch of a large run)."""
    manifest = write_manifest(out, count)
    batch = f"-limit{limit}" if limit else ""
    folder = out / f"{variant}-{count}{batch}-g{group_size}"
    prepare_folder(variant, folder, grouped=group_size >= 0)
    cmd = [sys.executable]
    if cprofile:
        cmd += ["-m", "cProfile", "-o", str(folder / "dry-run.prof")]
    cmd += ["-m", "snakemake", "--dry-run", "--cores", "8"]
    if group_size > 1:
        cmd += ["--group-components", f"specimen={group_size}"]
    if variant == "ours":
        cmd += ["--config", f"images={manifest}", "truth=", "engine=offline"]
    else:
        cmd += ["--config", f"manifest={manifest}"]
    if limit:
        cmd += [f"limit={limit}"]
    log = folder / "dry-run.log"
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        # Absolute, so the copy in /tmp imports this worktree's package.
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(p).resolve()) for p in env["PYTHONPATH"].split(os.pathsep)
        )
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(
            cmd, cwd=folder, stdout=handle, stderr=subprocess.STDOUT, env=env
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    jobs, submissions = count_plan(log)
    return Measure(
        variant=variant,
        specimens=count,
        group_size=group_size,
        seconds=round(seconds, 1),
        # CPU time says more than wall time on a machine shared with others.
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 1),
        # ru_maxrss is in KiB on Linux.
        peak_mb=round(usage.ru_maxrss / 1024, 0),
        jobs=jobs,
        submissions=submissions,
        returncode=os.waitstatus_to_exitcode(status),
    )


def show_profile(path: Path, limit: int = 25) -> None:
    """Print the functions with the most cumulative time."""
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument(
        "--group-sizes",
        type=int,
        nargs="+",
        default=[-1, 0, 100],
        help="specimens per group job; 0 keeps the group directive without "
        "--group-components (one job per specimen), -1 removes it (one job "
        "per rule and specimen)",
    )
    parser.add_argument("--variants", nargs="+", default=["ours", "bare"])
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="plan only the first LIMIT specimens of the table (one batch)",
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/herbarium-dag-scale"))
    parser.add_argument(
        "--cprofile", action="store_true", help="profile each dry-run and print"
    )
    args = parser.parse_args()
    header = (
        f"{'variant':8} {'specimens':>9} {'batch':>7} {'group':>5} {'seconds':>8} "
        f"{'cpu s':>8} {'peak MB':>8} {'jobs':>7} {'sbatch':>7} rc"
    )
    print(header, flush=True)
    for count in args.sizes:
        for group_size in args.group_sizes:
            for variant in args.variants:
                m = dry_run(
                    variant, count, group_size, args.out, args.cprofile, args.limit
                )
                print(
                    f"{m.variant:8} {m.specimens:9d} {args.limit or count:7d} "
                    f"{m.group_size:5d} "
                    f"{m.seconds:8.1f} {m.cpu_seconds:8.1f} {m.peak_mb:8.0f} "
                    f"{m.jobs:7d} {m.submissions:7d} {m.returncode}",
                    flush=True,
                )
                if args.cprofile:
                    batch = f"-limit{args.limit}" if args.limit else ""
                    folder = args.out / f"{variant}-{count}{batch}-g{group_size}"
                    show_profile(folder / "dry-run.prof")


if __name__ == "__main__":
    main()
