"""Table-driven tests for dwc/names.py (gbif-name-parser underneath)."""

from __future__ import annotations

import pytest

from herbarium_dwc.dwc.names import parse_scientific_name

# (name, expected terms (subset), flag or None)
CASES = [
    (
        "Mentha ×piperita L.",
        {
            "scientificName": "Mentha ×piperita L.",
            "genus": "Mentha",
            "specificEpithet": "piperita",
            "scientificNameAuthorship": "L.",
            "taxonRank": "species",
        },
        None,
    ),
    (
        "Mentha x piperita L.",
        {"scientificName": "Mentha ×piperita L.", "specificEpithet": "piperita"},
        "scientificName:hybrid_sign_normalised",
    ),
    (
        "aff. Carex",
        {
            "scientificName": "Carex",
            "genus": "Carex",
            "identificationQualifier": "aff. Carex",
            "verbatimIdentification": "aff. Carex",
        },
        "scientificName:qualifier_moved",
    ),
    (
        "Carex cf. aquatilis Wahlenb.",
        {
            "scientificName": "Carex aquatilis Wahlenb.",
            "specificEpithet": "aquatilis",
            "identificationQualifier": "cf. aquatilis",
        },
        "scientificName:qualifier_moved",
    ),
    (
        "Carex sp.",
        {
            "scientificName": "Carex",
            "genus": "Carex",
            "identificationQualifier": "sp.",
            "taxonRank": "genus",
        },
        "scientificName:qualifier_moved",
    ),
    (
        "Hierochloe odorata (L.) Beauv.",
        {
            "genus": "Hierochloe",
            "specificEpithet": "odorata",
            "scientificNameAuthorship": "(L.) Beauv.",
        },
        None,
    ),
    (
        "Polycoccum opulentum (Th. Fr.) Arnold",
        {"scientificNameAuthorship": "(Th. Fr.) Arnold"},
        None,
    ),
    (
        "Stipa spartea Trin. var. curtiseta Hitchc.",
        {
            "specificEpithet": "spartea",
            "infraspecificEpithet": "curtiseta",
            "taxonRank": "variety",
            "scientificNameAuthorship": "Hitchc.",
        },
        None,
    ),
    ("STIPA COMPTA RYDB.", {"genus": "Stipa", "specificEpithet": "compta"}, None),
    ("Asteraceae", {"scientificName": "Asteraceae", "taxonRank": "family"}, None),
    (
        "Tobacco mosaic virus",
        {"scientificName": "Tobacco mosaic virus"},
        "scientificName:unparsed",
    ),
]


@pytest.mark.parametrize(("name", "expected", "flag"), CASES)
def test_parse_scientific_name(
    name: str, expected: dict[str, str], flag: str | None
) -> None:
    result = parse_scientific_name(name)
    for term, value in expected.items():
        assert result.terms.get(term) == value, term
    if flag:
        assert flag in result.flags


@pytest.mark.parametrize(
    "name", ["aff. Carex", "Carex aff. aquatilis", "cf Carex", "Carex cf. aquatilis L."]
)
def test_qualifiers_never_stay_in_the_name_or_epithets(name: str) -> None:
    terms = parse_scientific_name(name).terms
    for term in ("scientificName", "genus", "specificEpithet"):
        assert "aff" not in terms.get(term, "")
        assert "cf" not in terms.get(term, "")
    assert terms["identificationQualifier"].split()[0] in ("aff.", "cf.")


def test_engine_qualifier_is_kept_when_the_name_has_none() -> None:
    terms = parse_scientific_name("Carex aquatilis", "cf. aquatilis").terms
    assert terms["identificationQualifier"] == "cf. aquatilis"
    assert terms["scientificName"] == "Carex aquatilis"
