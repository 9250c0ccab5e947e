"""The report page as a person sees it: rendered by headless Chromium.

Needs Debian's ``chromium`` package (.ci/run installs it when absent); the
test skips, saying so, only when no Chromium can be found.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from herbarium_dwc.report import ReportSettings, write_report

from .chromium import Browser, find_chromium
from .fabricate import RUN, Fabricated

# For every chart: how many shapes with a real size it holds, and its size.
CHART_CHECK = """
Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const shapes = Array.from(svg.querySelectorAll('rect.bar, polyline.line'))
    .filter(shape => {
      const b = shape.getBBox();
      return b.width > 0 && b.height > 0;
    });
  return {name: svg.dataset.chart, width: box.width, height: box.height,
          shapes: shapes.length, text: svg.textContent.trim()};
})
"""

IMAGE_CHECK = """
Array.from(document.images).map(img => ({
  alt: img.alt, loaded: img.complete && img.naturalWidth > 0,
  width: img.getBoundingClientRect().width}))
"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A headless Chromium with a fresh profile under tmp_path."""
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "chromium is not installed; .ci/run installs Debian's chromium "
            "package (apt-get install -y chromium)"
        )
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    started = Browser(executable, profile, tmp_path / "chromium.log")
    try:
        yield started
    finally:
        started.close()


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_report_renders_in_chromium_with_charts_and_no_errors(
    fabricated_with_images: Fabricated, browser: Browser, tmp_path: Path
) -> None:
    results = fabricated_with_images.results
    evaluation = results / "evaluation.json"
    evaluation.write_text(
        json.dumps(
            {
                "specimens_compared": 14,
                "fields": {
                    "catalogNumber": {"n_truth": 14, "n_correct": 13, "accuracy": 0.93},
                    "recordedBy": {"n_truth": 9, "n_correct": 5, "accuracy": 0.56},
                },
            }
        )
    )
    page = write_report(
        [
            p
            for p in sorted((results / "specimens" / RUN).glob("*.json"))
            if p.stem in fabricated_with_images.range_ids
        ],
        run=RUN,
        out_dir=results / "report",
        results_dir=results,
        evaluation=evaluation,
        settings=ReportSettings(review_limit=10),
        selected=len(fabricated_with_images.range_ids),
    )
    session = browser.open_page(page.as_uri())

    assert browser.problems() == []
    # Nothing is fetched but the page itself and its embedded data URIs.
    urls = browser.requested_urls()
    assert urls[0] == page.as_uri()
    assert all(url.startswith("data:") for url in urls[1:])

    charts = {c["name"]: c for c in browser.evaluate(session, CHART_CHECK)}
    for name, least in [
        ("fill-rate", 18),  # one bar per extracted term
        ("accuracy", 2),
        ("failures", 4),  # four kinds
        ("throughput", 5),
        ("cost", 1),  # the cumulative line
    ]:
        chart = charts[name]
        assert chart["width"] > 200 and chart["height"] > 50, chart
        assert chart["shapes"] >= least, chart
    histograms = [c for name, c in charts.items() if name.startswith("confidence-")]
    assert {c["name"] for c in histograms} == {
        "confidence-scientificName",
        "confidence-recordedBy",
    }
    assert all(c["shapes"] >= 1 for c in histograms)

    images = browser.evaluate(session, IMAGE_CHECK)
    assert len(images) == 4  # s10's image is broken, s13's missing
    assert all(image["loaded"] and image["width"] > 50 for image in images)

    shot = browser.screenshot(session, tmp_path / "report.png")
    width, height = _png_size(shot)
    assert width >= 1000 and height > 1500
