"""The herbarium-dwc command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from herbarium_dwc.cli import build_parser, main
from herbarium_dwc.record import (
    EngineInfo,
    Failure,
    ImageInfo,
    SpecimenRecord,
    write_record,
)


def _write(folder: Path, sid: str, status: str, kind: str | None = None) -> None:
    write_record(
        folder / f"{sid}.json",
        SpecimenRecord(
            specimen_id=sid,
            run="r1",
            image=ImageInfo(source=f"{sid}.jpg"),
            engine=EngineInfo(kind="offline", model="m"),
            status=status,  # type: ignore[arg-type]
            failure=Failure(kind=kind, message="m") if kind else None,  # type: ignore[arg-type]
            dwc={"catalogNumber": sid},
        ),
    )


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for command in ("table", "evaluate", "retry-failed", "demo"):
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([command, "--help"])
        assert stop.value.code == 0
        assert "usage: herbarium-dwc" in capsys.readouterr().out


def test_retry_failed_removes_only_failed_records_of_the_kind(tmp_path: Path) -> None:
    folder = tmp_path / "specimens" / "r1"
    _write(folder, "a", "ok")
    _write(folder, "b", "failed", "timeout")
    _write(folder, "c", "failed", "image_corrupt")
    assert main(["retry-failed", str(tmp_path), "--kind", "timeout", "--dry-run"]) == 0
    assert len(list(folder.glob("*.json"))) == 3
    assert main(["retry-failed", str(tmp_path), "--kind", "timeout"]) == 0
    assert sorted(p.stem for p in folder.glob("*.json")) == ["a", "c"]
    assert main(["retry-failed", str(tmp_path)]) == 0
    assert sorted(p.stem for p in folder.glob("*.json")) == ["a"]


def test_several_runs_need_a_run_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "specimens" / "r1", "a", "ok")
    _write(tmp_path / "specimens" / "r2", "a", "ok")
    assert main(["retry-failed", str(tmp_path)]) == 1
    assert "name one with --run" in capsys.readouterr().err


def test_table_lists_ids_and_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "B 2.jpg").write_bytes(b"x")
    (tmp_path / "a1.png").write_bytes(b"x")
    assert main(["table", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"B_2\t{tmp_path / 'B 2.jpg'}", f"a1\t{tmp_path / 'a1.png'}"]


def test_evaluate_prints_a_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "specimens" / "r1"
    _write(folder, "a", "ok")
    _write(folder, "b", "ok")
    truth = tmp_path / "truth.csv"
    truth.write_text("specimen_id,catalogNumber\na,a\nb,zzz\n")
    assert main(["evaluate", str(tmp_path), str(truth)]) == 0
    out = capsys.readouterr().out
    assert "catalogNumber" in out and "50.0%" in out
    assert (tmp_path / "evaluation.json").exists()
