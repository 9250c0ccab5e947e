"""The append-only event log: one JSON line per request attempt or record.

Writers call :func:`append_event`; readers (``herbarium-dwc status``, the
report) call :func:`read_events` or keep an :class:`EventTail` open.

Where the lines go
    ``<results>/events/<hostname>.jsonl``, one file per machine. Each event is
    one ``os.write`` of one line to a file opened with ``O_APPEND``; on a local
    file system the kernel appends each such write whole, so many processes on
    one machine can write at once without a lock. Appends from several
    machines to one file on NFS are not safe, hence one file per host. A file
    per process would be safe too, but a Snakemake ``script:`` job is a
    process of its own, so a 100,000-specimen run would leave 100,000 files
    for ``status`` to open.

What a line holds
    ``time`` (UTC, ISO 8601 with milliseconds, added here), ``event``
    (``"request"``: one attempt at an engine, the default; ``"record"``: the
    extract stage wrote a specimen's record) and any of the fields in
    :data:`EVENT_FIELDS`. Unknown field names are refused, so an API key or
    image bytes can never be logged by accident.

Two kinds, one rule for totals
    The API engine appends a ``request`` event per attempt, including failed
    ones, so tokens and cost are summed over ``request`` events. The extract
    stage appends one ``record`` event per record it writes, for every engine;
    for a specimen without ``request`` events (the offline and noop engines),
    its ``record`` event carries the usage instead.

Example::

    with event_fields(run="openai-gpt-4o-dwc-v1", specimen="NY01234567"):
        append_event("results", engine="openai", model="gpt-4o", attempt=1,
                     outcome="ok", http_status=200, latency_s=2.31,
                     prompt_tokens=1210, completion_tokens=160, cost_usd=0.0042)
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

logger = logging.getLogger(__name__)

EVENTS_FOLDER = "events"

#: Field names an event may carry besides ``time``.
EVENT_FIELDS: frozenset[str] = frozenset(
    {
        "event",
        "run",
        "specimen",
        "engine",
        "model",
        "attempt",
        "outcome",
        "failure_kind",
        "message",
        "http_status",
        "latency_s",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        # API requests: seconds waited at the rate gate, the *name* of the
        # environment variable that held the key (never the key), the reply
        # format asked for and the provider's host name.
        "waited_s",
        "key_env",
        "response_format",
        "host",
    }
)

# A failure message is for a person skimming the status screen; the record
# keeps the whole text. The cap also keeps every line one short write.
MESSAGE_LIMIT = 300

_bound: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "herbarium_dwc_event_fields", default=None
)


def events_folder(results_dir: str | Path) -> Path:
    """Return the folder of the event log under a results folder."""
    return Path(results_dir) / EVENTS_FOLDER


def _check(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - EVENT_FIELDS)
    if unknown:
        raise ValueError(
            f"append_event got unknown field(s) {unknown}; events may only hold "
            f"{sorted(EVENT_FIELDS)} (never keys or image bytes)"
        )
    for name, value in fields.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(
                f"append_event field {name!r} is a {type(value).__name__}; "
                "events hold only text, numbers and booleans"
            )


@contextmanager
def event_fields(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every event appended inside the ``with`` block.

    The extract stage binds ``run`` and ``specimen`` this way, so an engine's
    own ``append_event`` calls are tagged without knowing the run.

    :param fields: event fields from :data:`EVENT_FIELDS`.
    :raises ValueError: a field name is not in :data:`EVENT_FIELDS`.

    >>> with event_fields(run="offline-rapidocr-parser-v1"):
    ...     pass
    """
    _check(fields)
    token = _bound.set({**(_bound.get() or {}), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def append_event(results_dir: str | Path, **fields: Any) -> dict[str, Any]:
    """Append one event line to ``<results_dir>/events/<hostname>.jsonl``.

    Never raises for a full disk or a read-only folder: progress reporting
    must not fail a paid request, so an unwritable log is logged as a
    warning and the event is dropped.

    :param results_dir: the workflow's results folder.
    :param fields: the event's fields (see :data:`EVENT_FIELDS`); ``None``
        values are left out, ``message`` is cut to :data:`MESSAGE_LIMIT`.
    :returns: the event as written (with ``time`` and ``event`` filled in).
    :raises ValueError: a field is unknown or not text, number or boolean.

    >>> append_event("results", specimen="NY1", outcome="ok", latency_s=0.8)
    """
    _check(fields)
    event: dict[str, Any] = {"time": _now(), "event": "request"}
    event.update(_bound.get() or {})
    event.update((k, v) for k, v in fields.items() if v is not None)
    if isinstance(event.get("message"), str):
        event["message"] = event["message"][:MESSAGE_LIMIT]
    line = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
    folder = events_folder(results_dir)
    path = folder / f"{socket.gethostname() or 'host'}.jsonl"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        logger.warning(
            "could not append to the event log %s (%s); progress figures will "
            "miss this event, the specimen's record is not affected",
            path,
            exc,
        )
    return event


@functools.cache
def _decoders(
    item_type: Any,
) -> tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]:
    return msgspec.json.Decoder(list[item_type]), msgspec.json.Decoder(item_type)


def parse_lines(
    data: bytes, item_type: Any = dict[str, Any]
) -> tuple[list[Any], int, int]:
    """Parse complete JSON lines of ``data``.

    The usual case, every line whole, is parsed in one call of msgspec's C
    decoder on the lines joined into an array (several times faster than
    the json module line by line: status reads hundreds of thousands of
    lines); only when that fails is each line parsed alone, to skip the bad
    ones.

    :param item_type: what each line must decode to: a JSON object as a dict
        (the default), or a ``msgspec.Struct`` that keeps only the fields a
        reader needs (faster still; unknown fields are ignored).
    :returns: the events, the number of bytes consumed (up to and including
        the last newline, so a torn last line is left for later) and the
        number of lines skipped because they were not such objects.
    """
    end = data.rfind(b"\n") + 1
    body = data[:end].rstrip(b"\n")
    if not body:
        return [], end, 0
    many, one = _decoders(item_type)
    try:
        # json.dumps escapes newlines inside strings, so every raw newline
        # separates two events.
        events: list[Any] = many.decode(b"[" + body.replace(b"\n", b",") + b"]")
    except ValueError:
        pass
    else:
        return events, end, 0
    events = []
    bad = 0
    for raw in body.splitlines():
        if not raw.strip():
            continue
        try:
            events.append(one.decode(raw))
        except ValueError:
            bad += 1
    return events, end, bad


@dataclass
class EventTail:
    """Reads the event log incrementally: each :meth:`read` returns only the
    events appended since the last call.

    A line still being written (no newline yet) is left for the next call;
    a line that is not JSON (a writer killed mid-line) is skipped and
    counted in :attr:`skipped`.

    :param results_dir: the results folder whose ``events/`` to read.

    >>> tail = EventTail("results")
    >>> new = tail.read()
    """

    results_dir: str | Path
    skipped: int = 0
    chunk_bytes: int = 4 << 20
    #: Per file name: [inode, bytes consumed]. Saved and given back by
    #: readers that keep their own summary of what was read.
    offsets: dict[str, list[int]] = field(default_factory=dict)
    #: Set when a file was replaced or shortened since it was read: what was
    #: read from it before no longer describes it.
    replaced: bool = False
    #: What each line decodes to (see :func:`parse_lines`).
    item_type: Any = dict[str, Any]

    def chunks(self) -> Iterator[list[Any]]:
        """Yield the events appended since the previous call, a few MB at a
        time, so a long log is never held in memory whole."""
        folder = events_folder(self.results_dir)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.jsonl")):
            try:
                handle = open(path, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                logger.warning("cannot read event log %s: %s", path, exc)
                continue
            with handle:
                stat = os.fstat(handle.fileno())
                inode, offset = self.offsets.get(path.name, [stat.st_ino, 0])
                if inode != stat.st_ino or stat.st_size < offset:
                    self.replaced = True
                    inode, offset = stat.st_ino, 0
                self.offsets[path.name] = [inode, offset]
                handle.seek(offset)
                rest = b""
                while True:
                    data = handle.read(self.chunk_bytes)
                    if not data:
                        break
                    new, used, bad = parse_lines(rest + data, self.item_type)
                    rest = (rest + data)[used:]
                    offset += used
                    self.offsets[path.name] = [inode, offset]
                    self.skipped += bad
                    if new:
                        yield new

    def read(self) -> list[Any]:
        """Return the complete events appended since the previous call."""
        return [event for chunk in self.chunks() for event in chunk]


def read_events(results_dir: str | Path) -> list[dict[str, Any]]:
    """Read the whole event log of a results folder, oldest first.

    Events of all host files are merged and sorted by ``time``; a torn or
    garbled line is skipped.

    :param results_dir: the results folder.
    :returns: the events; empty when there is no log yet.

    >>> [e["outcome"] for e in read_events("results")][:3]
    """
    events: list[dict[str, Any]] = EventTail(results_dir).read()
    events.sort(key=lambda event: str(event.get("time", "")))
    return events
