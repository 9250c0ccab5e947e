"""The quality report's figures, its previews and the files it writes."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from herbarium_dwc.events import read_events
from herbarium_dwc.report import ReportSettings, write_report
from herbarium_dwc.report.charts import empty_chart, hbar_chart, histogram
from herbarium_dwc.report.summary import (
    ReviewSettings,
    build_report_data,
    review_score,
    summarise_events,
    timeline,
)
from herbarium_dwc.report.thumbnails import thumbnail_data_uri

from .conftest import draw_sheet
from .fabricate import NOW, RUN, Fabricated, make_record


def _records(fab: Fabricated) -> list[Path]:
    return sorted((fab.results / "specimens" / RUN).glob("*.json"))


def _data(fab: Fabricated, **kwargs: object) -> dict:  # type: ignore[type-arg]
    from herbarium_dwc.aggregate import iter_records

    paths = [p for p in _records(fab) if p.stem in fab.range_ids]
    return build_report_data(
        iter_records(paths),
        RUN,
        events=read_events(fab.results),
        selected=len(fab.range_ids),
        **kwargs,  # type: ignore[arg-type]
    )


def test_summary_counts_outcomes_failures_pending_and_engines(
    fabricated_with_images: Fabricated,
) -> None:
    summary = _data(fabricated_with_images)["summary"]
    assert summary["records"] == len(fabricated_with_images.ok) + len(
        fabricated_with_images.failed
    )
    assert (summary["ok"], summary["failed"]) == (10, 4)
    assert summary["failed_by_kind"] == {
        "image_corrupt": 1,
        "invalid_json": 1,
        "timeout": 1,
        "refused": 1,
    }
    assert summary["pending"] == len(fabricated_with_images.pending)
    assert summary["duplicates"] == 1
    assert summary["engines"] == [
        {"kind": "openai", "model": "gpt-4o-mini", "records": 14}
    ]


def test_summary_cost_leaves_out_duplicates_and_divides_by_extracted(
    fabricated_with_images: Fabricated,
) -> None:
    summary = _data(fabricated_with_images)["summary"]
    # Ten ok records cost 0.002 each, but s05 is a copy of s00 and sent nothing.
    assert summary["cost_usd"] == pytest.approx(9 * 0.002)
    assert summary["prompt_tokens"] == 9 * 1200
    per = summary["cost_per_specimen_usd"]
    assert per == pytest.approx(9 * 0.002 / 13, abs=1e-6)
    assert summary["cost_per_ok_specimen_usd"] == pytest.approx(9 * 0.002 / 10)


def test_summary_time_span_runs_from_first_start_to_last_finish(
    fabricated_with_images: Fabricated,
) -> None:
    summary = _data(fabricated_with_images)["summary"]
    # s00 started 2 s before it finished at NOW - 600; s13 finished at NOW - 30.
    assert summary["wall_s"] == pytest.approx(602 - 30)


def test_fill_rate_and_confidence_distribution_per_field(
    fabricated_with_images: Fabricated,
) -> None:
    fields = {f["term"]: f for f in _data(fabricated_with_images)["fields"]}
    assert fields["catalogNumber"]["fill_rate"] == 1.0
    # recordedBy is empty on s00, s03, s06 and s09.
    assert fields["recordedBy"]["filled"] == 6
    assert fields["recordedBy"]["fill_rate"] == 0.6
    assert fields["habitat"]["filled"] == 0 and fields["habitat"]["confidence"] is None
    names = fields["scientificName"]["confidence"]
    assert names["n"] == 10
    assert sum(names["histogram"]) == 10
    assert names["histogram"][2] == 1 and names["histogram"][9] == 9  # 0.21, 0.92
    # recordedBy's confidence counts only where a value was read.
    assert fields["recordedBy"]["confidence"]["n"] == 6


def test_flags_are_counted_by_kind_and_by_field(
    fabricated_with_images: Fabricated,
) -> None:
    flags = _data(fabricated_with_images)["flags"]
    assert flags["records_flagged"] == 1
    assert flags["by_kind"] == {"engine_value_unverified": 1, "not_a_dwc_term": 1}
    assert flags["by_term"] == {"eventDate": 1, "country": 1}


def test_failure_examples_keep_the_messages(fabricated_with_images: Fabricated) -> None:
    examples = _data(fabricated_with_images)["failure_examples"]
    assert examples["timeout"] == [
        {"specimen_id": "s12", "message": "no answer within 120 s after 3 attempts"}
    ]


def test_request_summary_counts_attempts_retries_and_failed_attempts(
    fabricated_with_images: Fabricated,
) -> None:
    requests = _data(fabricated_with_images)["requests"]
    assert requests["attempts"] == 9
    assert requests["by_outcome"] == {"ok": 7, "error": 2}
    assert requests["failed_attempts_by_kind"] == {
        "rate_limited (HTTP 429)": 1,
        "provider_error (HTTP 500)": 1,
    }
    assert requests["retried_specimens"] == 1
    assert requests["cost_usd"] == pytest.approx(7 * 0.002)


def test_request_summary_is_none_without_request_events() -> None:
    events = [{"event": "record", "run": RUN, "outcome": "ok"}]
    assert summarise_events(events, RUN) is None


def test_review_list_puts_failures_first_then_low_confidence_and_flags(
    fabricated_with_images: Fabricated,
) -> None:
    review = _data(fabricated_with_images)["review"]
    ids = [item["specimen_id"] for item in review["shown"]]
    assert ids[:4] == ["s10", "s11", "s12", "s13"]
    assert ids[4:] == ["s03", "s04"]
    assert review["worth_a_look"] == 6
    assert review["by_reason"] == {
        "failed": 4,
        "low_confidence": 1,
        "flagged": 1,
        "empty": 0,
    }
    s03 = review["shown"][4]
    assert s03["reasons"] == ["lowest confidence 0.21 (scientificName)"]
    assert s03["values"]["scientificName"] == "Vaccinium"


def test_review_list_gives_failures_at_most_half_when_others_need_a_look() -> None:
    records = [
        make_record(f"f{i}", status="failed", kind="timeout", message="slow")
        for i in range(10)
    ] + [
        make_record(f"d{i}", dwc={"catalogNumber": "1"}, flags=["a:b"] * (i + 1))
        for i in range(10)
    ]
    data = build_report_data(records, RUN, review=ReviewSettings(limit=6))
    ids = [item["specimen_id"] for item in data["review"]["shown"]]
    assert ids == ["f0", "f1", "f2", "d9", "d8", "d7"]


def test_review_list_fills_up_with_failures_when_nothing_else_needs_a_look() -> None:
    records = [
        make_record(f"f{i}", status="failed", kind="timeout", message="slow")
        for i in range(10)
    ]
    data = build_report_data(records, RUN, review=ReviewSettings(limit=6))
    assert len(data["review"]["shown"]) == 6


@pytest.mark.parametrize(
    ("record", "score", "reasons"),
    [
        (
            make_record("a", dwc={"recordedBy": "X"}, confidence={"recordedBy": 0.9}),
            0.0,
            [],
        ),
        (
            make_record("b", dwc={"recordedBy": "X"}, confidence={"recordedBy": 0.3}),
            12.0,
            ["lowest confidence 0.30 (recordedBy)"],
        ),
        (make_record("c"), 5.0, ["no values extracted"]),
        (
            make_record("d", dwc={"country": "X"}, flags=["country:a", "country:b"]),
            6.0,
            ["2 flags"],
        ),
        (
            make_record("e", status="failed", kind="refused", message="no"),
            1000.0,
            ["failed: refused"],
        ),
    ],
)
def test_review_score_says_why(
    record: object, score: float, reasons: list[str]
) -> None:
    assert review_score(record, ReviewSettings()) == (pytest.approx(score), reasons)  # type: ignore[arg-type]


def test_timeline_picks_a_readable_bucket_and_accumulates_cost() -> None:
    points = [(NOW + i * 40, "ok" if i % 4 else "failed", 0.01) for i in range(100)]
    data = timeline(points)
    assert data["bucket_s"] == 300  # 4,000 s in at most 60 bars
    rows = data["rows"]
    assert sum(r["records"] for r in rows) == 100
    assert sum(r["failed"] for r in rows) == 25
    assert rows[-1]["cumulative_cost_usd"] == pytest.approx(1.0)
    assert len(rows) <= 60


def test_timeline_of_no_points_is_empty() -> None:
    assert timeline([]) == {"bucket_s": None, "rows": []}


def test_thumbnail_is_a_small_jpeg_data_uri(tmp_path: Path) -> None:
    sheet = draw_sheet(tmp_path / "sheet.png", size=(1200, 1800))
    uri = thumbnail_data_uri(sheet, edge=120)
    assert uri is not None and uri.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "JPEG" and max(image.size) == 120


def test_thumbnail_of_a_missing_or_broken_file_is_none(tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 garbage")
    assert thumbnail_data_uri(tmp_path / "broken.jpg") is None
    assert thumbnail_data_uri(tmp_path / "missing.jpg") is None


def test_charts_are_svg_with_one_shape_per_value() -> None:
    svg = hbar_chart("fill", "Fill rate", [("a", 0.5, "50%"), ("b<&>", 1.0, "100%")], 1)
    assert svg.startswith("<svg") and svg.count('class="bar"') == 2
    assert "b&lt;&amp;&gt;" in svg
    assert histogram("h", "H", [1, 0, 3]).count('class="bar"') == 3
    assert "no failures" in empty_chart("f", "Failures", "no failures")


def test_write_report_writes_json_and_a_self_contained_page(
    fabricated_with_images: Fabricated,
) -> None:
    out = fabricated_with_images.results / "report"
    evaluation = fabricated_with_images.results / "evaluation.json"
    evaluation.write_text(
        json.dumps(
            {
                "specimens_compared": 14,
                "fields": {
                    "catalogNumber": {
                        "n_truth": 14,
                        "n_correct": 13,
                        "accuracy": 0.9286,
                    }
                },
            }
        )
    )
    page = write_report(
        [
            p
            for p in _records(fabricated_with_images)
            if p.stem in fabricated_with_images.range_ids
        ],
        run=RUN,
        out_dir=out,
        results_dir=fabricated_with_images.results,
        evaluation=evaluation,
        settings=ReportSettings(review_limit=10, thumbnail_edge=96),
        selected=len(fabricated_with_images.range_ids),
    )
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["summary"]["ok"] == 10 and data["summary"]["pending"] == 6
    assert data["evaluation"]["fields"]["catalogNumber"]["accuracy"] == 0.9286
    html = page.read_text(encoding="utf-8")
    # Nothing is fetched: every src is a data URI, no http(s) reference but
    # the SVG namespace name.
    assert all(src.startswith("data:") for src in re.findall(r"src='([^']*)'", html))
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)
    assert "default-src 'none'" in html
    # The review list shows every specimen worth a look, with previews;
    # s10's image is broken and s13's is missing: the page says so.
    assert html.count("class='item'") == 6
    assert html.count("data:image/jpeg;base64,") == 4
    assert html.count("no preview") == 2
    for chart in ("fill-rate", "accuracy", "failures", "throughput", "cost"):
        assert f'data-chart="{chart}"' in html
    assert "92.9%" in html
    assert (out / "report.json").stat().st_mode & 0o044 == 0o044


def test_report_command_writes_the_report_of_the_latest_run(
    fabricated_with_images: Fabricated, capsys: pytest.CaptureFixture[str]
) -> None:
    from herbarium_dwc.cli import main

    out = fabricated_with_images.results.parent / "elsewhere"
    assert main(["report", str(fabricated_with_images.results), "--out", str(out)]) == 0
    assert (out / "index.html").is_file() and (out / "report.json").is_file()
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    # The noted range: x99 lies outside it, six specimens are pending.
    assert data["summary"]["range_size"] == 20
    assert (data["summary"]["records"], data["summary"]["pending"]) == (14, 6)
    assert str(out / "index.html") in capsys.readouterr().out
