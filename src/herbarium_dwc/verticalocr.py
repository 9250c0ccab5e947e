"""A second OCR look at text printed sideways (barcode labels turned 90°).

RapidOCR finds vertical text but often reads it short: on the lichen
packets of the reference set the barcode label stands on its side and the
first pass returns ``TENN-L-OOO`` for ``TENN-L-0000028``, or misses the
number beside the institution's name. This module cuts the full-height
column around each sideways line out of the prepared image, turns it
upright both ways, reads it again and puts the better readings back in
place, so the label parser can take the catalogue number from them.

It costs two OCR calls on a small strip per column of sideways text (none
on most labels).
"""

from __future__ import annotations

import io
import logging
import time

from PIL import Image

from herbarium_dwc.labellayout import is_vertical
from herbarium_dwc.ocr import run_ocr
from herbarium_dwc.record import OcrLine, OcrResult

logger = logging.getLogger(__name__)


Box = tuple[float, float, float, float]

# A strip reaches this many line widths beyond a sideways line on each side,
# so that it also takes the code printed beside an institution's name.
STRIP_REACH = 2.5


def _strip_boxes(vertical: list[OcrLine], size: tuple[int, int]) -> list[Box]:
    """Full-height columns around the sideways lines, overlapping ones merged.

    The detector's box is often shorter than the printed text (which is why
    the line was read short), and a barcode label's number may not have been
    detected at all beside its institution's name.
    """
    columns = sorted(
        (
            max(0.0, line.box[0] - STRIP_REACH * (line.box[2] - line.box[0])),
            min(
                float(size[0]), line.box[2] + STRIP_REACH * (line.box[2] - line.box[0])
            ),
        )
        for line in vertical
    )
    merged: list[list[float]] = []
    for left, right in columns:
        if merged and left <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], right)
        else:
            merged.append([left, right])
    return [(left, 0.0, right, float(size[1])) for left, right in merged]


def _upright_canvas(strip: Image.Image, angle: int) -> tuple[bytes, int]:
    """The strip turned upright on a white canvas; also the canvas's offset.

    The detector scales the short side up to a fixed size; a thin strip
    would become a huge image, so it is set on a taller canvas.
    """
    upright = strip.rotate(angle, expand=True)
    height = max(upright.height, int(0.6 * upright.width))
    canvas = Image.new("RGB", (upright.width, height), "white")
    offset = (height - upright.height) // 2
    canvas.paste(upright, (0, offset))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue(), offset


def _box_back(box: Box, angle: int, offset: int, strip: Box) -> Box:
    """A box read on the upright canvas, in the prepared image's pixels."""
    u0, v0, u1, v1 = box
    v0, v1 = v0 - offset, v1 - offset
    width, height = strip[2] - strip[0], strip[3] - strip[1]
    if angle == 270:  # turned clockwise: x = v, y = height - u
        x0, x1, y0, y1 = v0, v1, height - u1, height - u0
    else:  # turned counter-clockwise: x = width - v, y = u
        x0, x1, y0, y1 = width - v1, width - v0, u0, u1
    return (strip[0] + x0, strip[1] + y0, strip[0] + x1, strip[1] + y1)


def _read_strip(image: Image.Image, strip: Box) -> list[OcrLine]:
    """The lines of the strip read upright, the way round that reads more."""
    crop = image.crop((int(strip[0]), int(strip[1]), int(strip[2]), int(strip[3])))
    best: list[OcrLine] = []
    for angle in (270, 90):
        data, offset = _upright_canvas(crop, angle)
        found = [
            OcrLine(
                text=line.text,
                confidence=line.confidence,
                box=_box_back(line.box, angle, offset, strip),
            )
            for line in run_ocr(data).lines
        ]
        if _weight(found) > _weight(best):
            best = found
    return best


def _weight(lines: list[OcrLine]) -> float:
    return sum(len(line.text) * line.confidence for line in lines)


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / max(smaller, 1.0)


def _better(found: OcrLine, line: OcrLine) -> bool:
    """A longer reading that is as sure, or that extends the first one."""
    if len(found.text) <= len(line.text) or found.confidence < 0.6:
        return False
    extends = line.text.replace(" ", "") in found.text.replace(" ", "")
    return extends or found.confidence >= line.confidence - 0.05


def reread_vertical_lines(image_bytes: bytes, ocr: OcrResult) -> OcrResult:
    """Read sideways text again, upright, and return the improved result.

    Each full-height column around a line taller than
    :data:`~herbarium_dwc.labellayout.VERTICAL_RATIO` times its width is cut
    out, turned upright both ways and read; the way that reads more wins. A
    reading replaces the first-pass line it overlaps when it is longer and
    either contains the old text or is read as surely; a reading that
    overlaps no first-pass line is added (a barcode number the first pass did
    not find). Lines elsewhere stay as they were.

    :param image_bytes: the prepared image the OCR ran on (boxes refer to it).
    :param ocr: the first OCR pass.
    :raises SpecimenError: OCR failed on a strip (kind ocr_error).

    >>> better = reread_vertical_lines(prepared.data, run_ocr(prepared.data))
    """
    vertical = [line for line in ocr.lines if is_vertical(line)]
    if not vertical:
        return ocr
    started = time.perf_counter()
    with Image.open(io.BytesIO(image_bytes)) as opened:
        image = opened.convert("RGB")
    lines = list(ocr.lines)
    for strip in _strip_boxes(vertical, image.size):
        for found in _read_strip(image, strip):
            if len(found.text) < 4 or found.confidence < 0.6:
                continue
            overlapping = [
                i
                for i, line in enumerate(lines)
                if is_vertical(line) and _overlap(line.box, found.box) > 0.5
            ]
            if not overlapping:
                logger.debug("sideways text %r found on the second look", found.text)
                lines.append(found)
            for i in overlapping:
                if _better(found, lines[i]):
                    lines[i] = OcrLine(
                        text=found.text, confidence=found.confidence, box=lines[i].box
                    )
    return OcrResult(
        engine=ocr.engine,
        text="\n".join(line.text for line in lines),
        lines=lines,
        seconds=round((ocr.seconds or 0.0) + time.perf_counter() - started, 3),
    )
