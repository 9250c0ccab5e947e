"""The openai engine through the real workflow, against the fake provider.

Every row of issue 3's reply table, the shared cool-down, the stop switch,
key rotation, fallback models and formats, the budget, and the key grep.
Each test runs snakemake on a copy of the workflow; the provider is the
loopback fake (tests/fake_provider) and nothing is sent anywhere else.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from herbarium_dwc.events import read_events
from herbarium_dwc.record import SpecimenRecord, read_record

from .conftest import TEST_KEY_ENV, Workflow, unused_loopback_port, write_api_config
from .fake_provider import FakeProvider, load_aocr_truth

pytestmark = pytest.mark.workflow

# A 429 answer reaches its process a little after the fake logs it; any
# request that passed the gate before then may still arrive.
RACE_S = 0.15


def records(workflow: Workflow) -> dict[str, SpecimenRecord]:
    """Every record of every run folder, by specimen id."""
    folder = workflow.root / "results" / "specimens"
    return {p.stem: read_record(p) for p in folder.glob("*/*.json")}


def by_image(log: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The fake provider's log entries grouped by the image they showed."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in sorted(log, key=lambda e: e["t_recv"]):
        grouped.setdefault(entry["image"], []).append(entry)
    return grouped


def assert_key_absent(root: Path, key: str) -> None:
    """No file under results/, logs/ or .snakemake/ holds the key (or its tail)."""
    needles = [key.encode(), key.removeprefix("sk-test-").encode()]
    hits = []
    for folder in ("results", "logs", ".snakemake"):
        for path in (root / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                hits += [str(path) for needle in needles if needle in data]
    assert hits == []


def run_api(
    workflow: Workflow, config: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the workflow with an api.yaml config file."""
    return workflow.run("--configfile", str(config), *args, check=check)


# What each planned sequence of replies must end as: (status, kind, attempts).
REPLY_TABLE: dict[str, tuple[list[str], tuple[str, str | None, int]]] = {
    "sheet-000": (["error_in_200", "ok"], ("ok", None, 2)),
    "sheet-001": (["finish_error"] * 4, ("failed", "provider_error", 4)),
    "sheet-002": (["truncated", "ok"], ("ok", None, 2)),
    "sheet-003": (["truncated", "truncated"], ("failed", "truncated", 2)),
    "sheet-004": (["reasoning_empty"] * 2, ("failed", "empty_response", 2)),
    "sheet-005": (["refusal"], ("failed", "refused", 1)),
    "sheet-006": (["invalid_json", "ok"], ("ok", None, 2)),
    "sheet-007": (["invalid_json", "invalid_json"], ("failed", "invalid_json", 2)),
    "sheet-008": (["fence_upper"], ("ok", None, 1)),
    "sheet-009": (["prose"], ("ok", None, 1)),
    "sheet-010": (["flat"], ("ok", None, 1)),
    "sheet-011": (["http_408", "http_503", "reset", "ok"], ("ok", None, 4)),
    "sheet-012": (
        ["http_500", "stream_cut", "http_502", "timeout"],
        ("failed", "timeout", 4),
    ),
    "sheet-013": (["empty", "ok"], ("ok", None, 2)),
}


