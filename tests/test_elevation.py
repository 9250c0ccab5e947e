"""Table-driven tests for dwc/elevation.py."""

from __future__ import annotations

import pytest

from herbarium_dwc.dwc.elevation import parse_elevation

# (verbatim, minimum, maximum, flag or None)
CASES = [
    ("2500 ft", "762", "762", "minimumElevationInMeters:converted_from_feet"),
    ("3500'", "1067", "1067", "minimumElevationInMeters:converted_from_feet"),
    ("1,800 ft", "549", "549", None),
    ("10,000 ft.", "3048", "3048", None),
    ("0-30 m", "0", "30", None),
    ("1600-1900 ft", "488", "579", None),
    ("300-400m.", "300", "400", None),
    ("3-400m", "300", "400", "minimumElevationInMeters:range_abbreviation_expanded"),
    ("550 METERS", "550", "550", None),
    ("(m.) 61", "61", "61", None),
    ("ca. 1200 m", "1200", "1200", "verbatimElevation:approximate"),
    ("610 m (2000 ft)", "610", "610", None),
    ("400-300 m", "300", "400", "minimumElevationInMeters:min_max_swapped"),
]


@pytest.mark.parametrize(("text", "low", "high", "flag"), CASES)
def test_parse_elevation(text: str, low: str, high: str, flag: str | None) -> None:
    result = parse_elevation(text)
    assert result.dwc_fields() == {
        "minimumElevationInMeters": low,
        "maximumElevationInMeters": high,
    }
    if flag:
        assert flag in result.flags


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("600", "verbatimElevation:unit_missing"),
        ("high on the ridge", "verbatimElevation:unparsed"),
        ("9500 m", "minimumElevationInMeters:out_of_range"),
    ],
)
def test_parse_elevation_rejects_with_a_flag(text: str, flag: str) -> None:
    result = parse_elevation(text)
    assert result.dwc_fields() == {}
    assert flag in result.flags


def test_engine_metres_need_no_unit() -> None:
    fields = parse_elevation("600", default_unit="m").dwc_fields()
    assert fields["minimumElevationInMeters"] == "600"
