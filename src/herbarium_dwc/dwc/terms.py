"""Darwin Core terms used by herbarium-dwc, in TDWG spelling and order.

See https://dwc.tdwg.org/terms/ for each term's definition.
"""

from __future__ import annotations

DWC_NS = "http://rs.tdwg.org/dwc/terms/"
DC_NS = "http://purl.org/dc/terms/"

# Terms an engine is asked to read from the label.
EXTRACTED_TERMS: tuple[str, ...] = (
    "catalogNumber",
    "scientificName",
    "recordedBy",
    "recordNumber",
    "eventDate",
    "verbatimEventDate",
    "country",
    "stateProvince",
    "county",
    "municipality",
    "locality",
    "habitat",
    "verbatimCoordinates",
    "decimalLatitude",
    "decimalLongitude",
    "verbatimElevation",
    "identifiedBy",
    "dateIdentified",
)

# Terms that dc: rather than dwc: defines (for meta.xml term URIs).
DC_TERMS: frozenset[str] = frozenset(
    {
        "type",
        "modified",
        "language",
        "license",
        "rightsHolder",
        "accessRights",
        "bibliographicCitation",
        "references",
    }
)


def term_uri(term: str) -> str:
    """Return the full URI of a Darwin Core (or Dublin Core) term name."""
    return (DC_NS if term in DC_TERMS else DWC_NS) + term
