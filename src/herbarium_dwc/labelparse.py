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
   collector and number, "X County:", degree-minute coordinates); people
   are read in :mod:`herbarium_dwc.labelpeople`, places, coordinates and
   elevation in :mod:`herbarium_dwc.labelplaces`;
3. the locality and habitat are what remains of the label body once those
   terms are taken out, cut into clauses.

Each term gets a confidence: the OCR confidence of the rows it came from
times how sure the rule that found it is (a printed label is surer than a
free-text pattern).

Known limits (measured on the aocr reference set, see
benchmarks/evaluate_offline.py):

- Handwriting: RapidOCR's models read print; handwritten names come out
  garbled, so on handwritten labels scientificName is wrong or missing (26
  of the 30 WIS lichen packets). The OCR confidence, and so the term's
  confidence, is low there. A handwriting-capable OCR or the API engine
  would remove this.
- Words run together: on whole sheets the small label print is often read
  without spaces (``ForestieraeggersianaKrug``), which defeats the name and
  people patterns. A larger ``max_edge`` helps at some OCR cost.
- Several labels on a sheet: terms may come from an annotation label rather
  than the collection label; the locality is read from the largest block of
  text only, and the record gets :data:`FLAG_SEVERAL_LABELS`.
- A state or province is recognised only when its name is a first-level
  subdivision in pycountry; municipality is not read at all (the term stays
  empty), as labels rarely mark it apart from the locality.
- Catalogue numbers printed sideways are read reliably only after
  :func:`herbarium_dwc.verticalocr.reread_vertical_lines`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS
from herbarium_dwc.labellayout import (
    Finding,
    Label,
    Row,
    Segment,
    group_rows,
    is_institution_text,
    is_vertical,
    main_block,
    segments,
)
from herbarium_dwc.labelpeople import DET_INLINE, read_people
from herbarium_dwc.labelplaces import (
    choose_places,
    country_name,
    place_matches,
    read_coordinates,
    read_county,
    read_elevation,
)
from herbarium_dwc.labeltext import (
    HABITAT_WORDS,
    NOT_EPITHETS,
    NOT_GENERA,
    PREFERRED_SUBDIVISION_COUNTRIES,
    DateValue,
    country_code,
    find_dates,
    fold,
    subdivision_names,
)
from herbarium_dwc.record import OcrLine, OcrResult

logger = logging.getLogger(__name__)

# The terms the parser can fill: every extracted term but municipality, which
# it never reads (labels rarely mark it apart from the locality; see above).
PARSED_TERMS: tuple[str, ...] = tuple(
    term for term in EXTRACTED_TERMS if term != "municipality"
)


@dataclass(frozen=True)
class ParseSettings:
    """Choices of the label parser that depend on the collection.

    :param region_countries: ISO 3166 codes whose states a state name alone
        means, in order, when the label names no country and several
        countries have a state of that name ("Victoria", "Distrito Federal").
    :param min_confidence: OCR lines read below this confidence are ignored.
    """

    region_countries: tuple[str, ...] = PREFERRED_SUBDIVISION_COUNTRIES
    min_confidence: float = 0.5


# What ParsedLabel.flags may hold: things the parser noticed and a curator
# may want to check.
FLAG_AMBIGUOUS_DATE = "eventDate:ambiguous_date"  # a date with no ISO form
FLAG_GENUS_ONLY = "scientificName:genus_only"
FLAG_COUNTRY_INFERRED = "country:inferred_from_state"
FLAG_SEVERAL_LABELS = "locality:several_labels"  # read from the largest only


@dataclass
class ParsedLabel:
    """Darwin Core terms read from one label.

    :param verbatim: term to the value as printed (eventDate as ISO 8601 when
        the date is unambiguous).
    :param confidence: term to 0-1, OCR confidence times rule certainty.
    :param flags: ``FLAG_*`` values for what the parser noticed.
    """

    verbatim: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def put(self, term: str, value: str, confidence: float) -> None:
        """Record a term unless the value is empty."""
        value = " ".join(value.split()).strip(" ,;:")
        if value:
            self.verbatim[term] = value
            self.confidence[term] = round(max(0.0, min(1.0, confidence)), 3)


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
    best_text = ""
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
            best_text = line.text
    if best_text:
        # The barcode line may share a row with the collector; it feeds no
        # other term.
        label.taken_text.append(best_text)
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
    """The best binomial, preferring row starts followed by authors.

    With no binomial, a row that is one Latin-looking capitalised word
    (``4076. Alectoria``) gives the genus alone, at low confidence.
    """
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
    return best[1] if best else _genus_alone(label)


_GENUS_ALONE = re.compile(r"[A-Z][a-zäëïöüé]{4,}")
_GENUS_ENDINGS = ("a", "ia", "um", "us", "is", "on", "ella", "ina", "aria", "ora")


