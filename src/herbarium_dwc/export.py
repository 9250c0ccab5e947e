"""Occurrence rows, ``occurrence.csv`` and the Darwin Core Archive.

- :func:`build_occurrences` turns ``ok`` specimen records into one row per
  physical sheet: images of one sheet (same catalogNumber, case and spaces
  ignored) become one occurrence listing every image in ``associatedMedia``.
  ``occurrenceID`` comes from a configurable pattern, is stable across runs
  (it depends on the catalogue number or specimen id, never on order) and is
  unique even ignoring case.
- :func:`write_occurrence_csv` writes UTF-8 without BOM, RFC 4180 (CRLF,
  minimal quoting), standard term names as headers, line breaks inside values
  replaced by a space and counted.
- :func:`write_dwca` writes ``occurrence.txt`` the same way, plus ``meta.xml``
  generated from the columns actually written and ``eml.xml`` from config.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePath
from typing import Any
from xml.etree import ElementTree as ET

from herbarium_dwc.dwc.terms import (
    DWC_NS,
    OCCURRENCE_TERM_SET,
    OCCURRENCE_TERMS,
    term_uri,
)
from herbarium_dwc.errors import ConfigError, HerbariumError
from herbarium_dwc.record import SpecimenRecord, write_bytes_atomic

logger = logging.getLogger(__name__)

#: The licences GBIF accepts for occurrence data, short name -> legal-code URI.
LICENSES: dict[str, str] = {
    "CC0-1.0": "http://creativecommons.org/publicdomain/zero/1.0/legalcode",
    "CC-BY-4.0": "http://creativecommons.org/licenses/by/4.0/legalcode",
    "CC-BY-NC-4.0": "http://creativecommons.org/licenses/by-nc/4.0/legalcode",
}
_LICENSE_TITLES: dict[str, str] = {
    LICENSES["CC0-1.0"]: "Public Domain (CC0 1.0)",
    LICENSES["CC-BY-4.0"]: "Creative Commons Attribution (CC-BY) 4.0",
    LICENSES["CC-BY-NC-4.0"]: "Creative Commons Attribution Non Commercial "
    "(CC-BY-NC) 4.0",
}
DEFAULT_ID_PATTERN = "urn:catalog:{institutionCode}:{collectionCode}:{catalogNumber}"
DEFAULT_FALLBACK_ID_PATTERN = (
    "urn:herbarium-dwc:{institutionCode}:{collectionCode}:specimen:{specimen_id}"
)
_ID_FIELDS = ("institutionCode", "collectionCode", "catalogNumber", "specimen_id")
_LINE_BREAK_RE = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
_EML_NS = "eml://ecoinformatics.org/eml-2.1.1"
_DWC_TEXT_NS = "http://rs.tdwg.org/dwc/text/"


@dataclass(frozen=True)
class Party:
    """A person or organisation named in eml.xml (creator, contact)."""

    name: str = ""
    organization: str = ""
    email: str = ""

    @classmethod
    def from_config(cls, value: Any, key: str) -> Party:
        """Read a party from a string (a name) or a mapping.

        :raises ConfigError: the value is neither.
        """
        if value is None or value == "":
            return cls()
        if isinstance(value, str):
            return cls(name=value)
        if isinstance(value, Mapping):
            unknown = set(value) - {"name", "organization", "email"}
            if not unknown:
                return cls(
                    name=str(value.get("name") or ""),
                    organization=str(value.get("organization") or ""),
                    email=str(value.get("email") or ""),
                )
        raise ConfigError(
            f"dataset.{key} is {value!r}; give a name, or a mapping with name, "
            "organization and email."
        )


@dataclass(frozen=True)
class DatasetSettings:
    """What the dataset says about itself: codes, licence, IDs, metadata.

    Field names that are Darwin Core terms keep their TDWG spelling.
    """

    institutionCode: str = ""  # noqa: N815 - Darwin Core spelling
    collectionCode: str = ""  # noqa: N815
    license: str = LICENSES["CC-BY-4.0"]
    rightsHolder: str = ""  # noqa: N815
    occurrence_id_pattern: str = DEFAULT_ID_PATTERN
    fallback_id_pattern: str = DEFAULT_FALLBACK_ID_PATTERN
    title: str = "Herbarium specimens"
    description: str = ""
    creator: Party = field(default_factory=Party)
    contact: Party = field(default_factory=Party)
    media_url_prefix: str = ""
    language: str = "en"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DatasetSettings:
        """Build settings from the ``dataset:`` section (or the whole config).

        :param config: the ``dataset:`` mapping, or a config holding one.
        :raises ConfigError: an unknown key, an unsupported licence, or an ID
            pattern with a placeholder other than institutionCode,
            collectionCode, catalogNumber and specimen_id.

        >>> DatasetSettings.from_config({"license": "CC0-1.0"}).license
        'http://creativecommons.org/publicdomain/zero/1.0/legalcode'
        """
        section: Mapping[str, Any] = (
            config.get("dataset") or {} if "dataset" in config else config
        )
        known = {
            "institutionCode",
            "collectionCode",
            "license",
            "rightsHolder",
            "occurrence_id_pattern",
            "fallback_id_pattern",
            "title",
            "description",
            "creator",
            "contact",
            "media_url_prefix",
            "language",
        }
        unknown = set(section) - known
        if unknown:
            raise ConfigError(
                f"dataset: unknown key(s) {sorted(unknown)}; the known keys are "
                f"{sorted(known)}. Remove or rename them in config.yaml."
            )
        text = {
            k: str(section[k])
            for k in known - {"creator", "contact", "license"}
            if section.get(k) is not None
        }
        settings = cls(
            license=normalise_license(str(section.get("license") or "CC-BY-4.0")),
            creator=Party.from_config(section.get("creator"), "creator"),
            contact=Party.from_config(section.get("contact"), "contact"),
            **text,
        )
        for key in ("occurrence_id_pattern", "fallback_id_pattern"):
            _check_pattern(getattr(settings, key), key)
        return settings


def normalise_license(value: str) -> str:
    """Return the legal-code URI of a licence GBIF accepts.

    :param value: a short name (``CC-BY-4.0``, ``CC0-1.0``, ``CC-BY-NC-4.0``) or
        one of their URIs.
    :raises ConfigError: any other licence; GBIF refuses occurrence data under it.

    >>> normalise_license("cc-by-4.0")
    'http://creativecommons.org/licenses/by/4.0/legalcode'
    """
    for short, uri in LICENSES.items():
        if value.strip().upper() == short.upper():
            return uri
        if value.strip().rstrip("/").removesuffix("/legalcode").replace(
            "https://", "http://"
        ) == uri.removesuffix("/legalcode").rstrip("/"):
            return uri
    raise ConfigError(
        f"dataset.license is {value!r}; GBIF publishes occurrences only under "
        f"{', '.join(LICENSES)}. Choose one of these."
    )


def _check_pattern(pattern: str, key: str) -> None:
    try:
        pattern.format(**{name: "x" for name in _ID_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"dataset.{key} {pattern!r} cannot be filled ({exc}); use only the "
            f"placeholders {{{'}, {'.join(_ID_FIELDS)}}}."
        ) from exc


def _media(record: SpecimenRecord, settings: DatasetSettings) -> str:
    source = record.image.source
    if settings.media_url_prefix:
        return settings.media_url_prefix + PurePath(source).name
    return source


def _id_part(value: str) -> str:
    return re.sub(r"\s+", "_", value.strip())


def _group_key(record: SpecimenRecord, settings: DatasetSettings) -> tuple[str, ...]:
    catalog = record.dwc.get("catalogNumber", "").strip()
    if not catalog:
        return ("specimen", record.specimen_id)
    institution = settings.institutionCode or record.dwc.get("institutionCode", "")
    return ("catalog", institution.casefold(), re.sub(r"\s+", "", catalog).casefold())


def build_occurrences(
    records: Iterable[SpecimenRecord], settings: DatasetSettings
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Turn specimen records into occurrence rows, one per physical sheet.

    :param records: specimen records; only ``ok`` ones become rows.
    :param settings: dataset codes, licence and ID patterns.
    :return: (rows, stats). Rows hold Darwin Core terms only. Stats count
        ``records``, ``records_ok``, ``records_failed``, ``occurrences``,
        ``images_merged``, ``fallback_ids`` (no catalogNumber),
        ``id_collisions_resolved``, ``conflicting_values`` (images of one sheet
        that disagree; the first specimen id's value is kept),
        ``institution_conflicts`` and ``flags`` (count per ``term:reason``).

    >>> rows, stats = build_occurrences([], DatasetSettings())
    >>> rows, stats["occurrences"]
    ([], 0)
    """
    stats: Counter[str] = Counter()
    flag_counts: Counter[str] = Counter()
    groups: dict[tuple[str, ...], list[SpecimenRecord]] = {}
    ordered = sorted(records, key=lambda r: r.specimen_id)
    by_id = {r.specimen_id: r for r in ordered}
    for record in ordered:
        stats["records"] += 1
        if record.status != "ok":
            stats["records_failed"] += 1
            continue
        stats["records_ok"] += 1
        flag_counts.update(record.flags)
        target = by_id.get(record.duplicate_of or "")
        key = _group_key(target if target is not None else record, settings)
        groups.setdefault(key, []).append(record)
    rows: list[dict[str, str]] = []
    used_ids: set[str] = set()
    for key, members in groups.items():
        row = _merge(members, settings, stats)
        occurrence_id = _occurrence_id(row, members[0], settings, stats)
        unique = occurrence_id
        suffix = 2
        while unique.casefold() in used_ids:
            unique = f"{occurrence_id}-{suffix}"
            suffix += 1
        if unique != occurrence_id:
            stats["id_collisions_resolved"] += 1
            logger.warning(
                "occurrenceID %s is already used (ignoring case); %s gets %s",
                occurrence_id,
                key,
                unique,
            )
        used_ids.add(unique.casefold())
        rows.append({"occurrenceID": unique, **row})
    stats["occurrences"] = len(rows)
    summary: dict[str, Any] = {
        name: stats.get(name, 0)
        for name in (
            "records",
            "records_ok",
            "records_failed",
            "occurrences",
            "images_merged",
            "fallback_ids",
            "id_collisions_resolved",
            "conflicting_values",
            "institution_conflicts",
        )
    }
    summary["flags"] = dict(sorted(flag_counts.items()))
    logger.info(
        "%d records -> %d occurrences (%d images merged, %d failed)",
        summary["records"],
        summary["occurrences"],
        summary["images_merged"],
        summary["records_failed"],
    )
    return rows, summary


