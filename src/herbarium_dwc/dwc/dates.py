"""Dates on labels to ISO 8601 ``eventDate`` / ``dateIdentified``.

A label date is read as a sequence of numbers, month words (English, French,
Spanish, German, Latin, Italian, Portuguese; whole or abbreviated) and
Roman-numeral months, split by separators. The sequence is matched against
the forms collectors write (``14 Aug 1969``, ``Aug. 14, 1969``,
``14.VIII.1969``, ``1/9/82``, ``1969-08``, ``19-23 June 1967``,
``AUG. 31-SEPT. 20, 1905``, ``June July Aug. 1940``) and the result keeps
exactly the precision written: a month-only date stays ``1969-08``, a day is
never invented.

Doubts become flags (``eventDate:<reason>``), see :data:`FLAG_REASONS`.
"""

from __future__ import annotations

import calendar
import contextlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

logger = logging.getLogger(__name__)

DateOrder = Literal["dmy", "mdy"]

#: Why a date was changed or rejected, as used in ``term:reason`` flags.
FLAG_REASONS: dict[str, str] = {
    "unparsed": "no date form was recognised; the ISO term is left empty",
    "no_year": "the date has no year; the ISO term is left empty",
    "ambiguous_century": "a two-digit year fits more than one century",
    "two_digit_year": "a two-digit year was expanded to the only possible century",
    "day_month_order_assumed": "both numbers could be the month; the configured "
    "date_order decided",
    "invalid_date": "the day does not exist in that month, or the range ends "
    "before it starts",
    "in_future": "the date lies after the reference year",
    "ocr_confusion_fixed": "letters read in place of digits (l for 1, O for 0) "
    "were corrected",
    "season_not_encoded": "a season was named; ISO 8601 keeps only the year",
    "approximate": "the label marks the date as approximate (ca., circa)",
    "engine_value_replaced": "the engine's ISO value disagreed with the verbatim "
    "date and was replaced",
    "determination_date_moved": "a det. date was found in the collecting date "
    "and moved to dateIdentified",
}

# Whole month words as labels write them (accents kept), in English, French,
# Spanish, German, Latin, Italian and Portuguese. Lookups fold the accents;
# the label parser also needs the accented forms to search raw OCR text.
_MONTH_WORDS: dict[int, str] = {
    1: "january janvier enero januar janner jaenner januarius ianuarius januarii "
    "ianuarii gennaio janeiro",
    2: "february février febrero februar februarius februarii febbraio fevereiro",
    3: "march mars marzo märz maerz martius martii março",
    4: "april avril abril aprilis aprile",
    5: "may mai mayo maius maii maggio maio",
    6: "june juin junio juni junius iunius junii iunii giugno junho",
    7: "july juillet julio juli julius iulius julii iulii luglio julho",
    8: "august août agosto augustus augusti",
    9: "september septembre septiembre setiembre septembris settembre setembro",
    10: "october octobre octubre oktober octobris ottobre outubro",
    11: "november novembre noviembre novembris novembro",
    12: "december décembre diciembre dezember decembris dicembre dezembro",
}
# Abbreviations written on labels. Each is also a prefix of a whole word
# above, which month_from_word accepts anyway; they are listed because the
# label parser searches free text for these spellings only. Prefixes that are
# common words ("out" for outubro) are left off so the parser never takes
# them for a month; month_from_word, used on date fields, still reads them.
_MONTH_ABBREVIATIONS: dict[int, str] = {
    1: "jan janv ene",
    2: "feb febr fevr févr fev",
    3: "mar",
    4: "apr avr",
    6: "jun",
    7: "jul juil",
    8: "aug ago",
    9: "sep sept set",
    10: "oct okt",
    11: "nov",
    12: "dec dic dez",
}


