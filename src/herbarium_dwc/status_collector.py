"""Builds status snapshots fast enough to refresh every second.

``herbarium-dwc status RESULTS`` must answer in under 2 s on 100,000
specimens while Snakemake is writing, so it opens as few files as it can:

- the configured range comes from ``<results>/work/range/<run>.json``, which
  the workflow writes when it starts (:func:`prepare_status`);
- which specimens are done comes from one directory listing of the run
  folder (a record that exists is finished; temporary files are ignored);
- whether each is ``ok`` or ``failed``, with the failure kind, comes from the
  ``record`` events of the event log (:mod:`herbarium_dwc.events`); only
  records that have no event (written by an older version, or a job killed
  between writing the record and its event) are opened, once;
- rate, ETA, tokens and cost come from the event log, and what was read of
  it is saved, so the next call parses only the events added since.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter, deque
from pathlib import Path
from typing import Any

import msgspec

from herbarium_dwc.events import EventTail
from herbarium_dwc.gate_state import read_gate_state
from herbarium_dwc.status import (
    CACHE_FOLDER,
    LATEST_FAILURES,
    RANGE_FOLDER,
    RATE_WINDOW_S,
    Failure,
    StatusSnapshot,
    choose_run,
    iso_time,
    parse_time,
    range_path,
    write_json,
    write_range,
)

logger = logging.getLogger(__name__)

# Failures remembered to pick the latest from (some may be retried since).
_FAILURE_MEMORY = 500
# Specimen jobs bring the saved summary up to date when it is older than
# this, so a status call never has more than a few minutes of log to parse.
SUMMARY_MAX_AGE_S = 120.0
_STALE_LOCK_S = 600.0

Usage = tuple[float, float, float]
# A record read from disk: time, status, failure kind, message, usage.
_DiskRecord = tuple[str, str, str | None, str, Usage]
_STATE_VERSION = 2


class _Event(msgspec.Struct):
    """The fields of an event that status reads (see herbarium_dwc.events).

    Decoding straight into this struct skips every other field and is about
    twice as fast as decoding into dicts; a line whose fields have the wrong
    type is skipped and counted like a torn one.
    """

    time: str | None = None
    event: str | None = None
    run: str | None = None
    specimen: str = ""
    engine: str | None = None
    model: str | None = None
    outcome: str | None = None
    failure_kind: str | None = None
    message: str | None = None
    http_status: int | None = None
    prompt_tokens: float | None = None
    completion_tokens: float | None = None
    cost_usd: float | None = None


class StatusCollector:
    """Builds :class:`StatusSnapshot` objects for one run, reading only what is
    new since the previous call.

    What the event log said so far is kept in memory (for ``--watch``) and,
    with ``persist``, saved to ``<results>/work/status/<run>.events.json``
    with the byte offsets read up to, so the next ``status`` command parses
    only the events added since. A log file that was replaced or shortened
    makes the collector start over.

    Event times are compared as text (ISO 8601 in UTC, as
    :func:`~herbarium_dwc.events.append_event` writes them), so the hundreds
    of thousands of events of a big run are not each parsed into a date.
    Calls must not go back in time (``now`` only grows): events older than
    the rate window are dropped as they leave it.

    :param results: the results folder.
    :param run: the run name (see :func:`choose_run`).
    :param persist: load and save the summary of the event log read so far.
    :param save_every_s: with ``persist``, save at most this often (``--watch``
        refreshes every few seconds; the summary of a big run is megabytes).

    >>> snapshot = StatusCollector("results", "offline-rapidocr-parser-v1").collect()
    """

    def __init__(
        self,
        results: str | Path,
        run: str,
        persist: bool = False,
        save_every_s: float = 0.0,
    ) -> None:
        self.results = Path(results)
        self.run = run
        self.persist = persist
        self.save_every_s = save_every_s
        self._saved_at: float | None = None
        self._state_path = self.results / CACHE_FOLDER / f"{run}.events.json"
        self._cache_path = self.results / CACHE_FOLDER / f"{run}.records.json"
        self._cache: dict[str, list[Any]] | None = None
        self._range_stamp: float | None = None
        self._range: set[str] | None = None
        self._reset()
        if persist:
            self._load_state()

    def _reset(self) -> None:
        self._tail = EventTail(self.results, item_type=_Event)
        # specimen -> time of its latest record event; and, for those whose
        # latest record failed, the failure kind
        self._times: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        # (time, specimen, kind, message) of recent failed record events
        self._failures: deque[tuple[str, str, str, str]] = deque(maxlen=_FAILURE_MEMORY)
        self._recent: list[str] = []
        self._request_errors: list[tuple[str, str]] = []
        self._engines: Counter[tuple[Any, Any]] = Counter()
        self._first: str | None = None
        self._last: str | None = None
        # Tokens and cost: request events where a specimen has them, else
        # its record's usage (see herbarium_dwc.events).
        self._requested: set[str] = set()
        self._request_total = [0.0, 0.0, 0.0]
        self._record_usage: dict[str, Usage] = {}
        self._record_total = [0.0, 0.0, 0.0]

    def _state(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "run": self.run,
            "offsets": self._tail.offsets,
            "skipped": self._tail.skipped,
            "times": self._times,
            "failed": self._failed,
            "failures": list(self._failures),
            "recent": self._recent,
            "request_errors": self._request_errors,
            "engines": [[e, m, n] for (e, m), n in self._engines.items()],
            "first": self._first,
            "last": self._last,
            "requested": list(self._requested),
            "request_total": self._request_total,
            "record_usage": self._record_usage,
            "record_total": self._record_total,
        }

    def _load_state(self) -> None:
        try:
            state = msgspec.json.decode(self._state_path.read_bytes())
            if state.get("version") != _STATE_VERSION or state.get("run") != self.run:
                return
            for name, (inode, offset) in state["offsets"].items():
                stat = (self.results / "events" / name).stat()
                if stat.st_ino != inode or stat.st_size < offset:
                    return  # the log was replaced: read it all again
            self._tail.offsets = {k: list(v) for k, v in state["offsets"].items()}
            self._tail.skipped = int(state["skipped"])
            self._times = dict(state["times"])
            self._failed = dict(state["failed"])
            self._failures.extend(tuple(f) for f in state["failures"])
            self._recent = list(state["recent"])
            self._request_errors = [(t, label) for t, label in state["request_errors"]]
            self._engines = Counter({(e, m): n for e, m, n in state["engines"]})
            self._first, self._last = state["first"], state["last"]
            self._requested = set(state["requested"])
            self._request_total = list(state["request_total"])
            self._record_usage = {k: tuple(v) for k, v in state["record_usage"].items()}
            self._record_total = list(state["record_total"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.info("starting over: no usable %s (%s)", self._state_path, exc)
            self._reset()

    def _save_state(self) -> None:
        try:
            write_json(self._state_path, self._state())
        except OSError as exc:
            logger.info("cannot save %s: %s", self._state_path, exc)

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
            data = json.loads(path.read_bytes())
            self._range = set(map(str, data["ids"]))
            self._range_stamp = stamp
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s is unreadable (%s); pending is unknown", path, exc)
            self._range = None

    def _record_usage_of(self, specimen: str, usage: Usage | None) -> None:
        if specimen in self._requested:
            return
        old = self._record_usage.pop(specimen, None)
        if old is not None:
            for index in range(3):
                self._record_total[index] -= old[index]
        if usage is not None:
            self._record_usage[specimen] = usage
            for index in range(3):
                self._record_total[index] += usage[index]

    def _ingest(self, events: list[_Event]) -> None:
        # The hot loop of status: hundreds of thousands of events on a big
        # run, so it binds what it uses to locals, reads each field once and
        # leaves what C can do (min, max) to after the loop.
        run = self.run
        times = self._times
        failed_kinds = self._failed
        recent = self._recent
        failures = self._failures
        engines: dict[tuple[Any, Any], int] = {}
        requested = self._requested
        record_usage = self._record_usage
        record_total = self._record_total
        request_errors = self._request_errors
        prompt = answer = cost = 0.0
        new_from = len(recent)
        for event in events:
            if event.run is not None and event.run != run:
                continue
            when = event.time
            if when is None:
                continue
            specimen = event.specimen
            if event.event != "record":
                if specimen not in requested:
                    # From now on this specimen's cost comes from its
                    # request events, not from its record's usage.
                    requested.add(specimen)
                    old = record_usage.pop(specimen, None)
                    if old is not None:
                        for index in range(3):
                            record_total[index] -= old[index]
                prompt += event.prompt_tokens or 0
                answer += event.completion_tokens or 0
                cost += event.cost_usd or 0.0
                outcome = event.outcome
                if outcome != "ok" and outcome is not None:
                    label = event.failure_kind or outcome
                    if event.http_status:
                        label += f" (HTTP {event.http_status})"
                    request_errors.append((when, label))
                continue
            recent.append(when)
            pair = (event.engine, event.model)
            engines[pair] = engines.get(pair, 0) + 1
            failed = event.outcome == "failed"
            if failed:
                kind = event.failure_kind or "unknown"
                failures.append((when, specimen, kind, event.message or ""))
            previous = times.get(specimen)
            if previous is None or previous <= when:
                times[specimen] = when
                if failed:
                    failed_kinds[specimen] = kind
                elif previous is not None:
                    failed_kinds.pop(specimen, None)
            used = (event.prompt_tokens, event.completion_tokens, event.cost_usd)
            if used[0] or used[1] or used[2] or specimen in record_usage:
                usage = (float(used[0] or 0), float(used[1] or 0), float(used[2] or 0))
                self._record_usage_of(specimen, usage)
        total = self._request_total
        total[0] += prompt
        total[1] += answer
        total[2] += cost
        self._engines.update(engines)
        if len(recent) > new_from:
            added = recent[new_from:]
            low, high = min(added), max(added)
            self._first = low if self._first is None else min(self._first, low)
            self._last = high if self._last is None else max(self._last, high)

    def _listing(self) -> set[str]:
        folder = self.results / "specimens" / self.run
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return set()
        return {
            name[:-5]
            for name in names
            if name.endswith(".json") and not name.startswith(".")
        }

    def _read_unlogged(self, ids: list[str]) -> dict[str, _DiskRecord]:
        """Read records that have no event, once: what they say is cached in
        ``work/status/<run>.records.json``.

        Known shortcoming: a cached record is not checked again (a stat per
        file would cost seconds on 100,000 records). Only records written
        without an event (by a version before the event log, or by a job
        killed between the record and its event) are cached, and every
        rewrite by the current version comes with an event, which wins; a
        record rewritten by an older version keeps its cached state until
        ``work/status/`` is deleted.
        """
        if self._cache is None:
            try:
                self._cache = msgspec.json.decode(self._cache_path.read_bytes())
            except (OSError, ValueError):
                self._cache = {}
        cache = self._cache
        folder = self.results / "specimens" / self.run
        changed = False
        found: dict[str, _DiskRecord] = {}
        for specimen in ids:
            cached = cache.get(specimen)
            if cached is None or len(cached) != 5:
                cached = _peek_record(folder / f"{specimen}.json")
                if cached is None:
                    continue  # deleted since the listing
                cache[specimen] = cached
                changed = True
            status, kind, message, when, usage = cached
            found[specimen] = (when, status, kind, message, tuple(usage))
        if changed:
            try:
                write_json(self._cache_path, cache)
            except OSError as exc:
                logger.info(
                    "cannot cache record states in %s: %s", self._cache_path, exc
                )
        return found

    def collect(self, now: float | None = None) -> StatusSnapshot:
        """Return the run's state now, reading only what changed since last time."""
        now = time.time() if now is None else now
        new = 0
        for chunk in self._tail.chunks():
            if self._tail.replaced:
                break
            self._ingest(chunk)
            new += len(chunk)
        if self._tail.replaced:
            # A log file was replaced or cut: what was read from it is stale.
            self._reset()
            return self.collect(now)
        self._load_range()
        present = self._listing()
        wanted = present if self._range is None else present & self._range
        unlogged = sorted(wanted.difference(self._times))
        disk = self._read_unlogged(unlogged) if unlogged else {}
        snap = StatusSnapshot(
            results=str(self.results),
            run=self.run,
            taken_at=now,
            range_size=None if self._range is None else len(self._range),
        )
        kinds: Counter[str] = Counter(
            kind for specimen, kind in self._failed.items() if specimen in wanted
        )
        kinds.update(row[2] or "unknown" for row in disk.values() if row[1] == "failed")
        snap.failed = sum(kinds.values())
        snap.ok = len(wanted) - snap.failed
        snap.failures_by_kind = dict(kinds.most_common())
        if self._range is not None:
            snap.pending = len(self._range) - len(wanted)
            snap.outside_range = len(present) - len(wanted)
        else:
            snap.notes.append(
                f"range unknown: no {RANGE_FOLDER}/{self.run}.json (the workflow "
                "writes it when it starts); pending is not shown"
            )
        snap.latest_failures = self._latest_failures(wanted, disk)
        snap.engines = [
            f"{engine} / {model or '?'}"
            for (engine, model), _ in self._engines.most_common()
            if engine
        ]
        self._rates(snap, now)
        self._usage(snap, disk)
        # Saved after _rates has dropped events that left the rate window.
        if self.persist and (new or not self._state_path.exists()):
            clock = time.monotonic()
            if self._saved_at is None or clock - self._saved_at >= self.save_every_s:
                self._save_state()
                self._saved_at = clock
        if self._tail.skipped:
            snap.notes.append(f"{self._tail.skipped} unreadable event line(s) skipped")
        if unlogged:
            snap.notes.append(f"{len(unlogged)} record(s) had no event and were read")
        snap.gate = read_gate_state(self.results, now=now)
        return snap

    def _latest_failures(
        self, wanted: set[str], disk: dict[str, _DiskRecord]
    ) -> list[Failure]:
        latest: dict[str, tuple[str, str, str, str]] = {}
        candidates = list(self._failures) + [
            (row[0], specimen, row[2] or "unknown", row[3])
            for specimen, row in disk.items()
            if row[1] == "failed"
        ]
        for failure in candidates:
            when, specimen = failure[0], failure[1]
            if specimen not in wanted:
                continue
            if specimen not in self._failed and (
                specimen not in disk or disk[specimen][1] != "failed"
            ):
                continue
            seen = latest.get(specimen)
            if seen is None or when >= seen[0]:
                latest[specimen] = failure
        shown = sorted(latest.values(), reverse=True)[:LATEST_FAILURES]
        return [Failure(parse_time(t), s, k, m) for t, s, k, m in shown]

    def _rates(self, snap: StatusSnapshot, now: float) -> None:
        cutoff = iso_time(now - RATE_WINDOW_S)
        self._recent = [t for t in self._recent if t >= cutoff]
        self._request_errors = [e for e in self._request_errors if e[0] >= cutoff]
        snap.request_errors = dict(
            Counter(label for _, label in self._request_errors).most_common()
        )
        snap.started_at = parse_time(self._first)
        snap.last_record_at = parse_time(self._last)
        if self._recent and snap.started_at is not None:
            span = max(now - max(now - RATE_WINDOW_S, snap.started_at), 1.0)
            snap.rate_per_min = len(self._recent) / span * 60.0
            if snap.pending is not None:
                snap.eta_s = snap.pending / (snap.rate_per_min / 60.0)

    def _usage(self, snap: StatusSnapshot, disk: dict[str, _DiskRecord]) -> None:
        totals = [
            r + c for r, c in zip(self._request_total, self._record_total, strict=True)
        ]
        for specimen, row in disk.items():
            if specimen not in self._requested:
                for index in range(3):
                    totals[index] += row[4][index]
        snap.prompt_tokens = round(totals[0])
        snap.completion_tokens = round(totals[1])
        snap.cost_usd = round(totals[2], 9)
        counted = len(self._times) + len(disk)
        if snap.pending is not None and counted:
            # Spent so far per specimen with a record, times what is left.
            share = snap.pending / counted
            snap.projected_tokens = round((totals[0] + totals[1]) * (1 + share))
            snap.projected_cost_usd = totals[2] * (1 + share)


