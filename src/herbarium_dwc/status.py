"""Live progress of a run, built fast enough to refresh every second.

``herbarium-dwc status RESULTS`` must answer in under 2 s on 100,000
specimens while Snakemake is writing, so it opens as few files as it can:

- the configured range comes from ``<results>/work/range/<run>.json``, which
  the workflow writes when it starts (:func:`write_range`);
- which specimens are done comes from one directory listing of the run
  folder (a record that exists is finished; temporary files are ignored);
- whether each is ``ok`` or ``failed``, with the failure kind, comes from the
  ``record`` events of the event log (:mod:`herbarium_dwc.events`); only
  records that have no event (written by an older version, or a job killed
  between writing the record and its event) are opened, and what they say
  is cached in ``<results>/work/status/<run>.json`` so they are read once;
- rate, ETA, tokens and cost come from the event log.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from herbarium_dwc.errors import HerbariumError
from herbarium_dwc.events import EventTail
from herbarium_dwc.gate_state import GATE_FILE, GateState, read_gate_state
from herbarium_dwc.record import write_json_atomic

logger = logging.getLogger(__name__)

RANGE_FOLDER = Path("work") / "range"
CACHE_FOLDER = Path("work") / "status"
#: Seconds of recent events the current rate is measured over.
RATE_WINDOW_S = 600.0
LATEST_FAILURES = 5
# Failures remembered to pick the latest from (some may be retried since).
_FAILURE_MEMORY = 500


def range_path(results: str | Path, run: str) -> Path:
    """Return where the workflow notes the configured range of ``run``."""
    return Path(results) / RANGE_FOLDER / f"{run}.json"


def write_range(results: str | Path, run: str, ids: list[str]) -> Path:
    """Note the configured range of a run for ``herbarium-dwc status``.

    The workflow calls this when it starts (``onstart``), so status shows
    the range of the latest invocation.

    :param results: the results folder.
    :param run: the run name.
    :param ids: the selected specimen ids.
    :returns: the file written.

    >>> write_range("results", "offline-rapidocr-parser-v1", ["NY1", "NY2"])
    """
    path = range_path(results, run)
    write_json_atomic(
        path,
        {"run": run, "written_at": time.time(), "count": len(ids), "ids": ids},
    )
    return path


def duration(seconds: float) -> str:
    """Say a duration the way people read it: ``45 s``, ``12 min``, ``3 h 05 min``.

    >>> duration(11_100)
    '3 h 05 min'
    """
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def choose_run(results: str | Path, run: str | None = None) -> str:
    """Pick the run to show: ``run`` if given, else the latest started one.

    :raises HerbariumError: nothing in ``results`` looks like a run, or
        several runs exist and none was started through the workflow.
    """
    base = Path(results)
    if run:
        if (
            not (base / "specimens" / run).is_dir()
            and not range_path(base, run).is_file()
        ):
            raise HerbariumError(
                f"{base} has no run {run!r} (neither specimens/{run}/ nor "
                f"{RANGE_FOLDER}/{run}.json); check --run and RESULTS"
            )
        return run
    ranges = sorted(
        (base / RANGE_FOLDER).glob("*.json"), key=lambda p: p.stat().st_mtime
    )
    if ranges:
        return ranges[-1].stem
    folder = base / "specimens"
    runs = (
        sorted(p.name for p in folder.iterdir() if p.is_dir())
        if folder.is_dir()
        else []
    )
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise HerbariumError(
            f"{base} holds no run yet (no specimens/<run>/ folder); check RESULTS, "
            "or start the workflow first"
        )
    raise HerbariumError(
        f"{folder} holds {len(runs)} runs ({', '.join(runs)}); name one with --run"
    )


@dataclass
class Failure:
    """One failed specimen as status shows it."""

    time: float | None
    specimen: str
    kind: str
    message: str


@dataclass
class StatusSnapshot:
    """Everything the status screen shows, at one moment."""

    results: str
    run: str
    taken_at: float
    range_size: int | None
    ok: int = 0
    failed: int = 0
    pending: int | None = None
    outside_range: int = 0
    failures_by_kind: dict[str, int] = field(default_factory=dict)
    latest_failures: list[Failure] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)
    started_at: float | None = None
    last_record_at: float | None = None
    rate_per_min: float | None = None
    eta_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    projected_tokens: int | None = None
    projected_cost_usd: float | None = None
    request_errors: dict[str, int] = field(default_factory=dict)
    gate: GateState = field(default_factory=lambda: GateState("unknown"))
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Specimens with a record, ``ok`` or ``failed``."""
        return self.ok + self.failed


@dataclass
class _Outcome:
    time: float
    status: str
    kind: str | None