def _genus_alone(label: Label) -> Finding | None:
    labelled = {segment.row for segment in label.segments if segment.label}
    for row in label.content_rows():
        if row.is_collection_header or row.index in labelled:
            continue
        word = _ROW_NUMBERING.sub("", row.text).strip(" .")
        if not _GENUS_ALONE.fullmatch(word) or word.lower() in NOT_GENERA:
            continue
        is_place = country_code(word) or fold(word) in subdivision_names()
        if word.lower().endswith(_GENUS_ENDINGS) and not is_place:
            return Finding(word, 0.4, (row.index,))
    return None


# --------------------------------------------------------------------------
# eventDate


def _event_date(label: Label) -> tuple[DateValue, Finding] | None:
    """The collection date: a labelled date, else the best date in a row."""
    best: tuple[float, DateValue, Finding] | None = None
    for segment in label.segments:
        if segment.label == "identifiedBy":
            continue
        row = label.rows[segment.row]
        if row.is_institution or DET_INLINE.search(row.text):
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
    return " ".join(text.split())


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


def parse_label(ocr: OcrResult, settings: ParseSettings | None = None) -> ParsedLabel:
    """Read Darwin Core terms from the OCR lines of one label or sheet.

    :param ocr: the OCR result (lines with text, confidence and box).
    :param settings: collection-dependent choices; defaults when None.
    :returns: verbatim values and a confidence per term found (terms not
        found are absent), and flags for what a curator may want to check.

    >>> from herbarium_dwc.record import OcrLine
    >>> line = OcrLine(text="Richard C. Harris 53566", confidence=0.98,
    ...                box=(10, 10, 400, 40))
    >>> parse_label(OcrResult(engine="x", text="", lines=[line])).verbatim
    {'recordedBy': 'Richard C. Harris', 'recordNumber': '53566'}
    """
    settings = settings or ParseSettings()
    rows = group_rows(ocr, settings.min_confidence)
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
    put("catalogNumber", catalog)
    name = _scientific_name(label)
    if name:
        label.used_rows.update(name.rows)
    put("scientificName", name)
    if name and " " not in name.value:
        parsed.flags.append(FLAG_GENUS_ONLY)
    people = read_people(label)
    put("recordedBy", people.recorded_by)
    put("recordNumber", people.record_number)
    put("identifiedBy", people.identified_by)
    put("dateIdentified", people.date_identified)
    for finding in (people.recorded_by, people.record_number, people.identified_by):
        if finding:
            label.taken_text.append(finding.value)
    _put_date(label, parsed)
    _put_coordinates(label, parsed)
    elevation = read_elevation(label)
    put("verbatimElevation", elevation)
    _put_places(label, parsed, settings.region_countries)
    locality, habitat = _locality_and_habitat(label, name.rows[0] if name else None)
    put("locality", locality)
    put("habitat", habitat)
    if _several_labels(label):
        parsed.flags.append(FLAG_SEVERAL_LABELS)
    logger.debug("parsed %d terms from %d rows", len(parsed.verbatim), len(rows))
    return parsed


def _several_labels(label: Label) -> bool:
    """Two or more blocks of text, the smaller at least a third of the larger."""
    sizes: dict[int, int] = {}
    for row in label.content_rows():
        sizes[row.block] = sizes.get(row.block, 0) + len(row.text)
    large = [size for size in sizes.values() if size >= max(sizes.values()) / 3]
    return len(large) > 1


def _put_date(label: Label, parsed: ParsedLabel) -> None:
    found = _event_date(label)
    if found is None:
        return
    date, finding = found
    confidence = label.confidence(finding)
    parsed.put("verbatimEventDate", finding.value, confidence)
    parsed.put("eventDate", date.iso(), confidence)
    if not date.iso():
        parsed.flags.append(FLAG_AMBIGUOUS_DATE)
    label.taken_text.append(finding.value)


def _put_coordinates(label: Label, parsed: ParsedLabel) -> None:
    found = read_coordinates(label)
    if found is None:
        return
    confidence = label.confidence(found.verbatim)
    parsed.put("verbatimCoordinates", found.verbatim.value, confidence)
    if found.latitude is not None:
        parsed.put("decimalLatitude", f"{found.latitude:.5f}", confidence)
    if found.longitude is not None:
        parsed.put("decimalLongitude", f"{found.longitude:.5f}", confidence)


def _put_places(label: Label, parsed: ParsedLabel, preferred: tuple[str, ...]) -> None:
    country, region, inferred = choose_places(*place_matches(label), preferred)
    if country:
        certainty = 0.9 if country.score >= 1.5 else 0.75
        parsed.put("country", country.name, certainty * country.row.confidence)
    elif region and inferred:
        parsed.put("country", country_name(region.code), 0.6 * region.row.confidence)
        parsed.flags.append(FLAG_COUNTRY_INFERRED)
    if region:
        printed = region.row.text[region.start : region.end]
        value = printed if fold(printed) == fold(region.name) else region.name
        parsed.put("stateProvince", value, 0.8 * region.row.confidence)
    county = read_county(label)
    if county:
        parsed.put("county", county.value, label.confidence(county))
    if country and country_code(country.name) is None:
        logger.debug("country %r has no ISO code", country.name)
