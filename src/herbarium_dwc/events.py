"""The event log: one JSON line per API request attempt, under results/events/.

Many extraction processes append to the same file at once. Each line is
written with a single ``write`` on a descriptor opened with ``O_APPEND``, so
on a local file system lines never interleave (NFS does not promise this; a
cluster run should give each node its own ``results`` or events folder).

Fields of a request event (absent values are null):
``time`` (UTC ISO 8601), ``run``, ``specimen``, ``engine``, ``model``,
``attempt`` (1-based, per specimen and run), ``outcome`` (``ok`` or the
failure kind, e.g. ``rate_limited``, ``server_error``, ``truncated``),
``status`` (HTTP status), ``latency_s``, ``prompt_tokens``,
``completion_tokens``, ``cost_usd``, ``key`` (the *name* of the environment
variable that held the key, never the key), ``response_format``.

Never put a key, a header or image bytes in an event.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from herbarium_dwc.record import utc_now

logger = logging.getLogger(__name__)

REQUEST_EVENTS = "requests.jsonl"


def append_event(folder: str | Path, event: dict[str, Any]) -> None:
    """Append one event as a JSON line to ``folder/requests.jsonl``.

    A ``time`` field is added when missing. Failing to write an event is
    logged and never stops extraction: the event log is a report, not state.

    :param folder: the events folder, normally ``<results>/events``.
    :param event: JSON-serialisable fields; keep keys and image bytes out.

    >>> append_event("results/events", {"specimen": "NY01", "outcome": "ok"})
    """
    line = json.dumps({"time": utc_now(), **event}, ensure_ascii=False) + "\n"
    data = line.encode("utf-8")
    path = Path(folder) / REQUEST_EVENTS
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        logger.warning("could not append to the event log %s: %s", path, exc)