def _merge(
    members: list[SpecimenRecord], settings: DatasetSettings, stats: Counter[str]
) -> dict[str, str]:
    row: dict[str, str] = {}
    media: list[str] = []
    for index, record in enumerate(members):
        if index:
            stats["images_merged"] += 1
        for term, value in record.dwc.items():
            if term not in OCCURRENCE_TERM_SET or term == "occurrenceID" or not value:
                continue
            if term not in row:
                row[term] = value
            elif _same(row[term], value) is False and term != "associatedMedia":
                stats["conflicting_values"] += 1
                logger.warning(
                    "images of one sheet disagree on %s: %r (%s kept) vs %r (%s)",
                    term,
                    row[term],
                    members[0].specimen_id,
                    value,
                    record.specimen_id,
                )
        link = _media(record, settings)
        if link not in media:
            media.append(link)
    for term, configured in (
        ("institutionCode", settings.institutionCode),
        ("collectionCode", settings.collectionCode),
    ):
        if configured:
            if row.get(term) and row[term] != configured:
                stats["institution_conflicts"] += 1
            row[term] = configured
    row["basisOfRecord"] = "PreservedSpecimen"
    row["license"] = settings.license
    if settings.rightsHolder:
        row["rightsHolder"] = settings.rightsHolder
    row["associatedMedia"] = " | ".join(media)
    return row


