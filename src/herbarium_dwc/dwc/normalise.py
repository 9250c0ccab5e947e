"""Normalise verbatim engine output into Darwin Core terms.

This first version trims whitespace, drops empty values and flags keys that
are not Darwin Core terms; the per-concept normalisers (dates, coordinates,
places, names) replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS


@dataclass(frozen=True)
class NormaliseSettings:
    """Choices normalisation cannot make from the label alone."""

    date_order: str = "mdy"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NormaliseSettings:
        """Build the settings from the workflow config's ``normalise`` section."""
        section = config.get("normalise", {}) or {}
        return cls(date_order=str(section.get("date_order", cls.date_order)))


def normalise_record(
    verbatim: dict[str, str], settings: NormaliseSettings
) -> tuple[dict[str, str], list[str]]:
    """Return the normalised terms and the flags raised on the way."""
    dwc: dict[str, str] = {}
    flags: list[str] = []
    for term, value in verbatim.items():
        cleaned = " ".join(str(value).split())
        if not cleaned:
            continue
        if term not in EXTRACTED_TERMS:
            flags.append(f"{term}:not_extracted_term")
        dwc[term] = cleaned
    return dwc, flags
