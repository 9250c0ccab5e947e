"""The offline engine's label parser: OCR lines in, verbatim Darwin Core out.

:func:`parse_label` reads a herbarium or lichen-packet label from its OCR
lines alone: no model, no network, no list of known specimens. It works in
three steps:

1. layout (:mod:`herbarium_dwc.labellayout`): lines become rows, rows become
   segments cut at printed field labels; institution names, collection
   titles and ruler scales are recognised so that they feed no term;
2. one small function per term reads the segments and rows, using printed
   labels first (``Collector``, ``Det.``, ``Elevation``) and then the
   patterns of free-text labels (a binomial with authors, "Name 12345" for a
   collector and number, "X County:", degree-minute coordinates);
3. the locality and habitat are what remains of the label body once those
   terms are taken out, cut into clauses.

Each term gets a confidence: the OCR confidence of the rows it came from
times how sure the rule that found it is (a printed label is surer than a
free-text pattern).

Known limits: handwritten text is mostly unreadable to the OCR and so to the
parser; words the OCR runs together (``ForestieraeggersianaKrug``, common on
small print in whole-sheet images) defeat the name and people patterns; on a
sheet with several labels the terms may be read from different labels; a
state or province is recognised only when its name is a first-level
subdivision in pycountry, and municipality is not read at all.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache

import pycountry

from herbarium_dwc.labellayout import (
    Row,
    Segment,
    group_rows,
    is_institution_text,
    is_vertical,
    main_block,
    row_below,
    segments,
)
from herbarium_dwc.labeltext import (
    HABITAT_WORDS,
    NAME_ABBREVIATIONS,
    NAME_PARTICLES,
    NOT_EPITHETS,
    NOT_GENERA,
    NOT_PERSON_WORDS,
    PREFERRED_SUBDIVISION_COUNTRIES,
    DateValue,
    Subdivision,
    country_code,
    country_names,
    find_dates,
    fix_ocr_digits,
    fold,
    subdivision_names,
)
from herbarium_dwc.record import OcrLine, OcrResult

logger = logging.getLogger(__name__)

PARSED_TERMS: tuple[str, ...] = (
    "catalogNumber",
    "scientificName",
    "recordedBy",
    "recordNumber",
    "eventDate",
    "verbatimEventDate",
    "country",
    "stateProvince",
    "county",
    "locality",
    "habitat",
    "verbatimCoordinates",
    "decimalLatitude",
    "decimalLongitude",
    "verbatimElevation",
    "identifiedBy",
    "dateIdentified",
)


@dataclass
class ParsedLabel:
    """Darwin Core terms read from one label.

    :param verbatim: term to the value as printed (eventDate as ISO 8601 when
        the date is unambiguous).
    :param confidence: term to 0-1, OCR confidence times rule certainty.
    """

    verbatim: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)

    def put(self, term: str, value: str, confidence: float) -> None:
        """Record a term unless the value is empty."""
        value = " ".join(value.split()).strip(" ,;:")
        if value:
            self.verbatim[term] = value
            self.confidence[term] = round(max(0.0, min(1.0, confidence)), 3)


@dataclass
class Finding:
    """A value a rule found, how sure the rule is, and the rows it used."""

    value: str
    certainty: float
    rows: tuple[int, ...]


@dataclass
class Label:
    """The parsed layout of one label and what the term rules have taken."""

    rows: list[Row]
    segments: list[Segment]
    vertical: list[OcrLine] = field(default_factory=list)
    used_rows: set[int] = field(default_factory=set)
    taken_text: list[str] = field(default_factory=list)
    main_block: int | None = None

    def confidence(self, finding: Finding) -> float:
        """OCR confidence of the finding's rows times the rule's certainty."""
        ocr = [self.rows[i].confidence for i in finding.rows] or [1.0]
        return finding.certainty * min(ocr)

    def content_rows(self) -> list[Row]:
        """Rows that can hold label data (no institution, stamp or ruler)."""
        return [r for r in self.rows if not (r.is_institution or r.is_noise)]

    def labelled(self, term: str) -> list[Segment]:
        """Segments that follow a printed label for ``term``."""
        return [s for s in self.segments if s.label == term and s.text]


# --------------------------------------------------------------------------
# catalogNumber


_CODE = re.compile(
    r"^(?:(?P<prefix>[A-Z]{2,6}(?:-[A-Z]{1,3})?)[-\s]?)?"
    r"(?P<digits>[0-9OoQDlIL|B&SZ]{5,12})$"
)
_DIGIT_LOOKALIKES = str.maketrans("OoQDlIL|B&SZ", "000011118852")


def _catalog_number(label: Label) -> Finding | None:
    """A barcode number: a line that is only a code of six or more digits.

    Sideways lines count too (a barcode label turned 90°); they are taken as
    near an institution when an institution's name also stands sideways.
    """
    sideways_institution = any(is_institution_text(v.text) for v in label.vertical)
    candidates: list[tuple[Row | None, OcrLine]] = [
        (row, line) for row in label.rows if not row.is_noise for line in row.lines
    ]
    candidates += [(None, line) for line in label.vertical]
    best: Finding | None = None
    for row, line in candidates:
        value, real_digits = _code_value(line.text)
        if not value:
            continue
        if row is None:
            certainty = (0.95 if sideways_institution else 0.7) * line.confidence
        else:
            certainty = 0.95 if _near_institution(label, row) else 0.7
        if real_digits < len(value.rsplit("-", 1)[-1]):
            certainty -= 0.1
        if best is None or certainty > best.certainty:
            best = Finding(value, certainty, (row.index,) if row else ())
    return best


def _code_value(text: str) -> tuple[str, int]:
    """``TENN-L-OOOOO28`` -> (``TENN-L-0000028``, 2 digits read as digits)."""
    match = _CODE.match(text.replace(" ", "").strip(".,"))
    if not match:
        return "", 0
    digits = match.group("digits").translate(_DIGIT_LOOKALIKES)
    real = sum(ch.isdigit() for ch in match.group("digits"))
    prefix = match.group("prefix")
    if len(digits) < 6 or (real < 4 and not prefix):
        return "", 0
    return (f"{prefix}-{digits}" if prefix else digits), real


def _near_institution(label: Label, row: Row) -> bool:
    """An institution name or barcode stamp sits within three rows above."""
    above = label.rows[max(0, row.index - 3) : row.index + 1]
    return any(r.is_institution for r in above)


# --------------------------------------------------------------------------
# scientificName

_BINOMIAL = re.compile(
    r"(?P<genus>[A-Z][a-zäëïöüé]{2,}|[A-Z]{4,})\s+(?:[x×]\s*)?"
    r"(?P<epithet>[a-zäëïöüé][a-zäëïöüé-]{2,}|[A-Z][a-zäëïöüé-]{2,}|[A-Z]{4,})"
    r"(?P<rest>.*)"
)
_ROW_NUMBERING = re.compile(r"^(?:No\.?\s*)?(?:[\dIVX]+\.\s*|[\dIVX]+\s+)")
_AUTHOR_START = re.compile(r"^\s*(?:\(|[A-Z][a-zäëïöüé]*\.|[A-Z][a-zäëïöüé]+\b|&|ex\b)")
_LATIN_ENDINGS = ("a", "ae", "i", "um", "us", "is", "es", "ns", "x", "oides", "ii")


def _name_score(match: re.Match[str], row: Row, at_start: bool) -> float:
    genus, epithet, rest = match.group("genus", "epithet", "rest")
    if genus.lower() in NOT_GENERA or epithet.lower() in NOT_EPITHETS:
        return 0.0
    old_style = epithet[0].isupper() and at_start and rest.lstrip()[:1] == "("
    if genus.isupper() != epithet.isupper() and not old_style:
        return 0.0
    score = 1.0 + 0.5 * at_start + 0.3 * epithet.lower().endswith(_LATIN_ENDINGS)
    score += 0.5 * bool(_AUTHOR_START.match(rest))
    if re.search(r"\d", rest) or ":" in row.text or ";" in row.text:
        score -= 0.5
    return score - 0.05 * row.index / 10


def _name_value(match: re.Match[str]) -> str:
    rest = re.split(r"\d|;|\s(?:det|leg|coll|dupl)\.", match.group("rest"))[0]
    rest = rest[:70] if len(rest) > 70 else rest
    return f"{match.group('genus')} {match.group('epithet')}{rest}".strip(" ,")


def _scientific_name(label: Label) -> Finding | None:
    """The best binomial, preferring row starts followed by authors."""
    best: tuple[float, Finding] | None = None
    for row in label.content_rows():
        if row.is_collection_header:
            continue
        text = _ROW_NUMBERING.sub("", row.text)
        for match in _BINOMIAL.finditer(text):
            score = _name_score(match, row, at_start=match.start() == 0)
            if score >= 1.5 and (best is None or score > best[0]):
                certainty = min(0.95, 0.45 + score / 5)
                best = (score, Finding(_name_value(match), certainty, (row.index,)))
    return best[1] if best else None


# --------------------------------------------------------------------------
# recordedBy, recordNumber, identifiedBy


def normalise_people(text: str) -> str:
    """Space initials and separators the OCR ran together.

    >>> normalise_people("R.T.Wilce&M.Sherwood")
    'R. T. Wilce & M. Sherwood'
    """
    text = re.sub(r"\.(?=[A-Z])", ". ", text)
    text = re.sub(r"(?<=[a-z]{3})(?=[A-Z])", " ", text)
    text = re.sub(r"\s*&\s*", " & ", text)
    text = re.sub(r"\s*/\s*", ", ", text)
    text = re.sub(r",(?=\S)", ", ", text)
    return " ".join(text.split())


def looks_like_people(
    text: str, need_initial: bool = False, initials_only: bool = False
) -> bool:
    """Whether ``text`` is only names of people joined by separators.

    :param text: the candidate, e.g. ``S. S. Talbot & W. B. Schofield``.
    :param need_initial: for text that no printed label or collector number
        vouches for: also require an initial (``R.``), or two or more people
        of two words each (``Donald Richards and Francis Drouet``).
    :param initials_only: accept initials alone (``M.E.B.B.``), for text
        after a printed label.

    >>> looks_like_people("W. A. Weber", need_initial=True)
    True
    """
    tokens = re.findall(r"[^\s,;]+", normalise_people(text).rstrip("."))
    if not tokens or len(tokens) > 14:
        return False
    surnames = initials = 0
    for token in tokens:
        low = token.lower().rstrip(".")
        if token == "&" or low in {"and", "with", "et", "y"} | NAME_PARTICLES:
            continue
        if re.fullmatch(r"[A-Z]\.?|(?:[A-Z]\.){2,4}|[A-Z][a-z]?\.", token):
            initials += 1
        elif token.endswith(".") and low not in NAME_ABBREVIATIONS:
            return False
        elif re.fullmatch(_NAME_WORD, token):
            if low in NOT_PERSON_WORDS:
                return False
            surnames += 1
        else:
            return False
    if surnames == 0:
        return initials_only and initials >= 2
    return initials >= 1 or not need_initial or _several_full_names(text)


_NAME_WORD = r"(?:Mc|O')?[A-ZÀ-Þ][a-zß-ÿ'-]+\.?|[A-ZÀ-Þ]{2,}[A-ZÀ-Þ'-]*"


def _several_full_names(text: str) -> bool:
    """Two or more people, each written with two or more words."""
    people = [p.split() for p in re.split(r"\s*(?:,|&|\band\b|\bet\b)\s*", text)]
    return len(people) >= 2 and all(len(person) >= 2 for person in people)


_NUMBER_AT_END = re.compile(
    r"(?:^|\s)(?:(?:#|no\.?|nr\.?|n[°º]\.?|num\.?)\s*(?P<marked>[\w-]+)"
    r"|(?P<number>(?:[A-Z]{1,3}-?)?\d[\d\-/]*[A-Za-z]?))\.?\s*$",
    re.IGNORECASE,
)
_NUMBER_IN_BRACKETS = re.compile(r"\(\s*(?:no\.?|#)\s*(?P<number>\d+)\s*\)", re.I)


def _tidy_names(text: str) -> str:
    """Trim separators; keep the full stop of a final initial (``M.E.B.B.``)."""
    text = text.strip(" ,;")
    if text.endswith(".") and not re.search(r"\b[A-Z]\.$", text):
        text = text.rstrip(".")
    return text.strip(" ,;")


def split_people_number(text: str) -> tuple[str, str]:
    """Cut a collector's number off the end of a people text.

    >>> split_people_number("Richard C. Harris 53566")
    ('Richard C. Harris', '53566')
    """
    for date in reversed(find_dates(text, bare_years=True)):
        text = text[: date.span[0]] + text[date.span[1] :]
    text = re.sub(r"(?<=[a-z]{3})(?=\d{2})", " ", text).strip(" ,;")
    inside = _NUMBER_IN_BRACKETS.search(text)
    if inside:
        return _tidy_names(text), inside.group("number")
    match = _NUMBER_AT_END.search(text)
    if match:
        number = match.group("marked") or match.group("number")
        return _tidy_names(text[: match.start()]), _repair_number(number)
    return _tidy_names(text), ""


def _repair_number(number: str) -> str:
    """Letters read in place of digits next to digits: ``Sl5-8`` -> ``S15-8``."""
    number = re.sub(r"(?<=\d)[lI|]|[lI|](?=\d)", "1", number)
    return re.sub(r"(?<=\d)[Oo]|[Oo](?=\d)", "0", number)


_BY_COLLECTOR = re.compile(
    r"(?:^|\s)(?:By|BY|Leg\.|leg\.|(?i:collected(?:\s+and\s+\w+)?\s+by))\s+"
    r"(?P<names>[A-Z].*)$"
)


# "E. G. BRITTON, DELIA W. MARBLE, COLLECTORS": the label after the names.
_TRAILING_COLLECTOR = re.compile(
    r"^(?P<names>[A-Z].+?)[\s,]+(?:COLLECTORS?|Collectors?|Coll\.)(?=[\s,.]|$)"
)


@dataclass
class People:
    """Collector and determiner findings."""

    recorded_by: Finding | None = None
    record_number: Finding | None = None
    identified_by: Finding | None = None
    date_identified: Finding | None = None


def _collector_from_labels(label: Label) -> tuple[Finding, Finding | None] | None:
    for segment in label.labelled("recordedBy"):
        names, number = split_people_number(segment.text)
        if names and looks_like_people(names, initials_only=True):
            rows = [segment.row]
            if not number:
                names, number = _names_carried_over(label, names, rows)
            found = Finding(normalise_people(names), 0.9, tuple(rows))
            numbered = Finding(number, 0.85, (rows[-1],)) if number else None
            return found, numbered or _number_near(label, segment.row)
    for row in label.content_rows():
        trailing = _TRAILING_COLLECTOR.match(row.text)
        if trailing and looks_like_people(trailing.group("names")):
            return Finding(
                normalise_people(trailing.group("names")), 0.8, (row.index,)
            ), None
    for row in label.content_rows():
        match = _BY_COLLECTOR.search(row.text)
        if match and not row.is_collection_header:
            names, number = split_people_number(match.group("names"))
            if looks_like_people(names):
                numbered = Finding(number, 0.7, (row.index,)) if number else None
                return Finding(normalise_people(names), 0.8, (row.index,)), numbered
    return None


def _number_near(label: Label, row_index: int) -> Finding | None:
    """A number printed on its own just above, beside or below the collector."""
    for index in (row_index, row_index + 1, row_index - 1):
        if not 0 <= index < len(label.rows):
            continue
        for line in label.rows[index].lines:
            text = line.text.strip()
            match = _MARKED_NUMBER.fullmatch(text) or _BARE_NUMBER.fullmatch(text)
            if match and not find_dates(text, bare_years=True):
                return Finding(_repair_number(match.group("n")), 0.7, (index,))
    return None


def _names_carried_over(label: Label, names: str, rows: list[int]) -> tuple[str, str]:
    """Names that end in an initial or "&" go on in the next row."""
    following = rows[-1] + 1
    if following >= len(label.rows) or not re.search(
        r"(?:\b[A-Z]\.|&|,|\band|\bwith)\s*$", names
    ):
        return names, ""
    more, number = split_people_number(label.rows[following].text)
    if not looks_like_people(more):
        return names, ""
    rows.append(following)
    return f"{names} {more}", number


def _row_countries(row: Row) -> list[str]:
    """Codes of the countries a row names (a place row is not a people row)."""
    countries = _places_run_together()[0]
    found = []
    for start, end in _place_spans(row):
        code = countries.get(_place_key(row, row.text[start:end]))
        if code:
            found.append(code)
    return found


def _collector_from_rows(label: Label) -> tuple[Finding, Finding | None] | None:
    """A free row that is only people and maybe a number: the collector row."""
    candidates: list[tuple[Row, str, str]] = []
    for row in label.content_rows():
        if row.index in label.used_rows or row.is_collection_header:
            continue
        if any(code for code in _row_countries(row)):
            continue
        names, number = split_people_number(row.text)
        if names and looks_like_people(names, need_initial=not number):
            candidates.append((row, names, number))
    numbered = [c for c in candidates if c[2]]
    if not candidates:
        return None
    row, names, number = numbered[0] if numbered else candidates[0]
    rows = [row.index]
    for other, other_names, _ in candidates:
        longer = len(other_names) > len(names)
        if other is not row and longer and _shares_surname(names, other_names):
            names, rows = other_names, rows + [other.index]
    names = _with_continuation(label, row, names, rows)
    certainty = 0.85 if number else 0.6
    found = Finding(normalise_people(names), certainty, tuple(rows))
    return found, Finding(number, 0.8, (row.index,)) if number else None


def _shares_surname(names: str, other: str) -> bool:
    surname = fold(names).split()[-1] if fold(names) else ""
    return bool(surname) and surname in fold(other).split()


def _with_continuation(label: Label, row: Row, names: str, rows: list[int]) -> str:
    """Join a following ``with A, B`` row to the collector's names."""
    following = row_below(label.rows, row)
    if following is not None:
        match = re.match(r"^(?:with|With|WITH)\s*(?P<more>[A-Z].+)$", following.text)
        if match and looks_like_people(match.group("more")):
            rows.append(following.index)
            return f"{names} with {match.group('more')}"
    return names


