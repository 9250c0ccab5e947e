"""The aggregate stage: per-specimen records in, tables and summaries out.

Every output is written to a temporary name and renamed, so a run killed
half-way never leaves a half-written table that looks finished.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from herbarium_dwc.evaluate import evaluate, load_truth
from herbarium_dwc.export import build_occurrences, write_occurrence_csv
from herbarium_dwc.quality import summarise
from herbarium_dwc.record import SpecimenRecord, read_record, write_json_atomic

logger = logging.getLogger(__name__)


def iter_records(paths: Iterable[str | Path]) -> Iterator[SpecimenRecord]:
    """Read records one at a time, skipping (and logging) unreadable files."""
    for path in paths:
        try:
            yield read_record(path)
        except (OSError, ValueError, ValidationError) as exc:
            logger.error(
                "%s is not a valid specimen record (%s); delete it and rerun to "
                "extract that specimen again",
                path,
                exc,
            )


def merge_occurrences(
    paths: Iterable[str | Path], out: str | Path
) -> dict[str, object]:
    """Write the occurrence table of the ok records among ``paths``."""
    rows, stats = build_occurrences(iter_records(paths))
    tmp = Path(f"{out}.tmp")
    written = write_occurrence_csv(rows, tmp)
    os.replace(tmp, out)
    logger.info("wrote %s: %d rows", out, written["rows"])
    return {**stats, **written}


def summarise_quality(paths: Iterable[str | Path], run: str, out: str | Path) -> None:
    """Write quality.json for the records among ``paths``."""
    paths = list(paths)
    records = list(iter_records(paths))
    summary = summarise(records, run)
    summary["unreadable_records"] = len(paths) - len(records)
    write_json_atomic(out, summary)
    logger.info("wrote %s", out)


def evaluate_records(
    paths: Iterable[str | Path], truth: str | Path, out: str | Path
) -> None:
    """Write evaluation.json: the records compared with ground truth."""
    predicted: dict[str, dict[str, str]] = {}
    for record in iter_records(paths):
        predicted[record.specimen_id] = (
            {**record.verbatim, **record.dwc} if record.status == "ok" else {}
        )
    report = evaluate(predicted, load_truth(truth))
    report["truth"] = str(truth)
    write_json_atomic(out, report)
    logger.info("wrote %s", out)
