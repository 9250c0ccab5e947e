"""The per-specimen stages the workflow runs: prepare, OCR, extract.

Each stage reads the previous stage's small JSON file and writes its own
atomically. Preparation and OCR problems travel forward as a ``failure`` so
that the extract stage writes one ``failed`` record and the run goes on.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from herbarium_dwc.dwc.normalise import NormaliseSettings, normalise_record
from herbarium_dwc.engines import Engine, EngineResult
from herbarium_dwc.errors import GateClosedError, HostUnreachableError, SpecimenError
from herbarium_dwc.events import append_event, event_fields
from herbarium_dwc.images import PrepareSettings
from herbarium_dwc.ocr import read_barcodes, run_ocr
from herbarium_dwc.prepare import load_prepared, prepare_specimen
from herbarium_dwc.record import (
    EngineInfo,
    Failure,
    ImageInfo,
    OcrResult,
    SpecimenRecord,
    Timing,
    Usage,
    locked_file,
    read_record,
    utc_now,
    write_json_atomic,
    write_record,
)
from herbarium_dwc.scheduler import stop_scheduler
from herbarium_dwc.verticalocr import reread_vertical_lines

__all__ = ["extract_specimen", "load_prepared", "ocr_specimen", "prepare_specimen"]

logger = logging.getLogger(__name__)


def _read_json(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def ocr_specimen(
    manifest_path: str | Path,
    settings: PrepareSettings,
    out: str | Path,
    reread_vertical: bool = True,
) -> dict[str, Any]:
    """Run OCR on a prepared image and write the text (or the failure).

    Sideways lines are read a second time upright when ``reread_vertical``
    is set, and barcodes are decoded beside the text.

    :returns: what was written to ``out``.
    """
    manifest = _read_json(manifest_path)
    result: dict[str, Any]
    if manifest["status"] != "ok":
        result = {"status": "skipped", "reason": "preparation failed"}
    else:
        try:
            image = load_prepared(manifest, settings)
            ocr = run_ocr(image.data)
            if reread_vertical:
                ocr = reread_vertical_lines(image.data, ocr)
            ocr.barcodes = read_barcodes(image.data)
            result = {"status": "ok", **ocr.model_dump(mode="json")}
        except SpecimenError as exc:
            logger.warning("%s: %s", manifest["specimen_id"], exc.message)
            result = {
                "status": "failed",
                "failure": {"kind": exc.kind, "message": exc.message},
            }
    write_json_atomic(out, result)
    return result


def _image_info(manifest: dict[str, Any]) -> ImageInfo:
    return ImageInfo(
        source=manifest["source"],
        sha256=manifest.get("sha256"),
        format=manifest.get("format"),
        original_size=manifest.get("original_size"),
        original_bytes=manifest.get("original_bytes"),
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
    results_dir: str | Path | None = None,
) -> SpecimenRecord:
    """Extract one specimen and write its record atomically.

    A specimen whose file content (SHA-256) was already extracted in this run
    is not sent to the engine again: its record copies the first one's values
    and names it in ``duplicate_of``.

    After the record is written, one ``record`` event goes to the event log
    of ``results_dir`` (see :mod:`herbarium_dwc.events`), whatever the
    engine; events the engine appends itself are tagged with the run and the
    specimen. Every few minutes one job also brings the status summary up to
    date (:func:`~herbarium_dwc.status_collector.refresh_summary`).

    :param results_dir: the results folder whose event log to append to;
        None writes no event.
    :raises TransientError: the engine may succeed later; nothing is written.
        When the rate gate is closed or the endpoint does not answer from this
        host, a Snakemake running on this host is also asked to start no
        further jobs (:func:`~herbarium_dwc.scheduler.stop_scheduler`).
    :raises ConfigError: no specimen can succeed with these settings.
    """
    manifest = _read_json(manifest_path)
    specimen_id = manifest["specimen_id"]
    with event_fields(run=run, specimen=specimen_id):
        try:
            record = _extract(
                manifest, ocr_path, engine, run, settings, normalise, out, dedup_dir
            )
        except (GateClosedError, HostUnreachableError) as exc:
            # No job after this one can send a request (from this host): ask
            # Snakemake to start no more of them (see herbarium_dwc.scheduler).
            if results_dir is not None:
                stop_scheduler(results_dir, run, str(exc))
            raise
        if results_dir is not None:
            _record_event(results_dir, record)
    if results_dir is not None:
        # Imported here: only specimen jobs of a workflow need it.
        from herbarium_dwc.status_collector import refresh_summary

        refresh_summary(results_dir, run)
    return record


def _record_event(results_dir: str | Path, record: SpecimenRecord) -> None:
    failure = record.failure
    append_event(
        results_dir,
        event="record",
        engine=record.engine.kind,
        model=record.engine.model,
        attempt=record.timing.attempts,
        outcome=record.status,
        failure_kind=str(failure.kind) if failure else None,
        message=failure.message if failure else None,
        latency_s=record.timing.latency_s,
        # A duplicate (attempt 0) copies its original's usage but sent nothing.
        prompt_tokens=None if record.duplicate_of else record.usage.prompt_tokens,
        completion_tokens=(
            None if record.duplicate_of else record.usage.completion_tokens
        ),
        cost_usd=None if record.duplicate_of else record.usage.cost_usd,
    )


def _extract(
    manifest: dict[str, Any],
    ocr_path: str | Path | None,
    engine: Engine,
    run: str,
    settings: PrepareSettings,
    normalise: NormaliseSettings,
    out: str | Path,
    dedup_dir: str | Path,
) -> SpecimenRecord:
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
    with locked_file(dedup.with_suffix(".lock")):
        first = dedup.read_text(encoding="utf-8").strip() if dedup.exists() else ""
        first_record = Path(out).parent / f"{first}.json"
        if first and first != specimen_id and first_record.exists():
            original = read_record(first_record)
            record = original.model_copy(
                update={
                    "specimen_id": specimen_id,
                    "image": _image_info(manifest),
                    "duplicate_of": first,
                    # No request was made for the copy: its cost is the
                    # original's, counted once there.
                    "usage": Usage(),
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
    flags = [*result.flags, *flags]
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
