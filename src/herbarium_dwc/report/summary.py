"""The figures of the quality report, computed in one pass over the records.

Everything here is plain data (what report.json holds); the page and its
charts are drawn from it by :mod:`herbarium_dwc.report.page`. Memory stays
small for 300,000 records: per record only a few numbers are kept, and only
the records worth a look are kept whole, in a bounded heap.
"""

from __future__ import annotations

import heapq
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS
from herbarium_dwc.record import SpecimenRecord

CONFIDENCE_BINS = 10
# Readable time steps for the throughput and cost charts, in seconds.
_BUCKETS = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_BUCKETS = 60


@dataclass(frozen=True)
class ReviewSettings:
    """How the review list is chosen.

    :param limit: how many specimens the list shows.
    :param low_confidence: a value below this confidence (0-1) asks for a look.
    """

    limit: int = 50
    low_confidence: float = 0.5


def review_score(
    record: SpecimenRecord, settings: ReviewSettings
) -> tuple[float, list[str]]:
    """Say how much a record is worth a human look, and why.

    Failed records come first (score 1000 and up); then low confidence (the
    further below the threshold the lowest value is, the higher), flags
    (3 each) and records that came back with no values at all (5).

    :returns: the score (0 means nothing to look at) and the reasons.

    >>> review_score(record, ReviewSettings())
    (12.5, ['lowest confidence 0.25 (recordedBy)', '2 flags'])
    """
    if record.status == "failed":
        kind = record.failure.kind if record.failure else "unknown"
        return 1000.0, [f"failed: {kind}"]
    score = 0.0
    reasons: list[str] = []
    filled = {term for term, value in record.dwc.items() if value}
    confidences = {t: c for t, c in record.confidence.items() if t in filled}
    if confidences:
        term, lowest = min(confidences.items(), key=lambda item: item[1])
        if lowest < settings.low_confidence:
            score += 10.0 * (1.0 + settings.low_confidence - lowest)
            reasons.append(f"lowest confidence {lowest:.2f} ({term})")
    flags = len(record.flags) + len(record.image.flags)
    if flags:
        score += 3.0 * flags
        reasons.append(f"{flags} flag{'s' if flags > 1 else ''}")
    if not filled:
        score += 5.0
        reasons.append("no values extracted")
    return score, reasons


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


