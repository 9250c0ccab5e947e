"""The ``herbarium-dwc`` command: helpers around the Snakemake workflow.

herbarium-dwc table IMAGES          list the specimen ids an images setting finds
herbarium-dwc evaluate RESULTS TRUTH  compare a run's records with ground truth
herbarium-dwc retry-failed RESULTS  delete failed records so the next run redoes them
herbarium-dwc gate RESULTS          show (or --reopen) the API engine's shared rate gate
herbarium-dwc demo FOLDER           draw the demo sheets and their truth.csv
herbarium-dwc status RESULTS        progress of the latest run (--watch to follow)
herbarium-dwc report RESULTS        write the quality report of a run
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from herbarium_dwc.errors import HerbariumError

logger = logging.getLogger(__name__)


def _run_folder(results: Path, run: str | None) -> Path:
    specimens = results / "specimens"
    if run:
        folder = specimens / run
        if not folder.is_dir():
            raise HerbariumError(f"{folder} does not exist; check --run and RESULTS")
        return folder
    runs = (
        sorted(p for p in specimens.glob("*") if p.is_dir())
        if specimens.is_dir()
        else []
    )
    if len(runs) != 1:
        names = ", ".join(p.name for p in runs) or "none"
        raise HerbariumError(
            f"{specimens} holds {len(runs)} runs ({names}); name one with --run"
        )
    return runs[0]


def _cmd_table(args: argparse.Namespace) -> int:
    from herbarium_dwc.specimens import build_table

    for specimen in build_table(args.images):
        sys.stdout.write(f"{specimen.specimen_id}\t{specimen.path}\n")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from herbarium_dwc.aggregate import evaluate_records

    folder = _run_folder(Path(args.results), args.run)
    out = Path(args.out) if args.out else Path(args.results) / "evaluation.json"
    evaluate_records(sorted(folder.glob("*.json")), args.truth, out)
    report = json.loads(out.read_text(encoding="utf-8"))
    sys.stdout.write(f"{'field':24} {'n':>5} {'correct':>8} {'accuracy':>9}\n")
    for term, row in report["fields"].items():
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.1%}"
        sys.stdout.write(
            f"{term:24} {row['n_truth']:>5} {row['n_correct']:>8} {accuracy:>9}\n"
        )
    if report.get("core_mean") is not None:
        sys.stdout.write(f"core-field mean: {report['core_mean']:.1%}\n")
    sys.stdout.write(f"written to {out}\n")
    return 0


def _cmd_retry_failed(args: argparse.Namespace) -> int:
    from herbarium_dwc.aggregate import iter_records

    folder = _run_folder(Path(args.results), args.run)
    removed = 0
    for record in iter_records(sorted(folder.glob("*.json"))):
        if record.status != "failed":
            continue
        if args.kind and (
            record.failure is None or record.failure.kind not in args.kind
        ):
            continue
        if not args.dry_run:
            (folder / f"{record.specimen_id}.json").unlink()
        removed += 1
    verb = "would re-queue" if args.dry_run else "re-queued"
    sys.stdout.write(
        f"{verb} {removed} failed specimens in {folder}; run snakemake again\n"
    )
    return 0


def _cmd_gate(args: argparse.Namespace) -> int:
    from herbarium_dwc.ratelimit import (
        REDIS_SCHEMES,
        GateLocation,
        GateSettings,
        RateGate,
        noted_gate_location,
        redis_gate_key,
    )

    if args.gate and args.gate.startswith(REDIS_SCHEMES) and not args.gate_name:
        raise HerbariumError(
            "--gate names a Redis server: add --gate-name (the run's "
            "openai.gate_name, or its absolute results folder)"
        )
    location = (
        GateLocation(
            args.gate, redis_gate_key(args.gate_name) if args.gate_name else ""
        )
        if args.gate
        else noted_gate_location(args.results)
    )
    if location is None or not location.exists():
        raise HerbariumError(
            f"{args.results} has no rate gate: no API run has used this results "
            "folder (or name the store with --gate)"
        )
    gate = RateGate(location.open(), GateSettings())
    if args.reopen:
        gate.reopen(all_keys=True)
        sys.stdout.write(
            f"reopened {location.describe()}: stop switch and key benches cleared\n"
        )
    sys.stdout.write(json.dumps(gate.report(), indent=1) + "\n")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from herbarium_dwc.demo import write_demo

    for path in write_demo(args.folder):
        sys.stdout.write(f"{path}\n")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from herbarium_dwc.status import choose_run
    from herbarium_dwc.status_view import print_status, watch_status

    run = choose_run(args.results, args.run)
    if args.watch:
        watch_status(args.results, run, interval=args.interval)
    else:
        print_status(args.results, run)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from herbarium_dwc.report import write_report
    from herbarium_dwc.status import choose_run, range_path

    results = Path(args.results)
    run = choose_run(results, args.run)
    paths = sorted((results / "specimens" / run).glob("*.json"))
    selected = None
    if range_path(results, run).is_file():
        # Like the workflow's rule: the records of the configured range only.
        ids = set(json.loads(range_path(results, run).read_text("utf-8"))["ids"])
        paths = [path for path in paths if path.stem in ids]
        selected = len(ids)
    out = Path(args.out) if args.out else results / "report"
    evaluation = results / "evaluation.json"
    html = write_report(
        paths,
        run=run,
        out_dir=out,
        results_dir=results,
        evaluation=evaluation if evaluation.is_file() else None,
        selected=selected,
    )
    sys.stdout.write(f"written to {html}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``herbarium-dwc`` command."""
    parser = argparse.ArgumentParser(
        prog="herbarium-dwc",
        description="Helpers around the herbarium-dwc Snakemake workflow.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    table = commands.add_parser(
        "table", help="list specimen ids an images setting finds"
    )
    table.add_argument("images", help="folder, glob pattern or manifest CSV")
    table.set_defaults(func=_cmd_table)

    evaluate = commands.add_parser(
        "evaluate",
        help="compare a run's records with ground truth",
        description="Example: herbarium-dwc evaluate results truth.csv",
    )
    evaluate.add_argument("results", help="the results folder")
    evaluate.add_argument(
        "truth", help="aocr-layout folder or CSV keyed by specimen_id"
    )
    evaluate.add_argument("--run", help="run folder name, if results holds several")
    evaluate.add_argument("--out", help="where to write the JSON report")
    evaluate.set_defaults(func=_cmd_evaluate)

    retry = commands.add_parser(
        "retry-failed", help="delete failed records so the next run extracts them again"
    )
    retry.add_argument("results", help="the results folder")
    retry.add_argument("--run", help="run folder name, if results holds several")
    retry.add_argument("--kind", action="append", help="only failures of this kind")
    retry.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    retry.set_defaults(func=_cmd_retry_failed)

    gate = commands.add_parser(
        "gate",
        help="show the API engine's shared rate gate, or reopen it",
        description=(
            "Example: herbarium-dwc gate results --reopen (after topping up "
            "credits or raising a quota, to go on before the known reset time)"
        ),
    )
    gate.add_argument("results", help="the results folder")
    gate.add_argument(
        "--gate",
        help="the gate store (file or redis:// URL), if not the one the last run "
        "noted in RESULTS/work/gate.json",
    )
    gate.add_argument("--gate-name", help="with a redis:// --gate: the gate's name")
    gate.add_argument(
        "--reopen",
        action="store_true",
        help="clear the stop switch and every key bench",
    )
    gate.set_defaults(func=_cmd_gate)

    demo = commands.add_parser("demo", help="draw the demo sheets and truth.csv")
    demo.add_argument("folder", help="where to write images/ and truth.csv")
    demo.set_defaults(func=_cmd_demo)

    status = commands.add_parser(
        "status",
        help="show a run's progress, rate, cost, failures and the rate gate",
        description=(
            "Show done/failed/pending for the configured range, rate and ETA, "
            "tokens and cost, failures by kind and the rate gate. Safe to run "
            "while snakemake runs. Example: herbarium-dwc status results --watch"
        ),
    )
    status.add_argument("results", help="the results folder")
    status.add_argument("--run", help="run folder name (default: latest started)")
    status.add_argument("--watch", action="store_true", help="refresh in place")
    status.add_argument(
        "--interval", type=float, default=2.0, help="seconds between refreshes"
    )
    status.set_defaults(func=_cmd_status)

    report = commands.add_parser(
        "report",
        help="write the HTML and JSON quality report of a run",
        description="Example: herbarium-dwc report results --out /tmp/report",
    )
    report.add_argument("results", help="the results folder")
    report.add_argument("--run", help="run folder name (default: latest started)")
    report.add_argument("--out", help="folder to write (default: RESULTS/report)")
    report.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors become one clean message and exit code 1."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        code: int = args.func(args)
    except HerbariumError as exc:
        sys.stderr.write(f"herbarium-dwc: {exc}\n")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
