"""Text patterns shared by the label parser and the evaluation: dates, places.

The functions here work on plain strings and know nothing about OCR boxes.
:mod:`herbarium_dwc.labelparse` uses them to find terms on a label, and
:mod:`herbarium_dwc.evaluate` uses the same readings to compare values, so a
date or a country is understood the same way on both sides.

Dates are read from the forms herbarium labels use (``18 May 2007``,
``Aug.10,1935``, ``19-XII-1947``, ``July 16-21, 1962``, ``1994-10-28``),
with the month words of the normaliser (:data:`herbarium_dwc.dwc.dates.
MONTH_SPELLINGS`: English, French, Spanish, German, Latin, Italian and
Portuguese, whole or abbreviated). A day-month
order is accepted for all-numeric dates only when the day is above 12, and
two-digit years are never expanded (the century is a guess); such dates
keep their verbatim text and get no ISO form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from herbarium_dwc.dwc.dates import MONTH_SPELLINGS, ROMAN_MONTHS, month_from_word

YearMonthDay = tuple[int, int | None, int | None]


def _words(text: str) -> frozenset[str]:
    """A word list written as one string, for the vocabularies below."""
    return frozenset(text.split())


# Longest names first so that "sept" wins over "sep" and "juillet" over "jul".
MONTH = r"(?:" + "|".join(sorted(MONTH_SPELLINGS, key=len, reverse=True)) + r")\.?"
_DAY = r"[0-3]?\d"
_YEAR = r"(?:1[6-9]|20)\d\d"
_SEP = r"\s*[-–—]\s*"
_ROMAN_MONTH = "|".join(sorted(ROMAN_MONTHS, key=len, reverse=True))

# Each pattern names the groups it fills; _date_from_match reads them.
_DATE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # 2007-05-18, 2007-05
        rf"\b(?P<y>{_YEAR})-(?P<mn>[01]\d)(?:-(?P<d>[0-3]\d))?\b",
        # AUG. 31-SEPT. 20, 1905
        rf"\b(?P<m>{MONTH})\s*(?P<d>{_DAY}){_SEP}(?P<m2>{MONTH})\s*(?P<d2>{_DAY})"
        rf"\s*,?\s*(?P<y>{_YEAR})\b",
        # 31 Aug - 20 Sept 1905
        rf"(?<![-/\w])(?P<d>{_DAY})\s*(?P<m>{MONTH}){_SEP}(?P<d2>{_DAY})\s*(?P<m2>{MONTH})"
        rf"\s*,?\s*(?P<y>{_YEAR})\b",
        # 19-23 June 1967
        rf"(?<![-/\w])(?P<d>{_DAY})(?:{_SEP}|\s*&\s*|\s+and\s+)(?P<d2>{_DAY})\s*(?P<m>{MONTH})"
        rf"\s*,?\s*(?P<y>{_YEAR})\b",
        # July 16-21, 1962 and July 20 & 21, 1959
        rf"\b(?P<m>{MONTH})\s*(?P<d>{_DAY})(?:{_SEP}|\s*&\s*|\s+and\s+)(?P<d2>{_DAY})"
        rf"\s*,?\s*(?P<y>{_YEAR})\b",
        # 18 May 2007, 18May2007, 13 juil. 1969, 11 julio, 1985
        rf"(?<![-/\w])(?P<d>{_DAY})[\s./-]*(?:de\s+)?(?P<m>{MONTH})[\s,/-]*(?:de\s+)?"
        rf"(?P<y>{_YEAR})\b",
        # May 26, 1998 and Aug.10,1935
        rf"\b(?P<m>{MONTH})\s*(?P<d>{_DAY})(?:st|nd|rd|th)?[\s,.]*(?P<y>{_YEAR})\b",
        # 19-XII-1947, 21.vi.1988
        rf"(?<![-/\w])(?P<d>{_DAY})\s*[-./ ]\s*(?P<r>{_ROMAN_MONTH})"
        rf"\s*[-./ ]\s*(?P<y>{_YEAR})\b",
        # July 1979, July, 1956, Feb. , 1896
        rf"\b(?P<m>{MONTH})\s*,?\s*(?P<y>{_YEAR})\b",
        # 14/8/1967, 14-8-67, 10/3/79 (read only when the day is over 12)
        r"\b(?P<n1>[0-3]?\d)\s*[-/.]\s*(?P<n2>[0-3]?\d)\s*[-/.]\s*(?P<ny>\d{4}|\d\d)\b",
    )
)
_BARE_YEAR = re.compile(rf"\b(?P<y>{_YEAR})\b")


@dataclass(frozen=True)
class DateValue:
    """A date or date range read from text.

    :param start: (year, month or None, day or None).
    :param end: the last day of a range, or None for a single date.
    :param complete: False when the text is a date but its ISO form would be
        a guess (two-digit year, day and month both 12 or less).
    :param span: where the date was found in the searched text.
    """

    start: YearMonthDay
    end: YearMonthDay | None = None
    complete: bool = True
    span: tuple[int, int] = (0, 0)

    def iso(self) -> str:
        """The ISO 8601 form (an interval ``a/b`` for a range), or ``""``.

        >>> DateValue((2007, 5, 18)).iso()
        '2007-05-18'
        """
        if not self.complete:
            return ""
        if self.end is None or self.end == self.start:
            return _iso_part(self.start)
        return f"{_iso_part(self.start)}/{_iso_part(self.end)}"

    def same_as(self, other: DateValue) -> bool:
        """True when both name the same day, month, year or range."""
        return self.start == other.start and (self.end or self.start) == (
            other.end or other.start
        )


def _iso_part(value: YearMonthDay) -> str:
    year, month, day = value
    if month is None:
        return f"{year:04d}"
    if day is None:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}-{month:02d}-{day:02d}"


def fix_ocr_digits(text: str) -> str:
    """Repair letters that OCR reads in place of digits inside number groups.

    ``l956`` becomes ``1956``, ``0ct`` becomes ``Oct`` and ``Ju1y`` becomes
    ``July``; other words are left alone, so a token changes only when most
    of it is already digits or when the repair makes it a month name.

    >>> fix_ocr_digits("20 July l956, 9,1o0 ft")
    '20 July 1956, 9,100 ft'
    """

    def repair(match: re.Match[str]) -> str:
        token = match.group(0)
        digits = sum(ch.isdigit() for ch in token)
        if digits == 0 or digits * 2 < len(token.replace(",", "")):
            return token
        return token.translate(str.maketrans("lIOo|", "11001"))

    text = re.sub(r"\b0(?=ct)", "O", text, flags=re.IGNORECASE)
    text = re.sub(
        r"(?<![A-Za-z])[A-Za-z]+1[A-Za-z]*(?![A-Za-z])", _month_with_one, text
    )
    return re.sub(
        r"(?<![A-Za-z])[0-9lIOo|][0-9lIOo|,]+[0-9lIOo|](?![A-Za-z])", repair, text
    )


def _month_with_one(match: re.Match[str]) -> str:
    """``Ju1y`` and ``Apri1`` are month names with an l read as 1."""
    word = match.group(0)
    repaired = word.replace("1", "l")
    return repaired if repaired.lower() in MONTH_SPELLINGS else word


def _valid(year: int, month: int | None, day: int | None) -> bool:
    if month is not None and not 1 <= month <= 12:
        return False
    return day is None or 1 <= day <= 31


def _numeric_date(groups: dict[str, str], span: tuple[int, int]) -> DateValue | None:
    """14-8-1967 or 8/14/1967: complete only when one number is over 12."""
    first, second = int(groups["n1"]), int(groups["n2"])
    year_text = groups["ny"]
    day, month = (second, first) if second > 12 >= first else (first, second)
    complete = len(year_text) == 4 and (first > 12 or second > 12)
    year = int(year_text) if len(year_text) == 4 else 1900 + int(year_text)
    if not _valid(year, month, day):
        return None
    return DateValue((year, month, day), complete=complete, span=span)


def _date_from_match(match: re.Match[str]) -> DateValue | None:
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    span = match.span()
    if "n1" in groups:
        return _numeric_date(groups, span)
    year = int(groups["y"])
    if "r" in groups:
        month: int | None = ROMAN_MONTHS[groups["r"].lower()]
    elif "mn" in groups:
        month = int(groups["mn"])
    else:
        month = month_from_word(groups["m"])
    day = int(groups["d"]) if "d" in groups else None
    if month is None or not _valid(year, month, day):
        return None
    end: YearMonthDay | None = None
    if "d2" in groups:
        month2 = month_from_word(groups["m2"]) if "m2" in groups else month
        day2 = int(groups["d2"])
        if month2 is None or not _valid(year, month2, day2):
            return None
        end = (year, month2, day2)
    return DateValue((year, month, day), end, span=span)


def find_dates(text: str, bare_years: bool = False) -> list[DateValue]:
    """Find every date in ``text``, in order, without overlaps.

    :param text: any text; OCR digit slips are repaired first.
    :param bare_years: also return lone four-digit years (1700-2099).

    >>> [d.iso() for d in find_dates("Coll. 18 May 2007, det. 2009")]
    ['2007-05-18']
    """
    text = fix_ocr_digits(text)
    found: list[DateValue] = []
    taken: list[tuple[int, int]] = []
    patterns = _DATE_PATTERNS + ((_BARE_YEAR,) if bare_years else ())
    for pattern in patterns:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < b and a < end for a, b in taken):
                continue
            if pattern is _BARE_YEAR:
                value: DateValue | None = DateValue(
                    (int(match.group("y")), None, None), span=match.span()
                )
            else:
                value = _date_from_match(match)
            if value is not None:
                found.append(value)
                taken.append((start, end))
    return sorted(found, key=lambda value: value.span)


def parse_date(text: str) -> DateValue | None:
    """Read one date from a value such as an eventDate cell.

    ISO 8601 forms and intervals (``1994-10-28``, ``1979-07``, ``1871``,
    ``1962-07-16/1962-07-21``, ``1920-05-05/13``) and the verbatim forms of
    :func:`find_dates` are understood.

    :param text: the value.
    :returns: the first date in the value, or None.

    >>> parse_date("Aug.10,1935.").iso()
    '1935-08-10'
    """
    text = text.strip()
    interval = re.fullmatch(r"(\d{4}(?:-\d\d){0,2})/(\d{4}(?:-\d\d){0,2}|\d\d)", text)
    if interval:
        first = parse_date(interval.group(1))
        tail = interval.group(2)
        if first is None:
            return None
        if len(tail) == 2:
            year, month, _ = first.start
            return DateValue(first.start, (year, month, int(tail)))
        last = parse_date(tail)
        return DateValue(first.start, last.start if last else None)
    dates = find_dates(text, bare_years=True)
    return dates[0] if dates else None


def strip_accents(text: str) -> str:
    """Drop combining accents: ``Müll. Arg.`` becomes ``Mull. Arg.``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """Fold case, accents, punctuation and whitespace for comparison.

    >>> fold("  Richard C.  Harris,")
    'richard c harris'
    """
    text = strip_accents(text).lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


