"""The offline engine: OCR text (from the ocr stage) through the label parser."""

from __future__ import annotations

import time

from herbarium_dwc.engines import EngineResult
from herbarium_dwc.errors import FailureKind, SpecimenError
from herbarium_dwc.images import PreparedImage
from herbarium_dwc.labelparse import ParseSettings, parse_label
from herbarium_dwc.ocr import OCR_ENGINE
from herbarium_dwc.record import EngineInfo, OcrResult
from herbarium_dwc.settings import OFFLINE_PARSER_VERSION


class OfflineEngine:
    """Reads labels with RapidOCR and a rule-based parser; no network."""

    needs_ocr = True

    def __init__(self, settings: ParseSettings | None = None) -> None:
        self.info = EngineInfo(
            kind="offline", model=OCR_ENGINE, prompt_version=OFFLINE_PARSER_VERSION
        )
        self.settings = settings or ParseSettings()

    def extract(
        self, specimen_id: str, image: PreparedImage, ocr: OcrResult | None
    ) -> EngineResult:
        """Parse the OCR text of one specimen.

        :raises SpecimenError: OCR found no text at all (kind empty_response).
        """
        if ocr is None:
            raise SpecimenError(
                FailureKind.ocr_error,
                f"{specimen_id}: the offline engine needs OCR text and got none",
            )
        if not ocr.text.strip():
            raise SpecimenError(
                FailureKind.empty_response,
                f"{specimen_id}: OCR found no text on the image; check that the "
                "label is visible and in focus, or try an API engine",
            )
        parsed = parse_label(ocr, self.settings)
        flags = list(parsed.flags)
        barcode = choose_barcode(ocr)
        if barcode:
            read = parsed.verbatim.get("catalogNumber", "")
            if read and _digits(read) != _digits(barcode):
                flags.append("catalogNumber:barcode_differs_from_printed_text")
            parsed.verbatim["catalogNumber"] = barcode
            parsed.confidence["catalogNumber"] = 0.99
        return EngineResult(
            verbatim=parsed.verbatim, confidence=parsed.confidence, flags=flags
        )


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def choose_barcode(ocr: OcrResult) -> str | None:
    """Pick the barcode that holds the catalogue number, if any was decoded.

    A barcode whose digits also appear in the OCR text wins (the printed
    number under it confirms it); otherwise the first one with five or more
    digits. Barcodes without digits (URLs in QR codes) are ignored.
    """
    candidates = [code.strip() for code in ocr.barcodes if len(_digits(code)) >= 5]
    if not candidates:
        return None
    text = _digits(ocr.text)
    for code in candidates:
        if _digits(code) in text:
            return code
    return candidates[0]


class NoopEngine:
    """Returns nothing: measures the workflow's own overhead.

    :param delay_s: seconds to wait per specimen, to stand in for an engine's
        latency in benchmarks and in tests that stop a run half-way.
    """

    needs_ocr = False

    def __init__(self, delay_s: float = 0.0) -> None:
        self.info = EngineInfo(kind="noop", model="noop", prompt_version="none")
        self.delay_s = delay_s

    def extract(
        self, specimen_id: str, image: PreparedImage, ocr: OcrResult | None
    ) -> EngineResult:
        """Return an empty result, after the configured delay."""
        if self.delay_s:
            time.sleep(self.delay_s)
        return EngineResult(verbatim={})
