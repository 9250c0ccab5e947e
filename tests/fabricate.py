"""Build results folders by hand, with every state status and the report show.

The folder looks like one a running workflow leaves: records of a run, the
range file, an event log from two hosts (one with a torn last line and one
garbled line), a temporary record being written, records with no event, a
record outside the range, events of another run, and a rate-gate file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from herbarium_dwc.ratelimit import GATE_FILE, GateSettings, RateGate, SQLiteGateStore
from herbarium_dwc.record import (
    EngineInfo,
    Failure,
    ImageInfo,
    SpecimenRecord,
    Timing,
    Usage,
    write_record,
)
from herbarium_dwc.status import write_range

RUN = "openai-gpt-4o-mini-dwc-v1"
# A fixed "now" (2026-03-01 12:00:00 UTC) keeps rates and ETAs exact.
NOW = 1772366400.0


def iso(stamp: float) -> str:
    """ISO 8601 UTC text with milliseconds, as the event log writes it."""
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def make_record(
    specimen_id: str,
    *,
    status: str = "ok",
    kind: str | None = None,
    message: str = "",
    dwc: dict[str, str] | None = None,
    confidence: dict[str, float] | None = None,
    flags: list[str] | None = None,
    source: str = "",
    finished: float = NOW,
    cost: float | None = None,
    tokens: tuple[int, int] | None = None,
    duplicate_of: str | None = None,
    run: str = RUN,
) -> SpecimenRecord:
    """Return a record of the contract's shape with the given facts."""
    return SpecimenRecord(
        specimen_id=specimen_id,
        run=run,
        image=ImageInfo(source=source or f"/nowhere/{specimen_id}.jpg"),
        engine=EngineInfo(kind="openai", model="gpt-4o-mini"),
        status="failed" if status == "failed" else "ok",
        failure=Failure(kind=kind, message=message) if status == "failed" else None,  # type: ignore[arg-type]
        duplicate_of=duplicate_of,
        dwc=dwc or {},
        verbatim=dwc or {},
        confidence=confidence or {},
        flags=flags or [],
        usage=Usage(
            prompt_tokens=tokens[0] if tokens else None,
            completion_tokens=tokens[1] if tokens else None,
            cost_usd=cost,
        ),
        timing=Timing(
            attempts=0 if duplicate_of else 1,
            latency_s=2.0,
            started_at=iso(finished - 2),
            finished_at=iso(finished),
        ),
    )