_DET_INLINE = re.compile(
    r"(?:^|\s)(?:det(?:ermined)?\.?\s*by|det\.|determined\s+by|identified\s+by)"
    r"\s*:?\s*(?P<names>.+)$",
    re.IGNORECASE,
)


def _determiner(label: Label) -> tuple[Finding, Finding | None] | None:
    """The person after ``Det.``, and the date next to the name."""
    sources = [(s.text, s.row, 0.9) for s in label.labelled("identifiedBy")]
    for row in label.content_rows():
        match = _DET_INLINE.search(row.text)
        if match:
            sources.append((match.group("names"), row.index, 0.8))
    sources.sort(key=lambda source: label.rows[source[1]].block != label.main_block)
    for text, row_index, certainty in sources:
        dates = find_dates(text, bare_years=True)
        names, _ = split_people_number(text)
        names = _tidy_names(re.sub(r"\([^)]*\)|\b\d+\b", " ", names))
        if names and looks_like_people(names, initials_only=True):
            date = Finding(dates[0].iso(), 0.8, (row_index,)) if dates else None
            return Finding(normalise_people(names), certainty, (row_index,)), date
    return None


def _people(label: Label) -> People:
    found = People()
    determiner = _determiner(label)
    if determiner:
        found.identified_by, found.date_identified = determiner
        label.used_rows.update(found.identified_by.rows)
    collector = _collector_from_labels(label) or _collector_from_rows(label)
    if collector:
        found.recorded_by, found.record_number = collector
        label.used_rows.update(found.recorded_by.rows)
    for segment in label.labelled("recordNumber"):
        if found.record_number is None:
            found.record_number = Finding(segment.text, 0.85, (segment.row,))
    if found.record_number is None:
        found.record_number = _lone_number(label)
    return found


