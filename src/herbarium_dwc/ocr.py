"""OCR for the offline engine, with RapidOCR (ONNX models shipped in its wheel)."""

from __future__ import annotations

import io
import logging
import time
from functools import lru_cache
from typing import Any

from herbarium_dwc.errors import FailureKind, SpecimenError
from herbarium_dwc.record import OcrLine, OcrResult

logger = logging.getLogger(__name__)

OCR_ENGINE = "rapidocr-onnxruntime"


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def read_barcodes(image_bytes: bytes) -> list[str]:
    """Decode the 1-D and 2-D barcodes on an encoded image, in reading order.

    Herbarium barcodes carry the catalogue number exactly, where OCR of the
    printed digits under them often drops or misreads one (zxing-cpp reads
    Code 39 and Code 128, which OpenCV's own decoder does not).
    """
    import zxingcpp
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes)) as image:
        found = zxingcpp.read_barcodes(image.convert("L"))
    return [code.text for code in found if code.text and code.text.strip()]


def run_ocr(image_bytes: bytes) -> OcrResult:
    """Find the text lines on an encoded image.

    Lines come back in RapidOCR's reading order (top to bottom, then left to
    right), each with its confidence and box.

    :param image_bytes: an encoded image (JPEG or PNG).
    :raises SpecimenError: OCR itself failed on this image (kind ocr_error).
    """
    started = time.perf_counter()
    try:
        found, _ = _engine()(image_bytes)
    except Exception as exc:  # RapidOCR raises bare exceptions from ONNX/OpenCV
        raise SpecimenError(
            FailureKind.ocr_error, f"OCR failed on this image: {exc}"
        ) from exc
    lines = []
    for box, text, confidence in found or []:
        xs = [float(point[0]) for point in box]
        ys = [float(point[1]) for point in box]
        lines.append(
            OcrLine(
                text=str(text),
                confidence=round(float(confidence), 4),
                box=(min(xs), min(ys), max(xs), max(ys)),
            )
        )
    seconds = round(time.perf_counter() - started, 3)
    logger.info("ocr lines=%d seconds=%.2f", len(lines), seconds)
    return OcrResult(
        engine=OCR_ENGINE,
        text="\n".join(line.text for line in lines),
        lines=lines,
        seconds=seconds,
    )
