"""Measure the offline engine (RapidOCR + label parser) against aocr truth.

Runs OCR (cached under /tmp/ocr-cache/<max_edge>/, so each image is read
once per size) and the label parser on the 97 lichen packets and on the
first herbarium sheets (sorted by name), then prints the per-field accuracy,
the core-field mean and the seconds per specimen for OCR and for parsing.
It asserts nothing.

    PYTHONPATH=src python benchmarks/evaluate_offline.py
    PYTHONPATH=src python benchmarks/evaluate_offline.py --herb-edges 2048 2800 3600

The data folder is $HERBARIUM_SHARED_DATA, else ../shared/data next to the
repository root.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from herbarium_dwc.evaluate import cached_ocr, evaluate, load_truth
from herbarium_dwc.images import PrepareSettings, prepare_image
from herbarium_dwc.labelparse import parse_label
from herbarium_dwc.ocr import run_ocr
from herbarium_dwc.verticalocr import reread_vertical_lines

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """The reference data folder."""
    return Path(
        os.environ.get("HERBARIUM_SHARED_DATA", ROOT.parent / "shared" / "data")
    )


def run(
    images: list[Path], max_edge: int, cache: Path, vertical: bool
) -> tuple[dict[str, dict[str, str]], float, float]:
    """OCR (cached) and parse each image; return predictions and mean seconds."""
    predicted: dict[str, dict[str, str]] = {}
    ocr_seconds = parse_seconds = 0.0
    for image in images:
        ocr = cached_ocr(image, max_edge, cache, reread_vertical=vertical)
        ocr_seconds += ocr.seconds or 0.0
        started = time.perf_counter()
        predicted[image.stem] = parse_label(ocr).verbatim
        parse_seconds += time.perf_counter() - started
    count = max(len(images), 1)
    return predicted, ocr_seconds / count, parse_seconds / count


def time_fresh_ocr(
    images: list[Path], max_edge: int, vertical: bool
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of uncached preparation + OCR per image.

    One warm-up call loads the models first. CPU time (all threads) is shown
    too because other work on a shared machine stretches wall time.
    """
    run_ocr(prepare_image(images[0], PrepareSettings(max_edge=max_edge)).data)
    wall, cpu = [], []
    for image in images:
        started, started_cpu = time.perf_counter(), time.process_time()
        prepared = prepare_image(image, PrepareSettings(max_edge=max_edge))
        ocr = run_ocr(prepared.data)
        if vertical:
            reread_vertical_lines(prepared.data, ocr)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def print_table(title: str, result: dict[str, Any]) -> None:
    """Print the per-field table and the core mean."""
    print(f"\n## {title}: {result['specimens']} specimens")
    print(f"{'field':22} {'truth':>5} {'pred':>5} {'right':>5} {'spur':>5} {'acc':>7}")
    for term, row in result["fields"].items():
        accuracy = "-" if row["accuracy"] is None else f"{100 * row['accuracy']:.1f}%"
        core = "*" if term in result["core_fields"] else " "
        print(
            f"{core}{term:21} {row['n_truth']:5d} {row['n_predicted']:5d} "
            f"{row['n_correct']:5d} {row['n_spurious']:5d} {accuracy:>7}"
        )
    mean = result["core_mean"]
    print(f"core-field mean (*): {'-' if mean is None else f'{100 * mean:.1f}%'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ocr-cache"))
    parser.add_argument("--lichen-edge", type=int, default=2048)
    parser.add_argument("--herb-edges", type=int, nargs="+", default=[2800])
    parser.add_argument("--herb-count", type=int, default=10)
    parser.add_argument("--show-misses", type=int, default=0, help="print N misses")
    parser.add_argument(
        "--fresh-ocr",
        type=int,
        default=0,
        metavar="N",
        help="also time uncached OCR on the first N images of each set",
    )
    parser.add_argument(
        "--reread-vertical",
        action="store_true",
        help="read sideways lines (barcode labels) again, upright",
    )
    args = parser.parse_args(argv)

    data = shared_data() / "aocr"
    if not data.is_dir():
        print(f"{data}: not found; set HERBARIUM_SHARED_DATA", file=sys.stderr)
        return 2
    sets = [("lichens", args.lichen_edge, None)]
    sets += [("herb", edge, args.herb_count) for edge in args.herb_edges]
    for name, edge, count in sets:
        images = sorted((data / name / "images").glob("*.jpg"))[:count]
        truth = load_truth(data / name)
        truth = {key: truth[key] for key in (image.stem for image in images)}
        predicted, ocr_s, parse_s = run(images, edge, args.cache, args.reread_vertical)
        result = evaluate(predicted, truth)
        vertical = ", sideways lines read again" if args.reread_vertical else ""
        print_table(f"{name}, max_edge {edge}{vertical}", result)
        print(f"seconds per specimen: OCR {ocr_s:.2f} (as cached), parse {parse_s:.4f}")
        if args.fresh_ocr:
            wall, cpu = time_fresh_ocr(
                images[: args.fresh_ocr], edge, args.reread_vertical
            )
            load = os.getloadavg()[0]
            print(
                f"fresh OCR on {len(wall)} images: median wall "
                f"{statistics.median(wall):.2f} s (min {min(wall):.2f}), median CPU "
                f"{statistics.median(cpu):.2f} s, load average {load:.1f}"
            )
        for miss in result["mismatches"][: args.show_misses]:
            print(
                f"  {miss['specimen_id']:18} {miss['term']:18} "
                f"pred={miss['predicted']!r} truth={miss['truth']!r}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