_MARKED_NUMBER = re.compile(r"(?:No\.?|#|N[°º])\s*(?P<n>[A-Z]{0,3}-?\d[\w-]*)\.?")
_BARE_NUMBER = re.compile(r"(?P<n>[A-Z]?\d{2,6}[A-Za-z]?)\.?")


def _lone_number(label: Label) -> Finding | None:
    """A piece that is only ``No. 252``, ``#850`` or, failing that, ``3469``.

    A bare number standing alone on a label (top corner, margin) is most
    often the collector's number; it is the weakest rule, and years are not
    taken for numbers.
    """
    bare: Finding | None = None
    for row in label.content_rows():
        for line in row.lines:
            text = line.text.strip()
            marked = _MARKED_NUMBER.fullmatch(text) or _MARKED_NUMBER.match(
                text.split(" ")[0]
            )
            if marked:
                label.used_rows.add(row.index)
                return Finding(_repair_number(marked.group("n")), 0.6, (row.index,))
            plain = _BARE_NUMBER.fullmatch(text)
            if plain and bare is None and not find_dates(text, bare_years=True):
                bare = Finding(plain.group("n"), 0.35, (row.index,))
    return bare


# --------------------------------------------------------------------------
# eventDate


def _event_date(label: Label) -> tuple[DateValue, Finding] | None:
    """The collection date: a labelled date, else the best date in a row."""
    best: tuple[float, DateValue, Finding] | None = None
    for segment in label.segments:
        if segment.label == "identifiedBy":
            continue
        row = label.rows[segment.row]
        if row.is_institution or _DET_INLINE.search(row.text):
            continue
        bare = segment.label in {"eventDate", "recordedBy"} or _only_date(segment.text)
        for date in find_dates(segment.text, bare_years=bare):
            score = _date_score(segment, date)
            if best is None or score > best[0]:
                text = segment.text[date.span[0] : date.span[1]]
                best = (score, date, Finding(text, score, (segment.row,)))
    return (best[1], best[2]) if best else None


