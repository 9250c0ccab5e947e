"""Normalise what an engine read into publishable Darwin Core terms.

:func:`normalise_record` takes the engine's ``verbatim`` terms and returns the
normalised terms (the verbatim* terms kept alongside) and a list of flags.
Each flag is ``term:reason``; the reasons each concept can give are listed in
the ``FLAG_REASONS`` table of its module (dates, coordinates, places, names,
people, elevation) and in :data:`FLAG_REASONS` here.

What gets a flag: every change other than re-writing a value into its
standard form (an ISO date, decimal degrees, a title-cased name) while the
original stays in a verbatim term; every value dropped or rejected; every
guess (a century, a day-month order, a hemisphere).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from herbarium_dwc.dwc import coordinates, dates, elevation, names, people, places
from herbarium_dwc.dwc.terms import OCCURRENCE_TERM_SET
from herbarium_dwc.errors import ConfigError

logger = logging.getLogger(__name__)

#: Reasons raised here rather than in a concept module.
FLAG_REASONS: dict[str, str] = {
    "placeholder_removed": "the engine wrote a placeholder (Not Specified, "
    "unknown, N/A) instead of leaving the term empty",
    "not_a_dwc_term": "the engine returned a key that is not a Darwin Core "
    "Occurrence term; it is kept only in the record's verbatim",
    "incomplete_pair": "only one of latitude and longitude could be read, so "
    "neither is written",
    "engine_value_unverified": "the verbatim text could not be read, so the "
    "engine's own interpretation is used unchecked",
    "hemisphere_from_engine": "the label gave no hemisphere; the engine's sign "
    "was used because its value matches the label's",
}

# Terms that a concept module writes; everything else passes through cleaned.
_HANDLED = frozenset(
    {
        "eventDate",
        "verbatimEventDate",
        "year",
        "month",
        "day",
        "startDayOfYear",
        "endDayOfYear",
        "dateIdentified",
        "decimalLatitude",
        "decimalLongitude",
        "verbatimCoordinates",
        "verbatimLatitude",
        "verbatimLongitude",
        "verbatimCoordinateSystem",
        "geodeticDatum",
        "country",
        "countryCode",
        "stateProvince",
        "scientificName",
        "genus",
        "specificEpithet",
        "infraspecificEpithet",
        "taxonRank",
        "scientificNameAuthorship",
        "identificationQualifier",
        "verbatimIdentification",
        "recordedBy",
        "identifiedBy",
        "recordNumber",
        "catalogNumber",
        "minimumElevationInMeters",
        "maximumElevationInMeters",
        "verbatimElevation",
    }
)
_SAME_POINT_DEGREES = 0.01


@dataclass(frozen=True)
class NormaliseSettings:
    """How to read what labels leave open.

    :param date_order: ``"mdy"`` or ``"dmy"``: how to read ``1/9/82`` when both
        numbers could be the month.
    :param reference_year: no date may be later; two-digit years are read
        against it. None means the current year.
    :param earliest_year: the earliest year a two-digit year may stand for.
    :param institution_code: the dataset's institutionCode; a catalogue number
        starting with it has it moved out.
    :param catalog_prefixes: further barcode prefixes that name an institution.
    """

    date_order: dates.DateOrder = "mdy"
    reference_year: int | None = None
    earliest_year: int = 1900
    institution_code: str = ""
    catalog_prefixes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NormaliseSettings:
        """Build settings from the ``normalise:`` section (or the whole config).

        :param config: either the ``normalise:`` mapping, or the whole workflow
            config holding ``normalise:`` and ``dataset:`` (whose
            ``institutionCode`` is then used for catalogue prefixes).
        :raises ConfigError: a key has a value of the wrong type or range.

        >>> NormaliseSettings.from_config({"date_order": "dmy"}).date_order
        'dmy'
        """
        section: Mapping[str, Any] = config
        institution = ""
        if "normalise" in config or "dataset" in config:
            section = config.get("normalise") or {}
            institution = str(
                (config.get("dataset") or {}).get("institutionCode") or ""
            )
        known = {
            "date_order",
            "reference_year",
            "earliest_year",
            "catalog_prefixes",
            "institution_code",
        }
        unknown = set(section) - known
        if unknown:
            raise ConfigError(
                f"normalise: unknown key(s) {sorted(unknown)}; the known keys are "
                f"{sorted(known)}. Remove or rename them in config.yaml."
            )
        order = section.get("date_order", "mdy")
        if order not in ("mdy", "dmy"):
            raise ConfigError(
                f"normalise.date_order is {order!r}; use 'mdy' (1/9/82 = 9 January) "
                "or 'dmy' (1/9/82 = 1 September)."
            )
        reference = section.get("reference_year")
        earliest = section.get("earliest_year", 1900)
        for key, value in (("reference_year", reference), ("earliest_year", earliest)):
            if value is not None and (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 1500 <= value <= 3000
            ):
                raise ConfigError(
                    f"normalise.{key} is {value!r}; give a four-digit year "
                    "between 1500 and 3000."
                )
        if reference is not None and earliest > reference:
            raise ConfigError(
                f"normalise.earliest_year ({earliest}) is after reference_year "
                f"({reference}); lower earliest_year."
            )
        prefixes = section.get("catalog_prefixes") or []
        if not isinstance(prefixes, list | tuple) or not all(
            isinstance(p, str) for p in prefixes
        ):
            raise ConfigError(
                f"normalise.catalog_prefixes is {prefixes!r}; give a list of "
                "strings such as ['NY', 'TENN']."
            )
        return cls(
            date_order=order,
            reference_year=reference,
            earliest_year=earliest,
            institution_code=str(section.get("institution_code") or institution),
            catalog_prefixes=tuple(prefixes),
        )


def _clean_input(
    verbatim: Mapping[str, Any], flags: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Split the engine's terms into Darwin Core values and passthrough terms."""
    values: dict[str, str] = {}
    for raw_key, raw_value in verbatim.items():
        key = str(raw_key).removeprefix("dwc:").removeprefix("dcterms:")
        if raw_value is None:
            continue
        value = str(raw_value).strip()
        if not value:
            continue
        if key not in OCCURRENCE_TERM_SET:
            flags.append(f"{key}:not_a_dwc_term")
            continue
        if people.is_placeholder(value):
            flags.append(f"{key}:placeholder_removed")
            continue
        values[key] = value
    passthrough = {k: v for k, v in values.items() if k not in _HANDLED}
    return values, passthrough


