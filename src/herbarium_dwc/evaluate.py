"""Measure extracted Darwin Core records against human ground truth.

Truth comes in two layouts (:func:`load_truth` tells them apart):

- the iDigBio "Augmenting OCR" layout: a folder holding ``parsed/ID.csv``,
  one or more rows per image, each row a label region (``aocr:regionType``),
  columns prefixed ``dwc:`` or ``aocr:``;
- a plain CSV with a ``specimen_id`` column and one column per term.

Comparison rules (:func:`values_match`); every value is first *folded*:
accents, case and punctuation are dropped and whitespace is collapsed, so
``R. C. Harris,`` and ``r c harris`` are equal.

- ``eventDate``, ``verbatimEventDate``, ``dateIdentified``: both sides are
  read as dates (ISO forms such as ``2007-05-18`` or ``1962-07-16/1962-07-21``
  and verbatim forms such as ``18 May 2007`` or ``Aug.10,1935``) and must
  name the same day, month, year or range at the same precision. A value
  that is not a date on either side falls back to folded equality.
- ``country``: both sides become ISO 3166 alpha-2 codes via pycountry plus a
  short list of label spellings (``U.S.A.``, ``USA``, ``United States`` are
  all ``US``); falls back to folded equality when either is not a country.
- ``scientificName``: only the genus and the specific epithet (the first two
  folded words) are compared; a truth of a genus alone needs the genus.
- ``recordedBy``, ``identifiedBy``: the value is split into people at ``&``,
  ``and``, ``with``, ``et``, ``,``, ``;`` and ``|``; parenthesised remarks
  are dropped; each person is folded, so initials spacing (``R.C.`` and
  ``R. C.``) does not matter; both sides must name the same set of people.
  A person written surname first (``Harris, R. C.``) is split in two on both
  sides alike, so it still matches itself but not ``R. C. Harris``.
  A surname shared by several given names (``Stephen & Sandra Talbot``) is
  given to each of them first, on both sides, as recordedBy normalisation
  writes it (``Stephen Talbot | Sandra Talbot``).
- ``decimalLatitude``, ``decimalLongitude``: numbers within
  :data:`COORDINATE_TOLERANCE` degrees.
- ``verbatimCoordinates``: numbers are cut from letters (``36W`` is
  ``36 W``), words such as ``Lat.``, ``Long.``, ``ca.`` are dropped, and the
  folded tokens are grouped into coordinates, each closed by its hemisphere
  letter (``N 48 44`` and ``48 44 N`` are the same group); both sides must
  hold the same groups, in any order.
- ``verbatimElevation``: thousands separators are removed, ``ca``/``about``
  words dropped and units unified (``feet``/``ft``/``'`` to ``ft``,
  ``meters``/``metres``/``m`` to ``m``); the result must be equal.
- ``stateProvince``, ``county``: folded, and a trailing ``county``, ``co``,
  ``parish``, ``province``, ``dist`` or ``district`` word, or a leading
  ``district``, ``province``, ``state``, ``department`` or ``county`` (and
  their Spanish forms) followed by ``of``/``de``, is ignored.
- ``locality``, ``habitat``: token overlap. Tokens are the folded words of
  two or more characters. With ``c`` the number of shared tokens (as
  multisets), precision ``c/len(predicted)`` and recall ``c/len(truth)``, the
  value is right when their harmonic mean (F1) is at least
  :data:`OVERLAP_THRESHOLD`.
- every other term: folded equality.

Core fields (:data:`CORE_FIELDS`) are the terms a label states once, with one
right answer that does not depend on how a curator chose to cut the text:
catalogNumber, scientificName, recordedBy, recordNumber, eventDate, country
and stateProvince. Locality and habitat are left out of the core because
curators split the same sentence between them differently; county, elevation
and coordinates because most labels lack them.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from herbarium_dwc.dwc.people import split_people
from herbarium_dwc.dwc.terms import EXTRACTED_TERMS
from herbarium_dwc.errors import ConfigError
from herbarium_dwc.images import PrepareSettings, prepare_image
from herbarium_dwc.labeltext import country_code, fold, parse_date
from herbarium_dwc.ocr import run_ocr
from herbarium_dwc.record import OcrResult, read_record, write_json_atomic
from herbarium_dwc.verticalocr import reread_vertical_lines

logger = logging.getLogger(__name__)

CORE_FIELDS: tuple[str, ...] = (
    "catalogNumber",
    "scientificName",
    "recordedBy",
    "recordNumber",
    "eventDate",
    "country",
    "stateProvince",
)

# Scored when the caller names no fields: every extracted term, in the same
# order, but two. municipality: the offline parser never reads it and the
# aocr truth rarely holds it (8 of 97 lichen packets, no sheet).
# dateIdentified: left out of the default table from the start, and kept out
# so that figures compare with earlier runs; pass ``fields=`` to score it.
_NOT_SCORED_BY_DEFAULT = frozenset({"municipality", "dateIdentified"})
DEFAULT_FIELDS: tuple[str, ...] = tuple(
    term for term in EXTRACTED_TERMS if term not in _NOT_SCORED_BY_DEFAULT
)

COORDINATE_TOLERANCE = 0.01
OVERLAP_THRESHOLD = 0.5

# The region whose values win when an aocr file has several rows.
PRIMARY_REGION = "primary"


def _term_name(column: str) -> str:
    """``dwc:recordedBy2`` -> ``recordedBy``; ``aocr:regionType`` -> ``regionType``."""
    name = column.strip().split(":", 1)[-1]
    return re.sub(r"\d+$", "", name)


def _read_csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(
            f"{path}: cannot read the truth file ({exc}); check that it is a "
            "UTF-8 CSV file"
        ) from exc
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _aocr_row(header: list[str], row: list[str]) -> dict[str, str]:
    """One region row as terms; repeated or numbered columns are joined."""
    values: dict[str, list[str]] = {}
    for column, cell in zip(header, row, strict=False):
        cell = " ".join(cell.split())
        if cell:
            values.setdefault(_term_name(column), []).append(cell)
    record = {term: "; ".join(parts) for term, parts in values.items()}
    # The curated name is often blank on herbarium sheets; the verbatim one
    # names the same taxon and the comparison reads genus and epithet only.
    if not record.get("scientificName") and record.get("verbatimScientificName"):
        record["scientificName"] = record["verbatimScientificName"]
    if not record.get("locality") and record.get("verbatimLocality"):
        record["locality"] = record["verbatimLocality"]
    # Herbarium sheets give latitude and longitude in separate columns.
    parts = [record.get(t, "") for t in ("verbatimLatitude", "verbatimLongitude")]
    if not record.get("verbatimCoordinates") and any(parts):
        record["verbatimCoordinates"] = ", ".join(part for part in parts if part)
    return record


def _load_aocr(folder: Path) -> dict[str, dict[str, str]]:
    truth: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.csv")):
        header, rows = _read_csv_rows(path)
        regions = [_aocr_row(header, row) for row in rows]
        regions.sort(key=lambda region: region.get("regionType") != PRIMARY_REGION)
        merged: dict[str, str] = {}
        for region in regions:
            for term, value in region.items():
                merged.setdefault(term, value)
        merged.pop("regionType", None)
        truth[path.stem] = merged
    return truth


def _load_plain(path: Path) -> dict[str, dict[str, str]]:
    header, rows = _read_csv_rows(path)
    names = [_term_name(column) if ":" in column else column for column in header]
    if "specimen_id" not in names:
        raise ConfigError(
            f"{path}: no specimen_id column (found {', '.join(header) or 'none'}); "
            "add a specimen_id column holding the image file stem"
        )
    truth: dict[str, dict[str, str]] = {}
    for row in rows:
        record = {
            name: " ".join(cell.split())
            for name, cell in zip(names, row, strict=False)
            if cell.strip()
        }
        specimen_id = record.pop("specimen_id", "")
        if specimen_id:
            truth[specimen_id] = record
    return truth


def load_truth(path: str | Path) -> dict[str, dict[str, str]]:
    """Read ground truth as specimen id -> Darwin Core term -> value.

    A folder (or a folder holding ``parsed/``) of per-image CSV files is read
    as the aocr layout: region rows are merged into one record, the
    ``primary`` region's values first; ``verbatimScientificName`` fills an
    empty ``scientificName``, ``verbatimLocality`` an empty ``locality``,
    and ``verbatimLatitude`` with ``verbatimLongitude`` an empty
    ``verbatimCoordinates``; numbered columns (``recordedBy2``) are joined
    to their term with ``; ``.
    A CSV file is read as a plain table with a ``specimen_id`` column.
    Empty cells are left out.

    :param path: the truth folder or CSV file.
    :raises ConfigError: the path is missing, holds no CSV, or the plain CSV
        has no ``specimen_id`` column.

    >>> truth = load_truth("../shared/data/aocr/lichens")
    >>> truth["NY01075761_lg"]["catalogNumber"]
    '01075761'
    """
    source = Path(path)
    if source.is_dir():
        folder = source / "parsed" if (source / "parsed").is_dir() else source
        if not any(folder.glob("*.csv")):
            raise ConfigError(
                f"{source}: no CSV files found; point the truth path at an aocr "
                "folder (with parsed/ID.csv files) or at a CSV file"
            )
        return _load_aocr(folder)
    if source.is_file():
        return _load_plain(source)
    raise ConfigError(
        f"{source}: truth path does not exist; give an aocr folder or a CSV file"
    )


def _dates_match(predicted: str, truth: str) -> bool:
    left, right = parse_date(predicted), parse_date(truth)
    if left is None or right is None:
        return fold(predicted) == fold(truth)
    return left.same_as(right)


def _countries_match(predicted: str, truth: str) -> bool:
    left, right = country_code(predicted), country_code(truth)
    if left is None or right is None:
        return fold(predicted) == fold(truth)
    return left == right


def _names_match(predicted: str, truth: str) -> bool:
    left, right = fold(predicted).split()[:2], fold(truth).split()[:2]
    if not left or not right:
        return False
    return left[: len(right)] == right


_PERSON_SPLIT = re.compile(r"\s*(?:&|;|,|\||\band\b|\bwith\b|\bet\b)\s*", re.I)


def people(value: str) -> set[str]:
    """The folded people a recordedBy or identifiedBy value names.

    >>> sorted(people("R.T. Wilce & M. Sherwood"))
    ['m sherwood', 'r t wilce']
    """
    value = re.sub(r"\([^)]*\)", " ", value)
    # Shared surnames are given to each person first ("Stephen & Sandra
    # Talbot" names Stephen Talbot), as the recordedBy normaliser does.
    value = " | ".join(split_people(value))
    return {fold(part) for part in _PERSON_SPLIT.split(value) if fold(part)}


def _split_digits(value: str) -> str:
    """``36W`` -> ``36 W`` and ``2200feet`` -> ``2200 feet``."""
    return re.sub(r"(?<=\d)(?=[A-Za-z])|(?<=[A-Za-z])(?=\d)", " ", value)


_COORDINATE_WORDS = {"ca", "circa", "approx", "c", "lat", "latitude", "long"}
_COORDINATE_WORDS |= {"longitude", "and"}


def _coordinates_key(value: str) -> list[tuple[str, ...]]:
    """Coordinates as (hemisphere, numbers...) groups, in sorted order.

    The hemisphere letter may close a group (``48 44 N``) or open it
    (``N 48 44``); the first token tells which way the value is written.
    """
    tokens = [
        t for t in fold(_split_digits(value)).split() if t not in _COORDINATE_WORDS
    ]
    hemispheres = {"n", "s", "e", "w"}
    prefix = bool(tokens) and tokens[0] in hemispheres
    groups: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        if token in hemispheres and prefix:
            if current:
                groups.append(current)
            current = [token]
        elif token in hemispheres:
            groups.append([token, *current])
            current = []
        else:
            current.append(token)
    if current:
        groups.append(current)
    return sorted(tuple(group) for group in groups)


_UNITS = {"feet": "ft", "foot": "ft", "ft": "ft", "meters": "m", "metres": "m"}
_UNITS |= {"meter": "m", "metre": "m", "m": "m", "mts": "m", "msnm": "m"}


def _elevation_key(value: str) -> list[str]:
    value = re.sub(r"(\d),(\d{3})", r"\1\2", _split_digits(value)).replace("'", " ft ")
    tokens = [token for token in fold(value).split() if token not in {"ca", "about"}]
    return [_UNITS.get(token, token) for token in tokens if token not in {"c", "elev"}]


_ADMIN_WORDS = {"county", "co", "parish", "province", "dist", "district"}
_ADMIN_LEADING = {"district", "province", "provincia", "state", "estado"}
_ADMIN_LEADING |= {"department", "departamento", "county"}


def _admin_key(value: str) -> list[str]:
    tokens = fold(value).split()
    while tokens and tokens[-1] in _ADMIN_WORDS:
        tokens.pop()
    if tokens[:1] and tokens[0] in _ADMIN_LEADING and tokens[1:2] in (["of"], ["de"]):
        tokens = tokens[2:]
    return tokens


def token_overlap(predicted: str, truth: str) -> float:
    """F1 of the shared folded words (two characters or more) of two texts.

    >>> round(token_overlap("Bluff Point, dolomite rock", "Bluff Point"), 2)
    0.67
    """
    left = Counter(token for token in fold(predicted).split() if len(token) > 1)
    right = Counter(token for token in fold(truth).split() if len(token) > 1)
    shared = sum((left & right).values())
    if not shared:
        return 0.0
    precision = shared / sum(left.values())
    recall = shared / sum(right.values())
    return 2 * precision * recall / (precision + recall)


def _float(value: str) -> float | None:
    try:
        return float(value.strip())
    except ValueError:
        return None


def values_match(term: str, predicted: str, truth: str) -> bool:
    """Whether a predicted value counts as right for ``term``.

    The rules per term are in this module's docstring.

    :param term: the Darwin Core term.
    :param predicted: the extracted value (non-empty).
    :param truth: the ground-truth value (non-empty).

    >>> values_match("country", "United States", "U.S.A.")
    True
    """
    if term in {"eventDate", "verbatimEventDate", "dateIdentified"}:
        return _dates_match(predicted, truth)
    if term == "country":
        return _countries_match(predicted, truth)
    if term == "scientificName":
        return _names_match(predicted, truth)
    if term in {"recordedBy", "identifiedBy"}:
        return people(predicted) == people(truth)
    if term in {"decimalLatitude", "decimalLongitude"}:
        left, right = _float(predicted), _float(truth)
        if left is None or right is None:
            return False
        return abs(left - right) <= COORDINATE_TOLERANCE
    if term == "verbatimCoordinates":
        return _coordinates_key(predicted) == _coordinates_key(truth)
    if term == "verbatimElevation":
        return _elevation_key(predicted) == _elevation_key(truth)
    if term in {"stateProvince", "county"}:
        return _admin_key(predicted) == _admin_key(truth)
    if term in {"locality", "habitat"}:
        return token_overlap(predicted, truth) >= OVERLAP_THRESHOLD
    return fold(predicted) == fold(truth)


def evaluate(
    predicted: Mapping[str, Mapping[str, str]],
    truth: Mapping[str, Mapping[str, str]],
    fields: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Score predicted records against the truth, field by field.

    Only specimens in ``truth`` are scored; one without a prediction counts
    as all-empty. Per field: ``n_truth`` (truth non-empty), ``n_predicted``
    (prediction non-empty), ``n_correct`` (both non-empty and matching by
    :func:`values_match`), ``accuracy`` = n_correct / n_truth (None when
    n_truth is 0) and ``n_spurious`` (predicted where the truth is empty).

    :param predicted: specimen id -> term -> value.
    :param truth: the same shape, from :func:`load_truth`.
    :param fields: the terms to score; :data:`DEFAULT_FIELDS` when None.
    :returns: ``specimens``, ``missing_predictions`` (ids),
        ``extra_predictions`` (count of ids absent from the truth), ``fields``
        (term -> counts), ``core_fields``, ``core_mean`` (mean accuracy of the
        scored core fields, None when none has truth) and ``mismatches``
        (specimen_id, term, predicted, truth for each wrong or missed value).

    >>> evaluate({"a": {"country": "USA"}}, {"a": {"country": "U.S.A."}},
    ...          ["country"])["fields"]["country"]["accuracy"]
    1.0
    """
    terms = list(fields) if fields is not None else list(DEFAULT_FIELDS)
    counts = {
        term: {"n_truth": 0, "n_predicted": 0, "n_correct": 0, "n_spurious": 0}
        for term in terms
    }
    mismatches: list[dict[str, str]] = []
    missing = sorted(set(truth) - set(predicted))
    for specimen_id in sorted(truth):
        expected = truth[specimen_id]
        got = predicted.get(specimen_id, {})
        for term in terms:
            want = (expected.get(term) or "").strip()
            have = (got.get(term) or "").strip()
            tally = counts[term]
            tally["n_truth"] += bool(want)
            tally["n_predicted"] += bool(have)
            if have and not want:
                tally["n_spurious"] += 1
            elif want and have and values_match(term, have, want):
                tally["n_correct"] += 1
            elif want:
                mismatches.append(
                    {
                        "specimen_id": specimen_id,
                        "term": term,
                        "predicted": have,
                        "truth": want,
                    }
                )
    per_field: dict[str, dict[str, Any]] = {}
    for term, tally in counts.items():
        accuracy = tally["n_correct"] / tally["n_truth"] if tally["n_truth"] else None
        per_field[term] = {**tally, "accuracy": accuracy}
    core = [term for term in CORE_FIELDS if term in per_field]
    core_scores = [
        score for term in core if (score := per_field[term]["accuracy"]) is not None
    ]
    return {
        "specimens": len(truth),
        "missing_predictions": missing,
        "extra_predictions": len(set(predicted) - set(truth)),
        "fields": per_field,
        "core_fields": core,
        "core_mean": sum(core_scores) / len(core_scores) if core_scores else None,
        "mismatches": mismatches,
    }


