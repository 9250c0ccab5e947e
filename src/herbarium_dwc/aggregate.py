"""The aggregate stage: per-specimen records in, tables and summaries out.

Every output is written to a temporary name and renamed, so a run killed
half-way never leaves a half-written table that looks finished.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from herbarium_dwc.evaluate import evaluate, load_truth
from herbarium_dwc.export import (
    DatasetSettings,
    build_occurrences,
    write_dwca,
    write_occurrence_csv,
)
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
    paths: Iterable[str | Path],
    settings: DatasetSettings,
    csv_out: str | Path,
    dwca_out: str | Path,
) -> dict[str, object]:
    """Write the occurrence table and the Darwin Core Archive of the ok records.

    :param paths: the specimen record files.
    :param settings: the dataset's codes, licence, ID patterns and metadata.
    :param csv_out: where occurrence.csv goes.
    :param dwca_out: where dwca.zip goes.
    """
    rows, stats = build_occurrences(iter_records(paths), settings)
    written = write_occurrence_csv(rows, csv_out)
    write_dwca(rows, dwca_out, settings)
    logger.info(
        "wrote %s (%d occurrences) and %s", csv_out, stats["occurrences"], dwca_out
    )
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
    # Score only the specimens of this run's range: truth for specimens the
    # range left out is not a miss of the engine.
    full_truth = load_truth(truth)
    scored = {sid: row for sid, row in full_truth.items() if sid in predicted}
    report = evaluate(predicted, scored)
    report["truth"] = str(truth)
    report["truth_specimens_outside_range"] = len(full_truth) - len(scored)
    report["records_without_truth"] = len(set(predicted) - set(full_truth))
    write_json_atomic(out, report)
    logger.info("wrote %s", out)
