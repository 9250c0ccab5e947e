"""How fast `herbarium-dwc status` answers on a results folder of 100,000 records.

Generates (once, cached under /tmp) a results folder that looks like a big
API run half-way through: 100,000 record files of realistic size in one run
folder, a configured range of 120,000 (so 20,000 pending), an event log of
one record event per specimen plus request attempts (about 10% retried
after a 429), and a few failure kinds. Then times the command as a user
runs it, a fresh Python process each time:

- cold: the first status call on the folder parses the whole event log;
- warm: later calls load the summary the first one saved under
  work/status/ and parse only events added since (none, or 1,000 new
  specimens' worth, as when a run goes on between two calls). During a
  run this is the usual case even for the first call: the workflow saves
  the summary when it starts, and specimen jobs refresh it every two
  minutes (status_collector.refresh_summary);
- without any event log: the first call opens every record (and caches
  what it read), later calls answer from that cache.

The figures include Python's start-up. The file system cache is warm after
generation; a cold cache (e.g. NFS after a long pause) is slower.

Usage: PYTHONPATH=src python benchmarks/status_speed.py [--count N] [--root DIR]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RUN = "openai-gpt-4o-mini-dwc-v1"
KINDS = ["invalid_json", "timeout", "refused", "image_corrupt"]
SRC = Path(__file__).resolve().parents[1] / "src"


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def _record(specimen: str, index: int, finished: float, failed: str | None) -> dict:
    """A record shaped like the extract stage's, about 2 KB as JSON."""
    ok = failed is None
    return {
        "schema_version": 1,
        "specimen_id": specimen,
        "run": RUN,
        "image": {
            "source": f"/data/scans/2024/{specimen}.jpg",
            "sha256": f"{index:064x}",
            "format": "JPEG",
            "original_size": [3744, 5616],
            "sent_size": [1365, 2048],
            "bytes_sent": 612345,
            "flags": [],
        },
        "engine": {
            "kind": "openai",
            "model": "gpt-4o-mini",
            "base_url_host": "api.example.invalid",
            "prompt_version": "dwc-v1",
        },
        "status": "ok" if ok else "failed",
        "failure": None if ok else {"kind": failed, "message": "bench", "attempts": 3},
        "duplicate_of": None,
        "verbatim": {"catalogNumber": f"{index:08d}", "scientificName": "Carex bebbii"}
        if ok
        else {},
        "dwc": {
            "catalogNumber": f"{index:08d}",
            "scientificName": "Carex bebbii Olney ex Fernald",
            "recordedBy": "M. A. Larsen",
            "eventDate": "1987-06-14",
            "country": "Canada",
            "stateProvince": "Saskatchewan",
            "locality": "Cypress Hills, 3 km S of Maple Creek",
            "habitat": "Wet meadow along creek",
        }
        if ok
        else {},
        "flags": [],
        "confidence": {"catalogNumber": 0.98, "scientificName": 0.91} if ok else {},
        "ocr": None,
        "usage": {"prompt_tokens": 1210, "completion_tokens": 160, "cost_usd": 0.0004},
        "timing": {
            "attempts": 1,
            "latency_s": 2.3,
            "started_at": _iso(finished - 2.3),
            "finished_at": _iso(finished),
        },
    }


def generate(root: Path, count: int, pending: int) -> None:
    """Write the results folder (skipped when a matching one exists)."""
    marker = root / "bench.json"
    wanted = {"count": count, "pending": pending, "version": 1}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        print(f"reusing {root}")
        return
    shutil.rmtree(root, ignore_errors=True)
    run_dir = root / "specimens" / RUN
    run_dir.mkdir(parents=True)
    rng = random.Random(6)
    start = time.time() - count * 0.05
    ids = [f"NY{index:08d}" for index in range(count + pending)]
    events: list[str] = []
    clock = time.perf_counter()
    for index, specimen in enumerate(ids[:count]):
        finished = start + index * 0.05
        failed = rng.choice(KINDS) if rng.random() < 0.02 else None
        (run_dir / f"{specimen}.json").write_text(
            json.dumps(_record(specimen, index, finished, failed), indent=1)
        )
        base = {
            "run": RUN,
            "specimen": specimen,
            "engine": "openai",
            "model": "gpt-4o-mini",
        }
        if rng.random() < 0.1:
            events.append(
                json.dumps(
                    {
                        "time": _iso(finished - 4),
                        "event": "request",
                        **base,
                        "attempt": 1,
                        "outcome": "error",
                        "failure_kind": "rate_limited",
                        "http_status": 429,
                        "latency_s": 0.2,
                    }
                )
            )
        events.append(
            json.dumps(
                {
                    "time": _iso(finished - 0.1),
                    "event": "request",
                    **base,
                    "attempt": 1,
                    "outcome": "ok",
                    "http_status": 200,
                    "latency_s": 2.3,
                    "prompt_tokens": 1210,
                    "completion_tokens": 160,
                    "cost_usd": 0.0004,
                }
            )
        )
        record = {
            "time": _iso(finished),
            "event": "record",
            **base,
            "attempt": 1,
            "outcome": "failed" if failed else "ok",
            "latency_s": 2.3,
        }
        if failed:
            record.update(failure_kind=failed, message=f"{specimen}: bench failure")
        events.append(json.dumps(record))
    (root / "events").mkdir()
    half = len(events) // 2
    for name, chunk in (("node-a", events[:half]), ("node-b", events[half:])):
        (root / "events" / f"{name}.jsonl").write_text("\n".join(chunk) + "\n")
    (root / "work" / "range").mkdir(parents=True)
    (root / "work" / "range" / f"{RUN}.json").write_text(
        json.dumps({"run": RUN, "count": len(ids), "ids": ids})
    )
    marker.write_text(json.dumps(wanted))
    size = sum(p.stat().st_size for p in run_dir.iterdir()) / count
    print(
        f"generated {count:,} records (mean {size:,.0f} bytes) and "
        f"{len(events):,} events in {time.perf_counter() - clock:.0f} s"
    )