def _distribution(values: list[float]) -> dict[str, Any]:
    bins = [0] * CONFIDENCE_BINS
    for value in values:
        index = min(int(max(value, 0.0) * CONFIDENCE_BINS), CONFIDENCE_BINS - 1)
        bins[index] += 1
    ordered = sorted(values)
    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 4),
        "median": round(statistics.median(ordered), 4),
        "p10": round(ordered[len(ordered) // 10], 4),
        "histogram": bins,
    }


def timeline(points: list[tuple[float, str, float]]) -> dict[str, Any]:
    """Bucket (finish time, status, cost) points for the charts.

    The bucket is the smallest readable step that keeps at most
    :data:`MAX_BUCKETS` bars.

    :returns: ``bucket_s`` and one row per bucket from the first to the last
        point: start time, records, ok, failed, cost and cumulative cost.
    """
    if not points:
        return {"bucket_s": None, "rows": []}
    first = min(p[0] for p in points)
    last = max(p[0] for p in points)
    step = next((b for b in _BUCKETS if (last - first) / b < MAX_BUCKETS), _BUCKETS[-1])
    start = first - first % step
    count = int((last - start) // step) + 1
    ok = [0] * count
    failed = [0] * count
    spent = [0.0] * count
    for when, status, cost in points:
        index = int((when - start) // step)
        if status == "ok":
            ok[index] += 1
        else:
            failed[index] += 1
        spent[index] += cost
    rows: list[dict[str, Any]] = []
    total = 0.0
    for index in range(count):
        total += spent[index]
        rows.append(
            {
                "start": _iso(start + index * step),
                "records": ok[index] + failed[index],
                "ok": ok[index],
                "failed": failed[index],
                "cost_usd": round(spent[index], 6),
                "cumulative_cost_usd": round(total, 6),
            }
        )
    return {"bucket_s": step, "rows": rows}


@dataclass
class ReportBuilder:
    """Accumulates the report's figures one record at a time.

    >>> builder = ReportBuilder("offline-rapidocr-parser-v1")
    >>> for record in records:
    ...     builder.add(record)
    >>> data = builder.result()
    """

    run: str
    review: ReviewSettings = field(default_factory=ReviewSettings)
    ok: int = 0
    failed: int = 0
    duplicates: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failure_examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    engines: Counter[tuple[str, str]] = field(default_factory=Counter)
    filled: Counter[str] = field(default_factory=Counter)
    confidences: dict[str, list[float]] = field(default_factory=dict)
    flags_by_kind: Counter[str] = field(default_factory=Counter)
    flags_by_term: Counter[str] = field(default_factory=Counter)
    flagged_records: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    engine_seconds: float = 0.0
    points: list[tuple[float, str, float]] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    worth_a_look: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    _failed_heap: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    _ok_heap: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    _seen: int = 0

    def add(self, record: SpecimenRecord) -> None:
        """Count one record in."""
        self._seen += 1
        if record.status == "ok":
            self.ok += 1
        else:
            self.failed += 1
            kind = str(record.failure.kind) if record.failure else "unknown"
            self.failures[kind] += 1
            examples = self.failure_examples.setdefault(kind, [])
            if len(examples) < 5 and record.failure is not None:
                examples.append(
                    {
                        "specimen_id": record.specimen_id,
                        "message": record.failure.message,
                    }
                )
        self.engines[(record.engine.kind, record.engine.model)] += 1
        if record.status == "ok":
            filled = {term for term, value in record.dwc.items() if value}
            self.filled.update(filled)
            for term, score in record.confidence.items():
                if term in filled:
                    self.confidences.setdefault(term, []).append(float(score))
        flags = [*record.flags, *(f"image:{flag}" for flag in record.image.flags)]
        if flags:
            self.flagged_records += 1
        for flag in flags:
            term, _, kind = flag.partition(":")
            self.flags_by_kind[kind or term] += 1
            if kind:
                self.flags_by_term[term] += 1
        self._usage_and_time(record)
        score, reasons = review_score(record, self.review)
        if score > 0:
            self.worth_a_look += 1
            self.reasons.update({_reason_kind(reason) for reason in reasons})
            heap = self._failed_heap if record.status == "failed" else self._ok_heap
            key = (score, -self._seen)
            if len(heap) < self.review.limit:
                heapq.heappush(heap, (*key, _review_item(record, score, reasons)))
            elif key > heap[0][:2]:
                heapq.heapreplace(heap, (*key, _review_item(record, score, reasons)))

    def _usage_and_time(self, record: SpecimenRecord) -> None:
        cost = 0.0
        if record.duplicate_of:
            # A duplicate copies its original's usage; it sent no request.
            self.duplicates += 1
        else:
            self.prompt_tokens += record.usage.prompt_tokens or 0
            self.completion_tokens += record.usage.completion_tokens or 0
            cost = record.usage.cost_usd or 0.0
            self.cost_usd += cost
            self.engine_seconds += record.timing.latency_s or 0.0
        started = _time(record.timing.started_at)
        finished = _time(record.timing.finished_at)
        for stamp in (started, finished):
            if stamp is not None:
                self.started = (
                    stamp if self.started is None else min(self.started, stamp)
                )
                self.finished = (
                    stamp if self.finished is None else max(self.finished, stamp)
                )
        if finished is not None:
            self.points.append((finished, record.status, cost))

    def _review_list(self) -> list[dict[str, Any]]:
        """Failed records take at most half the list when other records are
        worth a look too: a page of unreadable files tells the reader less
        than a mix of failures and doubtful values."""
        failed = [item for *_, item in sorted(self._failed_heap, reverse=True)]
        doubtful = [item for *_, item in sorted(self._ok_heap, reverse=True)]
        limit = self.review.limit
        n_failed = max(limit // 2, limit - len(doubtful))
        return failed[:n_failed] + doubtful[: limit - min(len(failed), n_failed)]

    def result(self) -> dict[str, Any]:
        """Return the report's figures (the body of report.json)."""
        records = self.ok + self.failed
        extracted = records - self.duplicates
        terms = list(dict.fromkeys([*EXTRACTED_TERMS, *sorted(self.filled)]))
        fields = []
        for term in terms:
            values = self.confidences.get(term)
            fields.append(
                {
                    "term": term,
                    "filled": self.filled[term],
                    "fill_rate": round(self.filled[term] / self.ok, 4)
                    if self.ok
                    else 0.0,
                    "confidence": _distribution(values) if values else None,
                }
            )
        review = self._review_list()
        return {
            "run": self.run,
            "summary": {
                "records": records,
                "ok": self.ok,
                "failed": self.failed,
                "failed_by_kind": dict(self.failures.most_common()),
                "duplicates": self.duplicates,
                "engines": [
                    {"kind": kind, "model": model, "records": n}
                    for (kind, model), n in self.engines.most_common()
                ],
                "started_at": _iso(self.started),
                "finished_at": _iso(self.finished),
                "wall_s": (
                    round(self.finished - self.started, 1)
                    if self.started is not None and self.finished is not None
                    else None
                ),
                "engine_s": round(self.engine_seconds, 1),
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": round(self.cost_usd, 6),
                "cost_per_specimen_usd": (
                    round(self.cost_usd / extracted, 6) if extracted else None
                ),
                "cost_per_ok_specimen_usd": (
                    round(self.cost_usd / self.ok, 6) if self.ok else None
                ),
            },
            "failure_examples": self.failure_examples,
            "fields": fields,
            "flags": {
                "records_flagged": self.flagged_records,
                "by_kind": dict(self.flags_by_kind.most_common()),
                "by_term": dict(self.flags_by_term.most_common()),
            },
            "timeline": timeline(self.points),
            "review": {
                "settings": {
                    "limit": self.review.limit,
                    "low_confidence": self.review.low_confidence,
                },
                "worth_a_look": self.worth_a_look,
                "by_reason": {
                    key: self.reasons[key]
                    for key in ("failed", "low_confidence", "flagged", "empty")
                },
                "shown": review,
            },
        }


def _reason_kind(reason: str) -> str:
    """The category of a review reason: failed, low_confidence, flagged, empty."""
    if reason.startswith("failed"):
        return "failed"
    if reason.startswith("lowest confidence"):
        return "low_confidence"
    if reason.endswith(("flag", "flags")):
        return "flagged"
    return "empty"


def _review_item(
    record: SpecimenRecord, score: float, reasons: list[str]
) -> dict[str, Any]:
    return {
        "specimen_id": record.specimen_id,
        "score": round(score, 2),
        "reasons": reasons,
        "status": record.status,
        "failure": record.failure.model_dump(mode="json") if record.failure else None,
        "source": record.image.source,
        "values": dict(record.dwc),
        "confidence": dict(record.confidence),
        "flags": [*record.flags, *(f"image:{flag}" for flag in record.image.flags)],
    }


def summarise_events(
    events: Iterable[dict[str, Any]], run: str
) -> dict[str, Any] | None:
    """Summarise a run's request attempts from the event log.

    Records hold what each specimen finally cost; the event log also holds
    the attempts that failed and were retried, which cost money too.

    :returns: attempts, outcomes, failed attempts by kind, retried specimens,
        and tokens and cost over all attempts; None when the log has no
        request events for the run.
    """
    attempts = 0
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    retried: set[str] = set()
    tokens = [0, 0]
    cost = 0.0
    for event in events:
        if event.get("event", "request") != "request" or event.get("run", run) != run:
            continue
        attempts += 1
        outcomes[str(event.get("outcome", "unknown"))] += 1
        if event.get("outcome") != "ok":
            label = str(event.get("failure_kind") or event.get("outcome") or "unknown")
            if event.get("http_status"):
                label += f" (HTTP {event['http_status']})"
            kinds[label] += 1
        if int(event.get("attempt") or 1) > 1:
            retried.add(str(event.get("specimen")))
        tokens[0] += int(event.get("prompt_tokens") or 0)
        tokens[1] += int(event.get("completion_tokens") or 0)
        cost += float(event.get("cost_usd") or 0.0)
    if not attempts:
        return None
    return {
        "attempts": attempts,
        "by_outcome": dict(outcomes.most_common()),
        "failed_attempts_by_kind": dict(kinds.most_common()),
        "retried_specimens": len(retried),
        "prompt_tokens": tokens[0],
        "completion_tokens": tokens[1],
        "cost_usd": round(cost, 6),
    }


def build_report_data(
    records: Iterable[SpecimenRecord],
    run: str,
    review: ReviewSettings | None = None,
    events: Iterable[dict[str, Any]] = (),
    evaluation: dict[str, Any] | None = None,
    selected: int | None = None,
) -> dict[str, Any]:
    """Compute everything report.json holds.

    :param records: the run's specimen records.
    :param run: the run name.
    :param review: how to choose the review list.
    :param events: the event log (for request attempts); may be empty.
    :param evaluation: the content of evaluation.json, when truth is set.
    :param selected: the size of the configured range, to count pending.
    :returns: the report's data.

    >>> build_report_data(records, "offline-rapidocr-parser-v1")["summary"]["ok"]
    """
    builder = ReportBuilder(run, review or ReviewSettings())
    for record in records:
        builder.add(record)
    data = builder.result()
    summary = data["summary"]
    summary["range_size"] = selected
    summary["pending"] = (
        None if selected is None else max(selected - summary["records"], 0)
    )
    data["requests"] = summarise_events(events, run)
    data["evaluation"] = evaluation
    return data
