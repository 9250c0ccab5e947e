"""Peak memory of preparing a synthetic 14,000 x 20,000 JPEG (280 megapixels).

That is a whole herbarium sheet scanned at 1200 dpi. The file is generated
once under /tmp (never in the repository) and reused. Each measurement runs
in a fresh subprocess that reports its own peak resident set size (VmHWM,
Linux), so nothing from generating the file or from other measurements is
counted.
Run: PYTHONPATH=src python benchmarks/prepare_memory.py [--progressive]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import REPO
from PIL import Image, ImageDraw

SIZE = (14_000, 20_000)
TMP = Path(tempfile.gettempdir()) / "herbarium-dwc-bench"

CHILD = """
import sys, time
from PIL import Image
from herbarium_dwc.images import PrepareSettings, prepare_image
path, how = sys.argv[1], sys.argv[2]
started = time.perf_counter()
if how == "ours":
    prepared = prepare_image(path, PrepareSettings())
    detail = f"{prepared.size[0]}x{prepared.size[1]}, {len(prepared.data):,} bytes"
elif how == "naive":
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(path) as image:
        image.load()
        rgb = image.convert("RGB")
    rgb.thumbnail((2048, 2048), Image.Resampling.LANCZOS)
    detail = f"{rgb.size[0]}x{rgb.size[1]}"
else:
    detail = "imports only"
seconds = time.perf_counter() - started
# VmHWM is this address space's peak; ru_maxrss would carry over the
# parent's peak through fork and exec.
with open("/proc/self/status") as status:
    hwm = next(line for line in status if line.startswith("VmHWM:"))
peak_mb = int(hwm.split()[1]) / 1024
print(f"{peak_mb:.0f} {seconds:.2f} {detail}")
"""


def synthetic_sheet(progressive: bool) -> Path:
    """Write (once) a sheet-like JPEG: textured paper, a plant, labels."""
    name = "sheet-14000x20000" + ("-progressive" if progressive else "") + ".jpg"
    path = TMP / name
    if path.exists():
        return path
    TMP.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    tile = np.clip(rng.normal((236, 230, 214), 6, (1000, 1000, 3)), 0, 255).astype(
        np.uint8
    )
    sheet = Image.new("RGB", SIZE)
    for top in range(0, SIZE[1], 1000):
        for left in range(0, SIZE[0], 1000):
            sheet.paste(Image.fromarray(tile), (left, top))
    draw = ImageDraw.Draw(sheet)
    for step in range(400):  # a branching "plant" of dark green strokes
        x = 7000 + int(3000 * np.sin(step / 20))
        y = 2000 + step * 30
        draw.line((x, y, x + 900, y + 300), fill=(60, 80, 40), width=40)
    for top in (14_500, 17_000):  # label blocks with lines of "text"
        draw.rectangle((8000, top, 13_000, top + 2_200), fill=(250, 250, 245))
        for line in range(12):
            y = top + 150 + line * 170
            draw.rectangle((8200, y, 12_600, y + 70), fill=(30, 30, 30))
    tmp = path.with_suffix(".tmp.jpg")
    sheet.save(tmp, quality=90, progressive=progressive)
    os.replace(tmp, path)
    return path


def measure(path: Path, how: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), how],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    peak, seconds, detail = done.stdout.split(" ", 2)
    return f"{how:8} peak RSS {peak:>5} MB in {seconds:>5} s ({detail.strip()})"


def main() -> None:
    progressive = "--progressive" in sys.argv
    started = time.perf_counter()
    path = synthetic_sheet(progressive)
    kind = "progressive" if progressive else "baseline"
    print(
        f"{path} ({kind}, {path.stat().st_size / 1e6:.1f} MB, "
        f"ready in {time.perf_counter() - started:.0f} s); target <= 300 MB"
    )
    for how in ("imports", "ours", "naive"):
        print(measure(path, how))


if __name__ == "__main__":
    main()
