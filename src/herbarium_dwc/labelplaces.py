"""Places, coordinates and elevation on a label, for the label parser.

Countries and first-level subdivisions (states, provinces) are found by
name, with pycountry's names and a few label spellings
(:func:`herbarium_dwc.labeltext.country_names`); the country and the state
are chosen together, so that "Georgia" beside "U.S.A." is a state and
"Puerto Rico" beside "USA" a country of its own. Counties are read from
"X County", "X Co.", "X Parish" and "District of X". Coordinates are
degrees with optional minutes and seconds, the hemisphere after or before
them, or a township-range-section reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from herbarium_dwc.labellayout import Finding, Label, Row
from herbarium_dwc.labeltext import (
    NOT_GENERA,
    PREFERRED_SUBDIVISION_COUNTRIES,
    Subdivision,
    country_names,
    fix_ocr_digits,
    fold,
    subdivision_names,
)

# --------------------------------------------------------------------------
# coordinates and elevation

_DMS = re.compile(
    r"(?P<deg>\d{1,3}(?:\.\d+)?)\s*(?:°|º|˚|\*|o(?=\s*\d))\s*"
    r"(?:(?P<min>\d{1,2}(?:[.,]\d+)?)\s*(?:'|`|´)?\s*)?"
    r"(?:(?P<sec>\d{1,2}(?:[.,]\d+)?)\s*(?:\"|'')\s*)?"
    r"(?P<hem>[NSEW])(?![a-z])"
)
_LAT_KEYWORD = re.compile(r"\bLat\.?\s*(?P<deg>\d{1,2})\s*(?P<hem>[NS])\b", re.I)
# "N. 48° 48'" and "W 87° 38'": the hemisphere written first.
_DMS_HEMISPHERE_FIRST = re.compile(
    r"\b(?P<hem>[NSEW])\.?\s*(?P<deg>\d{1,3}(?:\.\d+)?)\s*[°º˚]\s*"
    r"(?:(?P<min>\d{1,2}(?:[.,]\d+)?)\s*'?\s*)?"
    r"(?:(?P<sec>\d{1,2}(?:[.,]\d+)?)\s*(?:\"|'')\s*)?"
)
_TRS = re.compile(
    r"(?:sec(?:tion)?\.?\s*\d{1,2},?\s*)?\bT\.?\s?\d{1,3}\s?[NS]\.?,?\s*R\.?\s?\d{1,3}"
    r"\s?[EW]\.?(?:,?\s*(?:sec(?:tion)?\.?|S)\s?\d{1,2})?",
)


def _dms_value(match: re.Match[str]) -> float | None:
    def number(name: str) -> float:
        raw = match.groupdict().get(name)
        return float(raw.replace(",", ".")) if raw else 0.0

    degrees, minutes, seconds = number("deg"), number("min"), number("sec")
    if minutes >= 60 or seconds >= 60:
        return None
    value = degrees + minutes / 60 + seconds / 3600
    hemisphere = match.group("hem")
    limit = 90 if hemisphere in "NS" else 180
    if value > limit:
        return None
    return -value if hemisphere in "SW" else value


@dataclass
class Coordinates:
    """Coordinates found on a label."""

    verbatim: Finding
    latitude: float | None = None
    longitude: float | None = None


def read_coordinates(label: Label) -> Coordinates | None:
    """The first latitude and longitude, or else a township-range reference.

    Degrees with optional minutes and seconds, the hemisphere after
    (``44°37'27"N``) or before (``N. 48° 48'``) them, and ``Lat. 40° N``.

    :param label: the parsed layout.
    :returns: the verbatim text and decimal degrees, or None.

    >>> read_coordinates(label).latitude
    44.62417
    """
    rows = label.content_rows()
    text = " \n".join(row.text for row in rows)
    starts = [0]
    for row in rows[:-1]:
        starts.append(starts[-1] + len(row.text) + 2)
    found = [(m, _dms_value(m)) for m in _DMS.finditer(text)]
    found += [(m, _dms_value(m)) for m in _LAT_KEYWORD.finditer(text)]
    found += [(m, _dms_value(m)) for m in _DMS_HEMISPHERE_FIRST.finditer(text)]
    found.sort(key=lambda pair: pair[0].start())
    lat = next(
        (p for p in found if p[0].group("hem") in "NS" and p[1] is not None), None
    )
    lon = next(
        (p for p in found if p[0].group("hem") in "EW" and p[1] is not None), None
    )

    def rows_of(*spans: tuple[int, int]) -> tuple[int, ...]:
        return tuple(
            rows[i].index
            for i, start in enumerate(starts)
            if any(start <= b and a < start + len(rows[i].text) for a, b in spans)
        )

    if lat or lon:
        parts = sorted([p[0] for p in (lat, lon) if p], key=lambda m: m.start())
        verbatim = ", ".join(m.group(0).strip() for m in parts)
        if len(parts) == 2 and parts[1].start() - parts[0].end() <= 3:
            verbatim = text[parts[0].start() : parts[1].end()].replace("\n", "")
        certainty = 0.9 if lat and lon else 0.6
        spans = [m.span() for m in parts]
        return Coordinates(
            Finding(" ".join(verbatim.split()), certainty, rows_of(*spans)),
            lat[1] if lat else None,
            lon[1] if lon else None,
        )
    trs = _TRS.search(text)
    if trs:
        return Coordinates(Finding(trs.group(0).strip(" ,."), 0.6, rows_of(trs.span())))
    return None


_ELEVATION_VALUE = (
    r"(?:(?:ca\.?|c\.|about|approx\.?)\s*)?\d[\d,.]*(?:\s*[-–]\s*\d[\d,.]*)?"
    r"\s*(?:m\b\.?|ft\b\.?|feet|meters|metres|msnm|m\.s\.n\.m\.?|')"
)
_ELEVATION_FREE = re.compile(
    rf"(?<![\d°.,'])(?<!\bto )(?<!dbh )(?P<v>{_ELEVATION_VALUE})"
    r"(?!\s*(?:tall|high|long|wide|diam|in\b|dbh|across|deep))(?![NSEW]\b)",
    re.IGNORECASE,
)


def read_elevation(label: Label) -> Finding | None:
    """A labelled elevation, else a number with m or ft in the label body.

    A plant's size (``3 m tall``, ``to 20 m``, ``dbh 1.5 m``) is not taken.

    :param label: the parsed layout.

    >>> read_elevation(label).value
    'ca. 70 m'
    """
    for segment in label.labelled("verbatimElevation"):
        return Finding(segment.text.strip(" :;,"), 0.9, (segment.row,))
    for row in label.content_rows():
        if row.is_collection_header:
            continue
        match = _ELEVATION_FREE.search(fix_ocr_digits(row.text))
        if match:
            return Finding(match.group("v").strip(" ,;"), 0.7, (row.index,))
    return None


# --------------------------------------------------------------------------
# country, stateProvince, county


@dataclass
class PlaceMatch:
    """A country or subdivision name found in a row."""

    code: str
    name: str
    row: Row
    start: int
    end: int
    score: float
    kind: str = ""

    def same_place(self, other: PlaceMatch) -> bool:
        """Both matches are the same words of the same row."""
        return self.row is other.row and self.start == other.start


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"[A-Za-zÀ-ÿ]+", text)]


def place_matches(label: Label) -> tuple[list[PlaceMatch], list[PlaceMatch]]:
    """Every country and every first-level subdivision named in the rows.

    :param label: the parsed layout.
    :returns: (countries, subdivisions), each match with its row and score.
    """
    countries: list[PlaceMatch] = []
    regions: list[PlaceMatch] = []
    for row in label.content_rows():
        for start, end in _place_spans(row):
            words = row.text[start:end]
            after = row.text[end : end + 9].lower()
            before = row.text[max(0, start - 4) : start].lower()
            score = _place_score(row, words, before, after)
            key = _place_key(row, words)
            if key in _places_run_together()[0]:
                code = _places_run_together()[0][key]
                name = words if fold(words) in country_names() else country_name(code)
                if re.search(r"\b[A-Z]$", name) and row.text[end : end + 1] == ".":
                    name += "."  # U.S.A.
                countries.append(PlaceMatch(code, name, row, start, end, score))
            for division in _places_run_together()[1].get(key, ()):
                regions.append(
                    PlaceMatch(
                        division.country,
                        division.name,
                        row,
                        start,
                        end,
                        score,
                        division.kind,
                    )
                )
    return countries, regions


def country_name(code: str) -> str:
    """The ISO 3166 short name of a country code.

    >>> country_name("US")
    'United States'
    """
    record = pycountry.countries.get(alpha_2=code)
    return str(record.name) if record is not None else code


def _place_spans(row: Row) -> list[tuple[int, int]]:
    """Capitalised runs of one to four words that name a place, longest first.

    In a collection title ("PLANTS OFPUERTORICO") the words after "of" are
    also tried with their spaces removed, as OCR often runs them together.
    """
    countries, divisions = _places_run_together()
    spans = _word_spans(row.text)
    found: list[tuple[int, int]] = []
    taken: set[int] = set()
    for size in (4, 3, 2, 1):
        for i in range(len(spans) - size + 1):
            if taken & set(range(i, i + size)):
                continue
            start, end = spans[i][0], spans[i + size - 1][1]
            words = row.text[start:end]
            key = _place_key(row, words)
            if (
                not words[0].isupper()
                or key == "us"
                or row.text[start - 1 : start] == "-"
            ):
                continue
            if re.match(r"\s*(?:county|co\b|parish)", row.text[end:].lower()):
                continue
            if key in countries or key in divisions:
                found.append((start, end))
                taken.update(range(i, i + size))
    return found


def _place_key(row: Row, words: str) -> str:
    """Folded words without spaces; in a title, without a leading "of" too.

    >>> _place_key(Row(0, []), "New York")
    'newyork'
    """
    key = fold(words).replace(" ", "")
    countries, divisions = _places_run_together()
    known = key in countries or key in divisions
    if row.lines and row.is_collection_header and not known and " " not in words:
        return re.sub(r"^(?:[a-z]+of|of|de)(?=[a-z]{4})", "", key)
    return key


@lru_cache(maxsize=1)
def _places_run_together() -> tuple[dict[str, str], dict[str, tuple[Subdivision, ...]]]:
    """Country and subdivision names keyed without spaces."""
    countries = {key.replace(" ", ""): code for key, code in country_names().items()}
    divisions: dict[str, tuple[Subdivision, ...]] = {}
    for key, values in subdivision_names().items():
        divisions[key.replace(" ", "")] = (
            divisions.get(key.replace(" ", ""), ()) + values
        )
    return countries, divisions


def _place_score(row: Row, words: str, before: str, after: str) -> float:
    score = 1.0 + row.is_collection_header
    if words.isupper() or re.match(r"\s*[.:,]", after):
        score += 0.3
    if before.endswith("of ") and not row.is_collection_header:
        score -= 0.8
    return score - 0.01 * row.index


OUTLYING = "Outlying area"


def choose_places(
    countries: list[PlaceMatch],
    regions: list[PlaceMatch],
    preferred: tuple[str, ...] = PREFERRED_SUBDIVISION_COUNTRIES,
) -> tuple[PlaceMatch | None, PlaceMatch | None, bool]:
    """Pick the country and the state; True when the country is inferred.

    Each country named on the label is scored with its best state; a state
    alone (its country inferred) scores a little less than when both are
    printed. "Georgia" beside "U.S.A." is a state, not a country: a country
    name that is also a state of another country on the label is dropped.

    :param countries: country matches from :func:`place_matches`.
    :param regions: subdivision matches from :func:`place_matches`.
    :param preferred: whose states a state name alone means, in order, when
        several countries have a state of that name.
    :returns: (country or None, state or None, country inferred from state).

    >>> country, state, inferred = choose_places(*place_matches(label))
    """
    codes = {country.code for country in countries}
    countries = [
        c
        for c in countries
        if not any(
            r.same_place(c) and r.code in codes - {c.code} and r.kind != OUTLYING
            for r in regions
        )
    ]
    # "USA, Puerto Rico": an outlying area has its own ISO code and is the
    # country; the state-level entry for the same words is dropped.
    for candidate in countries:
        if any(r.same_place(candidate) and r.kind == OUTLYING for r in regions):
            candidate.score += 1.5
    regions = [r for r in regions if not any(r.same_place(c) for c in countries)]
    options: list[tuple[float, PlaceMatch | None, PlaceMatch | None]] = []
    for named in countries:
        own = [r for r in regions if r.code == named.code and not r.same_place(named)]
        best = max(own, key=lambda r: r.score, default=None)
        options.append((named.score + (best.score if best else 0.0), named, best))
    for alone in _regions_without_country(regions, preferred):
        options.append((0.9 * alone.score, None, alone))
    if not options:
        return None, None, False
    _, country, region = max(options, key=lambda option: option[0])
    return country, region, country is None


def _regions_without_country(
    regions: list[PlaceMatch], preferred: tuple[str, ...]
) -> list[PlaceMatch]:
    """States that may stand alone; ambiguous names keep the preferred country."""
    for code in preferred:
        if any(r.code == code for r in regions):
            return [r for r in regions if r.code == code]
    return regions


_COUNTY = re.compile(
    r"(?P<name>(?:(?i:st|ste|mt|ft)\.\s*)?[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+){0,2})"
    r"\s*(?:County|COUNTY|Co\.|CO\.|co\.|Co\b|Parish|PARISH|Dist\.|District)"
)
_COUNTY_BEFORE = re.compile(
    r"(?:^|[,;.]\s*)(?:County\s+of|Co\.|District\s+(?:of|de))\s*"
    r"(?P<name>[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)"
)


def read_county(label: Label) -> Finding | None:
    """The county: ``X County``, ``X Co.``, ``X Parish``, ``Co. X``, ``District of X``.

    :param label: the parsed layout.

    >>> read_county(label).value
    'Clinton'
    """
    for row in label.content_rows():
        for pattern in (_COUNTY, _COUNTY_BEFORE):
            match = pattern.search(row.text)
            if match and match.group("name").split()[0].lower() not in NOT_GENERA:
                return Finding(match.group("name"), 0.85, (row.index,))
    return None


def row_countries(row: Row) -> list[str]:
    """Codes of the countries a row names (a place row is not a people row).

    >>> row_countries(Row(0, [OcrLine(text="COLORADO, U.S.A.", ...)]))
    ['US']
    """
    countries = _places_run_together()[0]
    found = []
    for start, end in _place_spans(row):
        code = countries.get(_place_key(row, row.text[start:end]))
        if code:
            found.append(code)
    return found