def normalise_record(
    verbatim: Mapping[str, Any], settings: NormaliseSettings | None = None
) -> tuple[dict[str, str], list[str]]:
    """Normalise one specimen's engine output into Darwin Core.

    :param verbatim: the engine's terms, e.g. ``{"eventDate": "3 Jun 71",
        "verbatimCoordinates": "34°55'S 138°36'E", "decimalLatitude":
        "34.9167"}``.
    :param settings: how to read ambiguous dates and catalogue prefixes.
    :return: (terms, flags): the normalised terms with the verbatim terms kept
        beside them, and the ``term:reason`` flags.

    >>> terms, flags = normalise_record({"eventDate": "14.VIII.1969"})
    >>> terms["eventDate"], terms["verbatimEventDate"]
    ('1969-08-14', '14.VIII.1969')
    """
    settings = settings or NormaliseSettings()
    flags: list[str] = []
    values, out = _clean_input(verbatim, flags)
    get = values.get

    people_result, when = people.normalise_people(
        get("recordedBy", ""), get("identifiedBy", ""), get("dateIdentified", "")
    )
    out.update(people_result.terms)
    flags.extend(people_result.flags)
    number = people.normalise_record_number(get("recordNumber", ""))
    out.update(number.terms)
    flags.extend(number.flags)
    catalog = people.normalise_catalog_number(
        get("catalogNumber", ""), settings.institution_code, settings.catalog_prefixes
    )
    out.update(catalog.terms)
    flags.extend(catalog.flags)

    event_text, iso_text = get("verbatimEventDate", ""), get("eventDate", "")
    if people.DET_AT_START_RE.match(event_text or iso_text):
        flags.append("eventDate:determination_date_moved")
        when = when or people.DET_AT_START_RE.sub("", event_text or iso_text)
        event_text = iso_text = ""
    _normalise_event_date(event_text, iso_text, settings, out, flags)
    if when:
        identified = _parse(when, "dateIdentified", settings)
        flags.extend(identified.flags)
        if identified.iso:
            out["dateIdentified"] = identified.iso

    name = names.parse_scientific_name(
        get("scientificName", ""), get("identificationQualifier", "")
    )
    if get("verbatimIdentification"):
        name.terms["verbatimIdentification"] = values["verbatimIdentification"]
    out.update(name.terms)
    flags.extend(name.flags)

    place = places.normalise_place(
        get("country", ""),
        get("stateProvince", ""),
        " ".join(
            get(k, "")
            for k in ("county", "municipality", "locality", "verbatimLocality")
        ),
        get("countryCode", ""),
    )
    out.update(place.terms)
    flags.extend(place.flags)

    _normalise_coordinates(values, out, flags)
    _normalise_elevation(values, out, flags)
    return out, list(dict.fromkeys(flags))


def _parse(text: str, term: str, settings: NormaliseSettings) -> dates.DateResult:
    return dates.parse_date(
        text,
        term=term,
        date_order=settings.date_order,
        reference_year=settings.reference_year or date.today().year,
        earliest_year=settings.earliest_year,
    )


