"""`herbarium-dwc status` on fabricated results folders with every state."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest
from rich.console import Console

from herbarium_dwc.cli import main
from herbarium_dwc.errors import HerbariumError
from herbarium_dwc.gate_state import read_gate_state
from herbarium_dwc.ratelimit import GATE_FILE, note_gate_location
from herbarium_dwc.record import write_record
from herbarium_dwc.status import CACHE_FOLDER, choose_run, duration, write_range
from herbarium_dwc.status_collector import (
    StatusCollector,
    prepare_status,
    refresh_summary,
)
from herbarium_dwc.status_view import render_status, watch_status

from .fabricate import (
    NOW,
    RUN,
    Fabricated,
    fabricate,
    iso,
    make_record,
    write_events,
    write_gate,
)


@pytest.fixture
def fabricated(tmp_path: Path) -> Fabricated:
    """A results folder with every state (see tests/fabricate.py)."""
    return fabricate(tmp_path / "results")


def _text(results: Path, now: float = NOW, run: str = RUN) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(render_status(StatusCollector(results, run).collect(now=now)))
    return console.export_text()


def test_status_counts_ok_failed_pending_and_records_outside_the_range(
    fabricated: Fabricated,
) -> None:
    snap = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    assert snap.range_size == len(fabricated.range_ids)
    assert snap.ok == len(fabricated.ok)
    assert snap.failed == len(fabricated.failed)
    assert snap.pending == len(fabricated.pending)
    assert snap.outside_range == len(fabricated.outside)
    expected_kinds: dict[str, int] = {}
    for kind in fabricated.failed.values():
        expected_kinds[kind] = expected_kinds.get(kind, 0) + 1
    assert snap.failures_by_kind == expected_kinds


def test_status_reads_records_without_events_once_and_caches_them(
    fabricated: Fabricated,
) -> None:
    snap = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    assert "3 record(s) had no event and were read" in snap.notes
    cache = json.loads(
        (fabricated.results / CACHE_FOLDER / f"{RUN}.records.json").read_text(
            encoding="utf-8"
        )
    )
    assert set(cache) == {"s06", "s07", "s13"}
    assert cache["s13"][:2] == ["failed", "refused"]
    # A second reader answers from the cache, with the same figures.
    again = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    assert (again.ok, again.failed, again.failures_by_kind) == (
        snap.ok,
        snap.failed,
        snap.failures_by_kind,
    )


def test_status_rate_eta_and_cost_come_from_the_event_log(
    fabricated: Fabricated,
) -> None:
    snap = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    # Record events in the last 10 minutes: s00-s05, s08, s09 (ok) and
    # s10-s12 (failed); s06, s07 and s13 have none, x99 is older.
    recent = 11
    assert snap.rate_per_min == pytest.approx(recent / 600 * 60)
    assert snap.eta_s == pytest.approx(len(fabricated.pending) / (recent / 600))
    # Request events for the specimens that have them, the records' usage
    # for the two read from disk; the duplicate s05 costs nothing.
    assert snap.cost_usd == pytest.approx(fabricated.cost)
    assert (snap.prompt_tokens, snap.completion_tokens) == fabricated.tokens
    assert snap.projected_cost_usd is not None
    assert snap.projected_cost_usd > snap.cost_usd
    assert snap.request_errors == {
        "rate_limited (HTTP 429)": 1,
        "provider_error (HTTP 500)": 1,
    }


def test_status_lists_the_latest_failures_newest_first(
    fabricated: Fabricated,
) -> None:
    snap = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    assert [f.specimen for f in snap.latest_failures] == ["s13", "s12", "s11", "s10"]
    assert snap.latest_failures[0].message == "the model declined to read the label"


def test_status_output_shows_every_state(
    fabricated: Fabricated,
) -> None:
    write_gate(
        fabricated.results,
        cooldown_until=NOW + 45,
        stop_reason=None,
        cooldown_reason="HTTP 429 with Retry-After 45",
        now=NOW,
    )
    text = _text(fabricated.results)
    assert f"run {RUN}" in text
    assert "70.0%  14 of 20" in text
    assert "ok 10  failed 4  pending 6  (+1 records outside the range)" in text
    assert "openai / gpt-4o-mini" in text
    assert "1.1 specimens/min (last 10 min), ETA 5 min" in text
    assert "10,800 prompt + 1,350 completion so far" in text
    assert "$0.0180 so far, about $0.02" in text
    assert "image_corrupt 1" in text and "refused 1" in text and "timeout 1" in text
    assert "rate_limited (HTTP 429) 1" in text
    assert "cooling down for 45 s more: HTTP 429 with Retry-After 45" in text
    assert "latest failures" in text
    assert "s10.jpg is truncated; rescan or replace the file" in text
    assert "1 unreadable event line(s) skipped" in text


def test_status_output_says_when_the_gate_is_stopped_and_why(
    fabricated: Fabricated,
) -> None:
    write_gate(
        fabricated.results,
        cooldown_until=None,
        stop_reason="HTTP 402: credits exhausted",
        now=NOW,
    )
    text = _text(fabricated.results)
    assert "STOPPED: HTTP 402: credits exhausted" in text


def test_status_command_prints_the_screen_and_exits_zero(
    fabricated: Fabricated,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status", str(fabricated.results)]) == 0
    out = capsys.readouterr().out
    assert f"run {RUN}" in out
    assert "pending 6" in out
    assert "gate" in out and "not used (no API run in this folder)" in out


def test_status_command_on_a_folder_without_runs_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", str(tmp_path)]) == 1
    assert "holds no run yet" in capsys.readouterr().err


def test_status_without_range_file_counts_records_and_says_pending_is_unknown(
    fabricated: Fabricated,
) -> None:
    (fabricated.results / "work" / "range" / f"{RUN}.json").unlink()
    snap = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    assert snap.pending is None
    assert snap.done == len(fabricated.ok) + len(fabricated.failed) + 1
    assert any("range unknown" in note for note in snap.notes)
    assert "pending unknown" in _text(fabricated.results)


def test_collector_picks_up_new_records_and_a_torn_line_once_complete(
    fabricated: Fabricated,
) -> None:
    collector = StatusCollector(fabricated.results, RUN)
    before = collector.collect(now=NOW)
    run_dir = fabricated.results / "specimens" / RUN
    write_record(run_dir / "s14.json", make_record("s14", finished=NOW - 1))
    # Finish the torn line fabricate() left on node-b: s14's record event.
    write_events(
        fabricated.results / "events" / "node-b.jsonl",
        [],
        tail=f'ord", "run": "{RUN}", "specimen": "s14", "outcome": "ok"}}\n',
    )
    after = collector.collect(now=NOW)
    assert after.ok == before.ok + 1
    assert after.pending == before.pending - 1
    assert "s14" not in after.notes[-1]  # known from its event, not read from disk


def test_a_retried_failure_is_no_longer_listed(
    fabricated: Fabricated,
) -> None:
    collector = StatusCollector(fabricated.results, RUN)
    collector.collect(now=NOW)
    run_dir = fabricated.results / "specimens" / RUN
    write_record(run_dir / "s11.json", make_record("s11", finished=NOW - 5))
    write_events(
        fabricated.results / "events" / "node-a.jsonl",
        [
            {
                "time": iso(NOW - 5),
                "event": "record",
                "run": RUN,
                "specimen": "s11",
                "outcome": "ok",
            }
        ],
    )
    snap = collector.collect(now=NOW)
    assert "invalid_json" not in snap.failures_by_kind
    assert "s11" not in [f.specimen for f in snap.latest_failures]


def test_status_of_an_idle_run_says_when_the_last_record_came(
    fabricated: Fabricated,
) -> None:
    later = NOW + 3 * 3600
    snap = StatusCollector(fabricated.results, RUN).collect(now=later)
    assert snap.rate_per_min is None and snap.eta_s is None
    assert "idle: no record in the last 10 min" in _text(fabricated.results, later)


def test_watch_redraws_in_place(fabricated: Fabricated) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    watch_status(fabricated.results, RUN, interval=0.01, console=console, rounds=3)
    screen = buffer.getvalue()
    assert screen.count("herbarium-dwc status") >= 3
    assert "\x1b[" in screen  # cursor movement: redrawn in place


def test_choose_run_prefers_the_latest_started_range(tmp_path: Path) -> None:
    write_range(tmp_path, "old-run", ["a"])
    write_range(tmp_path, "new-run", ["a", "b"])
    assert choose_run(tmp_path) == "new-run"
    assert choose_run(tmp_path, "old-run") == "old-run"
    with pytest.raises(HerbariumError, match="no run 'nope'"):
        choose_run(tmp_path, "nope")


def test_choose_run_asks_for_run_when_several_folders_and_no_range(
    tmp_path: Path,
) -> None:
    for name in ("a", "b"):
        (tmp_path / "specimens" / name).mkdir(parents=True)
    with pytest.raises(HerbariumError, match="name one with --run"):
        choose_run(tmp_path)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (89, "89 s"),
        (600, "10 min"),
        (11_100, "3 h 05 min"),
        (200_000, "2 d 7 h"),
    ],
)
def test_duration_reads_like_people_say_it(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_gate_of_a_folder_without_api_runs_is_unused(tmp_path: Path) -> None:
    state = read_gate_state(tmp_path)
    assert state.mode == "unused" and "no API run" in state.reason


def test_gate_file_that_is_not_sqlite_is_unknown(tmp_path: Path) -> None:
    (tmp_path / GATE_FILE).write_text("not a database")
    state = read_gate_state(tmp_path, now=NOW)
    assert state.mode == "unknown" and "rate gate" in state.reason


def test_gate_open_cooling_and_stopped_from_the_real_gate(tmp_path: Path) -> None:
    write_gate(tmp_path, cooldown_until=NOW - 1, stop_reason=None, now=NOW)
    assert read_gate_state(tmp_path, now=NOW).mode == "open"
    write_gate(tmp_path, cooldown_until=NOW + 30, stop_reason=None, now=NOW)
    cooling = read_gate_state(tmp_path, now=NOW)
    assert (cooling.mode, cooling.until) == ("cooling", NOW + 30)
    write_gate(tmp_path, cooldown_until=NOW + 30, stop_reason="HTTP 401", now=NOW)
    stopped = read_gate_state(tmp_path, now=NOW)
    assert (stopped.mode, stopped.reason) == ("stopped", "HTTP 401")


def test_gate_noted_by_the_workflow_is_found_elsewhere(tmp_path: Path) -> None:
    # openai.gate may put the store outside the results folder; the workflow
    # notes where, and status follows the note.
    elsewhere = tmp_path / "shared"
    write_gate(elsewhere, cooldown_until=NOW + 20, stop_reason=None, now=NOW)
    results = tmp_path / "results"
    config = {"results": str(results), "openai": {"gate": str(elsewhere / GATE_FILE)}}
    note_gate_location(config)
    state = read_gate_state(results, now=NOW)
    assert (state.mode, state.until) == ("cooling", NOW + 20)


def test_gate_note_naming_a_missing_file_is_unknown(tmp_path: Path) -> None:
    note_gate_location({"results": str(tmp_path), "openai": {"gate": "/nowhere.db"}})
    state = read_gate_state(tmp_path, now=NOW)
    assert state.mode == "unknown" and "/nowhere.db does not exist" in state.reason


def test_gate_that_is_locked_for_writing_is_still_read(tmp_path: Path) -> None:
    path = write_gate(tmp_path, cooldown_until=NOW + 30, stop_reason=None, now=NOW)
    writer = sqlite3.connect(path)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE gate SET value = 'auth' WHERE name = 'cool.reason'")
        state = read_gate_state(tmp_path, now=NOW)
    finally:
        writer.rollback()
        writer.close()
    # A writer holding the gate does not block status: it reads the last
    # committed state.
    assert (state.mode, state.until) == ("cooling", NOW + 30)


def test_an_event_with_a_field_of_the_wrong_type_is_skipped_and_counted(
    fabricated: Fabricated,
) -> None:
    before = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    bad = {"time": iso(NOW - 5), "event": "request", "run": RUN, "specimen": "s01"}
    write_events(
        fabricated.results / "events" / "node-z.jsonl",
        [{**bad, "prompt_tokens": "many"}, {**bad, "prompt_tokens": 7}],
    )
    after = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    # The good line of the two is counted; the other is reported, not fatal.
    assert after.prompt_tokens == before.prompt_tokens + 7
    skipped = [n for n in after.notes if "unreadable event line" in n]
    assert skipped == ["2 unreadable event line(s) skipped"]


def test_jobs_refresh_a_stale_summary_one_at_a_time(fabricated: Fabricated) -> None:
    results = fabricated.results
    state = results / CACHE_FOLDER / f"{RUN}.events.json"
    lock = results / CACHE_FOLDER / f".{RUN}.refresh.lock"
    # No summary yet: the first job makes one, and then the log is all read.
    assert refresh_summary(results, RUN) is True
    assert state.is_file() and not lock.exists()
    assert StatusCollector(results, RUN, persist=True)._tail.read() == []
    # A fresh summary is left alone.
    assert refresh_summary(results, RUN) is False
    # A stale one is refreshed, unless another job holds the lock ...
    old = time.time() - 3600
    os.utime(state, (old, old))
    lock.touch()
    assert refresh_summary(results, RUN) is False
    assert state.stat().st_mtime == old
    # ... but a lock left by a killed job for over ten minutes is dropped.
    os.utime(lock, (old, old))
    assert refresh_summary(results, RUN) is False
    assert not lock.exists()
    assert refresh_summary(results, RUN) is True
    assert state.stat().st_mtime > old


def test_a_summary_refresh_that_cannot_write_does_not_raise(
    fabricated: Fabricated,
) -> None:
    (fabricated.results / "work").mkdir(exist_ok=True)
    (fabricated.results / CACHE_FOLDER).write_text("a file where a folder should be")
    assert refresh_summary(fabricated.results, RUN) is False


def test_persisted_summary_is_reused_and_only_new_events_are_read(
    fabricated: Fabricated,
) -> None:
    first = StatusCollector(fabricated.results, RUN, persist=True).collect(now=NOW)
    state = fabricated.results / CACHE_FOLDER / f"{RUN}.events.json"
    assert state.is_file()
    write_record(
        fabricated.results / "specimens" / RUN / "s15.json",
        make_record("s15", status="failed", kind="truncated", message="cut off"),
    )
    write_events(
        fabricated.results / "events" / "node-a.jsonl",
        [
            {
                "time": iso(NOW - 2),
                "event": "record",
                "run": RUN,
                "specimen": "s15",
                "outcome": "failed",
                "failure_kind": "truncated",
                "message": "cut off",
            }
        ],
    )
    resumed = StatusCollector(fabricated.results, RUN, persist=True)
    # The saved offsets stand: only the one new line is left to read.
    assert sum(len(chunk) for chunk in resumed._tail.chunks()) == 1
    resumed = StatusCollector(fabricated.results, RUN, persist=True)
    again = resumed.collect(now=NOW)
    fresh = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    assert again.failed == first.failed + 1 == fresh.failed
    assert again.failures_by_kind == fresh.failures_by_kind
    assert again.cost_usd == pytest.approx(fresh.cost_usd)
    assert again.rate_per_min == pytest.approx(fresh.rate_per_min)
    assert [f.specimen for f in again.latest_failures] == [
        f.specimen for f in fresh.latest_failures
    ]


def test_persisted_summary_is_dropped_when_the_log_is_replaced(
    fabricated: Fabricated,
) -> None:
    StatusCollector(fabricated.results, RUN, persist=True).collect(now=NOW)
    log = fabricated.results / "events" / "node-a.jsonl"
    kept = log.read_text(encoding="utf-8").splitlines(keepends=True)[:3]
    log.unlink()
    log.write_text("".join(kept), encoding="utf-8")  # shorter: a new log
    snap = StatusCollector(fabricated.results, RUN, persist=True).collect(now=NOW)
    fresh = StatusCollector(fabricated.results, RUN).collect(now=NOW)
    assert (
        snap.cost_usd
        < StatusCollector(fabricated.results, RUN).collect(now=NOW).cost_usd + 1e-9
    )
    assert (snap.rate_per_min, snap.cost_usd, snap.prompt_tokens) == (
        fresh.rate_per_min,
        fresh.cost_usd,
        fresh.prompt_tokens,
    )


def test_prepare_status_notes_the_range_and_saves_the_event_summary(
    fabricated: Fabricated,
) -> None:
    prepare_status(fabricated.results, RUN, fabricated.range_ids[:5])
    data = json.loads(
        (fabricated.results / "work" / "range" / f"{RUN}.json").read_text()
    )
    assert data["ids"] == fabricated.range_ids[:5]
    resumed = StatusCollector(fabricated.results, RUN, persist=True)
    assert list(resumed._tail.chunks()) == []  # nothing left to parse
    assert resumed.collect(now=NOW).range_size == 5
