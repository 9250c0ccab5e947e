"""Label layout for the offline parser: OCR lines grouped into rows and fields.

RapidOCR returns text lines with boxes but no structure. This module puts
lines that share a baseline into :class:`Row` objects (reading order: top
to bottom, then left to right), and cuts each row into :class:`Segment`
objects at printed field labels such as ``Collector``, ``Det.``,
``Elevation`` or ``Location:``. A field label counts only where a piece of
text starts with it (or where it is followed by a colon): on printed forms
the label and its value are separate prints, while the same words inside a
sentence ("site of an old mill") are not labels.

A labelled locality or habitat value carries on into the next rows while
they start under the value's first word and hold no label of their own.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from herbarium_dwc.record import OcrLine, OcrResult

# Field labels printed on forms, each a regular expression, matched at the
# start of a piece of text; longer forms come first so "Coll. Date" is not
# read as "Coll.".
FIELD_LABELS: tuple[tuple[str, str], ...] = (
    (
        "eventDate",
        r"coll(?:ection|ected)?\.?\s*date|date\s+(?:of\s+)?coll(?:ection|ected)?\.?"
        r"|date|fecha|datum",
    ),
    ("identifiedBy", r"det(?:ermined)?\.?\s*by|determined|identified\s+by|det|ident"),
    (
        "recordedBy",
        r"collectors?(?:\s*(?:&|and)\s*(?:no|number)\.?)?|coll(?:ected)?\.?\s*by"
        r"|co[l1iI]{2}s?|col|leg(?:it)?|colector(?:es)?",
    ),
    ("locality", r"locality|location|loc|localidad|lugar"),
    ("habitat", r"habitat|hab|site|substrate|substratum|substrato|ecology"),
    ("verbatimElevation", r"elevation|elev|altitude|altitud|alt"),
    (
        "verbatimCoordinates",
        r"lat(?:itude)?\s*/\s*long?(?:itude)?|latitude|longitude|lat|long"
        r"|coordinates|coords?",
    ),
    ("recordNumber", r"number|n[uú]mero"),
    ("country", r"country|pa[ií]s"),
    ("stateProvince", r"state|province|provincia|estado"),
)

_LABEL_AT_START = re.compile(
    "^(?:"
    + "|".join(rf"(?P<{term}>{pattern})" for term, pattern in FIELD_LABELS)
    + r")(?![A-Za-z])",
    re.IGNORECASE,
)
# What may follow a label: a colon or full stop, or a number. A label word
# of six letters or more ("Collector", "Habitat") may also be followed by a
# space; a short one ("Long", "Site", "State") then is usually a word.
_AFTER_LABEL = re.compile(r"\s*(?:[:.\-]+\s*|(?=\s*[#\d]))")
_LONG_LABEL = 6

_LABEL_WITH_COLON = re.compile(
    r"(?<![\w.])(?:" + "|".join(p for _, p in FIELD_LABELS) + r")\s*:", re.IGNORECASE
)

_INSTITUTION = re.compile(
    r"herbarium|botanical\s*garden|botanic|university|universidad|universit[eé]"
    r"|museum|museo|institut|service|department|college|society|foundation"
    r"|[eé]cole|centre\b|center\b|herbier|laborator"
    r"|copyright|^\W*\w{0,3}\W*imaged\W*$|distributed|exsiccat|reidentification|voucher",
    re.IGNORECASE,
)
_COLLECTION_HEADER = re.compile(
    r"^(?:the\s*)?(?:lichens?|lichenes|flora|plants?|cryptogams?|bryophytes?|mosses"
    r"|musci|hepaticae|liverworts|fungi|algae|myxomycetes|vascular\s*plants"
    r"|plantae|plantas|herb(?:arium)?)\s*(?:of|de|from|du)(?=\s|[A-Z]|$)",
    re.IGNORECASE,
)


@dataclass
class Row:
    """OCR lines that share a baseline, left to right.

    :param index: the row's place in reading order.
    :param lines: the OCR lines, sorted by their left edge.
    """

    index: int
    lines: list[OcrLine]
    block: int = 0
    stamp: bool = False

    @property
    def text(self) -> str:
        """The row's text, pieces joined with single spaces."""
        return " ".join(line.text for line in self.lines)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The smallest box around every piece."""
        return (
            min(line.box[0] for line in self.lines),
            min(line.box[1] for line in self.lines),
            max(line.box[2] for line in self.lines),
            max(line.box[3] for line in self.lines),
        )

    @property
    def confidence(self) -> float:
        """The mean OCR confidence of the pieces, weighted by length."""
        weights = [max(len(line.text), 1) for line in self.lines]
        total = sum(
            line.confidence * w for line, w in zip(self.lines, weights, strict=True)
        )
        return total / sum(weights)

    @property
    def height(self) -> float:
        """The median height of the pieces."""
        return statistics.median(line.box[3] - line.box[1] for line in self.lines)

    @property
    def is_institution(self) -> bool:
        """The row names an institution, a distributor or a sheet stamp."""
        return self.stamp or is_institution_text(self.text)

    @property
    def is_collection_header(self) -> bool:
        """The row is a collection title such as ``LICHENS OF MISSOURI``."""
        return bool(_COLLECTION_HEADER.search(self.text))

    @property
    def is_noise(self) -> bool:
        """The row is a ruler scale, a lone mark or empty."""
        tokens = self.text.split()
        if not tokens or len(re.sub(r"\W", "", self.text)) < 2:
            return True
        digits = sum(1 for token in tokens if re.fullmatch(r"\d{1,2}", token))
        return self.text.strip().lower() in {"cm", "mm"} or (
            len(tokens) >= 3 and digits / len(tokens) > 0.6
        )


# A ruler's scale reads as runs of consecutive numbers ("45678910").
_RULER_DIGITS = "".join(str(n) for n in range(31))


def _is_ruler(text: str) -> bool:
    digits = text.replace(" ", "")
    if not digits.isdigit() or len(digits) > 14:
        return False
    return digits in _RULER_DIGITS and (len(digits) <= 2 or "10" in digits)


def is_institution_text(text: str) -> bool:
    """The text names an institution, a distributor or a sheet stamp.

    >>> is_institution_text("NEWYORKBOTANICALGARDEN")
    True
    """
    return bool(_INSTITUTION.search(text)) or _is_run_together(text)


def _is_run_together(text: str) -> bool:
    """Capitals run together (``NEWYORKBOTANICALGARDEN``): a stamp or a logo."""
    return bool(re.fullmatch(r"[A-Z]{14,}", text.strip()))


@dataclass
class Segment:
    """A run of text inside a row, with the field label it follows, if any.

    :param row: the row's index.
    :param label: the Darwin Core term a printed label names, or None.
    :param text: the value, without its label.
    :param confidence: the OCR confidence of the text.
    :param x0: the left edge of the value.
    """

    row: int
    label: str | None
    text: str
    confidence: float
    x0: float
    x1: float = 0.0
    continued: list[int] = field(default_factory=list)


def _vertical_overlap(a: OcrLine, box: tuple[float, float, float, float]) -> float:
    top, bottom = max(a.box[1], box[1]), min(a.box[3], box[3])
    smaller = min(a.box[3] - a.box[1], box[3] - box[1]) or 1.0
    return max(0.0, bottom - top) / smaller


# Lines this much taller than wide are sideways text.
VERTICAL_RATIO = 2.5


def is_vertical(line: OcrLine) -> bool:
    """Whether an OCR line is a column of sideways text (kept out of rows)."""
    width, height = line.box[2] - line.box[0], line.box[3] - line.box[1]
    return height > VERTICAL_RATIO * width and len(line.text) > 3


def clean_text(text: str) -> str:
    """Undo OCR habits that hurt parsing: underscores, wide punctuation, quotes.

    >>> clean_text("Co._Haywood，N.C。")
    'Co. Haywood,N.C.'
    """
    text = text.replace("_", " ").replace("，", ",").replace("：", ":")
    text = text.replace("。", ".").replace("；", ";").replace("·", " ")
    # A digitisation stamp ("NY IMAGED") printed over a label line.
    text = re.sub(r"^\W*\w{0,3}\W*IMAGED\b\W*", "", text)
    text = text.replace("′", "'").replace("’", "'").replace("‘", "'")
    text = text.replace("″", '"').replace("”", '"').replace("“", '"')
    return " ".join(text.split())


def group_rows(ocr: OcrResult, min_confidence: float = 0.5) -> list[Row]:
    """Group OCR lines into rows in reading order.

    Two lines share a row when they overlap vertically by at least half the
    smaller height and the gap between them is under four line heights, and
    both or neither name an institution.
    Lines read below ``min_confidence`` and vertical lines (a barcode label
    turned on its side) are left out.

    :param ocr: the OCR result of one image.
    :param min_confidence: the lowest OCR confidence kept.

    >>> rows = group_rows(OcrResult(engine="x", text="", lines=[]))
    >>> rows
    []
    """
    lines = [
        OcrLine(text=clean_text(line.text), confidence=line.confidence, box=line.box)
        for line in ocr.lines
        if line.confidence >= min_confidence and not is_vertical(line)
    ]
    lines = [line for line in lines if not _is_ruler(line.text)]
    lines = [line for line in lines if line.text]
    lines.sort(key=lambda line: (line.box[1] + line.box[3]) / 2)
    groups: list[list[OcrLine]] = []
    for line in lines:
        height = line.box[3] - line.box[1]
        best = None
        for group in groups:
            box = Row(0, group).box
            if _vertical_overlap(line, box) < 0.5:
                continue
            # A stamp beside a value ("IMAGED" next to the collector) stays
            # a row of its own, so that it does not hide the value.
            if is_institution_text(line.text) != is_institution_text(group[0].text):
                continue
            gap = max(box[0] - line.box[2], line.box[0] - box[2])
            if gap < 4 * height:
                best = group
        if best is None:
            groups.append([line])
        else:
            best.append(line)
    groups.sort(key=lambda group: Row(0, group).box[1])
    rows = [
        Row(index, sorted(group, key=lambda line: line.box[0]))
        for index, group in enumerate(groups)
    ]
    _mark_stamps(rows)
    _assign_blocks(rows)
    return rows


def _touching(a: Row, b: Row, gap_heights: float) -> bool:
    """Rows overlap horizontally and are at most ``gap_heights`` apart."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.box, b.box
    if min(ax1, bx1) <= max(ax0, bx0):
        return False
    gap = max(by0 - ay1, ay0 - by1)
    return gap <= gap_heights * max(a.height, b.height)


