"""Collectors, their numbers and determiners on a label, for the label parser.

People are read after printed labels (``Coll.``, ``Collector``, ``leg.``,
``Det.``, ``By``), from captions printed under them (``(Collector)``), from
"names Collectors" and, with no label, from a row that is only names and a
number ("Richard C. Harris 53566"). :func:`looks_like_people` decides what
counts as names: initials, capitalised words, particles and separators,
none of them a place or label word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from herbarium_dwc.labellayout import Finding, Label, Row, row_below
from herbarium_dwc.labelplaces import row_countries
from herbarium_dwc.labeltext import (
    NAME_ABBREVIATIONS,
    NAME_PARTICLES,
    NOT_PERSON_WORDS,
    find_dates,
    fold,
)

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

    Dates are removed first; the number may be marked (``#682``, ``No. 22``,
    ``(no. 16298)``) or bare, and letters read for digits are repaired.

    :param text: a collector row or labelled value.
    :returns: (names, number); the number is empty when there is none.

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
    r"^(?P<names>[A-Z].+?)[\s,]+(?:COLL\w{0,3}TORS?|Coll\w{0,3}tors?|Coll\.)(?=[\s,.]|$)"
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


def _collector_from_rows(label: Label) -> tuple[Finding, Finding | None] | None:
    """A free row that is only people and maybe a number: the collector row."""
    candidates: list[tuple[Row, str, str]] = []
    for row in label.content_rows():
        if row.index in label.used_rows or row.is_collection_header:
            continue
        if any(code for code in row_countries(row)):
            continue
        text = " ".join(x.text for x in row.lines if x.text not in label.taken_text)
        names, number = split_people_number(text)
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


DET_INLINE = re.compile(
    r"(?:^|\s)(?:det(?:ermined)?\.?\s*by|det\.|determined\s+by|identified\s+by)"
    r"\s*:?\s*(?P<names>.+)$",
    re.IGNORECASE,
)


def _determiner(label: Label) -> tuple[Finding, Finding | None] | None:
    """The person after ``Det.``, and the date next to the name."""
    sources = [(s.text, s.row, 0.9) for s in label.labelled("identifiedBy")]
    for row in label.content_rows():
        match = DET_INLINE.search(row.text)
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


def read_people(label: Label) -> People:
    """Read the collector, their number, the determiner and the det. date.

    Printed labels first, then captions, "names Collectors", "By names",
    and a free row of names; the number from the collector's row, a marked
    number near it, or a lone number on the label. Rows used are marked in
    ``label.used_rows`` so that they do not feed the locality.

    :param label: the parsed layout.

    >>> read_people(label).recorded_by.value
    'Richard C. Harris'
    """
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
