"""The event log: one whole line per event, from many processes at once."""

from __future__ import annotations

import json
import logging
import multiprocessing
import socket
from pathlib import Path

import pytest

from herbarium_dwc.events import (
    MESSAGE_LIMIT,
    EventTail,
    append_event,
    event_fields,
    read_events,
)


def test_append_event_writes_one_json_line_per_host_with_time_and_kind(
    tmp_path: Path,
) -> None:
    written = append_event(
        tmp_path, specimen="NY1", outcome="ok", http_status=200, latency_s=1.5
    )
    path = tmp_path / "events" / f"{socket.gethostname()}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event == written
    assert event["event"] == "request"
    assert event["specimen"] == "NY1" and event["http_status"] == 200
    assert event["time"].endswith("+00:00")


def test_append_event_leaves_out_none_and_cuts_long_messages(tmp_path: Path) -> None:
    event = append_event(tmp_path, failure_kind=None, message="x" * 5000)
    assert "failure_kind" not in event
    assert len(event["message"]) == MESSAGE_LIMIT


@pytest.mark.parametrize(
    "fields",
    [{"api_key": "sk-secret"}, {"image": b"\xff\xd8"}, {"specimen": ["a", "b"]}],
)
def test_append_event_refuses_keys_bytes_and_unknown_fields(
    tmp_path: Path, fields: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match="append_event"):
        append_event(tmp_path, **fields)
    assert not (tmp_path / "events").exists()


def test_event_fields_tag_events_appended_inside_the_block(tmp_path: Path) -> None:
    with event_fields(run="r1", specimen="NY7"):
        append_event(tmp_path, attempt=1, outcome="ok")
        with event_fields(specimen="NY8"):
            append_event(tmp_path, attempt=2, outcome="ok")
    append_event(tmp_path, outcome="ok")
    events = read_events(tmp_path)
    assert [(e.get("run"), e.get("specimen")) for e in events] == [
        ("r1", "NY7"),
        ("r1", "NY8"),
        (None, None),
    ]


def _writer(results: str, worker: int, count: int) -> None:
    for index in range(count):
        append_event(
            results,
            specimen=f"w{worker}-{index}",
            outcome="ok",
            message="m" * (index % 200),
        )


def test_many_processes_appending_at_once_leave_only_whole_lines(
    tmp_path: Path,
) -> None:
    workers, count = 6, 300
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_writer, args=(str(tmp_path), w, count))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert all(p.exitcode == 0 for p in processes)
    tail = EventTail(tmp_path)
    events = tail.read()
    assert tail.skipped == 0
    assert len(events) == workers * count
    assert len({e["specimen"] for e in events}) == workers * count


def test_tail_leaves_a_torn_last_line_for_the_next_read(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    path = folder / "node.jsonl"
    path.write_text('{"time": "t1", "specimen": "a"}\n{"time": "t2", "spec')
    tail = EventTail(tmp_path)
    assert [e["specimen"] for e in tail.read()] == ["a"]
    with open(path, "a") as handle:
        handle.write('imen": "b"}\nnot json at all\n{"time": "t3", "specimen": "c"}\n')
    assert [e["specimen"] for e in tail.read()] == ["b", "c"]
    assert tail.skipped == 1
    assert tail.read() == []


def test_read_events_merges_host_files_in_time_order(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"time": "2026-01-01T00:00:03", "n": 3}\n')
    (folder / "b.jsonl").write_text(
        '{"time": "2026-01-01T00:00:01", "n": 1}\n'
        '{"time": "2026-01-01T00:00:04", "n": 4}\n'
    )
    (folder / "c.jsonl").write_text('{"time": "2026-01-01T00:00:02", "n": 2}\n')
    assert [e["n"] for e in read_events(tmp_path)] == [1, 2, 3, 4]


def test_read_events_of_a_folder_without_log_is_empty(tmp_path: Path) -> None:
    assert read_events(tmp_path) == []


def test_log_that_is_not_a_folder_warns_and_does_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "events").write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        event = append_event(tmp_path, outcome="ok")
    assert event["outcome"] == "ok"
    assert "could not append to the event log" in caplog.text


def test_tail_reads_a_long_log_in_small_chunks_without_losing_lines(
    tmp_path: Path,
) -> None:
    for index in range(300):
        append_event(tmp_path, specimen=f"s{index}", message="x" * (index % 50))
    tail = EventTail(tmp_path, chunk_bytes=97)  # splits most lines
    chunks = list(tail.chunks())
    assert len(chunks) > 10
    assert [e["specimen"] for c in chunks for e in c] == [f"s{i}" for i in range(300)]
    assert tail.skipped == 0
