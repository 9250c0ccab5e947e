"""Map OCR text of a herbarium label to Darwin Core terms (first version)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from herbarium_dwc.record import OcrResult

_BARCODE = re.compile(r"\b(\d{6,10})\b")


@dataclass
class ParsedLabel:
    """Verbatim DwC values read from a label, with a 0-1 confidence each."""

    verbatim: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)


def parse_label(ocr: OcrResult) -> ParsedLabel:
    """Read Darwin Core terms from OCR lines (catalogNumber only so far)."""
    parsed = ParsedLabel()
    for line in ocr.lines:
        match = _BARCODE.search(line.text)
        if match:
            parsed.verbatim["catalogNumber"] = match.group(1)
            parsed.confidence["catalogNumber"] = line.confidence
            break
    return parsed