def _same(first: str, second: str) -> bool:
    """Equal once case and runs of white space are ignored."""
    squeeze = re.compile(r"\s+")
    return (
        squeeze.sub(" ", first.strip()).casefold()
        == squeeze.sub(" ", second.strip()).casefold()
    )


def _occurrence_id(
    row: dict[str, str],
    first: SpecimenRecord,
    settings: DatasetSettings,
    stats: Counter[str],
) -> str:
    fields = {
        "institutionCode": _id_part(row.get("institutionCode", "")),
        "collectionCode": _id_part(row.get("collectionCode", "")),
        "catalogNumber": _id_part(row.get("catalogNumber", "")),
        "specimen_id": _id_part(first.specimen_id),
    }
    if fields["catalogNumber"]:
        return settings.occurrence_id_pattern.format(**fields)
    stats["fallback_ids"] += 1
    return settings.fallback_id_pattern.format(**fields)


def _table(
    rows: list[dict[str, str]],
) -> tuple[list[str], list[list[str]], int]:
    """Columns (non-empty terms in standard order), cleaned cells, breaks replaced."""
    present = {term for row in rows for term, value in row.items() if value}
    unknown = present - OCCURRENCE_TERM_SET
    if unknown:
        raise HerbariumError(
            f"occurrence rows hold non-Darwin Core keys {sorted(unknown)}; build "
            "rows with build_occurrences, which keeps Darwin Core terms only."
        )
    columns = [term for term in OCCURRENCE_TERMS if term in present]
    breaks = 0
    cells: list[list[str]] = []
    for row in rows:
        line = []
        for term in columns:
            value, count = _LINE_BREAK_RE.subn(" ", row.get(term, "") or "")
            breaks += count
            line.append(value)
        cells.append(line)
    return columns, cells, breaks