def test_every_kind_of_reply_ends_as_the_table_says(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
    api_key: str,
) -> None:
    images = coded_sheets(len(REPLY_TABLE))
    fake_provider.config.plans = {name: plan for name, (plan, _) in REPLY_TABLE.items()}
    fake_provider.config.hang_s = 1.6
    price = {"prompt": 1.0, "completion": 2.0}
    config = write_api_config(
        workflow.root,
        fake_provider,
        images,
        max_attempts=4,
        timeout_s=1,
        prices={"fake/vision-1": price},
    )
    run_api(workflow, config)
    found = records(workflow)
    log = fake_provider.chat_log()
    requests = by_image(log)
    # One keyless connectivity check on this host, before the first request.
    probes = fake_provider.probe_log()
    assert [(p["path"], p["status"], p["key"]) for p in probes] == [
        ("/v1/models", 200, "none")
    ]
    assert probes[0]["t_done"] <= min(e["t_recv"] for e in log)
    for name, (_, (status, kind, attempts)) in REPLY_TABLE.items():
        record = found[name]
        assert (record.status, record.failure and record.failure.kind) == (
            status,
            kind,
        ), name
        assert record.timing.attempts == attempts == len(requests[name]), name
    # The answers are what the provider was told, whatever the wrapping.
    for name in ("sheet-000", "sheet-008", "sheet-009", "sheet-010", "sheet-011"):
        assert found[name].verbatim["catalogNumber"] == f"HERB{int(name[-3:]):06d}"
    assert "reply:repaired_json" in found["sheet-008"].flags
    assert "reply:repaired_json" in found["sheet-009"].flags
    # Flat replies: sentinels ("N/A", "Not Specified", "unknown") are absent,
    # and the key that is not a requested term is dropped and listed.
    flat = found["sheet-010"]
    assert set(flat.verbatim) == {"catalogNumber", "country"}
    assert "basisOfRecord:unknown_term" in flat.flags
    # A truncated reply is asked again once with twice the max_tokens.
    tokens = [e["max_tokens"] for e in requests["sheet-002"]]
    assert tokens == [2000, 4000]
    # Invalid JSON is re-asked once, with a note saying so.
    assert [e["reask"] for e in requests["sheet-007"]] == [False, True]
    # The texts that explain a failure are kept; partial content never is.
    assert "can't help" in (found["sheet-005"].failure.reply or "")
    assert "collector might be" in (found["sheet-004"].failure.reply or "")
    assert "PARTIAL" not in json.dumps(found["sheet-001"].model_dump())
    # Retries back off exponentially (capped), with jitter on top of half.
    arrivals = [e["t_recv"] for e in requests["sheet-011"]]
    gaps = [
        after - before for before, after in zip(arrivals, arrivals[1:], strict=False)
    ]
    for number, gap in enumerate(gaps, start=1):
        assert gap >= min(0.2, 0.05 * 2 ** (number - 1)) / 2
    # Usage: every paid reply counts, failed ones too; cost from the price table.
    quality = json.loads((workflow.root / "results/quality.json").read_text())
    paid = [e["tokens"] for e in log if "tokens" in e]
    assert quality["usage"]["completion_tokens"] == sum(
        t["completion_tokens"] for t in paid
    )
    assert quality["usage"]["prompt_tokens"] == sum(t["prompt_tokens"] for t in paid)
    for record in found.values():
        usage = record.usage
        if usage.prompt_tokens is not None:
            expected = (usage.prompt_tokens + 2 * (usage.completion_tokens or 0)) / 1e6
            assert usage.cost_usd == pytest.approx(expected)
    assert quality["usage"]["cost_usd"] == pytest.approx(
        sum(r.usage.cost_usd or 0 for r in found.values()), abs=1e-6
    )
    assert quality["failures_by_kind"] == dict(
        Counter(r.failure.kind for r in found.values() if r.failure)
    )
    # Every request had the right shape and an event line.
    assert all(e["shape_errors"] == [] and e["media_type"] == "image/jpeg" for e in log)
    events = [
        e for e in read_events(workflow.root / "results") if e["event"] == "request"
    ]
    assert len(events) == len(log)
    assert {e["key_env"] for e in events} == {TEST_KEY_ENV}
    assert_key_absent(workflow.root, api_key)
    assert not any(e["key_in_body"] for e in log)

    # retry-failed re-queues failed records; the next run asks only for those.
    fake_provider.config.plans = {}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "herbarium_dwc.cli",
            "retry-failed",
            "results",
            "--kind",
            "truncated",
        ],
        cwd=workflow.root,
        env=workflow.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "re-queued 1 failed" in done.stdout
    run_api(workflow, config)
    again = fake_provider.chat_log()[len(log) :]
    assert {e["image"] for e in again} == {"sheet-003"}
    assert len(fake_provider.probe_log()) == 2  # each run checks once
    assert records(workflow)["sheet-003"].status == "ok"


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_429_retry_after_pauses_every_process(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
    store: str,
) -> None:
    redis_url = os.environ.get("HERBARIUM_REDIS_URL", "")
    if store == "redis" and not redis_url:
        pytest.skip("HERBARIUM_REDIS_URL is not set (CI sets it via .ci/with-redis.sh)")
    images = coded_sheets(8)
    fake = fake_provider
    fake.config.latency_s = 0.25
    fake.config.planned_retry_after_s = 2
    fake.config.plans = {"sheet-001": ["rate_limit"], "sheet-005": ["rate_limit_date"]}
    gate = (
        {"gate": redis_url, "gate_name": str(workflow.root)} if store == "redis" else {}
    )
    config = write_api_config(workflow.root, fake, images, concurrency=3, **gate)
    run_api(workflow, config, "--cores", "3", "--resources", "api=3")
    assert all(r.status == "ok" for r in records(workflow).values())
    # The gate lives where the config put it, and the run noted where for
    # `herbarium-dwc status`.
    noted = json.loads((workflow.root / "results/work/gate.json").read_text())
    sqlite_file = workflow.root / "results" / "gate.sqlite"
    assert sqlite_file.exists() == (store == "sqlite")
    assert noted["store"] == (redis_url if store == "redis" else str(sqlite_file))
    log = sorted(fake.chat_log(), key=lambda e: e["t_recv"])
    limited = [e for e in log if e["status"] == 429]
    assert len(limited) == 2
    for entry in limited:
        quiet_from = entry["t_done"] + RACE_S
        quiet_to = entry["t_done"] + 2 - RACE_S
        assert [e["image"] for e in log if quiet_from < e["t_recv"] < quiet_to] == []
    # Work went on after each pause, and each limited specimen was asked again.
    assert log[-1]["t_recv"] > limited[0]["t_done"] + 2 - RACE_S
    assert {e["image"] for e in limited} == {"sheet-001", "sheet-005"}


