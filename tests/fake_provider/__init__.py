"""The fake provider: a loopback OpenAI-compatible server for tests and benchmarks.

:class:`FakeProvider` is the server, :class:`FakeConfig` its behaviour (faults,
limits, keys); :func:`draw_coded_sheet` draws small test sheets the server can
tell apart by their looks, as a model tells real sheets apart by their labels.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .answers import load_aocr_truth, load_real_replies
from .server import FakeConfig, FakeProvider

__all__ = [
    "FakeConfig",
    "FakeProvider",
    "draw_coded_sheet",
    "load_aocr_truth",
    "load_real_replies",
]

GRID = 4


def draw_coded_sheet(
    path: Path, index: int, size: tuple[int, int] = (360, 480)
) -> Path:
    """Draw a small sheet whose block pattern encodes ``index`` (0-255).

    Eight bits and their complements fill a 4x4 grid, so two sheets differ in
    at least two large blocks and survive resizing and JPEG re-encoding.
    """
    if not 0 <= index < 256:
        raise ValueError(f"index {index} is outside 0-255")
    bits = [(index >> b) & 1 for b in range(8)]
    cells = bits + [1 - b for b in bits]
    image = Image.new("RGB", size, (236, 232, 220))
    draw = ImageDraw.Draw(image)
    width, height = size
    cell_w, cell_h = width // GRID, (height * 3 // 4) // GRID
    for number, on in enumerate(cells):
        x, y = (number % GRID) * cell_w, (number // GRID) * cell_h
        colour = (30, 30, 30) if on else (236, 232, 220)
        draw.rectangle([x, y, x + cell_w - 1, y + cell_h - 1], fill=colour)
    font = ImageFont.load_default(size=36)
    draw.text((12, height - 90), f"HERB {index:06d}", fill=(0, 0, 0), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