def time_status(root: Path, repeat: int) -> list[tuple[float, float]]:
    """Run `herbarium-dwc status ROOT` in fresh processes.

    :returns: (wall seconds, CPU seconds: user + system) per call. On a
        machine shared with other work the CPU time is the steadier figure;
        on an idle one the two agree.
    """
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        clock = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "herbarium_dwc.cli", "status", str(root)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - clock
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        times.append((wall, cpu))
    last_line = [line for line in done.stdout.splitlines() if "specimens" in line]
    print(f"    output: {last_line[0].strip() if last_line else done.stdout[:200]}")
    return times


def _append_progress(root: Path, start: int, count: int) -> None:
    """Append the record events of ``count`` more specimens (and their files),
    as a running workflow would between two status calls."""
    run_dir = root / "specimens" / RUN
    lines = []
    for index in range(start, start + count):
        specimen = f"NY{index:08d}"
        finished = time.time()
        (run_dir / f"{specimen}.json").write_text(
            json.dumps(_record(specimen, index, finished, None), indent=1)
        )
        base = {"run": RUN, "specimen": specimen, "engine": "openai"}
        lines.append(
            json.dumps(
                {
                    "time": _iso(finished),
                    "event": "request",
                    **base,
                    "attempt": 1,
                    "outcome": "ok",
                    "prompt_tokens": 1210,
                    "completion_tokens": 160,
                    "cost_usd": 0.0004,
                }
            )
        )
        lines.append(
            json.dumps(
                {
                    "time": _iso(finished),
                    "event": "record",
                    **base,
                    "attempt": 1,
                    "outcome": "ok",
                }
            )
        )
    with open(root / "events" / "node-c.jsonl", "a") as handle:
        handle.write("\n".join(lines) + "\n")


def _report(label: str, times: list[tuple[float, float]]) -> None:
    walls = [wall for wall, _ in times]
    cpus = [cpu for _, cpu in times]
    print(
        f"{label}: wall median {statistics.median(walls):.2f} s "
        f"(min {min(walls):.2f}), CPU median {statistics.median(cpus):.2f} s "
        f"(min {min(cpus):.2f}), {len(times)} call(s)"
    )


def main() -> None:
    """Generate the folder, time the command, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=20_000)
    parser.add_argument(
        "--root", type=Path, default=Path("/tmp/herbarium-status-bench")
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = args.root / f"n{args.count}"
    generate(root, args.count, args.pending)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    status = root / "work" / "status"
    shutil.rmtree(status, ignore_errors=True)
    (root / "events" / "node-c.jsonl").unlink(missing_ok=True)
    try:
        _report("cold: first status call, whole event log parsed", time_status(root, 1))
        _report("warm: saved summary, no new events", time_status(root, args.repeat))
        warm_new = []
        for step in range(args.repeat):
            _append_progress(root, args.count + step * 1000, 1000)
            warm_new += time_status(root, 1)
        _report(
            "warm: saved summary, 1,000 new specimens since the last call", warm_new
        )
    finally:
        for step in range(args.repeat):
            for index in range(1000):
                specimen = f"NY{args.count + step * 1000 + index:08d}"
                (root / "specimens" / RUN / f"{specimen}.json").unlink(missing_ok=True)
        (root / "events" / "node-c.jsonl").unlink(missing_ok=True)
        shutil.rmtree(status, ignore_errors=True)

    events = root / "events"
    hidden = root / "events.hidden"
    events.rename(hidden)
    try:
        _report("no event log, first call: every record opened", time_status(root, 1))
        _report("no event log, record states cached", time_status(root, args.repeat))
    finally:
        hidden.rename(events)
        shutil.rmtree(status, ignore_errors=True)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
