"""Collectors, determiners and the numbers on a label.

- ``recordedBy``: label words (Coll., leg., Collector:) removed, several
  collectors joined with `` | `` as Darwin Core recommends, a shared surname
  written once (``R. A. & E. S. Howard``) given to each person.
- ``identifiedBy``: ``det.`` removed; a date in the same text goes to
  ``dateIdentified``. A ``det.`` found in ``recordedBy`` is moved to
  ``identifiedBy``, never kept as a collector.
- ``recordNumber``: the label (``Coll. No:``, ``No.``, ``#``) removed.
- ``catalogNumber``: always a string, leading zeros kept; a leading institution
  code (``NY01075761``, ``AAFC-000084``) moved to ``institutionCode``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from herbarium_dwc.dwc.dates import month_from_word

logger = logging.getLogger(__name__)

#: Why a value was changed or rejected, as used in ``term:reason`` flags.
FLAG_REASONS: dict[str, str] = {
    "label_removed": "a label word (Coll., leg., det., No.) was removed",
    "determiner_moved": "a det. found among the collectors was moved to identifiedBy",
    "date_moved": "a date written with the determiner was moved to dateIdentified",
    "surname_shared": "a surname written once for two people was given to both",
    "number_moved": "a collector number written with the name was removed from "
    "recordedBy",
    "institution_prefix_moved": "the institution code written before the "
    "catalogue number was moved to institutionCode",
    "institution_conflict": "the catalogue number's prefix differs from the "
    "institutionCode given",
    "sine_numero": "the label says s.n. (no number)",
}

_COLLECTOR_LABEL_RE = re.compile(
    r"^(?:collect(?:or\(s\)|ors?\b|ed\s+by\b)|coll\.?\s*&\s*det\b\.?|colls?\b\.?|"
    r"col\b\.?|leg(?:it)?\b\.?|lgt\b\.?|rec(?:olector)?\b\.?|recolectado\s+por|"
    r"gesammelt\s+von|r[ée]colt[ée]\s+par)\s*[:\-]?\s*",
    re.IGNORECASE,
)
_DET_RE = re.compile(
    r"\b(?:det\.|det\b|determined\b|determ\.|identified\b)\s*(?:by\b)?\s*[:\-]?\s*",
    re.IGNORECASE,
)
_SEPARATOR_RE = re.compile(
    r"\s*(?:;|\||&|\b(?:and|AND|And|et|ET|und|with|WITH|con|mit)\b|\by\b(?!\.))\s*"
    r"|\s*,(?!\s*(?i:jr|sr|ii|iii|iv)\b)\s*",
)
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "prof", "bro", "sr", "fr", "rev"})
_NUMBER_IN_NAME_RE = re.compile(r"\(\s*(?:no|n°|nr|#)\.?\s*[\w-]+\s*\)", re.IGNORECASE)
_INITIALS_RE = re.compile(r"^(?:[A-Z]\.\s*)+$")
_SURNAME_JOIN_RE = re.compile(r"^(?:[A-Z]\.\s*)+[A-Z][\w'-]+$")
_PLACEHOLDERS = frozenset(
    {
        "",
        "not specified",
        "unknown",
        "anonymous",
        "anon",
        "anon.",
        "n/a",
        "na",
        "none",
        "null",
        "?",
        "-",
        "s.n.",
        "sn",
        "s. n.",
        "unspecified",
    }
)
_RECORD_LABEL_RE = re.compile(
    r"^(?:(?:coll(?:ector)?\.?|col\.?|c\.)\s*)?"
    r"(?:no(?:\.|:|\s)|nr(?:\.|:|\s)|n[°º]\.?|num(?:ber)?\b\.?|#)\s*[:.]?\s*(?=\S)",
    re.IGNORECASE,
)
_SINE_NUMERO_RE = re.compile(
    r"^\s*(?:s\.?\s*n\.?|sin\s+n[uú]mero|sine\s+numero)\s*$", re.IGNORECASE
)
_CATALOG_LABEL_RE = re.compile(
    r"^(?:cat(?:alog(?:ue)?)?\.?\s*(?:no\.?|number|#)?|barcode|acc(?:ession)?\.?"
    r"\s*(?:no\.?|#)?|herbarium\s+(?:no\.?|number)|no\.)\s*[:#]?\s*",
    re.IGNORECASE,
)
_CATALOG_PREFIX_RE = re.compile(r"^(?P<code>[A-Za-z]{2,10})[\s:_-]*(?P<number>\d+)$")


@dataclass
class PeopleResult:
    """Normalised people and number terms, with flags."""

    terms: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def is_placeholder(value: str) -> bool:
    """True for words engines write instead of leaving a value empty.

    >>> is_placeholder("Not Specified"), is_placeholder("J. Looman")
    (True, False)
    """
    return value.strip().lower() in _PLACEHOLDERS


def split_people(text: str) -> list[str]:
    """Split a list of people into one name each.

    :param text: e.g. ``"T. A. Zanoni, D. Atha & M. Vives"``.
    :return: the names in order; a surname shared by initials-only or
        given-name-only parts (``R. A. & E. S. Howard``) is repeated.

    >>> split_people("R. A. & E. S. Howard")
    ['R. A. Howard', 'E. S. Howard']
    """
    parts = [p.strip(" .,") for p in _SEPARATOR_RE.split(text) if p and p.strip(" .,")]
    parts = [_restore_dot(p, text) for p in parts]
    out: list[str] = []
    for part in parts:
        if out and out[-1].lower().rstrip(".") in _TITLES:
            out[-1] = f"{out[-1]} & {part}"  # "Dr. & Mrs. A. J. Sharp"
            continue
        out.extend(_split_run_together(part))
    # A part that is only initials or a single given name takes the surname of
    # the next full name: "H. H. & G. W. Smith", "Stephen & Sandra Talbot".
    for index in range(len(out) - 1):
        current, following = out[index], out[index + 1]
        words = following.split()
        if len(words) >= 2 and (
            _INITIALS_RE.match(current)
            or re.search(r"(?:^|\s)[A-Z]\.$", current)
            or (
                current.isalpha()
                and current[:1].isupper()
                and current.lower() not in _TITLES
            )
        ):
            out[index] = f"{current} {words[-1]}"
    return out


def _restore_dot(part: str, text: str) -> str:
    """Put back a final dot of an initial or title that stripping removed."""
    if re.search(r"(?:^|\s)[A-Z]$", part) and part + "." in text:
        return part + "."
    if (part.endswith(("Jr", "Sr")) or part.lower() in _TITLES) and part + "." in text:
        return part + "."
    return part


def _split_run_together(part: str) -> list[str]:
    """``N. L. BRITTON L. J. K. BRACE`` -> two names (no separator written)."""
    pattern = re.compile(
        r"(?:[A-Z]\.\s*)+[A-Z][\w'-]{1,}(?=\s+(?:[A-Z]\.\s*)+[A-Z][\w'-]{1,})"
    )
    names: list[str] = []
    rest = part
    while True:
        match = pattern.match(rest)
        if not match:
            break
        names.append(match.group(0).strip())
        rest = rest[match.end() :].strip()
    names.append(rest)
    return [n for n in names if n]


def normalise_people(
    recorded_by: str, identified_by: str, date_identified: str
) -> tuple[PeopleResult, str]:
    """Clean ``recordedBy`` and ``identifiedBy``; pull out determiners' dates.

    :param recorded_by: collectors as read.
    :param identified_by: determiner as read.
    :param date_identified: the determination date as read.
    :return: the result (``recordedBy``, ``identifiedBy`` with flags) and the
        determination date text to parse (the given one, or one found with the
        determiner).

    >>> r, when = normalise_people("Coll. A. Smith & B. Jones det. C. Brown", "", "")
    >>> r.terms["recordedBy"], r.terms["identifiedBy"]
    ('A. Smith | B. Jones', 'C. Brown')
    """
    result = PeopleResult()
    recorded = " ".join(recorded_by.split())
    identified = " ".join(identified_by.split())
    when = date_identified.strip()
    det_match = _DET_RE.search(recorded)
    if det_match:
        after = recorded[det_match.end() :].strip(" ,;")
        before = _COLLECTOR_LABEL_RE.sub("", recorded[: det_match.start()])
        before = re.sub(r"(?:\s|^)(?:&|and|et|y)\s*$", "", before.strip(" ,;"))
        # "Coll. & det. J. Smith": the same people collected and determined.
        recorded = before.strip(" ,;&") or after
        if not identified:
            identified = after
        result.flags.append("recordedBy:determiner_moved")
    if recorded:
        cleaned = _COLLECTOR_LABEL_RE.sub("", recorded)
        cleaned = _NUMBER_IN_NAME_RE.sub(" ", cleaned)
        if cleaned != recorded:
            reason = (
                "label_removed"
                if _COLLECTOR_LABEL_RE.match(recorded)
                else ("number_moved")
            )
            result.flags.append(f"recordedBy:{reason}")
        people = split_people(cleaned)
        if people:
            result.terms["recordedBy"] = " | ".join(people)
    if identified:
        cleaned = _DET_RE.sub("", identified, count=1).strip()
        if cleaned != identified:
            result.flags.append("identifiedBy:label_removed")
        cleaned, found_date = _split_trailing_date(cleaned)
        if found_date:
            if not when:
                when = found_date
            result.flags.append("identifiedBy:date_moved")
        people = split_people(cleaned)
        if people:
            result.terms["identifiedBy"] = " | ".join(people)
    return result, when


_YEAR_AT_END_RE = re.compile(r"\b(?:1[6-9]|20)\d{2}\.?$")


def _split_trailing_date(text: str) -> tuple[str, str]:
    """``George W. Hult, Nov. 4, 1962`` -> (``George W. Hult``, ``Nov. 4, 1962``).

    Words are taken from the end while they are numbers, month words or Roman
    months, so a name before the date is never taken for part of it.
    """
    if not _YEAR_AT_END_RE.search(text):
        return text, ""
    words = text.split(" ")
    cut = len(words)
    for index in range(len(words) - 1, -1, -1):
        word = words[index].strip(",;")
        if re.fullmatch(r"[\d./-]*(?:[IVX]{1,4}[./-])?[\d./-]*", word) or (
            month_from_word(word) is not None
            and not word[:1].islower()
            # "A. Mayo": a surname after an initial, not the Spanish month.
            and not (index and re.fullmatch(r"[A-Z]\.", words[index - 1]))
        ):
            cut = index
        else:
            break
    name = " ".join(words[:cut]).strip(" ,;")
    if not name:
        return text, ""
    return name, " ".join(words[cut:]).strip(" ,;")


def normalise_record_number(text: str) -> PeopleResult:
    """Remove the label from a collector number.

    >>> normalise_record_number("COLL. No: 84").terms["recordNumber"]
    '84'
    """
    result = PeopleResult()
    value = " ".join(text.split())
    if not value:
        return result
    if _SINE_NUMERO_RE.match(value):
        result.flags.append("recordNumber:sine_numero")
        return result
    cleaned = _RECORD_LABEL_RE.sub("", value).strip()
    if cleaned != value:
        result.flags.append("recordNumber:label_removed")
    if cleaned:
        result.terms["recordNumber"] = cleaned
    return result


def normalise_catalog_number(
    text: str, institution_code: str = "", known_prefixes: tuple[str, ...] = ()
) -> PeopleResult:
    """Keep a catalogue number as text and move an institution prefix out of it.

    :param text: the number as read, e.g. ``"NY 01075761"``.
    :param institution_code: the dataset's institutionCode (from config), if set.
    :param known_prefixes: further barcode prefixes that name an institution.
    :return: ``catalogNumber`` (leading zeros kept) and, when a prefix was
        found, ``institutionCode``.

    >>> normalise_catalog_number("NY01075761").terms
    {'catalogNumber': '01075761', 'institutionCode': 'NY'}
    """
    result = PeopleResult()
    value = " ".join(text.split())
    if not value:
        return result
    cleaned = _CATALOG_LABEL_RE.sub("", value).strip()
    if cleaned != value and cleaned:
        result.flags.append("catalogNumber:label_removed")
        value = cleaned
    prefixes = tuple(p for p in (institution_code, *known_prefixes) if p)
    for prefix in sorted(prefixes, key=len, reverse=True):
        match = re.match(rf"^{re.escape(prefix)}[\s:_-]*(?=\d)", value, re.IGNORECASE)
        if match:
            result.terms["catalogNumber"] = value[match.end() :]
            result.terms["institutionCode"] = prefix
            result.flags.append("catalogNumber:institution_prefix_moved")
            return result
    match = _CATALOG_PREFIX_RE.match(value)
    if match and match.group("code").isupper():
        result.terms["catalogNumber"] = match.group("number")
        result.terms["institutionCode"] = match.group("code")
        result.flags.append("catalogNumber:institution_prefix_moved")
        if institution_code and match.group("code") != institution_code:
            result.flags.append("institutionCode:institution_conflict")
        return result
    result.terms["catalogNumber"] = value
    return result


#: A date field that starts with det. holds a determination date.
DET_AT_START_RE = re.compile(
    r"^\s*(?:det\.|det\b|determined\b|determ\.)\s*(?:by\b)?\s*[:\-]?\s*", re.IGNORECASE
)
