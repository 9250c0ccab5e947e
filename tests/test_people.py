"""Table-driven tests for dwc/people.py."""

from __future__ import annotations

import pytest

from herbarium_dwc.dwc.people import (
    is_placeholder,
    normalise_catalog_number,
    normalise_people,
    normalise_record_number,
    split_people,
)

# (recordedBy, recordedBy out)
COLLECTORS = [
    ("T. A. Zanoni, D. Atha & M. Vives", "T. A. Zanoni | D. Atha | M. Vives"),
    ("Coll. J. Looman", "J. Looman"),
    ("leg. W. Kiener", "W. Kiener"),
    ("Collector: A. C. Budd", "A. C. Budd"),
    ("Collector(s): A. C. Budd", "A. C. Budd"),
    ("A. J. Sharp and Z. Iwatsuki", "A. J. Sharp | Z. Iwatsuki"),
    ("Samuel Brisson et Philippe Forest", "Samuel Brisson | Philippe Forest"),
    ("R. A. & E. S. Howard", "R. A. Howard | E. S. Howard"),
    ("Stephen & Sandra Talbot", "Stephen Talbot | Sandra Talbot"),
    ("N. L. BRITTON L. J. K. BRACE", "N. L. BRITTON | L. J. K. BRACE"),
    ("Elbert L. Little, Jr.", "Elbert L. Little, Jr."),
    ("H. Kashiwadani (no. 16298) and Y. Endo", "H. Kashiwadani | Y. Endo"),
    ("Dr. & Mrs. A. J. Sharp, Z. Iwatsuki", "Dr. & Mrs. A. J. Sharp | Z. Iwatsuki"),
]


@pytest.mark.parametrize(("text", "expected"), COLLECTORS)
def test_recorded_by_is_pipe_separated_without_labels(text: str, expected: str) -> None:
    result, _ = normalise_people(text, "", "")
    assert result.terms["recordedBy"] == expected


def test_det_in_recorded_by_goes_to_identified_by() -> None:
    result, when = normalise_people(
        "Coll. A. Smith & B. Jones det. C. Brown 1970", "", ""
    )
    assert result.terms["recordedBy"] == "A. Smith | B. Jones"
    assert result.terms["identifiedBy"] == "C. Brown"
    assert when == "1970"
    assert "recordedBy:determiner_moved" in result.flags


def test_collected_and_determined_by_the_same_person() -> None:
    result, _ = normalise_people("Coll. & det. J. Smith", "", "")
    assert result.terms == {"recordedBy": "J. Smith", "identifiedBy": "J. Smith"}


@pytest.mark.parametrize(
    ("identified", "name", "when"),
    [
        ("det. George W. Hult, Nov. 4, 1962", "George W. Hult", "Nov. 4, 1962"),
        ("det. S.I. Harrijack 1988", "S.I. Harrijack", "1988"),
        ("Det.: A. Mayo, 12.VIII.1970", "A. Mayo", "12.VIII.1970"),
        ("John W. Thomson", "John W. Thomson", ""),
    ],
)
def test_det_slip_splits_into_name_and_date(
    identified: str, name: str, when: str
) -> None:
    result, found = normalise_people("", identified, "")
    assert result.terms["identifiedBy"] == name
    assert found == when


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("COLL. No: 84", "84"),
        ("C. No. 70-2", "70-2"),
        ("No. 123", "123"),
        ("#45", "45"),
        ("12399", "12399"),
        ("NO13350", "NO13350"),
        ("87-39", "87-39"),
        ("s.n.", None),
    ],
)
def test_record_number_loses_its_label(text: str, expected: str | None) -> None:
    assert normalise_record_number(text).terms.get("recordNumber") == expected


@pytest.mark.parametrize(
    ("text", "institution", "catalog", "code"),
    [
        ("NY01075761", "", "01075761", "NY"),
        ("NY 00020326", "NY", "00020326", "NY"),
        ("AAFC-000084", "", "000084", "AAFC"),
        ("000084", "", "000084", None),
        ("TENN-L-0000087", "", "TENN-L-0000087", None),
        ("Cat. No. 00123", "", "00123", None),
    ],
)
def test_catalog_number_keeps_zeros_and_moves_the_prefix(
    text: str, institution: str, catalog: str, code: str | None
) -> None:
    result = normalise_catalog_number(text, institution)
    assert result.terms["catalogNumber"] == catalog
    assert result.terms.get("institutionCode") == code


def test_configured_prefix_is_moved_even_in_lower_case() -> None:
    result = normalise_catalog_number("tenn-l-0000087", "", ("TENN-L",))
    assert result.terms == {"catalogNumber": "0000087", "institutionCode": "TENN-L"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Not Specified", True), ("unknown", True), ("N/A", True), ("J. Looman", False)],
)
def test_is_placeholder(value: str, expected: bool) -> None:
    assert is_placeholder(value) is expected


def test_split_people_keeps_a_single_name() -> None:
    assert split_people("Wise") == ["Wise"]