# Spellings of countries on labels that pycountry's names do not cover.
_COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "us": "US",
    "united states": "US",
    "united states of america": "US",
    "estados unidos": "US",
    "mexico": "MX",
    "brasil": "BR",
    "russia": "RU",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "great britain": "GB",
    "britain": "GB",
    "uk": "GB",
    "bolivia": "BO",
    "venezuela": "VE",
    "iran": "IR",
    "korea": "KR",
    "south korea": "KR",
    "taiwan": "TW",
    "vietnam": "VN",
    "laos": "LA",
    "syria": "SY",
    "tanzania": "TZ",
    "espana": "ES",
    "deutschland": "DE",
    "holland": "NL",
    "czechoslovakia": "CZ",
    "ussr": "RU",
    "burma": "MM",
}


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Folded country name or alias to ISO 3166 alpha-2 code.

    >>> country_names()["u s a"]
    'US'
    """
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            value = getattr(country, attribute, None)
            if value:
                names[fold(value)] = country.alpha_2
                # "Bolivia, Plurinational State of" is also written "Bolivia".
                names.setdefault(fold(value.split(",")[0]), country.alpha_2)
    names.update(_COUNTRY_ALIASES)
    return names


def country_code(value: str) -> str | None:
    """Return the ISO 3166 alpha-2 code a country value names, or None.

    >>> country_code("U.S.A."), country_code("Canada"), country_code("JAPAN")
    ('US', 'CA', 'JP')
    """
    folded = fold(value)
    if folded in country_names():
        return country_names()[folded]
    if len(folded) == 2 and folded.isalpha():
        found = pycountry.countries.get(alpha_2=folded.upper())
    elif len(folded) == 3 and folded.isalpha():
        found = pycountry.countries.get(alpha_3=folded.upper())
    else:
        return None
    return str(found.alpha_2) if found is not None else None


@dataclass(frozen=True)
class Subdivision:
    """A first-level subdivision (state, province) of a country."""

    name: str
    country: str
    kind: str = ""


# Subdivision names that are ordinary words on labels ("Central", "North").
_GENERIC_PLACE_WORDS = _words(
    """central north south east west northern southern eastern western capital
    coast islands island lakes lake river mountain mountains valley plains
    interior upper lower middle national federal district"""
)


@lru_cache(maxsize=1)
def subdivision_names() -> dict[str, tuple[Subdivision, ...]]:
    """Folded name of each first-level subdivision to the subdivisions so named.

    >>> subdivision_names()["georgia"]
    (Subdivision(name='Georgia', country='US', kind='State'),)
    """
    index: dict[str, list[Subdivision]] = {}
    for entry in pycountry.subdivisions:
        if getattr(entry, "parent_code", None):
            continue
        name = entry.name.split(" (")[0].split(",")[0]
        key = fold(name)
        if len(key) < 4 or key in _GENERIC_PLACE_WORDS:
            continue
        subdivision = Subdivision(name, entry.country_code, entry.type)
        index.setdefault(key, []).append(subdivision)
    return {key: tuple(values) for key, values in index.items()}


# Countries whose states are meant when a label names a state but no country
# and the name is a state in several countries. The reference collections
# (NYBG, TENN, WIS) are mostly North American; a deployment elsewhere would
# change this order, which is why it is a named setting of the parser.
PREFERRED_SUBDIVISION_COUNTRIES: tuple[str, ...] = ("US", "CA", "MX", "AU")

# Words that start a place, a label or a sentence, never a genus.
_LABEL_WORDS = _words(
    """the of on in at by and with from to for near along above below between
    collections cooperative expedition substratum des du la le les los las
    del en au aux et bryophytes hepatics hepaticae musci
    lichenes plantae fungi algae
    among upon under over about ca approx just off via collected collector
    collectors coll leg det date location locality habitat elevation altitude
    latitude longitude substrate site notes map quad no number county co
    state province district township town city village station camp park
    national forest preserve reserve refuge area region island isle lake river
    creek brook bay beach road highway hwy route trail mile miles mountain
    mountains mount mt peak hill hills valley canyon falls point pt north
    south east west northern southern eastern western upper lower high low
    new old little big great lichens lichen flora plants plant cryptogams
    mosses fungi herbarium garden botanical university museum institute
    exsiccati distributed common rare abundant frequent growing fertile
    sterile small large dupl duplicate type holotype isotype january february
    march april may june july august september october november december
    sept aug oct nov dec jan feb mar apr jun jul"""
)
_HABITAT = _words(
    """forest forests forested woods wood woodland woodlands hardwood hardwoods
    rock rocks rocky outcrop outcrops boulder boulders bark trunk trunks tree
    trees twig twigs branch branches log logs stump stumps soil soils ground
    moss mosses humus peat peatland bog bogs fen swamp marsh meadow meadows
    prairie grassland tundra heath scrub thicket slope slopes cliff cliffs
    ledge ledges talus scree shore shores beach dune dunes sand sandy gravel
    glade glades hammock pine pines oak oaks spruce fir conifer coniferous
    deciduous mixed wet dry moist shaded shady open exposed sandstone granite
    granitic limestone calcareous basalt dolomite schist quartzite concrete
    wall walls fence roadside field fields pasture savanna desert alpine
    riparian bottom bottoms bottomland floodplain streambank snowbed bluff
    bluffs crust crusts shell shells epiphytic terricolous saxicolous
    corticolous lignicolous vegetation understory canopy stand stands marine
    littoral tidal intertidal"""
)
NOT_GENERA: frozenset[str] = _LABEL_WORDS
NOT_EPITHETS: frozenset[str] = _LABEL_WORDS | _HABITAT
NOT_PERSON_WORDS: frozenset[str] = (
    _LABEL_WORDS | _HABITAT | _words("nwr usa u.s.a canada mexico america")
)
HABITAT_WORDS: frozenset[str] = _HABITAT
# Abbreviated words that may stand in a person's name ("Bro. Alain").
NAME_ABBREVIATIONS: frozenset[str] = _words(
    "bro fr dr wm jr sr chas jas geo thos jos robt prof rev mrs mr ms hno"
)
NAME_PARTICLES: frozenset[str] = _words(
    "de da do dos das del della di van von der den la le du ter ten st"
)
