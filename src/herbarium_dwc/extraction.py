"""The per-specimen stages the workflow runs: prepare, OCR, extract.

Each stage reads the previous stage's small JSON file and writes its own
atomically. Preparation and OCR problems travel forward as a ``failure`` so
that the extract stage writes one ``failed`` record and the run goes on.
"""

from __future__ import annotations

import fcntl
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from herbarium_dwc.dwc.normalise import NormaliseSettings, normalise_record
from herbarium_dwc.engines import Engine, EngineResult
from herbarium_dwc.errors import SpecimenError
from herbarium_dwc.images import PreparedImage, PrepareSettings, prepare_image
from herbarium_dwc.ocr import run_ocr
from herbarium_dwc.record import (
    EngineInfo,
    Failure,
    ImageInfo,
    OcrResult,
    SpecimenRecord,
    Timing,
    Usage,
    read_record,
    utc_now,
    write_json_atomic,
    write_record,
)

logger = logging.getLogger(__name__)


def _cache_path(cache_dir: Path, sha256: str, settings: PrepareSettings) -> Path:
    return cache_dir / settings.key() / sha256[:2] / f"{sha256}.jpg"


def prepare_specimen(
    specimen_id: str,
    source: str,
    settings: PrepareSettings,
    cache_dir: str | Path,
    out: str | Path,
) -> dict[str, Any]:
    """Prepare one image and write its manifest (never raises for bad images).

    The prepared JPEG goes to ``cache_dir`` keyed by content hash and
    settings, so identical files and later stages share it.

    :returns: the manifest written to ``out``.
    """
    manifest: dict[str, Any] = {"specimen_id": specimen_id, "source": source}
    try:
        prepared = prepare_image(source, settings)
    except SpecimenError as exc:
        logger.warning("%s: %s", specimen_id, exc.message)
        manifest.update(
            status="failed", failure={"kind": exc.kind, "message": exc.message}
        )
    else:
        cached = _cache_path(Path(cache_dir), prepared.sha256, settings)
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{time.time_ns()}.tmp")
            tmp.write_bytes(prepared.data)
            tmp.replace(cached)
        manifest.update(
            status="ok",
            sha256=prepared.sha256,
            format=prepared.source_format,
            original_size=list(prepared.original_size),
            sent_size=list(prepared.size),
            bytes_sent=len(prepared.data),
            media_type=prepared.media_type,
            flags=prepared.flags,
            prepared=str(cached),
            settings=settings.key(),
        )
    write_json_atomic(out, manifest)
    return manifest


def load_prepared(manifest: dict[str, Any], settings: PrepareSettings) -> PreparedImage:
    """Return the prepared image a manifest names, preparing it again if the
    cached file was removed."""
    cached = Path(manifest["prepared"])
    if cached.exists():
        return PreparedImage(
            data=cached.read_bytes(),
            media_type=manifest["media_type"],
            size=tuple(manifest["sent_size"]),
            original_size=tuple(manifest["original_size"]),
            source_format=manifest.get("format"),
            sha256=manifest["sha256"],
            flags=list(manifest.get("flags", [])),
        )
    logger.info("prepared image %s is gone; preparing it again", cached)
    return prepare_image(manifest["source"], settings)