def evaluate_run(specimen_dir: str | Path, truth_path: str | Path) -> dict[str, Any]:
    """Score a folder of per-specimen JSON records against ground truth.

    A record's value for a term is its ``dwc`` value, or its ``verbatim``
    value when ``dwc`` lacks the term; ``failed`` records and files that are
    not valid records count as empty predictions (they are listed under
    ``unreadable``).

    :param specimen_dir: a ``results/specimens/{run}`` folder of ``*.json``.
    :param truth_path: anything :func:`load_truth` reads.
    :returns: the :func:`evaluate` result plus ``specimen_dir``,
        ``truth_path``, ``n_records``, ``n_ok``, ``n_failed`` and
        ``unreadable``.
    :raises ConfigError: the folder does not exist, or the truth cannot be
        read.

    >>> report = evaluate_run("results/specimens/offline", "data/aocr/lichens")
    """
    folder = Path(specimen_dir)
    if not folder.is_dir():
        raise ConfigError(
            f"{folder}: specimen folder does not exist; run the workflow first "
            "or give the results/specimens/<run> folder"
        )
    truth = load_truth(truth_path)
    predicted: dict[str, dict[str, str]] = {}
    n_ok = n_failed = 0
    unreadable: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = read_record(path)
        except (OSError, ValueError, ValidationError) as exc:
            logger.warning("%s: not a specimen record, scored as empty: %s", path, exc)
            unreadable.append(path.name)
            predicted[path.stem] = {}
            continue
        if record.status != "ok":
            n_failed += 1
            predicted[record.specimen_id] = {}
            continue
        n_ok += 1
        predicted[record.specimen_id] = {**record.verbatim, **record.dwc}
    result = evaluate(predicted, truth)
    return {
        **result,
        "specimen_dir": str(folder),
        "truth_path": str(truth_path),
        "n_records": n_ok + n_failed + len(unreadable),
        "n_ok": n_ok,
        "n_failed": n_failed,
        "unreadable": unreadable,
    }


