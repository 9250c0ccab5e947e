"""Run the Darwin Core normalisers over real values and print what they did.

Inputs (read by path, never copied into the repository):

- ``aafc/replies/*.jsonl``: what real vision models returned for AAFC sheets.
- ``aocr/*/parsed/*.csv``: curators' transcriptions of NYBG labels; their
  verbatim columns are fed in, and their interpreted columns (ISO eventDate,
  decimal coordinates, dateIdentified) are what our output is compared with.

For every input value it counts whether the normaliser changed it, flagged
it, or failed to read it (a flag whose reason means "left empty"). It asserts
nothing; it prints figures.

Usage: ``PYTHONPATH=src python benchmarks/normalise_real_values.py``
(set HERBARIUM_SHARED_DATA to the shared data folder if it is not at
``<repo>/../shared/data``).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from herbarium_dwc.dwc.normalise import NormaliseSettings, normalise_record

REPO = Path(__file__).resolve().parent.parent
FAILURE_REASONS = {
    "unparsed",
    "no_year",
    "ambiguous_century",
    "invalid_date",
    "in_future",
    "unit_missing",
    "unknown_country",
    "historical_country_ambiguous",
    "out_of_range",
    "incomplete_pair",
    "hemisphere_missing",
}
# The term a flag's term belongs to, when normalisation writes another term.
INPUT_OF = {
    "verbatimCoordinates": "verbatimCoordinates",
    "minimumElevationInMeters": "verbatimElevation",
    "countryCode": "country",
    "scientificNameAuthorship": "scientificName",
}
# aocr gold columns fed in as the engine's verbatim terms.
AOCR_INPUT = {
    "dwc:catalogNumber": "catalogNumber",
    "dwc:recordedBy": "recordedBy",
    "dwc:recordNumber": "recordNumber",
    "dwc:verbatimEventDate": "verbatimEventDate",
    "aocr:verbatimScientificName": "scientificName",
    "dwc:country": "country",
    "dwc:stateProvince": "stateProvince",
    "dwc:county": "county",
    "dwc:municipality": "municipality",
    "dwc:verbatimLocality": "verbatimLocality",
    "dwc:verbatimCoordinates": "verbatimCoordinates",
    "dwc:verbatimLatitude": "verbatimLatitude",
    "dwc:verbatimLongitude": "verbatimLongitude",
    "dwc:verbatimElevation": "verbatimElevation",
    "dwc:identifiedBy": "identifiedBy",
    "aocr:verbatimDateIdentified": "dateIdentified",
    "dwc:habitat": "habitat",
}


def shared_data() -> Path:
    return Path(
        os.environ.get("HERBARIUM_SHARED_DATA", REPO.parent / "shared" / "data")
    )


def aafc_records(root: Path) -> list[tuple[str, dict[str, str]]]:
    out = []
    for name in ("openrouter_qwen25vl72b_free_raw.jsonl", "gpt4omini_raw.jsonl"):
        path = root / "aafc" / "replies" / name
        for line in path.read_text(encoding="utf-8").splitlines():
            reply = json.loads(line)
            terms = {
                k: str(v.get("value") if isinstance(v, dict) else v or "")
                for k, v in reply["dwc"].items()
            }
            out.append((f"aafc:{name.split('_')[0]}:{reply['image'][:12]}", terms))
    return out


def aocr_records(root: Path) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    out = []
    for path in sorted((root / "aocr").glob("*/parsed/*.csv")):
        merged: dict[str, str] = {}
        with path.open(encoding="utf-8", newline="") as handle:
            # The primary label first: a determination slip's date must not
            # stand in for the collecting date.
            rows = sorted(
                csv.DictReader(handle),
                key=lambda r: r.get("aocr:regionType", "primary") != "primary",
            )
            for row in rows:
                for key, value in row.items():
                    if value and key and key not in merged:
                        merged[key] = value
        terms = {term: merged[col] for col, term in AOCR_INPUT.items() if col in merged}
        out.append((f"aocr:{path.stem}", terms, merged))
    return out


def main() -> int:
    root = shared_data()
    if not root.is_dir():
        print(f"shared data not found at {root}; set HERBARIUM_SHARED_DATA")
        return 1
    settings = NormaliseSettings(date_order="mdy")
    per_term: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    mismatches: list[str] = []
    inputs: list[tuple[str, dict[str, str], dict[str, str] | None]] = [
        (name, terms, None) for name, terms in aafc_records(root)
    ]
    inputs += [(name, terms, truth) for name, terms, truth in aocr_records(root)]
    for name, terms, truth in inputs:
        out, flags = normalise_record(terms, settings)
        flagged: dict[str, set[str]] = defaultdict(set)
        for flag in flags:
            term, _, reason = flag.partition(":")
            term = INPUT_OF.get(term, term)
            if term in ("decimalLatitude", "decimalLongitude") and (
                "verbatimCoordinates" in terms or "verbatimLatitude" in terms
            ):
                term = (
                    "verbatimCoordinates"
                    if "verbatimCoordinates" in terms
                    else ("verbatimLatitude")
                )
            if term == "eventDate" and "verbatimEventDate" in terms:
                term = "verbatimEventDate"
            flagged[term].add(reason)
            reasons[flag.split(":", 1)[1]] += 1
        for term, value in terms.items():
            if not value.strip():
                continue
            counts = per_term[term]
            counts["values"] += 1
            interpreted = {
                "verbatimEventDate": out.get("eventDate"),
                "verbatimCoordinates": out.get("decimalLatitude"),
                "verbatimLatitude": out.get("decimalLatitude"),
                "verbatimLongitude": out.get("decimalLongitude"),
                "verbatimElevation": out.get("minimumElevationInMeters"),
                "eventDate": out.get("eventDate"),
                "country": out.get("countryCode"),
            }.get(term, out.get(term))
            if term in flagged:
                counts["flagged"] += 1
                if flagged[term] & FAILURE_REASONS:
                    counts["failed"] += 1
            if interpreted != value:
                counts["changed"] += 1
        if truth is not None:
            compare(name, truth, out, gold, mismatches)
    print(
        f"{len(inputs)} records ({len(inputs) - len(aocr_records(root))} AAFC model "
        f"replies, {len(aocr_records(root))} AOCR gold files)\n"
    )
    print(f"{'term':28} {'values':>7} {'changed':>8} {'flagged':>8} {'failed':>7}")
    totals: Counter[str] = Counter()
    for term in sorted(per_term):
        c = per_term[term]
        totals.update(c)
        print(
            f"{term:28} {c['values']:7} {c['changed']:8} {c['flagged']:8} "
            f"{c['failed']:7}"
        )
    print(
        f"{'all terms':28} {totals['values']:7} {totals['changed']:8} "
        f"{totals['flagged']:8} {totals['failed']:7}\n"
    )
    print("flag reasons:", ", ".join(f"{k} {v}" for k, v in reasons.most_common()))
    print("\nagreement with the AOCR curators' interpretation:")
    for key in sorted({k.rsplit("_", 1)[0] for k in gold}):
        print(
            f"  {key:18} same {gold[key + '_same']:4}  differ {gold[key + '_differ']:3}"
            f"  we left empty {gold[key + '_empty']:3}"
        )
    if "-v" in sys.argv:
        print("\n".join(mismatches))
    return 0


def compare(
    name: str,
    truth: dict[str, str],
    out: dict[str, str],
    gold: Counter[str],
    mismatches: list[str],
) -> None:
    """Count agreement of our interpretation with the curators'."""
    pairs: list[tuple[str, str, str, Any]] = [
        ("eventDate", truth.get("dwc:eventDate", ""), out.get("eventDate", ""), None),
        (
            "dateIdentified",
            truth.get("dwc:dateIdentified", ""),
            out.get("dateIdentified", ""),
            None,
        ),
        (
            "decimalLatitude",
            truth.get("dwc:decimalLatitude", ""),
            out.get("decimalLatitude", ""),
            0.01,
        ),
        (
            "decimalLongitude",
            truth.get("dwc:decimalLongitude", ""),
            out.get("decimalLongitude", ""),
            0.01,
        ),
    ]
    for term, expected, got, tolerance in pairs:
        if not expected:
            continue
        if term == "dateIdentified" and not truth.get("aocr:verbatimDateIdentified"):
            continue  # the curators' value came from no verbatim text we feed in
        if not got:
            gold[f"{term}_empty"] += 1
            mismatches.append(f"{name} {term}: curators {expected!r}, we left empty")
            continue
        same = (
            (abs(float(expected) - float(got)) <= tolerance)
            if tolerance
            else (expected == got)
        )
        gold[f"{term}_{'same' if same else 'differ'}"] += 1
        if not same:
            mismatches.append(f"{name} {term}: curators {expected!r}, we {got!r}")


if __name__ == "__main__":
    raise SystemExit(main())