STOPS = {
    "quota": ({"quota_after": {"A": 3}}, "quota"),
    "credits": ({"credits_after": 3}, "credits"),
}


@pytest.mark.parametrize("stop", sorted(STOPS))
def test_quota_or_credits_close_the_gate_and_leave_the_rest_pending(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
    stop: str,
) -> None:
    images = coded_sheets(12)
    fake = fake_provider
    settings, kind = STOPS[stop]
    for name, value in settings.items():
        setattr(fake.config, name, value)
    fake.config.latency_s = 0.2
    config = write_api_config(workflow.root, fake, images)
    done = run_api(workflow, config, check=False)
    assert done.returncode != 0
    assert done.stderr.count(f"API requests stopped ({kind})") == 1
    # The job that met the closed gate asked Snakemake to start no more
    # extraction jobs: only those already running failed, not the rest.
    assert "Will exit after finishing currently running jobs" in done.stderr
    failed_jobs = done.stderr.count("Error in rule extract_specimen")
    assert 1 <= failed_jobs <= 2  # concurrency 2
    first = records(workflow)
    assert 3 <= len(first) < 12
    assert all(r.status == "ok" for r in first.values())
    log = sorted(fake.chat_log(), key=lambda e: e["t_recv"])
    stopped = min(e["t_done"] for e in log if e["fault"] == stop)
    assert [e for e in log if e["t_recv"] > stopped + RACE_S] == []
    # After the quota resets (credits topped up) the same command finishes
    # the rest, and no specimen that has a record is asked again.
    fake.reset_counters()
    for name in settings:
        setattr(fake.config, name, {} if name == "quota_after" else None)
    if stop == "quota":
        # The quota named its reset time (X-RateLimit-Reset), so the key
        # stays benched past a plain rerun; a user who raised the quota
        # reopens the gate by hand.
        assert run_api(workflow, config, check=False).returncode != 0
        assert len(fake.chat_log()) == len(log)
        subprocess.run(
            [sys.executable, "-m", "herbarium_dwc.cli", "gate", "results", "--reopen"],
            cwd=workflow.root,
            env=workflow.env(),
            check=True,
            capture_output=True,
        )
    run_api(workflow, config)
    second = fake.chat_log()[len(log) :]
    assert len(records(workflow)) == 12
    assert {e["image"] for e in second}.isdisjoint(first)


