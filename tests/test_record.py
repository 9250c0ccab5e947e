"""The per-specimen record contract and its atomic writing."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
from pydantic import ValidationError

from herbarium_dwc.record import (
    EngineInfo,
    Failure,
    ImageInfo,
    SpecimenRecord,
    read_record,
    write_json_atomic,
    write_record,
)


def _record(**changes: object) -> SpecimenRecord:
    base: dict[str, object] = {
        "specimen_id": "NY0001",
        "run": "offline-rapidocr-parser-v1",
        "image": ImageInfo(source="a.jpg", sha256="ab" * 32),
        "engine": EngineInfo(kind="offline", model="rapidocr-onnxruntime"),
        "status": "ok",
        "verbatim": {"catalogNumber": "0001"},
        "dwc": {"catalogNumber": "0001"},
    }
    base.update(changes)
    return SpecimenRecord.model_validate(base)


def test_record_round_trips_through_json(tmp_path: Path) -> None:
    path = tmp_path / "NY0001.json"
    write_record(path, _record())
    again = read_record(path)
    assert again == _record()
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {
        "specimen_id",
        "image",
        "engine",
        "status",
        "verbatim",
        "dwc",
        "flags",
        "confidence",
        "usage",
        "timing",
    } <= set(data)


def test_failure_kind_outside_the_vocabulary_is_rejected() -> None:
    with pytest.raises(ValidationError):
        _record(status="failed", failure={"kind": "oops", "message": "x"})
    failed = _record(status="failed", failure=Failure(kind="timeout", message="slow"))
    assert failed.failure is not None and failed.failure.kind == "timeout"


def test_a_crash_while_writing_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"v": 1})
    with (
        mock.patch("herbarium_dwc.record.os.replace", side_effect=OSError("disk")),
        pytest.raises(OSError),
    ):
        write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