class StatusCollector:
    """Builds :class:`StatusSnapshot` objects for one run, reading only what is
    new since the previous call (for ``--watch``).

    :param results: the results folder.
    :param run: the run name (see :func:`choose_run`).

    >>> snapshot = StatusCollector("results", "offline-rapidocr-parser-v1").collect()
    """

    def __init__(self, results: str | Path, run: str) -> None:
        self.results = Path(results)
        self.run = run
        self._tail = EventTail(self.results)
        self._outcomes: dict[str, _Outcome] = {}
        self._failures: deque[Failure] = deque(maxlen=_FAILURE_MEMORY)
        self._record_times: deque[float] = deque()
        self._request_errors: deque[tuple[float, str]] = deque()
        self._request_usage: dict[str, list[float]] = {}
        self._record_usage: dict[str, list[float]] = {}
        self._engines: Counter[str] = Counter()
        self._first: float | None = None
        self._last: float | None = None
        self._range_stamp: float | None = None
        self._range: set[str] | None = None
        self._cache_path = self.results / CACHE_FOLDER / f"{run}.json"
        self._cache: dict[str, list[Any]] | None = None

    def _load_range(self) -> None:
        path = range_path(self.results, self.run)
        try:
            stamp = path.stat().st_mtime
        except OSError:
            self._range = None
            return
        if stamp == self._range_stamp:
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self._range = {str(i) for i in data["ids"]}
            self._range_stamp = stamp
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s is unreadable (%s); pending is unknown", path, exc)
            self._range = None

    def _ingest(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            run = event.get("run")
            if run is not None and run != self.run:
                continue
            when = _parse_time(event.get("time"))
            if when is None:
                continue
            specimen = str(event.get("specimen", ""))
            usage = [
                float(event.get("prompt_tokens") or 0),
                float(event.get("completion_tokens") or 0),
                float(event.get("cost_usd") or 0.0),
            ]
            if event.get("event") == "record":
                self._ingest_record(event, when, specimen, usage)
            else:
                totals = self._request_usage.setdefault(specimen, [0.0, 0.0, 0.0])
                for index, value in enumerate(usage):
                    totals[index] += value
                if event.get("outcome") not in ("ok", None):
                    label = str(event.get("failure_kind") or event.get("outcome"))
                    if event.get("http_status"):
                        label += f" (HTTP {event['http_status']})"
                    self._request_errors.append((when, label))

    def _ingest_record(
        self, event: dict[str, Any], when: float, specimen: str, usage: list[float]
    ) -> None:
        self._first = when if self._first is None else min(self._first, when)
        self._last = when if self._last is None else max(self._last, when)
        self._record_times.append(when)
        if event.get("engine"):
            self._engines[f"{event['engine']} / {event.get('model', '?')}"] += 1
        status = "failed" if event.get("outcome") == "failed" else "ok"
        kind = (
            str(event.get("failure_kind") or "unknown") if status == "failed" else None
        )
        previous = self._outcomes.get(specimen)
        if previous is None or previous.time <= when:
            self._outcomes[specimen] = _Outcome(when, status, kind)
        self._record_usage[specimen] = usage
        if status == "failed":
            self._failures.append(
                Failure(
                    when, specimen, kind or "unknown", str(event.get("message", ""))
                )
            )

    def _listing(self) -> dict[str, os.DirEntry[str]]:
        folder = self.results / "specimens" / self.run
        entries: dict[str, os.DirEntry[str]] = {}
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    name = entry.name
                    if name.endswith(".json") and not name.startswith("."):
                        entries[name[:-5]] = entry
        except FileNotFoundError:
            pass
        return entries

    def _unlogged(self, entries: dict[str, os.DirEntry[str]], ids: list[str]) -> None:
        """Read records that have no event, through the on-disk cache."""
        if self._cache is None:
            try:
                self._cache = json.loads(self._cache_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._cache = {}
        cache = self._cache
        changed = False
        for specimen in ids:
            try:
                stamp = entries[specimen].stat().st_mtime_ns
            except OSError:
                continue
            cached = cache.get(specimen)
            if cached is None or cached[0] != stamp or len(cached) != 6:
                cached = [stamp, *_peek_record(entries[specimen].path)]
                cache[specimen] = cached
                changed = True
            _, status, kind, message, finished, usage = cached
            when = finished if finished is not None else stamp / 1e9
            self._outcomes[specimen] = _Outcome(when, status, kind)
            self._record_usage[specimen] = list(usage)
            if status == "failed":
                self._failures.append(
                    Failure(when, specimen, kind or "unknown", message)
                )
        if changed:
            try:
                write_json_atomic(self._cache_path, cache)
            except OSError as exc:
                logger.info(
                    "cannot cache record states in %s: %s", self._cache_path, exc
                )

    def collect(self, now: float | None = None) -> StatusSnapshot:
        """Return the run's state now, reading only what changed since last time."""
        now = time.time() if now is None else now
        self._ingest(self._tail.read())
        self._load_range()
        entries = self._listing()
        wanted = set(entries) if self._range is None else set(entries) & self._range
        unlogged = sorted(s for s in wanted if s not in self._outcomes)
        if unlogged:
            self._unlogged(entries, unlogged)
        snap = StatusSnapshot(
            results=str(self.results),
            run=self.run,
            taken_at=now,
            range_size=None if self._range is None else len(self._range),
        )
        kinds: Counter[str] = Counter()
        for specimen in wanted:
            outcome = self._outcomes[specimen]
            if outcome.status == "failed":
                snap.failed += 1
                kinds[outcome.kind or "unknown"] += 1
            else:
                snap.ok += 1
        snap.failures_by_kind = dict(kinds.most_common())
        if self._range is not None:
            snap.pending = len(self._range) - len(wanted)
            snap.outside_range = len(entries) - len(wanted)
        else:
            snap.notes.append(
                f"range unknown: no {RANGE_FOLDER}/{self.run}.json (the workflow "
                "writes it when it starts); pending is not shown"
            )
        latest: dict[str, Failure] = {}
        for failure in self._failures:
            if (
                failure.specimen not in wanted
                or self._outcomes[failure.specimen].status != "failed"
            ):
                continue
            seen = latest.get(failure.specimen)
            if seen is None or (failure.time or 0.0) >= (seen.time or 0.0):
                latest[failure.specimen] = failure
        snap.latest_failures = sorted(
            latest.values(), key=lambda f: f.time or 0.0, reverse=True
        )[:LATEST_FAILURES]
        snap.engines = [name for name, _ in self._engines.most_common()]
        self._rates(snap, now)
        self._usage(snap, wanted)
        if self._tail.skipped:
            snap.notes.append(f"{self._tail.skipped} unreadable event line(s) skipped")
        if unlogged:
            snap.notes.append(f"{len(unlogged)} record(s) had no event and were read")
        snap.gate = read_gate_state(self.results / GATE_FILE, now=now)
        return snap

    def _rates(self, snap: StatusSnapshot, now: float) -> None:
        start = now - RATE_WINDOW_S
        while self._record_times and self._record_times[0] < start - RATE_WINDOW_S:
            self._record_times.popleft()
        while self._request_errors and self._request_errors[0][0] < start:
            self._request_errors.popleft()
        snap.request_errors = dict(
            Counter(label for _, label in self._request_errors).most_common()
        )
        snap.started_at = self._first
        snap.last_record_at = self._last
        recent = [t for t in self._record_times if t >= start]
        if recent and self._first is not None:
            span = max(now - max(start, self._first), 1.0)
            snap.rate_per_min = len(recent) / span * 60.0
            if snap.pending is not None:
                snap.eta_s = snap.pending / (snap.rate_per_min / 60.0)

    def _usage(self, snap: StatusSnapshot, wanted: set[str]) -> None:
        totals = [0.0, 0.0, 0.0]
        counted = 0
        for usage in self._request_usage.values():
            for index, value in enumerate(usage):
                totals[index] += value
        for specimen, usage in self._record_usage.items():
            if specimen in wanted:
                counted += 1
            if specimen not in self._request_usage:
                for index, value in enumerate(usage):
                    totals[index] += value
        snap.prompt_tokens = int(totals[0])
        snap.completion_tokens = int(totals[1])
        snap.cost_usd = totals[2]
        if snap.pending is not None and counted:
            share = snap.pending / counted
            snap.projected_tokens = int((totals[0] + totals[1]) * (1 + share))
            snap.projected_cost_usd = totals[2] * (1 + share)


def _peek_record(path: str) -> list[Any]:
    """Return what status needs of a record file, as a cache entry:
    [status, failure kind, message, finished (Unix time), usage triple]."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        failure = data.get("failure") or {}
        usage = data.get("usage") or {}
        finished = _parse_time((data.get("timing") or {}).get("finished_at"))
        counted = not data.get("duplicate_of")  # a copy sent no request
        return [
            str(data.get("status", "ok")),
            failure.get("kind"),
            failure.get("message", ""),
            finished,
            [
                float(usage.get("prompt_tokens") or 0) if counted else 0.0,
                float(usage.get("completion_tokens") or 0) if counted else 0.0,
                float(usage.get("cost_usd") or 0.0) if counted else 0.0,
            ],
        ]
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        logger.warning("%s is not a readable record: %s", path, exc)
        message = f"{path} is not a readable record; delete it and rerun"
        return ["failed", "unreadable_record", message, None, [0.0, 0.0, 0.0]]


def collect_status(results: str | Path, run: str | None = None) -> StatusSnapshot:
    """Return the status of a run once (see :class:`StatusCollector`).

    :param results: the results folder.
    :param run: the run name; the latest started run when None.
    :raises HerbariumError: no run can be found in ``results``.

    >>> collect_status("results").pending
    """
    return StatusCollector(results, choose_run(results, run)).collect()