def _peek_record(path: Path) -> list[Any] | None:
    """Return what status needs of a record file, as a cache entry:
    [status, failure kind, message, finish time (ISO), usage triple]; None
    when the file is gone."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("%s is not a readable record: %s", path, exc)
        return _unreadable(path)
    if not isinstance(data, dict):
        return _unreadable(path)
    failure = data.get("failure") or {}
    usage = data.get("usage") or {}
    finished = (data.get("timing") or {}).get("finished_at")
    when = parse_time(finished)
    if when is None:  # no finish time: the file's own time stands in
        try:
            when = path.stat().st_mtime
        except OSError:
            when = time.time()
    counted = not data.get("duplicate_of")  # a copy sent no request
    try:
        spent = [
            float(usage.get("prompt_tokens") or 0) if counted else 0.0,
            float(usage.get("completion_tokens") or 0) if counted else 0.0,
            float(usage.get("cost_usd") or 0.0) if counted else 0.0,
        ]
    except (TypeError, ValueError, AttributeError):
        spent = [0.0, 0.0, 0.0]
    return [
        str(data.get("status", "ok")),
        failure.get("kind") if isinstance(failure, dict) else "unknown",
        str(failure.get("message", "")) if isinstance(failure, dict) else "",
        iso_time(when),
        spent,
    ]


def _unreadable(path: Path) -> list[Any]:
    message = f"{path} is not a readable record; delete it and rerun"
    return ["failed", "unreadable_record", message, iso_time(time.time()), [0.0] * 3]


def prepare_status(results: str | Path, run: str, ids: list[str]) -> None:
    """Get a run ready for ``herbarium-dwc status`` (the workflow's onstart).

    Notes the configured range, then brings the saved summary of the event
    log up to date, so that status calls during the run parse only the
    events written since; on a results folder with a long log this takes the
    one slow read off the user's first status call. Never raises for
    status's own files: a run must not stop because progress cannot be
    shown.

    :param results: the results folder.
    :param run: the run name.
    :param ids: the selected specimen ids.
    """
    try:
        write_range(results, run, ids)
        StatusCollector(results, run, persist=True).collect()
    except (OSError, ValueError) as exc:
        logger.warning("cannot prepare %s for herbarium-dwc status: %s", results, exc)


def refresh_summary(
    results: str | Path, run: str, max_age_s: float = SUMMARY_MAX_AGE_S
) -> bool:
    """Bring the saved event-log summary up to date if it is older than ``max_age_s``.

    Specimen jobs call this after writing their record, so that during a long
    run the summary never lags more than a few minutes behind the log, and the
    first ``herbarium-dwc status`` call of the day parses minutes of events,
    not hours. One job at a time does it (an exclusive lock file; a lock left
    by a killed job is ignored after ten minutes); the others return at once.
    Never raises: a progress summary must not fail a specimen.

    Known shortcoming: the stale-lock takeover is not atomic, so two jobs
    may now and then refresh at once; both write a consistent summary
    (atomic rename), so the cost is a second of duplicated work.

    :param results: the results folder.
    :param run: the run name.
    :param max_age_s: refresh when the summary is older than this.
    :returns: True when this call refreshed the summary.

    >>> refresh_summary("results", "offline-rapidocr-parser-v1")
    False
    """
    folder = Path(results) / CACHE_FOLDER
    state = folder / f"{run}.events.json"
    now = time.time()
    try:
        if now - state.stat().st_mtime < max_age_s:
            return False
    except OSError:
        pass  # no summary yet: make one
    lock = folder / f".{run}.refresh.lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            if now - lock.stat().st_mtime > _STALE_LOCK_S:
                lock.unlink(missing_ok=True)
        except OSError:
            pass
        return False
    except OSError as exc:
        logger.info("cannot refresh the status summary in %s: %s", folder, exc)
        return False
    try:
        StatusCollector(results, run, persist=True).collect()
        os.utime(state)
        return True
    except Exception as exc:  # noqa: BLE001 - the record is written; keep it
        # This runs after the specimen's record is written: whatever goes
        # wrong with the progress summary must not fail the job, which would
        # make Snakemake delete a record that may have been paid for.
        logger.warning("could not refresh the status summary %s: %s", state, exc)
        return False
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)


def collect_status(results: str | Path, run: str | None = None) -> StatusSnapshot:
    """Return the status of a run once (see :class:`StatusCollector`).

    :param results: the results folder.
    :param run: the run name; the latest started run when None.
    :raises HerbariumError: no run can be found in ``results``.

    >>> collect_status("results").pending
    """
    return StatusCollector(results, choose_run(results, run)).collect()