def write_events(path: Path, events: list[dict[str, Any]], tail: str = "") -> None:
    """Append events as JSON lines (plus raw ``tail`` text) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")
        handle.write(tail)


def write_gate(
    results: Path,
    *,
    cooldown_until: float | None,
    stop_reason: str | None,
    cooldown_reason: str = "",
    now: float,
) -> Path:
    """Put the real rate gate of ``results`` in a state, as API runs leave it."""
    path = results / GATE_FILE
    path.unlink(missing_ok=True)
    gate = RateGate(SQLiteGateStore(path), GateSettings(), clock=lambda: now)
    if cooldown_until is not None:
        gate.rate_limited(cooldown_until - now, cooldown_reason or "HTTP 429")
    if stop_reason:
        gate.close("credits", stop_reason)
    return path


@dataclass
class Fabricated:
    """What was put in the folder, to compare status and report with."""

    results: Path
    range_ids: list[str]
    ok: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    outside: set[str] = field(default_factory=set)
    cost: float = 0.0
    tokens: tuple[int, int] = (0, 0)
    record_times: list[float] = field(default_factory=list)


def fabricate(results: Path, images: dict[str, Path] | None = None) -> Fabricated:
    """Build a results folder of 20 specimens in every state.

    - ok with an event: s00-s09 (s03 low confidence, s04 two flags, s05 a
      duplicate of s00); s06 and s07 have no event (read from disk);
    - failed with an event: s10 image_corrupt, s11 invalid_json, s12 timeout;
      s13 failed with no event (refused);
    - pending: s14-s19 (s14 is half-written: a ``.s14.json.tmp`` file);
    - x99 has a record but is outside the range;
    - request events with tokens, cost, retries, a 429 and a 500; events of
      another run; a garbled line; a torn last line.

    :param images: specimen id to an image file for ``image.source``.
    """
    images = images or {}
    run_dir = results / "specimens" / RUN
    ids = [f"s{i:02d}" for i in range(20)]
    fab = Fabricated(results, ids)
    write_range(results, RUN, ids)
    events: list[dict[str, Any]] = []
    names = ["Carex bebbii", "Solidago canadensis", "Quercus macrocarpa", "Vaccinium"]
    for index in range(10):
        sid = f"s{index:02d}"
        finished = NOW - 600 + index * 50  # one record every 50 s, the last 150 s ago
        confidence = {"scientificName": 0.92, "recordedBy": 0.88}
        flags: list[str] = []
        if sid == "s03":
            confidence = {"scientificName": 0.21, "recordedBy": 0.40}
        if sid == "s04":
            flags = ["eventDate:engine_value_unverified", "country:not_a_dwc_term"]
        record = make_record(
            sid,
            dwc={
                "catalogNumber": f"0041{index:04d}",
                "scientificName": names[index % 4],
                "recordedBy": "M. A. Larsen" if index % 3 else "",
                "eventDate": "1987-06-14",
            },
            confidence=confidence,
            flags=flags,
            source=str(images.get(sid, "")),
            finished=finished,
            cost=0.002,
            tokens=(1200, 150),
            duplicate_of="s00" if sid == "s05" else None,
        )
        write_record(run_dir / f"{sid}.json", record)
        fab.ok.add(sid)
        fab.record_times.append(finished)
        if sid != "s05":  # a duplicate sends no request and costs nothing
            fab.cost += 0.002
            fab.tokens = (fab.tokens[0] + 1200, fab.tokens[1] + 150)
        if sid in ("s06", "s07"):
            continue  # no event: status must read these two files
        if sid != "s05":
            attempt = 2 if sid == "s01" else 1
            events.append(
                _request(sid, finished - 1, "ok", attempt=attempt, cost=0.002)
            )
        events.append(_record_event(sid, finished, "ok"))
    # s01 needed a retry after a 429; its failed attempt cost nothing.
    events.append(_request("s01", NOW - 551, "rate_limited", http=429, attempt=1))
    events.append(_request("s02", NOW - 60, "provider_error", http=500, attempt=1))
    failures = {
        "s10": ("image_corrupt", "s10.jpg is truncated; rescan or replace the file"),
        "s11": ("invalid_json", "the model answered text that is not JSON"),
        "s12": ("timeout", "no answer within 120 s after 3 attempts"),
    }
    for offset, (sid, (kind, message)) in enumerate(failures.items()):
        finished = NOW - 120 + offset * 20
        write_record(
            run_dir / f"{sid}.json",
            make_record(
                sid,
                status="failed",
                kind=kind,
                message=message,
                finished=finished,
                source=str(images.get(sid, "")),
            ),
        )
        events.append(_record_event(sid, finished, "failed", kind, message))
        fab.failed[sid] = kind
        fab.record_times.append(finished)
    write_record(
        run_dir / "s13.json",
        make_record(
            "s13",
            status="failed",
            kind="refused",
            message="the model declined to read the label",
            finished=NOW - 30,
        ),
    )
    fab.failed["s13"] = "refused"
    fab.pending = {f"s{i:02d}" for i in range(14, 20)}
    (run_dir / ".s14.json.abc123.tmp").write_text('{"specimen_id": "s14", "sta')
    write_record(run_dir / "x99.json", make_record("x99", finished=NOW - 3000))
    fab.outside.add("x99")
    events.append(_record_event("x99", NOW - 3000, "ok"))
    other = {**_record_event("s15", NOW - 10, "ok"), "run": "another-run"}
    events.append(other)
    events.sort(key=lambda e: e["time"])
    half = len(events) // 2
    write_events(
        results / "events" / "node-a.jsonl",
        events[:half],
        tail="this line is not json\n",
    )
    write_events(
        results / "events" / "node-b.jsonl",
        events[half:],
        tail='{"time": "' + iso(NOW - 1) + '", "event": "rec',
    )
    return fab


def _request(
    specimen: str,
    when: float,
    outcome: str,
    *,
    http: int = 200,
    attempt: int = 1,
    cost: float | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "time": iso(when),
        "event": "request",
        "run": RUN,
        "specimen": specimen,
        "engine": "openai",
        "model": "gpt-4o-mini",
        "attempt": attempt,
        "outcome": "ok" if outcome == "ok" else "error",
        "http_status": http,
        "latency_s": 2.0,
    }
    if outcome != "ok":
        event["failure_kind"] = outcome
    if cost is not None:
        event.update(prompt_tokens=1200, completion_tokens=150, cost_usd=cost)
    return event


def _record_event(
    specimen: str,
    when: float,
    outcome: str,
    kind: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "time": iso(when),
        "event": "record",
        "run": RUN,
        "specimen": specimen,
        "engine": "openai",
        "model": "gpt-4o-mini",
        "attempt": 1,
        "outcome": outcome,
    }
    if kind:
        event.update(failure_kind=kind, message=message)
    return event