def cached_ocr(
    image: str | Path,
    max_edge: int,
    cache_dir: str | Path = "/tmp/ocr-cache",
    reread_vertical: bool = False,
) -> OcrResult:
    """OCR an image prepared at ``max_edge``, once: later calls read the cache.

    The result is kept as ``<cache_dir>/<max_edge>/<image stem>.json``
    (``<max_edge>v/`` with sideways lines read again); its ``seconds`` field
    still tells how long the OCR took the first time, so benchmarks can
    report OCR time from a cache. A cache file that cannot be read is
    replaced.

    :param image: the image file.
    :param max_edge: the long edge the image is shrunk to before OCR.
    :param cache_dir: the cache root (outside the repository).
    :param reread_vertical: also read sideways lines upright
        (:func:`herbarium_dwc.verticalocr.reread_vertical_lines`).
    :raises ImageError: the image cannot be read.
    :raises SpecimenError: OCR failed on the image.

    >>> ocr = cached_ocr("sheet.jpg", 2800)
    """
    source = Path(image)
    folder = f"{max_edge}v" if reread_vertical else str(max_edge)
    cache = Path(cache_dir) / folder / f"{source.stem}.json"
    if cache.is_file():
        try:
            return OcrResult.model_validate_json(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("%s: unreadable OCR cache, OCR again: %s", cache, exc)
    if reread_vertical:
        first = cached_ocr(source, max_edge, cache_dir)
        prepared = prepare_image(source, PrepareSettings(max_edge=max_edge))
        result = reread_vertical_lines(prepared.data, first)
    else:
        prepared = prepare_image(source, PrepareSettings(max_edge=max_edge))
        result = run_ocr(prepared.data)
    write_json_atomic(cache, result.model_dump(mode="json"))
    return result
