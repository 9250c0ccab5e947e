"""Live progress of a run: what ``herbarium-dwc status`` shows.

This module holds the snapshot the screen is drawn from
(:class:`StatusSnapshot`), the range file the workflow writes when it starts
(:func:`write_range`) and the choice of run; :mod:`herbarium_dwc.status_collector`
builds snapshots fast enough for 100,000 specimens, and
:mod:`herbarium_dwc.status_view` draws them.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from herbarium_dwc.errors import HerbariumError
from herbarium_dwc.gate_state import GateState

logger = logging.getLogger(__name__)

RANGE_FOLDER = Path("work") / "range"
CACHE_FOLDER = Path("work") / "status"
#: Seconds of recent events the current rate is measured over.
RATE_WINDOW_S = 600.0
LATEST_FAILURES = 5


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
    write_json(
        path, {"run": run, "written_at": time.time(), "count": len(ids), "ids": ids}
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


def parse_time(text: Any) -> float | None:
    """ISO 8601 text to Unix time; None for anything else."""
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


def iso_time(stamp: float) -> str:
    """Unix time as the event log writes times (so they compare as text)."""
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


def write_json(path: Path, data: Any) -> None:
    """Write compact JSON atomically (temporary file, then rename).

    Not record.write_json_atomic: that imports pydantic, which alone costs
    the status command a few tenths of a second.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.encode(data))
    os.replace(tmp, path)
