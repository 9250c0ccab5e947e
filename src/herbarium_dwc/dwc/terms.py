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

# Every term an Occurrence core row may carry, in the order of the Darwin Core
# quick reference (record-level, occurrence, organism, material, event,
# location, identification, taxon). occurrence.csv and meta.xml follow it.
OCCURRENCE_TERMS: tuple[str, ...] = (
    # record-level
    "occurrenceID", "basisOfRecord", "type", "modified", "language", "license",
    "rightsHolder", "accessRights", "bibliographicCitation", "references",
    "institutionID", "collectionID", "datasetID", "institutionCode",
    "collectionCode", "datasetName", "ownerInstitutionCode", "informationWithheld",
    "dataGeneralizations", "dynamicProperties",
    # occurrence
    "catalogNumber", "recordNumber", "recordedBy", "recordedByID",
    "individualCount", "organismQuantity", "organismQuantityType", "sex",
    "lifeStage", "reproductiveCondition", "caste", "behavior", "vitality",
    "establishmentMeans", "degreeOfEstablishment", "pathway",
    "georeferenceVerificationStatus", "occurrenceStatus", "associatedMedia",
    "associatedOccurrences", "associatedReferences", "associatedSequences",
    "associatedTaxa", "otherCatalogNumbers", "occurrenceRemarks",
    # organism and material
    "organismID", "organismName", "organismScope", "associatedOrganisms",
    "previousIdentifications", "organismRemarks", "materialEntityID",
    "preparations", "disposition", "verbatimLabel",
    # event
    "eventID", "parentEventID", "eventType", "fieldNumber", "eventDate",
    "eventTime", "startDayOfYear", "endDayOfYear", "year", "month", "day",
    "verbatimEventDate", "habitat", "samplingProtocol", "sampleSizeValue",
    "sampleSizeUnit", "samplingEffort", "fieldNotes", "eventRemarks",
    # location
    "locationID", "higherGeographyID", "higherGeography", "continent",
    "waterBody", "islandGroup", "island", "country", "countryCode",
    "stateProvince", "county", "municipality", "locality", "verbatimLocality",
    "minimumElevationInMeters", "maximumElevationInMeters", "verbatimElevation",
    "verticalDatum", "minimumDepthInMeters", "maximumDepthInMeters",
    "verbatimDepth", "locationAccordingTo", "locationRemarks", "decimalLatitude",
    "decimalLongitude", "geodeticDatum", "coordinateUncertaintyInMeters",
    "coordinatePrecision", "verbatimCoordinates", "verbatimLatitude",
    "verbatimLongitude", "verbatimCoordinateSystem", "verbatimSRS",
    "footprintWKT", "georeferencedBy", "georeferencedDate",
    "georeferenceProtocol", "georeferenceSources", "georeferenceRemarks",
    # identification
    "identificationID", "verbatimIdentification", "identificationQualifier",
    "typeStatus", "identifiedBy", "identifiedByID", "dateIdentified",
    "identificationReferences", "identificationVerificationStatus",
    "identificationRemarks",
    # taxon
    "taxonID", "scientificNameID", "scientificName", "acceptedNameUsage",
    "originalNameUsage", "nameAccordingTo", "namePublishedIn",
    "namePublishedInYear", "higherClassification", "kingdom", "phylum", "class",
    "order", "superfamily", "family", "subfamily", "tribe", "subtribe", "genus",
    "genericName", "subgenus", "infragenericEpithet", "specificEpithet",
    "infraspecificEpithet", "cultivarEpithet", "taxonRank", "verbatimTaxonRank",
    "scientificNameAuthorship", "vernacularName", "nomenclaturalCode",
    "taxonomicStatus", "nomenclaturalStatus", "taxonRemarks",
)
OCCURRENCE_TERM_SET: frozenset[str] = frozenset(OCCURRENCE_TERMS)