def test_a_refused_key_stops_the_run_after_one_round(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images = coded_sheets(5)
    monkeypatch.setenv(TEST_KEY_ENV, "sk-test-revoked-key-0000000000")
    config = write_api_config(workflow.root, fake_provider, images)
    done = run_api(workflow, config, check=False)
    assert done.returncode != 0
    assert done.stderr.count("API requests stopped (auth)") == 1
    assert records(workflow) == {}
    log = fake_provider.chat_log()
    # Only requests already in flight when the first 401 came back were sent.
    assert 1 <= len(log) <= 2
    assert {e["status"] for e in log} == {401}


def test_a_benched_key_gives_way_to_the_next(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images = coded_sheets(6)
    monkeypatch.setenv("HERBARIUM_TEST_KEY_B", "sk-test-second-key-1111111111")
    fake = fake_provider
    fake.config.keys = {
        **(fake.config.keys or {}),
        "sk-test-second-key-1111111111": "B",
    }
    fake.config.quota_after = {"A": 2}
    config = write_api_config(
        workflow.root,
        fake,
        images,
        api_key_envs=[TEST_KEY_ENV, "HERBARIUM_TEST_KEY_B"],
    )
    run_api(workflow, config)
    assert len(records(workflow)) == 6
    log = sorted(fake.chat_log(), key=lambda e: e["t_recv"])
    benched = min(e["t_done"] for e in log if e["fault"] == "quota")
    assert [e for e in log if e["key"] == "A" and e["t_recv"] > benched + RACE_S] == []
    assert sum(e["key"] == "B" and e["status"] == 200 for e in log) >= 4


def test_a_missing_model_stops_the_run_once(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
) -> None:
    images = coded_sheets(5)
    fake_provider.config.models = {"fake/vision-1"}
    config = write_api_config(
        workflow.root, fake_provider, images, model="fake/no-such-model"
    )
    done = run_api(workflow, config, check=False)
    assert done.returncode != 0
    assert done.stderr.count("API requests stopped (config)") == 1
    assert "fake/no-such-model" in done.stderr
    assert records(workflow) == {}
    assert 1 <= len(fake_provider.chat_log()) <= 2  # the requests in flight, no more


def test_fallback_model_and_response_format_are_chosen_once_per_run(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
) -> None:
    images = coded_sheets(6)
    fake = fake_provider
    fake.config.models = {"fake/vision-1", "fake/text-only"}
    fake.config.no_image_models = {"fake/text-only"}
    fake.config.reject_formats = {"json_schema", "json_object"}
    config = write_api_config(
        workflow.root,
        fake,
        images,
        model="fake/retired",
        fallback_models=["fake/text-only", "fake/vision-1"],
    )
    run_api(workflow, config)
    found = records(workflow)
    assert len(found) == 6
    assert {r.engine.model for r in found.values()} == {"fake/vision-1"}
    assert all("reply:response_format_text" in r.flags for r in found.values())
    log = fake.chat_log()
    per_model = Counter(e["model"] for e in log)
    # Each dead end costs at most one request per process in flight (2).
    assert per_model["fake/retired"] <= 2 and per_model["fake/text-only"] <= 2
    formats = Counter(e["format"] for e in log if e["model"] == "fake/vision-1")
    assert formats["json_schema"] <= 2 and formats["json_object"] <= 2
    assert formats["text"] == 6
    # The run folder is named after the configured model, not the fallback.
    assert {p.name for p in (workflow.root / "results/specimens").iterdir()} == {
        "openai-fake-retired-dwc-v1"
    }


def test_budget_closes_the_gate_and_cost_comes_from_usage(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
) -> None:
    images = coded_sheets(7)
    fake_provider.config.cost_per_request = 0.01
    fake_provider.config.latency_s = 0.2
    config = write_api_config(workflow.root, fake_provider, images, budget_usd=0.03)
    done = run_api(workflow, config, check=False)
    assert done.returncode != 0
    assert done.stderr.count("API requests stopped (budget)") == 1
    found = records(workflow)
    paid = [e for e in fake_provider.chat_log() if e["status"] == 200]
    # Requests in flight when the budget ran out are kept, never more.
    assert 3 <= len(found) == len(paid) <= 4
    assert all(r.usage.cost_usd == pytest.approx(0.01) for r in found.values())


def test_ocr_text_goes_with_the_image_when_asked(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
) -> None:
    images = coded_sheets(1)
    config = write_api_config(workflow.root, fake_provider, images, send_ocr_text=True)
    run_api(workflow, config)
    (record,) = records(workflow).values()
    assert record.status == "ok" and record.ocr is not None
    assert [e["ocr_text"] for e in fake_provider.chat_log()] == [True]


def test_missing_key_stops_before_any_work(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    images = coded_sheets(2)
    monkeypatch.delenv(TEST_KEY_ENV)
    config = write_api_config(workflow.root, fake_provider, images)
    done = run_api(workflow, config, check=False)
    assert done.returncode != 0
    assert f"{TEST_KEY_ENV} is not set; export it" in done.stderr
    assert not (workflow.root / "results").exists()
    assert fake_provider.log() == []  # not even a connectivity check


def test_a_redis_gate_nobody_answers_stops_before_any_work(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
) -> None:
    images = coded_sheets(2)
    port = unused_loopback_port()
    gate = f"redis://127.0.0.1:{port}/0"
    config = write_api_config(workflow.root, fake_provider, images, gate=gate)
    done = run_api(workflow, config, check=False)
    assert done.returncode != 0
    assert done.stderr.count(f"cannot reach the rate gate's Redis at {gate}") == 1
    assert not (workflow.root / "results").exists()
    assert fake_provider.log() == []


def test_real_sheets_are_answered_from_ground_truth_and_real_replies(
    workflow: Workflow,
    fake_provider: FakeProvider,
    shared_data: Path,
    api_key: str,
    tmp_path: Path,
) -> None:
    lichens = shared_data / "aocr" / "lichens"
    truth = load_aocr_truth(lichens)
    images = tmp_path / "real"
    images.mkdir()
    chosen = sorted(truth)[:5]
    for stem in chosen:
        source = lichens / "images" / f"{stem}.jpg"
        (images / source.name).symlink_to(source)
        fake_provider.register(source, truth=truth[stem])
    # Sheets without ground truth get a real model's reply from aafc/replies.
    for source in sorted((shared_data / "aafc" / "images").glob("*.jpg"))[:2]:
        (images / source.name).symlink_to(source)
        fake_provider.register(source)
    fake_provider.config.rates = {"fence": 0.3, "prose": 0.2}
    truth_csv = tmp_path / "truth.csv"
    with open(truth_csv, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["specimen_id", "catalogNumber", "scientificName"])
        for stem in chosen:
            writer.writerow(
                [
                    stem,
                    truth[stem].get("catalogNumber"),
                    truth[stem].get("scientificName"),
                ]
            )
    config = write_api_config(workflow.root, fake_provider, images)
    text = config.read_text().replace("truth: ''", f"truth: {truth_csv}")
    config.write_text(text)
    run_api(workflow, config)
    found = records(workflow)
    assert len(found) == 7 and all(r.status == "ok" for r in found.values())
    for stem in chosen:
        for term, value in truth[stem].items():
            assert found[stem].verbatim[term] == value
    others = [r for stem, r in found.items() if stem not in truth]
    assert len(others) == 2 and all(r.verbatim for r in others)
    evaluation = json.loads((workflow.root / "results/evaluation.json").read_text())
    assert evaluation["fields"]["catalogNumber"]["accuracy"] == 1.0
    assert {e["image"] for e in fake_provider.chat_log()} == set(found)
    assert_key_absent(workflow.root, api_key)


def _stopped_message(log: Path) -> str:
    """The error a job's log ends with (logs.log_to writes 'stopped: ...')."""
    lines = [line for line in log.read_text().splitlines() if " stopped: " in line]
    assert len(lines) == 1, log
    return lines[0].split(" stopped: ", 1)[1]


def test_an_unreachable_endpoint_stops_the_run_at_once_with_one_message(
    workflow: Workflow,
    fake_provider: FakeProvider,
    coded_sheets: Callable[..., Path],
) -> None:
    images = coded_sheets(4)
    port = unused_loopback_port()
    # Nothing listens on the port; max_attempts would otherwise make each
    # job try five times with backoff before giving up.
    config = write_api_config(
        workflow.root,
        fake_provider,
        images,
        base_url=f"http://127.0.0.1:{port}/v1",
        max_attempts=5,
        backoff_s=1,
    )
    done = run_api(workflow, config, check=False)
    assert done.returncode != 0
    assert records(workflow) == {}  # transient: every specimen stays pending
    # The failed check also asked Snakemake (on this host) to start no more
    # extraction jobs: only the two running at once (--cores 2) failed.
    assert "Will exit after finishing currently running jobs" in done.stderr
    logs = sorted((workflow.root / "logs/extract_specimen").glob("*/*.log"))
    assert 1 <= len(logs) <= 2
    messages = {_stopped_message(log) for log in logs}
    assert len(messages) == 1
    (message,) = messages
    assert message.startswith(f"cannot connect to API endpoint http://127.0.0.1:{port}")
    assert f"(checked on {socket.gethostname()} at " in message
    # One check on this host, made by one job; no job sent a chat request.
    texts = [log.read_text() for log in logs]
    assert sum("checking API endpoint" in text for text in texts) == 1
    assert not any("retrying in" in text for text in texts)
    # The run says why once, after the jobs' own error lines.
    assert done.stderr.count("the API endpoint could not be reached") == 1
    assert done.stderr.count(message) >= 1
    assert fake_provider.log() == []

    # Once a server listens at that URL, the same command finishes the run:
    # the failed check is forgotten when a run starts.
    revived = FakeProvider(fake_provider.config).start(port)
    try:
        for index in range(4):
            revived.register(
                images / f"sheet-{index:03d}.jpg",
                truth={"catalogNumber": f"HERB{index:06d}", "country": "Canada"},
            )
        run_api(workflow, config)
        assert len(revived.probe_log()) == 1
        assert len(revived.chat_log()) == 4
    finally:
        revived.stop()
    assert {r.status for r in records(workflow).values()} == {"ok"}
