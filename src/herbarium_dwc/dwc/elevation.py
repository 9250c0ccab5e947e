"""Elevations on labels to ``minimum/maximumElevationInMeters``.

``verbatimElevation`` is always kept as written. Feet (``ft``, ``feet``, a
trailing ``'``) are converted to whole metres; a range fills the minimum and
the maximum; a single value fills both, as Darwin Core asks.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

#: Why an elevation was changed or rejected, as used in ``term:reason`` flags.
FLAG_REASONS: dict[str, str] = {
    "converted_from_feet": "feet were converted to metres (x 0.3048, rounded)",
    "unit_missing": "no unit was written, so metres cannot be assumed",
    "unparsed": "no elevation could be read",
    "out_of_range": "the value lies outside -430..8850 m (below the Dead Sea "
    "shore or above Everest)",
    "range_abbreviation_expanded": "a range written as 3-400 was read as 300-400",
    "min_max_swapped": "the minimum was larger than the maximum",
    "engine_value_replaced": "the engine's metres disagreed with the verbatim "
    "elevation and were replaced",
    "approximate": "the label marks the elevation as approximate (ca., about)",
}

FEET_TO_METRES = 0.3048
_LOWEST, _HIGHEST = -430.0, 8850.0
_NUMBER = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?"
_RANGE_RE = re.compile(
    rf"(?P<low>{_NUMBER})\s*(?P<unit1>ft\.?|feet|foot|'|m\.?|meters?|metres?)?\s*"
    rf"(?:-|–|—|to|a|bis)\s*(?P<high>{_NUMBER})"
)
_SINGLE_RE = re.compile(rf"(?P<low>{_NUMBER})")
_FEET_RE = re.compile(r"(?:\bft\b\.?|\bfeet\b|\bfoot\b|\bpies\b|\d\s*'(?!\d))", re.I)
_METRE_RE = re.compile(
    r"(?:\bm\b\.?|\bmeters?\b|\bmetres?\b|\bmts?\b\.?|\bmsnm\b|\bm\.?s\.?n\.?m\b|"
    r"\bm\s*s\.?m\.?|\bmeter\b|\d\s*m\b)",
    re.I,
)
_APPROX_RE = re.compile(r"\b(?:ca|c|circa|about|approx|approximately|cerca)\b\.?", re.I)


@dataclass
class ElevationResult:
    """Metres read from a verbatim elevation."""

    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    flags: list[str] = field(default_factory=list)

    def dwc_fields(self) -> dict[str, str]:
        """``minimumElevationInMeters`` and ``maximumElevationInMeters``."""
        if self.minimum is None or self.maximum is None:
            return {}
        return {
            "minimumElevationInMeters": format_metres(self.minimum),
            "maximumElevationInMeters": format_metres(self.maximum),
        }


def format_metres(value: float) -> str:
    """Whole metres without a decimal point; keep one decimal place if given.

    >>> format_metres(762.0), format_metres(12.5)
    ('762', '12.5')
    """
    if value == int(value):
        return str(int(value))
    return f"{value:.1f}"


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))


def parse_elevation(text: str, default_unit: str = "") -> ElevationResult:
    """Read an elevation such as ``2500 ft``, ``0-30 m`` or ``ca. 1,200 m``.

    :param text: the elevation as written.
    :param default_unit: ``"m"`` when the source term already implies metres
        (an engine's ``minimumElevationInMeters``); empty for label text,
        where a number without a unit is flagged and not converted.
    :return: an :class:`ElevationResult`; minimum/maximum are None when the
        text could not be read, and ``flags`` say why.

    >>> parse_elevation("2500 ft").dwc_fields()["minimumElevationInMeters"]
    '762'
    """
    term = "verbatimElevation"
    result = ElevationResult()
    cleaned = " ".join(text.replace("\u2019", "'").split())
    if not cleaned:
        return result
    if _APPROX_RE.search(cleaned):
        result.flags.append(f"{term}:approximate")
    feet, metres = bool(_FEET_RE.search(cleaned)), bool(_METRE_RE.search(cleaned))
    if feet and not metres:
        unit = "ft"
    elif metres and not feet:
        unit = "m"
    elif feet and metres:
        # "610 m (2000 ft)": read the first number with its own unit.
        first_feet = _FEET_RE.search(cleaned)
        first_metre = _METRE_RE.search(cleaned)
        assert first_feet is not None and first_metre is not None
        unit = "ft" if first_feet.start() < first_metre.start() else "m"
    else:
        unit = default_unit
    match = _RANGE_RE.search(cleaned)
    if match:
        low, high = _to_float(match.group("low")), _to_float(match.group("high"))
        low_digits = len(match.group("low").lstrip("-"))
        high_digits = len(match.group("high").replace(",", "").split(".")[0])
        if (
            low_digits == 1
            and high_digits >= 3
            and low * 10 ** (high_digits - 1) < high
        ):
            low *= 10 ** (high_digits - 1)
            result.flags.append("minimumElevationInMeters:range_abbreviation_expanded")
    else:
        single = _SINGLE_RE.search(cleaned)
        if not single:
            result.flags.append(f"{term}:unparsed")
            return result
        low = high = _to_float(single.group("low"))
    if not unit:
        result.flags.append(f"{term}:unit_missing")
        return result
    if low > high:
        low, high = high, low
        result.flags.append("minimumElevationInMeters:min_max_swapped")
    if unit == "ft":
        low, high = round(low * FEET_TO_METRES), round(high * FEET_TO_METRES)
        result.flags.append("minimumElevationInMeters:converted_from_feet")
    if not (_LOWEST <= low <= _HIGHEST and _LOWEST <= high <= _HIGHEST):
        result.flags.append("minimumElevationInMeters:out_of_range")
        return result
    result.minimum, result.maximum, result.unit = float(low), float(high), unit
    return result
