"""Exports: the Darwin Core occurrence table (first version: CSV only)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS
from herbarium_dwc.record import SpecimenRecord


def build_occurrences(
    records: Iterable[SpecimenRecord],
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Return one occurrence row per ok record, and counts of what was left out."""
    rows: list[dict[str, str]] = []
    skipped = 0
    for record in records:
        if record.status != "ok":
            skipped += 1
            continue
        row = {"occurrenceID": record.specimen_id, "basisOfRecord": "PreservedSpecimen"}
        row.update(record.dwc)
        row["associatedMedia"] = record.image.source
        rows.append(row)
    return rows, {"rows": len(rows), "failed_skipped": skipped}


def write_occurrence_csv(
    rows: list[dict[str, str]], path: str | Path
) -> dict[str, Any]:
    """Write rows as UTF-8 (no BOM), RFC 4180 CSV with DwC term column names.

    Line breaks inside values become a space, since many CSV readers used by
    publishers break rows on them; the count is returned.
    """
    preferred = ["occurrenceID", "basisOfRecord", "catalogNumber", *EXTRACTED_TERMS]
    seen = {key for row in rows for key in row}
    columns = [c for c in dict.fromkeys(preferred) if c in seen]
    columns += sorted(seen - set(columns))
    replaced = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            clean = {}
            for key, value in row.items():
                if "\n" in value or "\r" in value:
                    replaced += 1
                    value = " ".join(value.split())
                clean[key] = value
            writer.writerow(clean)
    return {"rows": len(rows), "columns": columns, "line_breaks_replaced": replaced}
