"""Tests for export.py: occurrence rows, occurrence.csv and dwca.zip."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from dwca.read import DwCAReader

from herbarium_dwc.dwc.terms import term_uri
from herbarium_dwc.errors import ConfigError, HerbariumError
from herbarium_dwc.export import (
    LICENSES,
    DatasetSettings,
    build_occurrences,
    write_dwca,
    write_occurrence_csv,
)
from herbarium_dwc.record import EngineInfo, ImageInfo, SpecimenRecord

SETTINGS = DatasetSettings.from_config(
    {
        "institutionCode": "NY",
        "collectionCode": "Vascular",
        "rightsHolder": "The New York Botanical Garden",
        "title": "Test sheets",
        "description": "Sheets for the export tests.",
        "creator": {"name": "Ada Lovelace", "email": "ada@example.org"},
        "contact": "Grace Hopper",
    }
)


def record(
    specimen_id: str,
    dwc: dict[str, str],
    status: str = "ok",
    flags: list[str] | None = None,
) -> SpecimenRecord:
    return SpecimenRecord(
        specimen_id=specimen_id,
        run="test",
        image=ImageInfo(source=f"images/{specimen_id}.jpg"),
        engine=EngineInfo(kind="offline", model="rapidocr"),
        status=status,  # type: ignore[arg-type]
        dwc=dwc,
        flags=flags or [],
    )


def test_images_of_one_sheet_become_one_occurrence() -> None:
    rows, stats = build_occurrences(
        [
            record("b", {"catalogNumber": "0012", "locality": "Bronx"}),
            record("a", {"catalogNumber": "0012 ", "scientificName": "Carex"}),
        ],
        SETTINGS,
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["associatedMedia"] == "images/a.jpg | images/b.jpg"
    assert row["occurrenceID"] == "urn:catalog:NY:Vascular:0012"
    assert (row["scientificName"], row["locality"]) == ("Carex", "Bronx")
    assert row["basisOfRecord"] == "PreservedSpecimen"
    assert row["license"] == LICENSES["CC-BY-4.0"]
    assert row["rightsHolder"] == "The New York Botanical Garden"
    assert stats["images_merged"] == 1


def test_only_ok_records_become_rows_and_flags_are_counted() -> None:
    rows, stats = build_occurrences(
        [
            record("a", {"catalogNumber": "1"}, flags=["eventDate:two_digit_year"]),
            record(
                "b",
                {"catalogNumber": "2"},
                flags=["eventDate:two_digit_year", "countryCode:unknown_country"],
            ),
            record("c", {}, status="failed"),
        ],
        SETTINGS,
    )
    assert len(rows) == 2
    assert stats["records_failed"] == 1
    assert stats["flags"] == {
        "countryCode:unknown_country": 1,
        "eventDate:two_digit_year": 2,
    }


def test_occurrence_ids_are_stable_and_fall_back_to_the_specimen_id() -> None:
    records = [record("sheet-1", {}), record("sheet-2", {"catalogNumber": "7"})]
    first, stats = build_occurrences(records, SETTINGS)
    second, _ = build_occurrences(list(reversed(records)), SETTINGS)
    assert [r["occurrenceID"] for r in first] == [r["occurrenceID"] for r in second]
    assert "urn:herbarium-dwc:NY:Vascular:specimen:sheet-1" in {
        r["occurrenceID"] for r in first
    }
    assert stats["fallback_ids"] == 1


def test_occurrence_ids_are_unique_ignoring_case() -> None:
    settings = DatasetSettings(
        occurrence_id_pattern="{catalogNumber}", fallback_id_pattern="AB1"
    )
    rows, stats = build_occurrences(
        [
            record("a", {"catalogNumber": "ab1", "institutionCode": "X"}),
            record("b", {"catalogNumber": "AB1", "institutionCode": "Y"}),
            record("c", {}),
        ],
        settings,
    )
    ids = [row["occurrenceID"].casefold() for row in rows]
    assert len(ids) == len(set(ids)) == 3
    assert stats["id_collisions_resolved"] == 2


def test_catalog_numbers_merge_ignoring_case() -> None:
    rows, _ = build_occurrences(
        [record("a", {"catalogNumber": "AB1"}), record("b", {"catalogNumber": "ab1"})],
        SETTINGS,
    )
    assert len(rows) == 1


def test_occurrence_csv_is_rfc4180_utf8_without_bom(tmp_path: Path) -> None:
    rows, _ = build_occurrences(
        [
            record(
                "a",
                {
                    "catalogNumber": "0012",
                    "locality": 'Río\nPiedras, "north"',
                    "habitat": "bog\r\nedge",
                },
            )
        ],
        SETTINGS,
    )
    path = tmp_path / "occurrence.csv"
    stats = write_occurrence_csv(rows, path)
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 2 and b"\n" not in data.replace(b"\r\n", b"")
    assert stats["line_breaks_replaced"] == 2
    assert stats["rows"] == 1
    with path.open(encoding="utf-8", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert read[0]["locality"] == 'Río Piedras, "north"'
    assert read[0]["catalogNumber"] == "0012"
    assert list(read[0]) == stats["column_names"]
    assert list(read[0])[0] == "occurrenceID"


def test_dwca_round_trips_every_row_and_column(tmp_path: Path) -> None:
    records = [
        record(
            "a",
            {
                "catalogNumber": "0012",
                "scientificName": "Carex aquatilis",
                "eventDate": "1969-08",
                "locality": "line\nbreak",
                "decimalLatitude": "-34.917",
                "decimalLongitude": "138.6",
            },
        ),
        record(
            "b",
            {
                "catalogNumber": "0099",
                "recordedBy": "A. Smith | B. Jones",
                "country": "Canada",
                "countryCode": "CA",
            },
        ),
        record("c", {"scientificName": "Mentha ×piperita L."}),
    ]
    rows, _ = build_occurrences(records, SETTINGS)
    path = tmp_path / "dwca.zip"
    csv_stats = write_occurrence_csv(rows, tmp_path / "occurrence.csv")
    write_dwca(rows, path, SETTINGS)
    expected = {
        row["occurrenceID"]: {
            term_uri(t): row.get(t, "").replace("\n", " ")
            for t in csv_stats["column_names"]
        }
        for row in rows
    }
    with DwCAReader(str(path)) as archive:
        assert archive.descriptor is not None
        core_terms = archive.descriptor.core.terms
        assert set(core_terms) == {term_uri(t) for t in csv_stats["column_names"]}
        seen = {}
        for line in archive:
            seen[line.id] = dict(line.data)
    assert seen == expected


def test_dwca_metadata_matches_its_data(tmp_path: Path) -> None:
    rows, _ = build_occurrences([record("a", {"catalogNumber": "1"})], SETTINGS)
    path = tmp_path / "dwca.zip"
    write_dwca(rows, path, SETTINGS)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["eml.xml", "meta.xml", "occurrence.txt"]
        meta = ET.fromstring(archive.read("meta.xml"))
        eml = ET.fromstring(archive.read("eml.xml"))
        header = archive.read("occurrence.txt").decode("utf-8").splitlines()[0]
    ns = {"t": "http://rs.tdwg.org/dwc/text/"}
    fields = meta.findall("t:core/t:field", ns)
    assert [f.get("term") for f in fields] == [term_uri(t) for t in header.split(",")]
    assert meta.find("t:core/t:id", ns).get("index") == "0"  # type: ignore[union-attr]
    assert fields[0].get("term") == "http://rs.tdwg.org/dwc/terms/occurrenceID"
    assert eml.findtext("dataset/title") == "Test sheets"
    assert eml.findtext("dataset/abstract/para") == "Sheets for the export tests."
    assert eml.findtext("dataset/creator/individualName/surName") == "Lovelace"
    assert eml.findtext("dataset/creator/electronicMailAddress") == "ada@example.org"
    assert eml.findtext("dataset/contact/individualName/surName") == "Hopper"
    ulink = eml.find("dataset/intellectualRights/para/ulink")
    assert ulink is not None and ulink.get("url") == LICENSES["CC-BY-4.0"]


def test_write_dwca_refuses_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(HerbariumError, match="appears twice"):
        write_dwca(
            [{"occurrenceID": "A"}, {"occurrenceID": "a"}], tmp_path / "x.zip", SETTINGS
        )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"license": "CC-BY-SA-4.0"}, "GBIF publishes"),
        ({"occurrence_id_pattern": "{barcode}"}, "placeholders"),
        ({"creator": 5}, "creator"),
        ({"institution": "NY"}, "unknown key"),
    ],
)
def test_dataset_settings_reject_bad_config(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        DatasetSettings.from_config(section)


@pytest.mark.parametrize(
    ("value", "uri"),
    [
        ("CC0-1.0", LICENSES["CC0-1.0"]),
        ("cc-by-nc-4.0", LICENSES["CC-BY-NC-4.0"]),
        ("https://creativecommons.org/licenses/by/4.0/", LICENSES["CC-BY-4.0"]),
    ],
)
def test_license_accepts_short_names_and_uris(value: str, uri: str) -> None:
    assert DatasetSettings.from_config({"license": value}).license == uri
