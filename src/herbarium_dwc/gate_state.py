"""What the shared rate gate is doing, as far as its SQLite file tells.

``herbarium-dwc status`` shows whether the gate is open, cooling down after a
429 or stopped (quota, credit or authentication trouble) and why. The gate
itself (``herbarium_dwc.ratelimit``) keeps its state in
``<results>/ratelimit.sqlite``; this module only reads that file, read-only,
and never waits on the gate's locks.

Known shortcoming: the gate is being written in parallel with this module,
so its table layout is not fixed yet. :func:`read_gate_state` recognises two
plain layouts (below) and answers ``unknown`` for anything else, so status
keeps working whatever the file holds; once the gate lands, point
:func:`read_gate_state` at its real tables (or have the gate expose a
``state()`` reader) and drop the guessing.

Recognised layouts, in any table:
- columns ``cooldown_until`` (Unix seconds) and/or ``stopped``/``stop_reason``,
  optionally ``cooldown_reason``; the row with the latest ``cooldown_until``
  is read;
- key/value rows (columns ``key`` and ``value``) with those names as keys.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger(__name__)

GATE_FILE = "ratelimit.sqlite"

GateMode = Literal["open", "cooling", "stopped", "unknown"]

_STATE_COLUMNS = {"cooldown_until", "stopped", "stop_reason"}


@dataclass(frozen=True)
class GateState:
    """The rate gate's state for display.

    :param mode: ``open``, ``cooling`` (a cool-down is running), ``stopped``
        (no request will be sent until someone resets the gate) or
        ``unknown`` (no gate file, or one this code cannot read).
    :param reason: why it is cooling or stopped, or why the state is unknown.
    :param until: for ``cooling``, Unix time the cool-down ends.
    """

    mode: GateMode
    reason: str = ""
    until: float | None = None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "null")
    return bool(value)


def _from_fields(fields: dict[str, Any], now: float) -> GateState:
    stop_reason = str(fields.get("stop_reason") or "").strip()
    if _truthy(fields.get("stopped")) or stop_reason:
        return GateState("stopped", stop_reason or "stop switch set")
    until = _number(fields.get("cooldown_until"))
    if until is not None and until > now:
        reason = str(fields.get("cooldown_reason") or "").strip()
        return GateState("cooling", reason or "cool-down after a rate limit", until)
    return GateState("open")


def _read_fields(db: sqlite3.Connection) -> dict[str, Any] | None:
    tables = [
        row[0]
        for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({quoted})")}
        if columns & _STATE_COLUMNS:
            order = (
                " ORDER BY cooldown_until DESC" if "cooldown_until" in columns else ""
            )
            db.row_factory = sqlite3.Row
            row = db.execute(f"SELECT * FROM {quoted}{order} LIMIT 1").fetchone()
            db.row_factory = None
            return dict(row) if row is not None else {}
        if {"key", "value"} <= columns:
            pairs = dict(db.execute(f"SELECT key, value FROM {quoted}").fetchall())
            if set(pairs) & (_STATE_COLUMNS | {"cooldown_reason"}):
                return pairs
    return None


def read_gate_state(path: str | Path, now: float | None = None) -> GateState:
    """Read the rate gate's state from its SQLite file, never failing.

    :param path: the gate's file, usually ``<results>/ratelimit.sqlite``.
    :param now: the current Unix time (for tests); defaults to the clock.
    :returns: the state; ``unknown`` with a reason when the file is absent,
        locked, not SQLite, or of a layout this code does not recognise.

    >>> read_gate_state("results/ratelimit.sqlite").mode
    'unknown'
    """
    gate = Path(path)
    if not gate.is_file():
        return GateState("unknown", f"no {gate.name} in {gate.parent}")
    now = time.time() if now is None else now
    try:
        db = sqlite3.connect(
            f"{gate.resolve().as_uri()}?mode=ro", uri=True, timeout=0.2
        )
    except sqlite3.Error as exc:
        return GateState("unknown", f"cannot open {gate}: {exc}")
    try:
        fields = _read_fields(db)
    except sqlite3.Error as exc:
        logger.info("cannot read the rate gate %s: %s", gate, exc)
        return GateState("unknown", f"cannot read {gate}: {exc}")
    finally:
        db.close()
    if fields is None:
        return GateState("unknown", f"{gate} has a layout status does not know")
    return _from_fields(fields, now)