def _read_json(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def ocr_specimen(
    manifest_path: str | Path, settings: PrepareSettings, out: str | Path
) -> dict[str, Any]:
    """Run OCR on a prepared image and write the text (or the failure).

    :returns: what was written to ``out``.
    """
    manifest = _read_json(manifest_path)
    result: dict[str, Any]
    if manifest["status"] != "ok":
        result = {"status": "skipped", "reason": "preparation failed"}
    else:
        try:
            image = load_prepared(manifest, settings)
            result = {"status": "ok", **run_ocr(image.data).model_dump(mode="json")}
        except SpecimenError as exc:
            logger.warning("%s: %s", manifest["specimen_id"], exc.message)
            result = {
                "status": "failed",
                "failure": {"kind": exc.kind, "message": exc.message},
            }
    write_json_atomic(out, result)
    return result


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _image_info(manifest: dict[str, Any]) -> ImageInfo:
    return ImageInfo(
        source=manifest["source"],
        sha256=manifest.get("sha256"),
        format=manifest.get("format"),
        original_size=manifest.get("original_size"),
        sent_size=manifest.get("sent_size"),
        bytes_sent=manifest.get("bytes_sent"),
        flags=list(manifest.get("flags", [])),
    )


def _failed(
    specimen_id: str,
    run: str,
    manifest: dict[str, Any],
    info: EngineInfo,
    failure: Failure,
) -> SpecimenRecord:
    return SpecimenRecord(
        specimen_id=specimen_id,
        run=run,
        image=_image_info(manifest),
        engine=info,
        status="failed",
        failure=failure,
        timing=Timing(attempts=failure.attempts, finished_at=utc_now()),
    )


def extract_specimen(
    manifest_path: str | Path,
    ocr_path: str | Path | None,
    engine: Engine,
    run: str,
    settings: PrepareSettings,
    normalise: NormaliseSettings,
    out: str | Path,
    dedup_dir: str | Path,
) -> SpecimenRecord:
    """Extract one specimen and write its record atomically.

    A specimen whose file content (SHA-256) was already extracted in this run
    is not sent to the engine again: its record copies the first one's values
    and names it in ``duplicate_of``.

    :raises TransientError: the engine may succeed later; nothing is written.
    :raises ConfigError: no specimen can succeed with these settings.
    """
    manifest = _read_json(manifest_path)
    specimen_id = manifest["specimen_id"]
    if manifest["status"] != "ok":
        record = _failed(
            specimen_id, run, manifest, engine.info, Failure(**manifest["failure"])
        )
        write_record(out, record)
        return record
    ocr: OcrResult | None = None
    if ocr_path is not None:
        ocr_data = _read_json(ocr_path)
        if ocr_data["status"] == "failed":
            record = _failed(
                specimen_id, run, manifest, engine.info, Failure(**ocr_data["failure"])
            )
            write_record(out, record)
            return record
        ocr = OcrResult.model_validate(ocr_data)
    dedup = Path(dedup_dir) / manifest["sha256"]
    with _locked(dedup.with_suffix(".lock")):
        first = dedup.read_text(encoding="utf-8").strip() if dedup.exists() else ""
        first_record = Path(out).parent / f"{first}.json"
        if first and first != specimen_id and first_record.exists():
            original = read_record(first_record)
            record = original.model_copy(
                update={
                    "specimen_id": specimen_id,
                    "image": _image_info(manifest),
                    "duplicate_of": first,
                    "timing": Timing(attempts=0, finished_at=utc_now()),
                }
            )
            logger.info("%s: same file as %s; copied its result", specimen_id, first)
            write_record(out, record)
            return record
        record = _run_engine(
            specimen_id, run, manifest, ocr, engine, settings, normalise
        )
        write_record(out, record)
        if record.status == "ok" and not first:
            dedup.write_text(specimen_id, encoding="utf-8")
    return record


def _run_engine(
    specimen_id: str,
    run: str,
    manifest: dict[str, Any],
    ocr: OcrResult | None,
    engine: Engine,
    settings: PrepareSettings,
    normalise: NormaliseSettings,
) -> SpecimenRecord:
    started = utc_now()
    clock = time.perf_counter()
    try:
        image = load_prepared(manifest, settings)
        result: EngineResult = engine.extract(specimen_id, image, ocr)
    except SpecimenError as exc:
        logger.warning("%s: %s: %s", specimen_id, exc.kind, exc.message)
        info = engine.info
        if exc.model and exc.model != info.model:
            info = info.model_copy(update={"model": exc.model})
        failed = _failed(
            specimen_id,
            run,
            manifest,
            info,
            Failure(
                kind=exc.kind,
                message=exc.message,
                attempts=exc.attempts,
                reply=exc.reply,
            ),
        )
        if exc.usage:
            # Failed API attempts are paid too; keep them in the run's totals.
            failed.usage = Usage.model_validate(exc.usage)
        return failed
    latency = round(time.perf_counter() - clock, 3)
    dwc, flags = normalise_record(result.verbatim, normalise)
    flags += [f"{key}:unknown_term" for key in result.unknown_keys]
    flags += result.flags
    info = engine.info
    if result.model and result.model != info.model:
        info = info.model_copy(update={"model": result.model})
    return SpecimenRecord(
        specimen_id=specimen_id,
        run=run,
        image=_image_info(manifest),
        engine=info,
        status="ok",
        verbatim=result.verbatim,
        dwc=dwc,
        flags=flags,
        confidence=result.confidence,
        ocr=ocr,
        usage=result.usage,
        timing=Timing(
            attempts=result.attempts,
            latency_s=latency,
            started_at=started,
            finished_at=utc_now(),
        ),
    )
