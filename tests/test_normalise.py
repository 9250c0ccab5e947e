"""Tests for dwc/normalise.py: settings and whole records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from herbarium_dwc.dwc.normalise import NormaliseSettings, normalise_record
from herbarium_dwc.dwc.terms import OCCURRENCE_TERM_SET
from herbarium_dwc.errors import ConfigError

SETTINGS = NormaliseSettings(reference_year=2026)


def test_settings_from_config_reads_the_normalise_section() -> None:
    settings = NormaliseSettings.from_config(
        {
            "normalise": {
                "date_order": "dmy",
                "reference_year": 2020,
                "catalog_prefixes": ["TENN-L"],
            },
            "dataset": {"institutionCode": "NY"},
        }
    )
    assert settings.date_order == "dmy"
    assert settings.reference_year == 2020
    assert settings.catalog_prefixes == ("TENN-L",)
    assert settings.institution_code == "NY"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"date_order": "ymd"}, "date_order"),
        ({"reference_year": "2020"}, "reference_year"),
        ({"earliest_year": 2000, "reference_year": 1990}, "earliest_year"),
        ({"catalog_prefixes": "NY"}, "catalog_prefixes"),
        ({"dateorder": "dmy"}, "unknown key"),
    ],
)
def test_settings_from_config_rejects_bad_values(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        NormaliseSettings.from_config(section)


def test_southern_label_corrects_a_positive_model_latitude() -> None:
    terms, flags = normalise_record(
        {
            "verbatimCoordinates": "34°55'S 138°36'E",
            "decimalLatitude": "34.9167",
            "decimalLongitude": "138.6",
        },
        SETTINGS,
    )
    assert terms["decimalLatitude"] == "-34.917"
    assert terms["decimalLongitude"] == "138.6"
    assert terms["verbatimCoordinates"] == "34°55'S 138°36'E"
    assert "decimalLatitude:hemisphere_corrected" in flags
    assert not any(f.startswith("decimalLongitude:") for f in flags)


def test_missing_hemisphere_takes_the_engine_sign_only_when_values_match() -> None:
    verbatim = {
        "verbatimCoordinates": "66°50'13.8\" N 161°38'03.3\"",
        "decimalLatitude": "66.837",
        "decimalLongitude": "-161.634",
    }
    terms, flags = normalise_record(verbatim, SETTINGS)
    assert terms["decimalLongitude"] == "-161.634"
    assert "decimalLongitude:hemisphere_from_engine" in flags
    verbatim["decimalLongitude"] = "-150.0"
    terms, flags = normalise_record(verbatim, SETTINGS)
    assert "decimalLongitude" not in terms and "decimalLatitude" not in terms
    assert "decimalLatitude:incomplete_pair" in flags


def test_a_whole_record_is_normalised_and_keeps_verbatim_terms() -> None:
    terms, flags = normalise_record(
        {
            "catalogNumber": "NY01075761",
            "scientificName": "aff. Carex",
            "recordedBy": "Coll. A. Smith & B. Jones",
            "recordNumber": "COLL. No: 84",
            "eventDate": "3 Jun 71",
            "country": "U.S.A.",
            "stateProvince": "N.Y.",
            "verbatimElevation": "2500 ft",
            "identifiedBy": "det. C. Brown, 12.VIII.1980",
            "sex": "Not Specified",
            "recordEnteredBy": "someone",
            "geodeticDatum": "WGS84",
        },
        SETTINGS,
    )
    assert terms["catalogNumber"] == "01075761"
    assert terms["institutionCode"] == "NY"
    assert terms["scientificName"] == "Carex"
    assert terms["identificationQualifier"] == "aff. Carex"
    assert terms["recordedBy"] == "A. Smith | B. Jones"
    assert terms["recordNumber"] == "84"
    assert (terms["eventDate"], terms["verbatimEventDate"]) == (
        "1971-06-03",
        "3 Jun 71",
    )
    assert (terms["countryCode"], terms["stateProvince"]) == ("US", "New York")
    assert terms["minimumElevationInMeters"] == "762"
    assert terms["verbatimElevation"] == "2500 ft"
    assert terms["identifiedBy"] == "C. Brown"
    assert terms["dateIdentified"] == "1980-08-12"
    assert "sex" not in terms and "recordEnteredBy" not in terms
    assert "geodeticDatum" not in terms  # no coordinates, so no datum
    for flag in (
        "sex:placeholder_removed",
        "recordEnteredBy:not_a_dwc_term",
        "minimumElevationInMeters:converted_from_feet",
        "catalogNumber:institution_prefix_moved",
    ):
        assert flag in flags
    assert set(terms) <= OCCURRENCE_TERM_SET


def test_det_date_in_the_collecting_date_moves_to_date_identified() -> None:
    terms, flags = normalise_record({"verbatimEventDate": "det. 1988"}, SETTINGS)
    assert "eventDate" not in terms
    assert terms["dateIdentified"] == "1988"
    assert "eventDate:determination_date_moved" in flags


def test_verbatim_date_wins_over_a_contradicting_engine_date() -> None:
    terms, flags = normalise_record(
        {"verbatimEventDate": "19-XII-1947", "eventDate": "1947-07-19"}, SETTINGS
    )
    assert terms["eventDate"] == "1947-12-19"
    assert "eventDate:engine_value_replaced" in flags


def test_configured_date_order_reads_day_first() -> None:
    settings = NormaliseSettings(date_order="dmy", reference_year=2026)
    terms, _ = normalise_record({"eventDate": "1/9/82"}, settings)
    assert terms["eventDate"] == "1982-09-01"


@pytest.mark.shared_data
def test_real_model_replies_normalise_to_darwin_core_only(shared_data: Path) -> None:
    path = shared_data / "aafc" / "replies" / "openrouter_qwen25vl72b_free_raw.jsonl"
    replies = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
    ]
    assert replies
    for reply in replies:
        # Some replies hold null values; those terms are simply absent.
        verbatim = {k: v["value"] for k, v in reply["dwc"].items() if v.get("value")}
        terms, flags = normalise_record(verbatim, SETTINGS)
        assert set(terms) <= OCCURRENCE_TERM_SET
        assert all(":" in flag for flag in flags)
        if "eventDate" in verbatim:
            # These replies already hold ISO dates; normalising keeps them.
            assert terms["eventDate"] == verbatim["eventDate"]
        if "catalogNumber" in verbatim:
            assert terms["catalogNumber"] == verbatim["catalogNumber"]
