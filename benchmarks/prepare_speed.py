"""Median time to prepare one real herbarium sheet, against a naive version.

The naive version is what a first implementation does: decode the whole
3744x5616 JPEG, convert it to RGB, shrink it with Lanczos and encode it. Both
run side by side in one process, interleaved sheet by sheet, so that other
load on the machine hits both alike. Both read the file from disk; ours also
hashes it. Run: PYTHONPATH=src python benchmarks/prepare_speed.py [ROUNDS]
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

from common import herb_sheets
from PIL import Image

from herbarium_dwc.images import PrepareSettings, prepare_image


def naive(path: Path, max_edge: int) -> bytes:
    """Full decode, convert, Lanczos resize, encode."""
    with Image.open(path) as image:
        image.load()
        rgb = image.convert("RGB")
    scale = max_edge / max(rgb.size)
    size = (round(rgb.width * scale), round(rgb.height * scale))
    small = rgb.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sheets = herb_sheets()[:8]
    for max_edge in (2048, 2800):
        settings = PrepareSettings(max_edge=max_edge)
        ours: list[float] = []
        theirs: list[float] = []
        sizes: tuple[int, int] = (0, 0)
        for _ in range(rounds):
            for sheet in sheets:
                started = time.perf_counter()
                naive_bytes = len(naive(sheet, max_edge))
                theirs.append(time.perf_counter() - started)
                started = time.perf_counter()
                prepared = prepare_image(sheet, settings)
                ours.append(time.perf_counter() - started)
                sizes = (len(prepared.data), naive_bytes)
        ours_ms = statistics.median(ours) * 1000
        theirs_ms = statistics.median(theirs) * 1000
        print(
            f"max_edge {max_edge}: {len(ours)} runs over {len(sheets)} sheets; "
            f"median ours {ours_ms:.0f} ms, naive {theirs_ms:.0f} ms, "
            f"ratio {ours_ms / theirs_ms:.2f} (target <= 0.40); "
            f"last JPEG {sizes[0]:,} bytes (naive {sizes[1]:,})"
        )


if __name__ == "__main__":
    main()