def _mark_stamps(rows: list[Row]) -> None:
    """Short capitalised rows touching an institution row belong to it.

    Sheet stamps and logos break an institution's name over several rows
    (``NEW YORK`` / ``BOTANICAL`` / ``GARDEN``); only one of them matches
    :data:`_INSTITUTION`, the rest are marked here.
    """
    changed = True
    while changed:
        changed = False
        for row in rows:
            if row.is_institution or row.is_collection_header:
                continue
            if len(row.text.split()) > 3:
                continue
            if row.text != row.text.upper() or re.search(r"\d", row.text):
                continue
            if any(o.is_institution and _touching(row, o, 1.0) for o in rows):
                row.stamp = changed = True


def _assign_blocks(rows: list[Row]) -> None:
    """Number groups of rows that sit together: one printed label each."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, row in enumerate(rows):
        for j in range(i + 1, len(rows)):
            if _touching(row, rows[j], 1.5):
                parent[root(j)] = root(i)
    for row in rows:
        row.block = root(row.index)


def row_below(rows: list[Row], row: Row) -> Row | None:
    """The nearest row under ``row`` that overlaps it horizontally.

    :param rows: all rows of the label.
    :param row: the row to look under.
    :returns: the row, or None when nothing lies within 1.5 line heights.
    """
    below = [
        other
        for other in rows
        if other.box[1] >= row.box[1] + 0.5 * row.height and _touching(row, other, 1.5)
    ]
    return min(below, key=lambda other: other.box[1], default=None)


def main_block(rows: list[Row]) -> int | None:
    """The block holding the most label text (no institution, no noise).

    On a whole sheet this is usually the collection label; the parser reads
    the locality and habitat from it only.

    :param rows: rows from :func:`group_rows` (their ``block`` set).
    :returns: the block number, or None when there is no text.
    """
    sizes: dict[int, int] = {}
    for row in rows:
        if not (row.is_institution or row.is_noise):
            sizes[row.block] = sizes.get(row.block, 0) + len(row.text)
    return max(sizes, key=lambda block: sizes[block]) if sizes else None


def _label_of(text: str) -> tuple[str | None, str]:
    """The term a piece of text starts with a label for, and the rest."""
    match = _LABEL_AT_START.match(text)
    if not match or match.lastgroup is None:
        return None, text
    after = _AFTER_LABEL.match(text, match.end())
    if after:
        return match.lastgroup, text[after.end() :].strip()
    letters = len(re.sub(r"[^A-Za-z]", "", match.group(0)))
    if letters >= _LONG_LABEL and text[match.end() : match.end() + 1] in {"", " "}:
        return match.lastgroup, text[match.end() :].strip()
    return None, text


def _split_colon_labels(text: str) -> list[tuple[str | None, str]]:
    """Cut a piece at later ``Label:`` occurrences."""
    parts: list[tuple[str | None, str]] = []
    last = 0
    pending: str | None = None
    for match in _LABEL_WITH_COLON.finditer(text):
        if match.start() == 0:
            continue
        parts.append((pending, text[last : match.start()].strip()))
        pending, _ = _label_of(match.group(0))
        last = match.end()
    parts.append((pending, text[last:].strip()))
    return [(label, value) for label, value in parts if label or value]


def segments(rows: list[Row]) -> list[Segment]:
    """Cut rows into segments at field labels and join continued values.

    A label with no text after it takes the free pieces that follow it in
    the same row (``Coll:`` then ``Stephen S. Talbot``).

    :param rows: rows from :func:`group_rows`.

    >>> [(s.label, s.text) for s in segments(group_rows(ocr))]
    [('recordedBy', 'S. S. Talbot'), (None, 'Tetlin NWR')]
    """
    result: list[Segment] = []
    for row in rows:
        row_segments: list[Segment] = []
        for line in row.lines:
            label, rest = _label_of(line.text)
            pieces = _split_colon_labels(rest)
            first_label, first_text = pieces[0] if pieces else (None, "")
            pieces[0:1] = [(label or first_label, first_text)]
            for piece_label, piece_text in pieces:
                previous = row_segments[-1] if row_segments else None
                if piece_label is None and previous and _takes_next_piece(previous):
                    if not previous.text:
                        previous.x0 = line.box[0]
                    previous.text = f"{previous.text} {piece_text}".strip()
                    continue
                row_segments.append(
                    Segment(
                        row.index,
                        piece_label,
                        piece_text,
                        line.confidence,
                        _value_left(line, piece_text),
                        line.box[2],
                    )
                )
        result.extend(row_segments)
    _apply_captions(result)
    _join_continued(result, rows)
    return result


# Field names printed under the value in brackets, as on some forms:
# "C. Derr" above "(Collector)".
_CAPTIONS = {
    "collector": "recordedBy",
    "collectors": "recordedBy",
    "determined": "identifiedBy",
    "determiner": "identifiedBy",
    "number": "recordNumber",
    "date": "eventDate",
}
_CAPTION = re.compile(r"^\(\s*(?P<word>[A-Za-z]+)\s*\)$")


def _apply_captions(found: list[Segment]) -> None:
    """Give the label of a bracketed caption to the value printed above it."""
    for caption in list(found):
        match = _CAPTION.match(caption.text)
        if not match or caption.label is not None:
            continue
        found.remove(caption)
        term = _CAPTIONS.get(match.group("word").lower())
        above = [
            s
            for s in found
            if caption.row - 2 <= s.row < caption.row
            and s.label is None
            and min(s.x1, caption.x1) > max(s.x0, caption.x0)
        ]
        if term and above:
            max(above, key=lambda s: s.row).label = term


def _takes_next_piece(previous: Segment) -> bool:
    """A labelled segment takes the free piece after it, except a full date."""
    if previous.label is None:
        return False
    return not previous.text or previous.label != "eventDate"


def _value_left(line: OcrLine, value: str) -> float:
    """Where ``value`` starts inside the line, from its share of the text."""
    offset = line.text.rfind(value) if value else 0
    share = max(offset, 0) / max(len(line.text), 1)
    return line.box[0] + share * (line.box[2] - line.box[0])


def _join_continued(found: list[Segment], rows: list[Row]) -> None:
    """Append free rows aligned under a locality or habitat value to it."""
    by_row: dict[int, list[Segment]] = {}
    for segment in found:
        by_row.setdefault(segment.row, []).append(segment)
    for segment in list(found):
        if segment.label not in {"locality", "habitat"}:
            continue
        row = rows[segment.row]
        tolerance = 2 * row.height
        for next_index in range(segment.row + 1, min(segment.row + 4, len(rows))):
            following = by_row.get(next_index, [])
            if not following or following[0].label is not None:
                break
            first = following[0]
            if abs(first.x0 - segment.x0) > tolerance:
                break
            gap = rows[next_index].box[1] - rows[next_index - 1].box[3]
            if gap > 1.5 * row.height:
                break
            segment.text = f"{segment.text} {first.text}".strip()
            segment.continued.append(next_index)
            following.remove(first)
            found.remove(first)


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
