"""A second OCR look at text printed sideways (barcode labels turned 90°).

RapidOCR finds vertical text but often reads it short: on the lichen
packets of the reference set the barcode label stands on its side and the
first pass returns ``TENN-L-OOO`` for ``TENN-L-0000028``. This module cuts
each vertical line out of the prepared image, turns the strip upright both
ways, reads it again and keeps the better reading in the line's place (same
box), so the label parser can take the catalogue number from it.

It costs one small OCR call per vertical line (none on most labels).
"""

from __future__ import annotations

import io
import logging
import re
import time

from PIL import Image

from herbarium_dwc.labellayout import is_vertical
from herbarium_dwc.ocr import run_ocr
from herbarium_dwc.record import OcrLine, OcrResult

logger = logging.getLogger(__name__)


def _may_be_code(line: OcrLine) -> bool:
    """Sideways prose (an institution's name) is left as it was read."""
    return len(re.findall(r"[a-z]{3,}", line.text)) < 2


def _strip(image: Image.Image, line: OcrLine) -> Image.Image:
    """The column the line stands in, full height: the detector's box is
    often shorter than the printed text, which is why it was read short."""
    x0, _, x1, _ = line.box
    margin = 0.3 * (x1 - x0)
    box = (
        max(0, int(x0 - margin)),
        0,
        min(image.width, int(x1 + margin)),
        image.height,
    )
    return image.crop(box)


def _read_upright(strip: Image.Image) -> OcrLine | None:
    """The best single line read from the strip turned either way."""
    best: OcrLine | None = None
    for angle in (270, 90):
        upright = strip.rotate(angle, expand=True)
        # The detector scales the short side up to a fixed size; a thin strip
        # would become a huge image, so it is set on a taller white canvas.
        height = max(upright.height, int(0.6 * upright.width))
        canvas = Image.new("RGB", (upright.width, height), "white")
        canvas.paste(upright, (0, (canvas.height - upright.height) // 2))
        buffer = io.BytesIO()
        canvas.save(buffer, format="JPEG", quality=95)
        started = time.perf_counter()
        found = run_ocr(buffer.getvalue()).lines
        logger.debug(
            "strip %s read in %.2f s", strip.size, time.perf_counter() - started
        )
        for line in found:
            if (
                best is None
                or len(line.text) * line.confidence > len(best.text) * best.confidence
            ):
                best = line
    return best


def _better(found: OcrLine, line: OcrLine) -> bool:
    """A longer reading that is as sure, or that extends the first one."""
    if len(found.text) <= len(line.text) or found.confidence < 0.6:
        return False
    extends = line.text.replace(" ", "") in found.text.replace(" ", "")
    return extends or found.confidence >= line.confidence - 0.05


def reread_vertical_lines(image_bytes: bytes, ocr: OcrResult) -> OcrResult:
    """Read sideways lines again, upright, and return the improved result.

    Only lines taller than :data:`~herbarium_dwc.labellayout.VERTICAL_RATIO`
    times their width, and not prose, are read again; a new reading
    replaces the old text when it is longer and either contains the old text
    or is read as surely. Boxes stay as they were.

    :param image_bytes: the prepared image the OCR ran on (boxes refer to it).
    :param ocr: the first OCR pass.
    :raises SpecimenError: OCR failed on a strip (kind ocr_error).

    >>> better = reread_vertical_lines(prepared.data, run_ocr(prepared.data))
    """
    vertical = [line for line in ocr.lines if is_vertical(line) and _may_be_code(line)]
    if not vertical:
        return ocr
    with Image.open(io.BytesIO(image_bytes)) as opened:
        image = opened.convert("RGB")
    lines: list[OcrLine] = []
    started = time.perf_counter()
    for line in ocr.lines:
        if line in vertical:
            found = _read_upright(_strip(image, line))
            if found and _better(found, line):
                logger.debug("vertical line %r read again as %r", line.text, found.text)
                line = OcrLine(
                    text=found.text, confidence=found.confidence, box=line.box
                )
        lines.append(line)
    return OcrResult(
        engine=ocr.engine,
        text="\n".join(line.text for line in lines),
        lines=lines,
        seconds=round((ocr.seconds or 0.0) + time.perf_counter() - started, 3),
    )
