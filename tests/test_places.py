"""Table-driven tests for dwc/places.py."""

from __future__ import annotations

import pytest

from herbarium_dwc.dwc.places import country_code, normalise_place, title_case

# (country, stateProvince, locality, countryCode, stateProvince out, flag)
CASES = [
    ("U.S.A.", "Minn.", "", "US", "Minnesota", "stateProvince:abbreviation_expanded"),
    (
        "CANADA",
        "Sask.",
        "",
        "CA",
        "Saskatchewan",
        "stateProvince:abbreviation_expanded",
    ),
    ("Canada", "B.C.", "", "CA", "British Columbia", None),
    ("USA", "N.Y.", "", "US", "New York", None),
    ("USA", "NY", "", "US", "New York", None),
    ("Canada", "NORTHWEST TERRITORIES", "", "CA", "Northwest Territories", None),
    (
        "Cuba",
        "PROVINCE OF PINAR DEL RIO",
        "",
        "CU",
        "Pinar del Rio",
        "stateProvince:prefix_removed",
    ),
    ("Porto Rico", "", "", "PR", None, None),
    ("República Dominicana", "Prov. Samaná", "", "DO", "Samaná", None),
    ("Japan", "Hokkaido", "", "JP", "Hokkaido", None),
    ("Canada", "Québec", "", "CA", "Québec", None),
    # Former countries: never a wrong code.
    ("Zaire", "", "", "CD", None, "countryCode:historical_country"),
    ("East Germany", "", "", "DE", None, "countryCode:historical_country"),
    (
        "USSR",
        "",
        "Ukrainian SSR, Crimea, Yalta",
        "UA",
        None,
        "countryCode:derived_from_locality",
    ),
    (
        "Yugoslavia",
        "",
        "Dalmatia, near Split",
        "HR",
        None,
        "countryCode:derived_from_locality",
    ),
    (
        "USSR",
        "",
        "Mountains near the river",
        None,
        None,
        "countryCode:historical_country_ambiguous",
    ),
    ("Yugoslavia", "", "", None, None, "countryCode:historical_country_ambiguous"),
    (
        "Czechoslovakia",
        "",
        "Bohemia, Praha",
        "CZ",
        None,
        "countryCode:derived_from_locality",
    ),
    ("Narnia", "", "", None, None, "countryCode:unknown_country"),
]


@pytest.mark.parametrize(
    ("country", "state", "locality", "code", "state_out", "flag"), CASES
)
def test_normalise_place(
    country: str,
    state: str,
    locality: str,
    code: str | None,
    state_out: str | None,
    flag: str | None,
) -> None:
    result = normalise_place(country, state, locality)
    assert result.terms.get("countryCode") == code
    assert result.terms.get("stateProvince") == state_out
    if flag:
        assert flag in result.flags


def test_engine_country_code_that_disagrees_is_flagged() -> None:
    result = normalise_place("Canada", "", "", "US")
    assert result.terms["countryCode"] == "CA"
    assert "countryCode:code_conflict" in result.flags


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("U. S. A.", "US"),
        ("UNITED STATES", "US"),
        ("CAN", "CA"),
        ("Bahama Islands", "BS"),
        ("Deutschland", "DE"),
        ("USSR", None),
        ("", None),
    ],
)
def test_country_code(name: str, code: str | None) -> None:
    assert country_code(name) == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NEW YORK", "New York"),
        ("USA", "USA"),
        ("S.A.", "S.A."),
        ("québec", "Québec"),
        ("Pinar del Rio", "Pinar del Rio"),
    ],
)
def test_title_case(text: str, expected: str) -> None:
    assert title_case(text) == expected
