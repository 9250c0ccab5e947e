"""Evaluation against ground truth: loading truth, comparison rules, counts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from herbarium_dwc.errors import ConfigError, FailureKind
from herbarium_dwc.evaluate import (
    CORE_FIELDS,
    evaluate,
    evaluate_run,
    load_truth,
    people,
    token_overlap,
    values_match,
)
from herbarium_dwc.record import (
    EngineInfo,
    Failure,
    ImageInfo,
    SpecimenRecord,
    write_record,
)


def write_csv(path: Path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture
def aocr_folder(tmp_path: Path) -> Path:
    """An aocr-style truth folder: one sheet with regions, one packet."""
    folder = tmp_path / "aocr"
    write_csv(
        folder / "parsed" / "SHEET_1.csv",
        [
            [
                "aocr:regionType",
                "dwc:catalogNumber",
                "dwc:recordedBy",
                "dwc:recordedBy2",
                "aocr:verbatimScientificName",
                "dwc:scientificName",
                "dwc:verbatimLocality",
                "dwc:verbatimLocality",
                "dwc:country",
            ],
            ["curatorial", "", "", "", "", "", "", "", ""],
            ["barcode", "00020326", "", "", "", "", "", "", ""],
            [
                "determination",
                "",
                "",
                "",
                "Quercus alba L.",
                "Quercus alba L.",
                "",
                "",
                "",
            ],
            [
                "primary",
                "",
                "Daniel Atha",
                "Thomas A. Zanoni",
                "Forestiera eggersiana Krug & Urb.",
                "",
                "Mun Quebradillas.",
                "Growing on roadside",
                "Puerto Rico",
            ],
        ],
    )
    write_csv(
        folder / "parsed" / "PACKET_lg.csv",
        [
            ["dwc:catalogNumber", "dwc:eventDate", "dwc:verbatimLatitude"],
            ["01075761", "2007-05-18", "44°37'27\"N"],
        ],
    )
    return folder


def test_load_truth_merges_aocr_regions_preferring_primary(aocr_folder: Path) -> None:
    truth = load_truth(aocr_folder)
    sheet = truth["SHEET_1"]
    assert sheet["catalogNumber"] == "00020326"
    assert sheet["scientificName"] == "Forestiera eggersiana Krug & Urb."
    assert sheet["recordedBy"] == "Daniel Atha; Thomas A. Zanoni"
    assert sheet["locality"] == "Mun Quebradillas.; Growing on roadside"
    assert "regionType" not in sheet


def test_load_truth_reads_single_row_packets(aocr_folder: Path) -> None:
    packet = load_truth(aocr_folder / "parsed")["PACKET_lg"]
    assert packet == {
        "catalogNumber": "01075761",
        "eventDate": "2007-05-18",
        "verbatimLatitude": "44°37'27\"N",
        "verbatimCoordinates": "44°37'27\"N",
    }


def test_load_truth_reads_plain_csv(tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    write_csv(
        path,
        [
            ["specimen_id", "dwc:recordedBy", "country"],
            ["A_1", "R. C. Harris", "USA"],
            ["A_2", "", "Canada"],
        ],
    )
    truth = load_truth(path)
    assert truth == {
        "A_1": {"recordedBy": "R. C. Harris", "country": "USA"},
        "A_2": {"country": "Canada"},
    }


def test_load_truth_without_specimen_id_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    write_csv(path, [["id", "country"], ["A", "USA"]])
    with pytest.raises(ConfigError, match="truth.csv: no specimen_id column"):
        load_truth(path)


def test_load_truth_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_truth(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("term", "predicted", "truth", "match"),
    [
        ("catalogNumber", "TENN-L-0000001", "TENN-L-0000001", True),
        ("catalogNumber", "01075761", "1075761", False),
        ("eventDate", "2007-05-18", "18 May 2007", True),
        ("eventDate", "18May2007", "2007-05-18", True),
        ("eventDate", "1979-07", "1979-07-01", False),
        ("eventDate", "1962-07-16/1962-07-21", "July 16-21, 1962", True),
        ("verbatimEventDate", "Aug.10,1935.", "Aug. 10, 1935", True),
        ("country", "U.S.A.", "United States", True),
        ("country", "USA", "US", True),
        ("country", "Canada", "USA", False),
        ("country", "Navassa Island", "NAVASSA ISLAND", True),
        (
            "scientificName",
            "Arthopyrenia cinchonae (Ach.) Mill.",
            "Arthopyrenia cinchonae (Ach.) Müll. Arg.",
            True,
        ),
        (
            "scientificName",
            "ACAROSPORA SMARAGDULA",
            "Acarospora smaragdula strigata",
            True,
        ),
        ("scientificName", "Alectoria nigricans", "Alectoria", True),
        ("scientificName", "Alectoria", "Alectoria nigricans", False),
        ("recordedBy", "R.T. Wilce & M. Sherwood", "M. Sherwood and R. T. Wilce", True),
        (
            "recordedBy",
            "Daniel Atha with Thomas A. Zanoni",
            "Daniel Atha; Thomas A. Zanoni",
            True,
        ),
        ("recordedBy", "Richard C. Harris", "R. C. Harris", False),
        (
            "recordedBy",
            "H. Kashiwadani and Y. Endo",
            "H. Kashiwadani (no. 16298) and Y. Endo",
            True,
        ),
        ("identifiedBy", "M. E. B. B.", "M.E.B.B.", True),
        ("decimalLatitude", "44.62417", "44.624", True),
        ("decimalLatitude", "44.632", "44.624", True),
        ("decimalLatitude", "44.7", "44.624", False),
        (
            "verbatimCoordinates",
            "44°37'27\"N, 73°25'50\"W",
            "44° 37' 27\" N 73° 25' 50\" W",
            True,
        ),
        ("verbatimCoordinates", "ca. 45°15'N, 66°02'W", "45°15'N, 66°02'W", True),
        ("verbatimCoordinates", "60°09'N,152°36W", "60°09'N, 152°36'W", True),
        ("verbatimCoordinates", "N. 48° 48' W.88° 40'", "48°48'N, 88°40'W", True),
        ("verbatimCoordinates", "Lat.40° N", "40° N", True),
        ("verbatimCoordinates", "60°09'N, 152°36'W", "60°09'N, 152°37'W", False),
        ("verbatimElevation", "1,800 ft", "1800 feet", True),
        ("verbatimElevation", "ca.2,200feet", "ca. 2,200 feet", True),
        ("verbatimElevation", "ca. 70 m", "70 m", True),
        ("verbatimElevation", "4900'", "4900 ft", True),
        ("verbatimElevation", "550 m", "550 ft", False),
        ("county", "Clinton County", "Clinton", True),
        ("county", "Keewatin", "District of Keewatin", True),
        ("stateProvince", "PINAR DEL RIO", "PROVINCE OF PINAR DEL RIO", True),
        ("stateProvince", "NEW YORK", "New York", True),
        (
            "locality",
            "Town of Peru, Valcour Island",
            "Town of Peru, Valcour Island in Lake Champlain",
            True,
        ),
        (
            "locality",
            "Bluff Point",
            "Town of Peru, Valcour Island in Lake Champlain, Bluff Point",
            False,
        ),
        ("habitat", "on indet. crust", "on indet. crust", True),
    ],
)
def test_values_match(term: str, predicted: str, truth: str, match: bool) -> None:
    assert values_match(term, predicted, truth) is match


def test_people_splits_on_separators_and_drops_remarks() -> None:
    assert people("I.M. Brodo with M.J. Shchepanek and W. B. Schofield") == {
        "i m brodo",
        "m j shchepanek",
        "w b schofield",
    }


def test_token_overlap_is_f1_of_shared_words() -> None:
    assert token_overlap("a b c", "a b c") == 0.0  # one-letter words are not tokens
    assert token_overlap("dry rock ledge", "dry rock ledge") == 1.0
    assert token_overlap("dry rock", "dry rock ledge wall") == pytest.approx(2 / 3)


def test_evaluate_counts_per_field() -> None:
    truth = {
        "s1": {"country": "USA", "recordedBy": "R. C. Harris"},
        "s2": {"country": "Canada"},
        "s3": {"country": "Mexico"},
    }
    predicted = {
        "s1": {"country": "U.S.A.", "recordedBy": "W. R. Buck"},
        "s2": {"country": "Canada", "recordedBy": "J. Smith"},
        "x9": {"country": "Peru"},
    }
    result = evaluate(predicted, truth, ["country", "recordedBy"])
    assert result["specimens"] == 3
    assert result["missing_predictions"] == ["s3"]
    assert result["extra_predictions"] == 1
    assert result["fields"]["country"] == {
        "n_truth": 3,
        "n_predicted": 2,
        "n_correct": 2,
        "n_spurious": 0,
        "accuracy": pytest.approx(2 / 3),
    }
    assert result["fields"]["recordedBy"] == {
        "n_truth": 1,
        "n_predicted": 2,
        "n_correct": 0,
        "n_spurious": 1,
        "accuracy": 0.0,
    }
    assert result["core_fields"] == ["recordedBy", "country"]
    assert result["core_mean"] == pytest.approx((0.0 + 2 / 3) / 2)
    wrong = {(m["specimen_id"], m["term"]) for m in result["mismatches"]}
    assert wrong == {("s1", "recordedBy"), ("s3", "country")}


def test_evaluate_field_without_truth_has_no_accuracy() -> None:
    result = evaluate({"s1": {"county": "Essex"}}, {"s1": {}}, ["county"])
    assert result["fields"]["county"]["accuracy"] is None
    assert result["fields"]["county"]["n_spurious"] == 1
    assert result["core_mean"] is None


def test_core_fields_are_scored_by_default() -> None:
    result = evaluate({}, {"s1": {"catalogNumber": "1"}})
    assert set(CORE_FIELDS) <= set(result["fields"])


def _record(specimen_id: str, **fields: object) -> SpecimenRecord:
    return SpecimenRecord(
        specimen_id=specimen_id,
        run="offline",
        image=ImageInfo(source=f"{specimen_id}.jpg"),
        engine=EngineInfo(kind="offline", model="rapidocr"),
        **fields,  # type: ignore[arg-type]
    )


def test_evaluate_run_reads_records_and_falls_back_to_verbatim(tmp_path: Path) -> None:
    runs = tmp_path / "specimens"
    write_record(
        runs / "s1.json",
        _record(
            "s1",
            status="ok",
            verbatim={"country": "U.S.A.", "recordedBy": "R. C. Harris"},
            dwc={"country": "US"},
        ),
    )
    write_record(
        runs / "s2.json",
        _record(
            "s2",
            status="failed",
            failure=Failure(kind=FailureKind.image_corrupt, message="broken"),
            verbatim={"country": "Canada"},
        ),
    )
    (runs / "s3.json").write_text(json.dumps({"not": "a record"}), encoding="utf-8")
    truth = tmp_path / "truth.csv"
    write_csv(
        truth,
        [
            ["specimen_id", "country", "recordedBy"],
            ["s1", "USA", "R.C. Harris"],
            ["s2", "Canada", ""],
            ["s3", "Mexico", ""],
            ["s4", "Peru", ""],
        ],
    )
    result = evaluate_run(runs, truth)
    assert (result["n_records"], result["n_ok"], result["n_failed"]) == (3, 1, 1)
    assert result["unreadable"] == ["s3.json"]
    assert result["missing_predictions"] == ["s4"]
    assert result["fields"]["country"]["n_correct"] == 1
    assert result["fields"]["recordedBy"]["n_correct"] == 1
    assert result["specimen_dir"] == str(runs)


def test_evaluate_run_without_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="specimen folder does not exist"):
        evaluate_run(tmp_path / "missing", tmp_path)
