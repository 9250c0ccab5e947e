"""Table-driven tests for dwc/dates.py."""

from __future__ import annotations

import pytest

from herbarium_dwc.dwc.dates import (
    MONTH_SPELLINGS,
    is_iso_date,
    month_from_word,
    parse_date,
)

REFERENCE = 2026

# (text, date_order, expected ISO, a flag that must be raised or None)
CASES = [
    ("14.VIII.1969", "mdy", "1969-08-14", None),
    ("3.XI.1969", "mdy", "1969-11-03", None),
    ("VIII-14-1969", "mdy", "1969-08-14", None),
    ("30-V-2001", "mdy", "2001-05-30", None),
    ("Aug. 1969", "mdy", "1969-08", None),
    ("1969", "mdy", "1969", None),
    ("1969-08", "mdy", "1969-08", None),
    ("1969-08-14/1969-08-20", "mdy", "1969-08-14/1969-08-20", None),
    ("3 Jun 71", "mdy", "1971-06-03", "eventDate:two_digit_year"),
    ("Sept.21, 1960", "mdy", "1960-09-21", None),
    ("1/9/82", "mdy", "1982-01-09", "eventDate:day_month_order_assumed"),
    ("1/9/82", "dmy", "1982-09-01", "eventDate:day_month_order_assumed"),
    ("20/06/47", "mdy", "1947-06-20", "eventDate:two_digit_year"),
    ("14-8-67", "mdy", "1967-08-14", "eventDate:two_digit_year"),
    ("18 September 1984", "mdy", "1984-09-18", None),
    ("12 août 1965", "mdy", "1965-08-12", None),
    ("13 juil. 1969", "mdy", "1969-07-13", None),
    ("11 julio, 1985", "mdy", "1985-07-11", None),
    ("14 de agosto de 1969", "mdy", "1969-08-14", None),
    ("14. März 1969", "mdy", "1969-03-14", None),
    ("Augusti 1870", "mdy", "1870-08", None),
    ("15 de março de 1990", "mdy", "1990-03-15", None),
    ("junho 1950", "mdy", "1950-06", None),
    ("19-23 June 1967", "mdy", "1967-06-19/1967-06-23", None),
    ("Aug 14-20, 1969", "mdy", "1969-08-14/1969-08-20", None),
    ("Aug 1-5, 1969", "mdy", "1969-08-01/1969-08-05", None),
    ("AUG. 31-SEPT. 20, 1905", "mdy", "1905-08-31/1905-09-20", None),
    ("June July Aug. 1940", "mdy", "1940-06/1940-08", None),
    ("MARCH, APRIL AND MAY, 1903", "mdy", "1903-03/1903-05", None),
    ("1856-7", "mdy", "1856/1857", None),
    ("0ct., 1934", "mdy", "1934-10", "eventDate:ocr_confusion_fixed"),
    ("20 July l956", "mdy", "1956-07-20", "eventDate:ocr_confusion_fixed"),
    ("ca. 1920", "mdy", "1920", "eventDate:approximate"),
    ("summer 1969", "mdy", "1969", "eventDate:season_not_encoded"),
    ("1969-08-14T10:00:00", "mdy", "1969-08-14", None),
    # Rejected: the ISO value stays empty and a flag says why.
    ("3 Jun 19", "mdy", "", "eventDate:ambiguous_century"),
    ("May 22", "mdy", "", "eventDate:no_year"),
    ("31 Feb 1969", "mdy", "", "eventDate:invalid_date"),
    ("2031", "mdy", "", "eventDate:in_future"),
    ("sometime", "mdy", "", "eventDate:unparsed"),
]


@pytest.mark.parametrize(("text", "order", "expected", "flag"), CASES)
def test_parse_date_reads_label_forms(
    text: str, order: str, expected: str, flag: str | None
) -> None:
    result = parse_date(text, date_order=order, reference_year=REFERENCE)  # type: ignore[arg-type]
    assert result.iso == expected
    if flag:
        assert flag in result.flags


def test_parse_date_never_invents_a_day() -> None:
    fields = parse_date("Aug. 1969", reference_year=REFERENCE).dwc_fields()
    assert fields == {"year": "1969", "month": "8"}


def test_parse_date_fills_day_of_year_for_both_ends() -> None:
    fields = parse_date("19-23 June 1967", reference_year=REFERENCE).dwc_fields()
    assert fields["startDayOfYear"] == "170"
    assert fields["endDayOfYear"] == "174"
    assert "day" not in fields
    assert fields["month"] == "6"


def test_two_digit_year_is_never_in_the_future() -> None:
    # With 1971 as the reference year, "71" can only be 1971, and "72" is
    # 1972 (future) or 1872 (before earliest_year), so it is rejected.
    assert parse_date("3 Jun 71", reference_year=1971).iso == "1971-06-03"
    assert parse_date("3 Jun 72", reference_year=1971).iso == ""


def test_earliest_year_widens_the_centuries_and_makes_years_ambiguous() -> None:
    result = parse_date("3 Jun 71", reference_year=REFERENCE, earliest_year=1800)
    assert result.iso == ""
    assert "eventDate:ambiguous_century" in result.flags


def test_flags_name_the_term_asked_for() -> None:
    result = parse_date("93", term="dateIdentified", reference_year=REFERENCE)
    assert result.iso == "1993"
    assert result.flags == ["dateIdentified:two_digit_year"]


@pytest.mark.parametrize(
    ("word", "month"),
    [
        ("Aug.", 8),
        ("août", 8),
        ("Sept", 9),
        ("VIII", 8),
        ("xi", 11),
        ("dic", 12),
        ("Juli", 7),
        ("ju", None),
        ("Mayo", 5),
        ("Smith", None),
    ],
)
def test_month_from_word(word: str, month: int | None) -> None:
    assert month_from_word(word) == month


def test_month_from_word_reads_every_listed_spelling() -> None:
    # The label parser searches text for MONTH_SPELLINGS and reads the month
    # back with month_from_word; the two must agree.
    assert {word: month_from_word(word) for word in MONTH_SPELLINGS} == MONTH_SPELLINGS
    assert month_from_word("março") == month_from_word("marco") == 3


@pytest.mark.parametrize(
    ("text", "iso"),
    [("1969", True), ("1969-08-14/1969-08-20", True), ("14 Aug 1969", False)],
)
def test_is_iso_date(text: str, iso: bool) -> None:
    assert is_iso_date(text) is iso