def _only_date(text: str) -> bool:
    dates = find_dates(text, bare_years=True)
    return len(dates) == 1 and len(re.sub(r"\W", "", text)) <= 14


def _date_score(segment: Segment, date: DateValue) -> float:
    score = 0.6
    if segment.label == "eventDate":
        score = 0.95
    elif segment.label == "recordedBy" or _only_date(segment.text):
        score = 0.85
    if date.start[2] is None:
        score -= 0.1 if date.start[1] is not None else 0.3
    return score


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


def _coordinates(label: Label) -> Coordinates | None:
    """The first latitude and longitude in degrees (and minutes, seconds)."""
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


def _elevation(label: Label) -> Finding | None:
    """A labelled elevation, else a number with m or ft in the label body."""
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


def _place_matches(label: Label) -> tuple[list[PlaceMatch], list[PlaceMatch]]:
    """Every country and every first-level subdivision named in the rows."""
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
                name = words if fold(words) in country_names() else _country_name(code)
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


def _country_name(code: str) -> str:
    """The ISO 3166 short name of a country code."""
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


def _choose_places(
    countries: list[PlaceMatch], regions: list[PlaceMatch]
) -> tuple[PlaceMatch | None, PlaceMatch | None, bool]:
    """Pick the country and the state; True when the country is inferred.

    Each country named on the label is scored with its best state; a state
    alone (its country inferred) scores a little less than when both are
    printed. "Georgia" beside "U.S.A." is a state, not a country: a country
    name that is also a state of another country on the label is dropped.
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
    for alone in _regions_without_country(regions):
        options.append((0.9 * alone.score, None, alone))
    if not options:
        return None, None, False
    _, country, region = max(options, key=lambda option: option[0])
    return country, region, country is None


def _regions_without_country(regions: list[PlaceMatch]) -> list[PlaceMatch]:
    """States that may stand alone; ambiguous names keep the preferred country."""
    for preferred in PREFERRED_SUBDIVISION_COUNTRIES:
        if any(r.code == preferred for r in regions):
            return [r for r in regions if r.code == preferred]
    return regions


_COUNTY = re.compile(
    r"(?P<name>(?:(?i:st|ste|mt|ft)\.\s*)?[A-Z][A-Za-z'-]+(?:\s+[A-Z][A-Za-z'-]+){0,2})"
    r"\s*(?:County|COUNTY|Co\.|CO\.|co\.|Co\b|Parish|PARISH|Dist\.|District)"
)
_COUNTY_BEFORE = re.compile(
    r"(?:^|[,;.]\s*)(?:County\s+of|Co\.|District\s+(?:of|de))\s*"
    r"(?P<name>[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)"
)


def _county(label: Label) -> Finding | None:
    """``X County``, ``X Co.``, ``X Parish`` or ``Co. X``."""
    for row in label.content_rows():
        for pattern in (_COUNTY, _COUNTY_BEFORE):
            match = pattern.search(row.text)
            if match and match.group("name").split()[0].lower() not in NOT_GENERA:
                return Finding(match.group("name"), 0.85, (row.index,))
    return None


# --------------------------------------------------------------------------
# locality and habitat

_SUBSTRATE = re.compile(r"^(?:on|over|sobre|sur|auf|in)\s", re.IGNORECASE)
_ADMIN_PREFIX = re.compile(
    r"^.{0,60}?\b(?:County|COUNTY|Co\.|CO\.|Parish|PARISH|Municipio|Municipality)\s*[:.,]\s*"
)


def _is_habitat_clause(clause: str) -> bool:
    words: list[str] = re.findall(r"[A-Za-zÀ-ÿ]+", clause)
    if not words or re.search(r"\d", clause):
        return False
    if not any(word.lower() in HABITAT_WORDS for word in words):
        return False
    capitals = sum(word[0].isupper() for word in words[1:])
    return capitals <= len(words) / 3


def _body_segments(label: Label, name_row: int | None) -> list[Segment]:
    """Free text segments of the label body, in reading order."""
    body = []
    for segment in label.segments:
        row = label.rows[segment.row]
        if segment.label is not None or segment.row in label.used_rows:
            continue
        if row.is_institution or row.is_noise or row.is_collection_header:
            continue
        if name_row is not None and segment.row < name_row:
            continue
        if label.main_block is not None and row.block != label.main_block:
            continue
        text = _remove_taken(segment.text, label.taken_text)
        if len(re.sub(r"[^A-Za-z]", "", text)) >= 3:
            body.append(
                Segment(segment.row, None, text, segment.confidence, segment.x0)
            )
    return body


def _remove_taken(text: str, taken: list[str]) -> str:
    for value in taken:
        if value and value in text:
            text = text.replace(value, " ")
    return " ".join(text.split()).strip(" ,;")


def _clauses(text: str) -> list[str]:
    parts = re.split(r";\s*|(?<=[a-z]{3})\.\s+(?=[A-Za-z])", text)
    return [p.strip(" ,;") for p in parts if p.strip(" ,;")]


def _locality_and_habitat(
    label: Label, name_row: int | None
) -> tuple[Finding | None, Finding | None]:
    """Labelled values first; else the body, habitat clauses split off."""
    habitat_parts: list[tuple[str, int]] = [
        (s.text, s.row) for s in label.labelled("habitat")
    ]
    locality_parts: list[tuple[str, int]] = [
        (s.text, s.row) for s in label.labelled("locality")
    ]
    body = _body_segments(label, name_row)
    if body and _SUBSTRATE.match(body[0].text) and not habitat_parts:
        habitat_parts.append((body[0].text, body[0].row))
        body = body[1:]
    labelled_locality = bool(locality_parts)
    if not locality_parts and body:
        text = _ADMIN_PREFIX.sub("", " ".join(s.text for s in body))
        rows = [s.row for s in body]
        for clause in _clauses(text):
            if _is_habitat_clause(clause) and not label.labelled("habitat"):
                habitat_parts.append((clause, rows[-1]))
            else:
                locality_parts.append((clause, rows[0]))
    locality = _join_parts(locality_parts, 0.85 if labelled_locality else 0.55, "; ")
    habitat = _join_parts(
        habitat_parts, 0.8 if label.labelled("habitat") else 0.55, " "
    )
    return locality, habitat


def _join_parts(
    parts: list[tuple[str, int]], certainty: float, sep: str
) -> Finding | None:
    texts = [text for text, _ in parts if text]
    if not texts:
        return None
    return Finding(sep.join(texts), certainty, tuple(sorted({r for _, r in parts})))


# --------------------------------------------------------------------------


def parse_label(ocr: OcrResult) -> ParsedLabel:
    """Read Darwin Core terms from the OCR lines of one label or sheet.

    :param ocr: the OCR result (lines with text, confidence and box).
    :returns: verbatim values and a confidence per term found; terms not
        found are absent.

    >>> from herbarium_dwc.record import OcrLine
    >>> line = OcrLine(text="Richard C. Harris 53566", confidence=0.98,
    ...                box=(10, 10, 400, 40))
    >>> parse_label(OcrResult(engine="x", text="", lines=[line])).verbatim
    {'recordedBy': 'Richard C. Harris', 'recordNumber': '53566'}
    """
    rows = group_rows(ocr)
    label = Label(rows, segments(rows), main_block=main_block(rows))
    label.vertical = [line for line in ocr.lines if is_vertical(line)]
    parsed = ParsedLabel()

    def put(term: str, finding: Finding | None, value: str | None = None) -> None:
        if finding is not None:
            parsed.put(
                term,
                finding.value if value is None else value,
                label.confidence(finding),
            )

    catalog = _catalog_number(label)
    if catalog:
        label.used_rows.update(catalog.rows)
    put("catalogNumber", catalog)
    name = _scientific_name(label)
    if name:
        label.used_rows.update(name.rows)
    put("scientificName", name)
    people = _people(label)
    put("recordedBy", people.recorded_by)
    put("recordNumber", people.record_number)
    put("identifiedBy", people.identified_by)
    put("dateIdentified", people.date_identified)
    for finding in (people.recorded_by, people.record_number, people.identified_by):
        if finding:
            label.taken_text.append(finding.value)
    _put_date(label, parsed)
    _put_coordinates(label, parsed)
    elevation = _elevation(label)
    put("verbatimElevation", elevation)
    _put_places(label, parsed)
    locality, habitat = _locality_and_habitat(label, name.rows[0] if name else None)
    put("locality", locality)
    put("habitat", habitat)
    logger.debug("parsed %d terms from %d rows", len(parsed.verbatim), len(rows))
    return parsed


def _put_date(label: Label, parsed: ParsedLabel) -> None:
    found = _event_date(label)
    if found is None:
        return
    date, finding = found
    confidence = label.confidence(finding)
    parsed.put("verbatimEventDate", finding.value, confidence)
    parsed.put("eventDate", date.iso(), confidence)
    label.taken_text.append(finding.value)


def _put_coordinates(label: Label, parsed: ParsedLabel) -> None:
    found = _coordinates(label)
    if found is None:
        return
    confidence = label.confidence(found.verbatim)
    parsed.put("verbatimCoordinates", found.verbatim.value, confidence)
    if found.latitude is not None:
        parsed.put("decimalLatitude", f"{found.latitude:.5f}", confidence)
    if found.longitude is not None:
        parsed.put("decimalLongitude", f"{found.longitude:.5f}", confidence)


def _put_places(label: Label, parsed: ParsedLabel) -> None:
    country, region, inferred = _choose_places(*_place_matches(label))
    if country:
        certainty = 0.9 if country.score >= 1.5 else 0.75
        parsed.put("country", country.name, certainty * country.row.confidence)
    elif region and inferred:
        parsed.put("country", _country_name(region.code), 0.6 * region.row.confidence)
    if region:
        printed = region.row.text[region.start : region.end]
        value = printed if fold(printed) == fold(region.name) else region.name
        parsed.put("stateProvince", value, 0.8 * region.row.confidence)
    county = _county(label)
    if county:
        parsed.put("county", county.value, label.confidence(county))
    if country and country_code(country.name) is None:
        logger.debug("country %r has no ISO code", country.name)
