"""The report, the event log and status inside real workflow runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from herbarium_dwc.events import read_events
from herbarium_dwc.status_collector import StatusCollector

from .conftest import Workflow

pytestmark = pytest.mark.workflow
RUN_NOOP = "noop-noop-none"


def _noop(images: Path, **extra: object) -> dict[str, object]:
    return {"images": str(images), "engine": "noop", "truth": "", **extra}


def test_run_writes_report_events_and_range_and_snakemake_report_includes_them(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    images = sheets(4)
    (images / "broken.jpg").write_bytes(b"not an image")
    workflow.run(config=_noop(images))
    results = workflow.root / "results"

    data = json.loads((results / "report" / "report.json").read_text())
    assert data["run"] == RUN_NOOP
    assert (data["summary"]["ok"], data["summary"]["failed"]) == (4, 1)
    assert data["summary"]["pending"] == 0
    assert data["summary"]["failed_by_kind"] == {"unsupported_format": 1}
    html = (results / "report" / "index.html").read_text()
    assert "Quality report" in html and "broken" in html

    records = [e for e in read_events(results) if e["event"] == "record"]
    assert sorted(e["specimen"] for e in records) == [
        "broken",
        "sheet-000",
        "sheet-001",
        "sheet-002",
        "sheet-003",
    ]
    assert {e["run"] for e in records} == {RUN_NOOP}
    failed = [e for e in records if e["outcome"] == "failed"]
    assert [e["failure_kind"] for e in failed] == ["unsupported_format"]

    range_file = json.loads(
        (results / "work" / "range" / f"{RUN_NOOP}.json").read_text()
    )
    assert range_file["count"] == 5

    workflow.run("--report", "snakemake-report.zip", config=_noop(images))
    with zipfile.ZipFile(workflow.root / "snakemake-report.zip") as archive:
        names = [Path(name).name for name in archive.namelist()]
    assert "index.html" in names and "report.json" in names


def test_status_follows_a_run_while_snakemake_writes(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _noop(sheets(10))
    (workflow.root / "slow.yaml").write_text("noop:\n  delay_s: 0.6\n")
    process = subprocess.Popen(
        workflow.command("--configfile", "slow.yaml", "--cores", "1", config=config),
        cwd=workflow.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results = workflow.root / "results"
    seen: list[tuple[int, int | None]] = []
    try:
        deadline = time.monotonic() + 300
        collector: StatusCollector | None = None
        while process.poll() is None and time.monotonic() < deadline:
            if collector is None and (results / "work" / "range").is_dir():
                collector = StatusCollector(results, RUN_NOOP)
            if collector is not None:
                snap = collector.collect()
                seen.append((snap.done, snap.pending))
            time.sleep(0.3)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
    assert process.returncode == 0
    midway = [(done, pending) for done, pending in seen if 0 < done < 10]
    assert midway, f"status never saw the run half-way: {seen}"
    assert all(done + (pending or 0) == 10 for done, pending in midway)
    final = StatusCollector(results, RUN_NOOP).collect()
    assert (final.ok, final.pending) == (10, 0)
    assert not any("no event" in note for note in final.notes)