def _csv_text(columns: list[str], cells: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    writer.writerows(cells)
    return buffer.getvalue()


def write_occurrence_csv(
    rows: list[dict[str, str]], path: str | Path
) -> dict[str, Any]:
    """Write occurrence rows as RFC 4180 CSV, UTF-8 without a byte order mark.

    :param rows: rows from :func:`build_occurrences`.
    :param path: the file to write (atomically).
    :raises HerbariumError: a row holds a key that is not a Darwin Core term.
    :return: stats ``rows``, ``columns`` (count), ``column_names`` and
        ``line_breaks_replaced``.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "occurrence.csv"
    >>> stats = write_occurrence_csv([{"occurrenceID": "a", "locality": "x\\ny"}], out)
    >>> stats["rows"], stats["line_breaks_replaced"]
    (1, 1)
    """
    columns, cells, breaks = _table(rows)
    write_bytes_atomic(path, _csv_text(columns, cells).encode("utf-8"))
    if breaks:
        logger.info("replaced %d line breaks inside values with spaces", breaks)
    return {
        "rows": len(cells),
        "columns": len(columns),
        "column_names": columns,
        "line_breaks_replaced": breaks,
    }


def _meta_xml(columns: list[str]) -> bytes:
    ET.register_namespace("", _DWC_TEXT_NS)
    archive = ET.Element(f"{{{_DWC_TEXT_NS}}}archive", {"metadata": "eml.xml"})
    core = ET.SubElement(
        archive,
        f"{{{_DWC_TEXT_NS}}}core",
        {
            "encoding": "UTF-8",
            "fieldsTerminatedBy": ",",
            "linesTerminatedBy": "\\r\\n",
            "fieldsEnclosedBy": '"',
            "ignoreHeaderLines": "1",
            "rowType": DWC_NS + "Occurrence",
        },
    )
    files = ET.SubElement(core, f"{{{_DWC_TEXT_NS}}}files")
    ET.SubElement(files, f"{{{_DWC_TEXT_NS}}}location").text = "occurrence.txt"
    ET.SubElement(core, f"{{{_DWC_TEXT_NS}}}id", {"index": "0"})
    for index, term in enumerate(columns):
        ET.SubElement(
            core,
            f"{{{_DWC_TEXT_NS}}}field",
            {"index": str(index), "term": term_uri(term)},
        )
    ET.indent(archive)
    return bytes(ET.tostring(archive, encoding="utf-8", xml_declaration=True))


def _party(parent: ET.Element, tag: str, party: Party, fallback: str) -> None:
    element = ET.SubElement(parent, tag)
    name = party.name.strip()
    if name:
        person = ET.SubElement(element, "individualName")
        given, _, surname = name.rpartition(" ")
        if given:
            ET.SubElement(person, "givenName").text = given
        ET.SubElement(person, "surName").text = surname
    organization = party.organization or (fallback if not name else "")
    if organization:
        ET.SubElement(element, "organizationName").text = organization
    if party.email:
        ET.SubElement(element, "electronicMailAddress").text = party.email


def _eml_xml(settings: DatasetSettings) -> bytes:
    ET.register_namespace("eml", _EML_NS)
    package = uuid.uuid5(
        uuid.NAMESPACE_URL,
        f"herbarium-dwc:{settings.institutionCode}:{settings.collectionCode}:"
        f"{settings.title}",
    )
    root = ET.Element(
        f"{{{_EML_NS}}}eml",
        {
            "packageId": str(package),
            "system": "http://gbif.org",
            "scope": "system",
            "{http://www.w3.org/XML/1998/namespace}lang": settings.language,
        },
    )
    dataset = ET.SubElement(root, "dataset")
    ET.SubElement(dataset, "title").text = settings.title
    fallback = settings.rightsHolder or settings.institutionCode or "unknown"
    _party(dataset, "creator", settings.creator, fallback)
    _party(dataset, "metadataProvider", settings.creator, fallback)
    ET.SubElement(dataset, "pubDate").text = date.today().isoformat()
    ET.SubElement(dataset, "language").text = settings.language
    abstract = ET.SubElement(dataset, "abstract")
    ET.SubElement(abstract, "para").text = settings.description or settings.title
    rights = ET.SubElement(ET.SubElement(dataset, "intellectualRights"), "para")
    rights.text = "This work is licensed under a "
    link = ET.SubElement(rights, "ulink", {"url": settings.license})
    ET.SubElement(link, "citetitle").text = (
        _LICENSE_TITLES.get(settings.license, settings.license) + " License"
    )
    link.tail = "."
    contact = (
        settings.contact
        if (
            settings.contact.name
            or settings.contact.email
            or settings.contact.organization
        )
        else settings.creator
    )
    _party(dataset, "contact", contact, fallback)
    # Not indented: the licence sentence is mixed content, and indenting would
    # put white space inside it.
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def write_dwca(
    rows: list[dict[str, str]], path: str | Path, settings: DatasetSettings
) -> None:
    """Write a Darwin Core Archive: occurrence.txt, meta.xml and eml.xml.

    :param rows: rows from :func:`build_occurrences`.
    :param path: the zip file to write (atomically), e.g. ``results/dwca.zip``.
    :param settings: title, description, creator, contact and licence for eml.xml.
    :raises HerbariumError: a row lacks an occurrenceID, two rows share one
        (ignoring case), or a row holds a key that is not a Darwin Core term.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "dwca.zip"
    >>> write_dwca([{"occurrenceID": "urn:x:1"}], out, DatasetSettings())
    """
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        occurrence_id = row.get("occurrenceID", "")
        if not occurrence_id:
            raise HerbariumError(
                f"occurrence row {number} has no occurrenceID; build rows with "
                "build_occurrences, which always sets one."
            )
        if occurrence_id.casefold() in seen:
            raise HerbariumError(
                f"occurrenceID {occurrence_id!r} appears twice (ignoring case); "
                "GBIF needs unique IDs: check occurrence_id_pattern."
            )
        seen.add(occurrence_id.casefold())
    columns, cells, breaks = _table(rows)
    if not columns:
        columns = ["occurrenceID"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("occurrence.txt", _csv_text(columns, cells).encode("utf-8"))
        archive.writestr("meta.xml", _meta_xml(columns))
        archive.writestr("eml.xml", _eml_xml(settings))
    write_bytes_atomic(path, buffer.getvalue())
    logger.info(
        "wrote %s: %d occurrences, %d columns, %d line breaks replaced",
        path,
        len(cells),
        len(columns),
        breaks,
    )