def _normalise_event_date(
    event_text: str,
    iso_text: str,
    settings: NormaliseSettings,
    out: dict[str, str],
    flags: list[str],
) -> None:
    source = event_text or iso_text
    if not source:
        return
    out["verbatimEventDate"] = source
    result = _parse(source, "eventDate", settings)
    if event_text and iso_text:
        engine = _parse(iso_text, "eventDate", settings)
        if result.iso and engine.iso and engine.iso != result.iso:
            flags.append("eventDate:engine_value_replaced")
        elif not result.iso and engine.iso:
            flags.extend(result.flags)
            flags.append("eventDate:engine_value_unverified")
            result = engine
    flags.extend(result.flags)
    if result.iso:
        out["eventDate"] = result.iso
        out.update(result.dwc_fields())


def _normalise_coordinates(
    values: dict[str, str], out: dict[str, str], flags: list[str]
) -> None:
    verbatim_text = values.get("verbatimCoordinates") or " ".join(
        v
        for v in (values.get("verbatimLatitude"), values.get("verbatimLongitude"))
        if v
    )
    engine: dict[str, float | None] = {}
    for term, limit in (("decimalLatitude", 90.0), ("decimalLongitude", 180.0)):
        text = values.get(term, "")
        engine[term] = coordinates.parse_decimal(text, limit) if text else None
        if text and engine[term] is None:
            flags.append(f"{term}:out_of_range")
    chosen: dict[str, float | None] = dict(engine)
    text_out: dict[str, str] = {}
    datum = coordinates.find_datum(values.get("geodeticDatum", "")) or ""
    if verbatim_text:
        for term in ("verbatimCoordinates", "verbatimLatitude", "verbatimLongitude"):
            if values.get(term):
                out[term] = values[term]
        result = coordinates.parse_coordinates(verbatim_text)
        datum = result.datum or datum
        if result.system:
            out["verbatimCoordinateSystem"] = result.system
        for term, value, text in (
            ("decimalLatitude", result.latitude, result.latitude_text),
            ("decimalLongitude", result.longitude, result.longitude_text),
        ):
            missing = f"{term}:hemisphere_missing"
            given = engine[term]
            if value is None:
                if given is not None:
                    flags.append(f"{term}:engine_value_unverified")
                continue
            if missing in result.flags:
                if (
                    given is not None
                    and abs(abs(given) - abs(value)) < _SAME_POINT_DEGREES
                ):
                    result.flags.remove(missing)
                    flags.append(f"{term}:hemisphere_from_engine")
                    chosen[term] = given
                    continue
                # Known gap: the sign is not inferred from the country (the
                # AOCR Alaska label "161°38'03.3\"" has no W). Countries that
                # straddle 180° or the equator (US, Kiribati, Brazil) make a
                # simple table wrong, so the pair is dropped and stays flagged
                # hemisphere_missing for a person to fix; a per-country
                # bounding-box check would let us fill it safely.
                chosen[term] = None
                continue
            if given is not None:
                if abs(abs(given) - abs(value)) < _SAME_POINT_DEGREES and (
                    (given < 0) != (value < 0)
                ):
                    flags.append(f"{term}:hemisphere_corrected")
                elif abs(given - value) >= _SAME_POINT_DEGREES:
                    flags.append(f"{term}:engine_value_replaced")
            chosen[term], text_out[term] = value, text
        flags.extend(result.flags)
    lat, lon = chosen["decimalLatitude"], chosen["decimalLongitude"]
    if (lat is None) != (lon is None):
        flags.append("decimalLatitude:incomplete_pair")
        return
    if lat is None or lon is None:
        return
    out["decimalLatitude"] = text_out.get(
        "decimalLatitude", coordinates.format_decimal(lat, 6)
    )
    out["decimalLongitude"] = text_out.get(
        "decimalLongitude", coordinates.format_decimal(lon, 6)
    )
    if datum:
        out["geodeticDatum"] = datum
    elif values.get("geodeticDatum"):
        flags.append("geodeticDatum:datum_not_recognised")


def _normalise_elevation(
    values: dict[str, str], out: dict[str, str], flags: list[str]
) -> None:
    verbatim_text = values.get("verbatimElevation", "")
    low_text = values.get("minimumElevationInMeters", "")
    high_text = values.get("maximumElevationInMeters", "")
    engine_text = (
        f"{low_text}-{high_text}" if low_text and high_text else low_text or high_text
    )
    engine = (
        elevation.parse_elevation(engine_text, default_unit="m")
        if engine_text
        else None
    )
    if verbatim_text:
        out["verbatimElevation"] = verbatim_text
        result = elevation.parse_elevation(verbatim_text)
        flags.extend(result.flags)
        if result.minimum is not None:
            if (
                engine is not None
                and engine.minimum is not None
                and (abs(engine.minimum - result.minimum) > 1)
            ):
                flags.append("minimumElevationInMeters:engine_value_replaced")
            out.update(result.dwc_fields())
            return
        if engine is not None and engine.minimum is not None:
            flags.append("minimumElevationInMeters:engine_value_unverified")
    if engine is not None:
        flags.extend(engine.flags)
        out.update(engine.dwc_fields())
