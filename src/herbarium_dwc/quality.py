"""The quality summary: what finished, what failed and how full each field is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS
from herbarium_dwc.record import SpecimenRecord


def summarise(
    records: Iterable[SpecimenRecord], run: str, selected: Sequence[str] | None = None
) -> dict[str, Any]:
    """Summarise a run's records for quality.json.

    :param records: the specimen records of the run.
    :param run: the run name.
    :param selected: the ids of the configured range, to count pending ones.
    :returns: counts by status and failure kind, per-field fill rate over ok
        records, flags by kind, duplicate groups and usage totals.
    """
    status: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    filled: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    duplicates: dict[str, list[str]] = {}
    tokens_in = tokens_out = 0
    cost = 0.0
    seen: set[str] = set()
    failed_examples: list[dict[str, str]] = []
    for record in records:
        seen.add(record.specimen_id)
        status[record.status] += 1
        if record.failure is not None:
            failures[record.failure.kind] += 1
            if len(failed_examples) < 20:
                failed_examples.append(
                    {
                        "specimen_id": record.specimen_id,
                        "kind": record.failure.kind,
                        "message": record.failure.message,
                    }
                )
        if record.duplicate_of:
            duplicates.setdefault(record.duplicate_of, [record.duplicate_of]).append(
                record.specimen_id
            )
        flags.update(record.flags)
        if record.status == "ok":
            filled.update(term for term, value in record.dwc.items() if value)
        tokens_in += record.usage.prompt_tokens or 0
        tokens_out += record.usage.completion_tokens or 0
        cost += record.usage.cost_usd or 0.0
    ok = status["ok"]
    terms = list(dict.fromkeys([*EXTRACTED_TERMS, *sorted(filled)]))
    return {
        "run": run,
        "specimens": len(seen),
        "pending": len(set(selected) - seen) if selected is not None else None,
        "status": {"ok": ok, "failed": status["failed"]},
        "failures_by_kind": dict(sorted(failures.items())),
        "failed_examples": failed_examples,
        "fill_rate": {t: round(filled[t] / ok, 4) if ok else 0.0 for t in terms},
        "filled": {t: filled[t] for t in terms},
        "flags": dict(flags.most_common()),
        "duplicates": [{"specimens": ids} for ids in sorted(duplicates.values())],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "cost_usd": round(cost, 6),
        },
    }