def _fold(text: str) -> str:
    """Lower-case and strip accents (``août`` -> ``aout``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _spellings(table: dict[int, str]) -> dict[str, int]:
    """Each word of ``table`` to its month, as written and with accents folded."""
    spellings: dict[str, int] = {}
    for number, words in table.items():
        for word in words.split():
            spellings[word] = spellings[_fold(word)] = number
    return spellings


_WHOLE_MONTHS = _spellings(_MONTH_WORDS)
#: Every month word and abbreviation, lower case, to its month number (1-12);
#: accented words appear both as written (``août``) and folded (``aout``).
MONTH_SPELLINGS: dict[str, int] = _WHOLE_MONTHS | _spellings(_MONTH_ABBREVIATIONS)
#: Roman-numeral months, lower case, to their number.
ROMAN_MONTHS: dict[str, int] = {
    "i": 1,
    "ii": 2,
    "iii": 3,
    "iv": 4,
    "v": 5,
    "vi": 6,
    "vii": 7,
    "viii": 8,
    "ix": 9,
    "x": 10,
    "xi": 11,
    "xii": 12,
}

# Words that carry no date information on a label.
_NOISE_WORDS = frozenset(
    {
        "de",
        "del",
        "of",
        "the",
        "le",
        "am",
        "den",
        "im",
        "anno",
        "on",
        "en",
        "el",
        "date",
        "dated",
        "fecha",
        "datum",
        "collected",
        "coll",
        "col",
        "leg",
    }
)
_SEASON_WORDS = frozenset(
    {
        "spring",
        "summer",
        "autumn",
        "fall",
        "winter",
        "printemps",
        "ete",
        "automne",
        "hiver",
        "primavera",
        "verano",
        "otono",
        "invierno",
        "fruhling",
        "sommer",
        "herbst",
        "ver",
        "aestas",
        "autumnus",
        "hiems",
    }
)
_APPROX_WORDS = frozenset(
    {
        "ca",
        "c",
        "circa",
        "about",
        "approx",
        "approximately",
        "around",
        "cerca",
        "env",
        "environ",
        "etwa",
    }
)
# Words and signs that join the two ends of a range or the items of a list.
_CONNECTOR_WORDS = frozenset(
    {
        "to",
        "au",
        "bis",
        "al",
        "a",
        "till",
        "until",
        "through",
        "thru",
        "and",
        "y",
        "et",
        "und",
        "e",
    }
)
_CONNECTOR_SIGNS = frozenset({"-", "/", "&", ",", "+"})

Part = tuple[int | None, int | None, int | None]  # (year, month, day)


def month_from_word(word: str) -> int | None:
    """Return the month number a month word or abbreviation stands for.

    :param word: a word such as ``Aug.``, ``août``, ``Sept``, ``Augusti`` or a
        Roman numeral ``VIII``.
    :return: 1-12, or None when the word is not (uniquely) a month.

    >>> month_from_word("juil."), month_from_word("VIII"), month_from_word("ju")
    (7, 8, None)
    """
    folded = _fold(word).rstrip(".")
    if not folded.isalpha():
        return None
    if folded in ROMAN_MONTHS:
        return ROMAN_MONTHS[folded]
    if folded in MONTH_SPELLINGS:
        return MONTH_SPELLINGS[folded]
    if len(folded) < 3:
        return None
    found = {
        number for whole, number in _WHOLE_MONTHS.items() if whole.startswith(folded)
    }
    return found.pop() if len(found) == 1 else None


@dataclass(frozen=True)
class _Token:
    kind: Literal["num", "month", "sep", "word", "approx", "year2"]
    text: str
    value: int = 0


@dataclass
class DateResult:
    """A parsed label date.

    ``start`` and ``end`` are (year, month, day) with None where the label did
    not say; they are equal for a single date.
    """

    text: str
    iso: str = ""
    start: Part | None = None
    end: Part | None = None
    flags: list[str] = field(default_factory=list)

    def dwc_fields(self) -> dict[str, str]:
        """Return year, month, day, startDayOfYear and endDayOfYear as strings.

        A field is filled only where both ends of the range agree on it (year,
        month, day) or where that end is known to the day (day-of-year terms).
        """
        out: dict[str, str] = {}
        if self.start is None or self.end is None:
            return out
        names = ("year", "month", "day")
        for index, name in enumerate(names):
            first, last = self.start[index], self.end[index]
            if first is not None and first == last:
                out[name] = str(first)
            elif first != last:
                break
        for key, part in (("startDayOfYear", self.start), ("endDayOfYear", self.end)):
            year, month, day = part
            if year is not None and month is not None and day is not None:
                out[key] = str(date(year, month, day).timetuple().tm_yday)
        return out


class _Unparsable(Exception):
    """Internal: the text does not match a known date form."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Only confusions next to digits are fixed. Known gap: a digit inside a month
