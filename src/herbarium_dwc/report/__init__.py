"""The quality report: results/report/index.html and report.json.

:func:`write_report` reads a run's records (and the event log and the
evaluation, when there are any), computes the figures
(:mod:`~herbarium_dwc.report.summary`), and writes them twice: as
report.json for programs and as one self-contained HTML page for people
(:mod:`~herbarium_dwc.report.page`, charts from
:mod:`~herbarium_dwc.report.charts`, previews from
:mod:`~herbarium_dwc.report.thumbnails`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from herbarium_dwc.aggregate import iter_records
from herbarium_dwc.events import read_events
from herbarium_dwc.record import utc_now, write_bytes_atomic
from herbarium_dwc.report.page import render_page
from herbarium_dwc.report.summary import ReviewSettings, build_report_data
from herbarium_dwc.report.thumbnails import thumbnail_data_uri

logger = logging.getLogger(__name__)

__all__ = ["ReportSettings", "write_report"]


@dataclass(frozen=True)
class ReportSettings:
    """Choices of the report (config section ``report``).

    :param review_limit: how many specimens the review list shows.
    :param low_confidence: values below this confidence go to review.
    :param thumbnail_edge: long edge of the review previews, in pixels.
    """

    review_limit: int = 50
    low_confidence: float = 0.5
    thumbnail_edge: int = 240

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ReportSettings:
        """Build the settings from the workflow config's ``report`` section."""
        section = config.get("report", {}) or {}
        return cls(
            review_limit=int(section.get("review_limit", cls.review_limit)),
            low_confidence=float(section.get("low_confidence", cls.low_confidence)),
            thumbnail_edge=int(section.get("thumbnail_edge", cls.thumbnail_edge)),
        )


def _write_atomic(path: Path, text: str) -> None:
    end = "" if text.endswith("\n") else "\n"
    write_bytes_atomic(path, (text + end).encode("utf-8"))


def write_report(
    paths: Iterable[str | Path],
    run: str,
    out_dir: str | Path,
    results_dir: str | Path | None = None,
    evaluation: str | Path | None = None,
    settings: ReportSettings | None = None,
    selected: int | None = None,
) -> Path:
    """Write ``index.html`` and ``report.json`` for a run's records.

    :param paths: the run's record files.
    :param run: the run name.
    :param out_dir: the folder to write (created if missing).
    :param results_dir: the results folder whose event log to read; None
        leaves the request figures out.
    :param evaluation: evaluation.json to include, when truth is configured.
    :param settings: review-list and preview choices.
    :param selected: the size of the configured range, to count pending.
    :returns: the path of index.html.

    >>> write_report(sorted(Path("results/specimens/run").glob("*.json")),
    ...              "run", "results/report")
    PosixPath('results/report/index.html')
    """
    settings = settings or ReportSettings()
    paths = list(paths)
    events = read_events(results_dir) if results_dir is not None else []
    evaluated = (
        json.loads(Path(evaluation).read_text(encoding="utf-8")) if evaluation else None
    )
    records = iter_records(paths)
    data = build_report_data(
        records,
        run,
        review=ReviewSettings(settings.review_limit, settings.low_confidence),
        events=events,
        evaluation=evaluated,
        selected=selected,
    )
    data["generated_at"] = utc_now()
    for item in data["review"]["shown"]:
        # A link to the full image: resolved here, where relative sources
        # mean something (the page may be opened from anywhere).
        source = Path(item["source"])
        if source.is_file():
            item["source_uri"] = source.resolve().as_uri()
    data["summary"]["unreadable_records"] = len(paths) - data["summary"]["records"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "report.json", json.dumps(data, ensure_ascii=False, indent=1))

    def thumbnail(source: str) -> str | None:
        return thumbnail_data_uri(source, edge=settings.thumbnail_edge)

    page = out / "index.html"
    _write_atomic(page, render_page(data, thumbnail))
    logger.info(
        "wrote %s and report.json: %d records, %d in the review list",
        page,
        data["summary"]["records"],
        len(data["review"]["shown"]),
    )
    return page
