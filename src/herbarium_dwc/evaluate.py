"""Compare extracted records with ground truth (first version: exact match
after folding case, whitespace and punctuation; plain CSV truth only)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

_FOLD = re.compile(r"[\W_]+")


def _fold(value: str) -> str:
    return _FOLD.sub(" ", value.lower()).strip()


def load_truth(path: str | Path) -> dict[str, dict[str, str]]:
    """Read a CSV with a specimen_id column and one column per DwC term."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return {
            row["specimen_id"]: {k: v for k, v in row.items() if k != "specimen_id"}
            for row in csv.DictReader(handle)
        }


def evaluate(
    predicted: dict[str, dict[str, str]], truth: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """Per-field accuracy of ``predicted`` over the specimens in both."""
    common = sorted(set(predicted) & set(truth))
    fields: dict[str, dict[str, Any]] = {}
    terms = sorted({t for row in truth.values() for t, v in row.items() if v})
    for term in terms:
        n_truth = n_correct = 0
        for sid in common:
            want = truth[sid].get(term, "")
            if not want:
                continue
            n_truth += 1
            n_correct += _fold(predicted[sid].get(term, "")) == _fold(want)
        fields[term] = {
            "n_truth": n_truth,
            "n_correct": n_correct,
            "accuracy": round(n_correct / n_truth, 4) if n_truth else None,
        }
    return {"specimens_compared": len(common), "fields": fields}