# word ("13 M4r., 1971" in the AOCR set) is not repaired, because guessing the
# letter (a? e?) could invent a different month; such dates stay empty with
# the flag "unparsed" and the text in verbatimEventDate.
_OCR_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b0ct\b", re.IGNORECASE), "Oct"),
    (re.compile(r"(?<=\d)[lI]|[lI](?=\d)"), "1"),
    (re.compile(r"(?<=\d)[Oo]|[Oo](?=\d)"), "0"),
    (re.compile(r"\bl\b(?=\s*[,.]?\s*\d{4}\b)"), "1"),
)
_TOKEN_RE = re.compile(r"'\d{2}\b|\d+|[^\W\d_]+\.?|[-/.,&+]", re.UNICODE)
_TIME_RE = re.compile(r"T\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def _tokenise(text: str, flags: list[str], term: str) -> list[_Token]:
    fixed = text
    for pattern, replacement in _OCR_FIXES:
        fixed = pattern.sub(replacement, fixed)
    if fixed != text:
        flags.append(f"{term}:ocr_confusion_fixed")
    fixed = _TIME_RE.sub("", fixed)
    for dash in ("\u2013", "\u2014", "\u2012", "\u2212"):
        fixed = fixed.replace(dash, "-")
    tokens: list[_Token] = []
    for raw in _TOKEN_RE.findall(fixed):
        if raw.startswith("'"):
            tokens.append(_Token("year2", raw, int(raw[1:])))
        elif raw.isdigit():
            tokens.append(_Token("num", raw, int(raw)))
        elif raw in _CONNECTOR_SIGNS or raw == ".":
            tokens.append(_Token("sep", raw))
        else:
            word = _fold(raw).rstrip(".")
            month = month_from_word(raw)
            # A lone "i" or "v" is a Roman month only beside digits; the rest of
            # the Roman months are unambiguous enough on a date field.
            if month is not None:
                tokens.append(_Token("month", raw, month))
            elif word in _APPROX_WORDS:
                tokens.append(_Token("approx", raw))
            elif word in _SEASON_WORDS:
                flags.append(f"{term}:season_not_encoded")
            elif word in _CONNECTOR_WORDS:
                tokens.append(_Token("sep", word))
            elif word in _NOISE_WORDS:
                continue
            elif (
                re.fullmatch(r"(st|nd|rd|th|er|e|o|a|ro)", word)
                and tokens
                and (tokens[-1].kind == "num")
            ):
                continue  # ordinal suffix: 1st, 21st, 1er
            else:
                tokens.append(_Token("word", raw))
    return tokens


@dataclass
class _Resolver:
    """Turns two-digit years into four-digit ones without looking ahead."""

    reference_year: int
    earliest_year: int
    term: str
    flags: list[str]

    def year(self, token: _Token) -> int:
        if token.kind == "num" and len(token.text) == 4:
            return token.value
        if token.kind == "year2" or (token.kind == "num" and len(token.text) == 2):
            candidates = [
                century * 100 + token.value
                for century in range(
                    self.earliest_year // 100, self.reference_year // 100 + 1
                )
                if self.earliest_year
                <= century * 100 + token.value
                <= self.reference_year
            ]
            if len(candidates) == 1:
                return candidates[0]
            if not candidates:
                raise _Unparsable("in_future")
            raise _Unparsable("ambiguous_century")
        raise _Unparsable("unparsed")


def _kinds(tokens: list[_Token]) -> str:
    """Compress value tokens to a pattern: Y year, N number, M month, y 'yy."""
    out = []
    for token in tokens:
        if token.kind == "month":
            out.append("M")
        elif token.kind == "year2":
            out.append("y")
        elif len(token.text) == 4:
            out.append("Y")
        elif len(token.text) <= 2:
            out.append("N")
        else:
            out.append("?")
    return "".join(out)


def _piece_candidates(
    tokens: list[_Token], order: DateOrder, resolver: _Resolver
) -> list[Part]:
    """All readings of one date (one end of a range), most likely first."""
    values = [t for t in tokens if t.kind in ("num", "month", "year2")]
    if any(t.kind == "word" for t in tokens):
        raise _Unparsable("unparsed")
    pattern = _kinds(values)
    v = [t.value for t in values]
    seps = [t.text for t in tokens if t.kind == "sep"]
    year = resolver.year
    if pattern in ("Y", "y"):
        return [(year(values[0]), None, None)]
    if pattern == "YN" and len(values[1].text) == 2:
        return [(v[0], v[1], None)]
    if pattern == "YNN" and set(seps) <= {"-", "/", "."}:
        return [(v[0], v[1], v[2])]
    if pattern == "YM":
        return [(v[0], v[1], None)]
    if pattern == "YMN":
        return [(v[0], v[1], v[2])]
    if pattern == "M":
        return [(None, v[0], None)]
    if pattern in ("MY", "My"):
        return [(year(values[1]), v[0], None)]
    if pattern == "MN":
        if v[1] > 31:
            return [(year(values[1]), v[0], None)]
        return [(None, v[0], v[1])]
    if pattern in ("MNY", "MNy", "MNN"):
        return [(year(values[2]), v[0], v[1])]
    if pattern == "NM":
        return [(None, v[1], v[0])]
    if pattern in ("NMY", "NMy", "NMN"):
        return [(year(values[2]), v[1], v[0])]
    if pattern == "N":
        readings: list[Part] = [(None, None, v[0]), (None, v[0], None)]
        if len(values[0].text) == 2:
            with contextlib.suppress(_Unparsable):
                readings.append((year(values[0]), None, None))
        return readings
    if pattern in ("NY", "Ny"):
        return [(year(values[1]), v[0], None), (year(values[1]), None, v[0])]
    if pattern == "NN":
        readings = _day_month(v[0], v[1], order, resolver, flag=False)
        readings = [(None, m, d) for _, m, d in readings]
        if len(values[1].text) == 2 and 1 <= v[0] <= 12:
            with contextlib.suppress(_Unparsable):
                readings.append((year(values[1]), v[0], None))
        return readings
    if pattern in ("NNY", "NNN", "NNy"):
        y = year(values[2])
        return [(y, m, d) for _, m, d in _day_month(v[0], v[1], order, resolver)]
    if pattern == "MNM":  # not a single date
        raise _Unparsable("unparsed")
    raise _Unparsable("unparsed")


def _day_month(
    first: int, second: int, order: DateOrder, resolver: _Resolver, flag: bool = True
) -> list[Part]:
    """Read two numbers as day and month, using ``order`` only when both fit."""
    if first > 12 and second <= 12:
        return [(None, second, first)]
    if second > 12 and first <= 12:
        return [(None, first, second)]
    if first > 12 and second > 12:
        raise _Unparsable("unparsed")
    if flag and first != second:
        resolver.flags.append(f"{resolver.term}:day_month_order_assumed")
    if order == "dmy":
        return [(None, second, first)]
    return [(None, first, second)]


def _precision(part: Part) -> int:
    return sum(1 for value in part if value is not None)


def _check(part: Part) -> Part:
    year, month, day = part
    if year is None:
        raise _Unparsable("no_year")
    if month is not None and not 1 <= month <= 12:
        raise _Unparsable("invalid_date")
    if day is not None:
        if month is None:
            raise _Unparsable("unparsed")
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            raise _Unparsable("invalid_date")
    return part


def _combine(left: Part, right: Part) -> tuple[Part, Part]:
    """Fill what each end of a range leaves out from the other end."""
    ly, lm, ld = left
    ry, rm, rd = right
    # "1856-7": a lone short number after a year completes that year.
    if lm is None and ld is None and ly is not None and ry is None and rm is None:
        assert rd is not None
        digits = len(str(rd))
        ry = int(str(ly)[:-digits] + str(rd)) if digits < 4 else rd
        rd = None
    if ly is None:
        ly = ry
    if lm is None and ld is not None:
        lm = rm
    if rm is None and rd is not None:
        rm = lm
    if ry is None:
        ry = ly
    return (ly, lm, ld), (ry, rm, rd)


def _iso(part: Part) -> str:
    year, month, day = part
    text = f"{year:04d}"
    if month is not None:
        text += f"-{month:02d}"
        if day is not None:
            text += f"-{day:02d}"
    return text


def _parse_range(
    tokens: list[_Token], order: DateOrder, resolver: _Resolver, depth: int = 0
) -> tuple[Part, Part]:
    """Parse ``tokens`` as one date, else as a range or list of dates."""
    try:
        single = _piece_candidates(tokens, order, resolver)
    except _Unparsable as exc:
        single = []
        first_error = exc
    else:
        first_error = _Unparsable("unparsed")
    for reading in single:
        try:
            checked = _check(reading)
        except _Unparsable as exc:
            first_error = exc
            continue
        return checked, checked
    if depth > 4:
        raise first_error
    # Several months in a row ("June July Aug. 1940"): a range of months.
    values = [t for t in tokens if t.kind != "sep"]
    if len(values) >= 3 and all(t.kind == "month" for t in values[:-1]):
        year = resolver.year(values[-1])
        return _check((year, values[0].value, None)), _check(
            (year, values[-2].value, None)
        )
    errors: list[_Unparsable] = [first_error]
    split_points = [
        i for i, token in enumerate(tokens) if token.kind == "sep" and token.text != "."
    ]
    for i in split_points:
        left_tokens, right_tokens = tokens[:i], tokens[i + 1 :]
        if not any(t.kind != "sep" for t in left_tokens) or not any(
            t.kind != "sep" for t in right_tokens
        ):
            continue
        try:
            left_readings = _piece_candidates(left_tokens, order, resolver)
            right_start, right_end = _parse_range_or_piece(
                right_tokens, order, resolver, depth
            )
        except _Unparsable as exc:
            errors.append(exc)
            continue
        for right_reading in right_start:
            for left_reading in left_readings:
                try:
                    start, end = _combine(left_reading, right_reading)
                    if right_end is not None:
                        end = right_end
                    if _precision(start) != _precision(end):
                        continue
                    start, end = _check(start), _check(end)
                except _Unparsable as exc:
                    errors.append(exc)
                    continue
                if _iso(start) > _iso(end):
                    errors.append(_Unparsable("invalid_date"))
                    continue
                return start, end
    raise _most_telling(errors)


def _parse_range_or_piece(
    tokens: list[_Token], order: DateOrder, resolver: _Resolver, depth: int
) -> tuple[list[Part], Part | None]:
    """Readings of the right-hand side: partial pieces, or a whole sub-range."""
    try:
        return _piece_candidates(tokens, order, resolver), None
    except _Unparsable:
        start, end = _parse_range(tokens, order, resolver, depth + 1)
        return [start], end


def _most_telling(errors: list[_Unparsable]) -> _Unparsable:
    for reason in ("ambiguous_century", "in_future", "invalid_date", "no_year"):
        for error in errors:
            if error.reason == reason:
                return error
    return errors[0] if errors else _Unparsable("unparsed")


def parse_date(
    text: str,
    *,
    term: str = "eventDate",
    date_order: DateOrder = "mdy",
    reference_year: int | None = None,
    earliest_year: int = 1900,
) -> DateResult:
    """Read a label date into ISO 8601, keeping the precision that was written.

    :param text: the date as written, e.g. ``"Sept.21, 1960"``.
    :param term: the Darwin Core term the flags name (``eventDate`` or
        ``dateIdentified``).
    :param date_order: how to read ``1/9/82`` when both numbers could be the
        month: ``"mdy"`` (September? no: January 9) or ``"dmy"`` (1 September).
    :param reference_year: no date may lie after this year (default: this year).
    :param earliest_year: the earliest year a two-digit year may stand for; a
        two-digit year that fits two centuries in ``[earliest_year,
        reference_year]`` is left empty and flagged ``ambiguous_century``.
    :return: a :class:`DateResult`; ``iso`` is empty when the date could not be
        read, and ``flags`` says why.

    >>> parse_date("14.VIII.1969").iso
    '1969-08-14'
    >>> parse_date("19-23 June 1967").iso
    '1967-06-19/1967-06-23'
    """
    reference = reference_year if reference_year is not None else date.today().year
    result = DateResult(text=text)
    cleaned = " ".join(text.split())
    if not cleaned:
        return result
    tokens = _tokenise(cleaned, result.flags, term)
    if any(t.kind == "approx" for t in tokens):
        result.flags.append(f"{term}:approximate")
        tokens = [t for t in tokens if t.kind != "approx"]
    resolver = _Resolver(reference, earliest_year, term, result.flags)
    try:
        start, end = _parse_range(tokens, date_order, resolver)
    except _Unparsable as exc:
        # Flags added while trying readings that were then dropped say nothing.
        result.flags = [
            f for f in result.flags if not f.endswith(":day_month_order_assumed")
        ]
        result.flags.append(f"{term}:{exc.reason}")
        logger.debug("%s %r not read: %s", term, text, exc.reason)
        return result
    if (start[0] or 0) > reference or (end[0] or 0) > reference:
        result.flags.append(f"{term}:in_future")
        return result
    written_years = {t.value for t in tokens if t.kind == "num" and len(t.text) == 4}
    if {start[0], end[0]} - written_years:
        result.flags.append(f"{term}:two_digit_year")
    result.flags = list(dict.fromkeys(result.flags))
    result.start, result.end = start, end
    result.iso = _iso(start) if start == end else f"{_iso(start)}/{_iso(end)}"
    return result


_ISO_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?(/\d{4}(-\d{2}(-\d{2})?)?)?$")


def is_iso_date(text: str) -> bool:
    """Return True when ``text`` already is an ISO 8601 date or date range.

    >>> is_iso_date("1969-08"), is_iso_date("Aug 1969")
    (True, False)
    """
    return bool(_ISO_RE.match(text.strip()))
