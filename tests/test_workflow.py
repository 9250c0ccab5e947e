"""The workflow end to end: resume semantics, bad input, kill -9, real sheets.

Each test runs snakemake on a copy of the workflow in a temporary folder.
Resume tests use the noop engine on small drawn sheets, so they measure the
workflow and not OCR; the real-sheet test runs the offline engine.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from herbarium_dwc.record import read_record

from .conftest import Workflow

pytestmark = pytest.mark.workflow
RUN_NOOP = "noop-noop-none"


def _noop(images: Path, **extra: object) -> dict[str, object]:
    return {"images": str(images), "engine": "noop", "truth": "", **extra}


def test_rerun_with_same_config_plans_no_extraction(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _noop(sheets(4))
    workflow.run(config=config)
    assert workflow.planned(config) == {}


def test_deleting_one_record_replans_exactly_that_one(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _noop(sheets(4))
    workflow.run(config=config)
    (workflow.root / f"results/specimens/{RUN_NOOP}/sheet-002.json").unlink()
    planned = workflow.planned(config)
    assert planned["extract_specimen"] == 1
    assert planned["prepare_image"] == 1


def test_raising_limit_plans_only_the_new_specimens(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    images = sheets(6)
    workflow.run(config=_noop(images, limit=2))
    assert workflow.planned(_noop(images, limit=5))["extract_specimen"] == 3
    workflow.run(config=_noop(images, limit=5))
    records = sorted((workflow.root / f"results/specimens/{RUN_NOOP}").glob("*.json"))
    assert [p.stem for p in records] == [f"sheet-{i:03d}" for i in range(5)]


def test_editing_code_or_scripts_does_not_reextract(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _noop(sheets(3))
    workflow.run(config=config)
    script = workflow.root / "scripts" / "extract_specimen.py"
    script.write_text(script.read_text() + "\n# an edit\n")
    rule = workflow.root / "rules" / "extract.smk"
    rule.write_text(rule.read_text().replace("# Turn one", "# Edited: turn one"))
    assert workflow.planned(config) == {}


def test_bad_files_become_failed_records_and_the_rest_goes_on(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    images = sheets(2)
    (images / "empty.jpg").write_bytes(b"")
    (images / "notes.jpg").write_text("this is a text file, not a picture")
    good = (images / "sheet-000.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(good[: len(good) // 3])
    os.symlink(images / "gone.jpg", images / "dangling.jpg")
    workflow.run(config=_noop(images))
    folder = workflow.root / f"results/specimens/{RUN_NOOP}"
    kinds = {
        p.stem: (r.status, r.failure.kind if r.failure else None)
        for p in folder.glob("*.json")
        for r in [read_record(p)]
    }
    assert kinds == {
        "sheet-000": ("ok", None),
        "sheet-001": ("ok", None),
        "empty": ("failed", "image_corrupt"),
        "notes": ("failed", "unsupported_format"),
        "truncated": ("failed", "image_corrupt"),
        "dangling": ("failed", "image_corrupt"),
    }
    quality = json.loads((workflow.root / "results/quality.json").read_text())
    assert quality["status"] == {"ok": 2, "failed": 4}
    assert quality["failures_by_kind"] == {"image_corrupt": 3, "unsupported_format": 1}
    with open(workflow.root / "results/occurrence.csv", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_identical_files_are_extracted_once_and_reported(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    images = sheets(2)
    (images / "copy-of-0.jpg").write_bytes((images / "sheet-000.jpg").read_bytes())
    workflow.run(config=_noop(images))
    folder = workflow.root / f"results/specimens/{RUN_NOOP}"
    pair = {
        sid: read_record(folder / f"{sid}.json") for sid in ("copy-of-0", "sheet-000")
    }
    # Whichever ran first was extracted; the other copies it and names it.
    first, second = sorted(pair.values(), key=lambda r: r.duplicate_of is not None)
    assert first.duplicate_of is None and first.timing.attempts == 1
    assert second.duplicate_of == first.specimen_id
    assert second.timing.attempts == 0
    assert second.usage.cost_usd is None and second.usage.prompt_tokens is None
    assert second.image.sha256 == first.image.sha256
    assert read_record(folder / "sheet-001.json").duplicate_of is None
    quality = json.loads((workflow.root / "results/quality.json").read_text())
    assert quality["duplicates"] == [
        {"specimens": [first.specimen_id, second.specimen_id]}
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"images": "no/such/folder"}, "is not a folder, a glob pattern"),
        ({"limit": 0}, "limit"),
        ({"engine": "gpt"}, "engine"),
        ({"offset": 99}, "selects no specimen"),
    ],
)
def test_bad_config_stops_before_any_work_with_one_message(
    workflow: Workflow,
    sheets: Callable[..., Path],
    config: dict[str, object],
    message: str,
) -> None:
    full = {"images": str(sheets(1)), "truth": "", **config}
    done = workflow.run(config=full, check=False)
    assert done.returncode != 0
    assert message in done.stderr
    assert not (workflow.root / "results").exists()


def test_kill_9_mid_run_leaves_no_half_record_and_rerun_completes(
    workflow: Workflow, sheets: Callable[..., Path]
) -> None:
    config = _noop(sheets(12))
    # Nested values cannot go through --config; a config file can.
    (workflow.root / "slow.yaml").write_text("noop:\n  delay_s: 0.7\n")
    folder = workflow.root / f"results/specimens/{RUN_NOOP}"
    process = subprocess.Popen(
        workflow.command("--configfile", "slow.yaml", config=config),
        cwd=workflow.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(folder.glob("*.json"))) < 3:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = list(folder.glob("*.json"))
    assert 3 <= len(done_before) < 12, "the kill must land mid-run"
    for path in done_before:
        read_record(path)  # every file that exists is a whole record
    planned = workflow.planned(config)
    assert planned["extract_specimen"] == 12 - len(done_before)
    # A killed Snakemake leaves its directory lock behind; --unlock clears it.
    workflow.run("--unlock", config=config)
    workflow.run(config=config)
    assert len(list(folder.glob("*.json"))) == 12


def test_offline_engine_on_real_lichen_labels(
    workflow: Workflow, shared_data: Path
) -> None:
    lichens = shared_data / "aocr" / "lichens"
    config = {
        "images": str(lichens / "images"),
        "limit": 10,
        "truth": str(lichens),
    }
    workflow.run(config=config)
    results = workflow.root / "results"
    records = [read_record(p) for p in (results / "specimens").glob("*/*.json")]
    assert len(records) == 10
    assert all(r.status == "ok" and r.ocr and r.ocr.text for r in records)
    with open(results / "occurrence.csv", encoding="utf-8", newline="") as handle:
        raw = handle.read()
    assert not raw.startswith("\ufeff")
    rows = list(csv.DictReader(raw.splitlines()))
    assert len(rows) == 10
    evaluation = json.loads((results / "evaluation.json").read_text())
    assert evaluation["specimens"] == 10
    assert evaluation["truth_specimens_outside_range"] == 87
    catalog = evaluation["fields"]["catalogNumber"]
    assert catalog["n_truth"] == 10
    assert catalog["accuracy"] >= 0.9
    assert evaluation["core_mean"] >= 0.7
