"""The per-specimen JSON record: the workflow's contract between stages.

One file per specimen at ``results/specimens/{run}/{specimen_id}.json``.
A file that exists is a finished specimen, ``ok`` or ``failed``; a specimen
without a file is pending. Files are written atomically (a temporary file in
the same folder, fsync, then rename), so a killed job never leaves a
half-written record that a later run would count as done.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from herbarium_dwc.errors import FailureKind

SCHEMA_VERSION = 1


class ImageInfo(BaseModel):
    """What was read from disk and what an engine was shown."""

    source: str
    sha256: str | None = None
    format: str | None = None
    original_size: tuple[int, int] | None = None
    original_bytes: int | None = None
    sent_size: tuple[int, int] | None = None
    bytes_sent: int | None = None
    flags: list[str] = Field(default_factory=list)


class EngineInfo(BaseModel):
    """The extraction settings that produced the record."""

    kind: str
    model: str
    base_url_host: str | None = None
    prompt_version: str | None = None


class Failure(BaseModel):
    """Why a specimen could not be extracted.

    ``reply`` keeps what an API engine answered when that explains the
    failure (a refusal, a reasoning model's thoughts, text that is not JSON).
    """

    kind: FailureKind
    message: str
    attempts: int = 1
    reply: str | None = None


class OcrLine(BaseModel):
    """One line of text found by OCR, with its box as (x0, y0, x1, y1)."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


class OcrResult(BaseModel):
    """The OCR text of a prepared image."""

    engine: str
    text: str
    lines: list[OcrLine] = Field(default_factory=list)
    barcodes: list[str] = Field(default_factory=list)
    seconds: float | None = None


class Usage(BaseModel):
    """Tokens and money a request cost, where the engine reports them."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None


class Timing(BaseModel):
    """How long extraction took and how many attempts it needed."""

    attempts: int = 1
    latency_s: float | None = None
    started_at: str | None = None
    finished_at: str | None = None


class SpecimenRecord(BaseModel):
    """The contract for one specimen's result (see ARCHITECTURE.md)."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    specimen_id: str
    run: str
    image: ImageInfo
    engine: EngineInfo
    status: Literal["ok", "failed"]
    failure: Failure | None = None
    duplicate_of: str | None = None
    verbatim: dict[str, str] = Field(default_factory=dict)
    dwc: dict[str, str] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    confidence: dict[str, float] = Field(default_factory=dict)
    ocr: OcrResult | None = None
    usage: Usage = Field(default_factory=Usage)
    timing: Timing = Field(default_factory=Timing)


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def locked_file(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) for a block.

    Processes of one host that take the same lock run the block one at a
    time (``flock``; on a cluster file system without locking it raises
    OSError).

    >>> with locked_file("results/work/dedup/run.lock"):
    ...     pass
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see half a file.

    The bytes go to a temporary file in the same folder, are flushed to disk,
    then renamed over ``path`` (rename is atomic within one file system).
    The file is made 0644: results are shared with a team and read by
    cluster jobs, and mkstemp alone makes owner-only files.

    :param path: the final file name; its folder is created if missing.
    :raises OSError: the folder cannot be written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    os.fchmod(fd, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON with :func:`write_bytes_atomic`.

    :param path: the final file name; its folder is created if missing.
    :param data: anything ``json.dumps`` accepts.
    """
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def write_record(path: str | Path, record: SpecimenRecord) -> None:
    """Validate and write one specimen record atomically."""
    write_json_atomic(path, record.model_dump(mode="json"))


def read_record(path: str | Path) -> SpecimenRecord:
    """Read and validate one specimen record.

    :raises pydantic.ValidationError: the file does not follow the contract.
    """
    with open(path, encoding="utf-8") as handle:
        return SpecimenRecord.model_validate(json.load(handle))
