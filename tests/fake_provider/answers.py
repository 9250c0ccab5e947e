"""What the fake provider answers: ground truth and real replies, in real styles.

Styles follow ../shared/data/aafc/replies:

- ``nested``: every requested term as ``{"value", "confidence"}``, empty ones
  too, plus terms nobody asked for (gpt-4o-mini's batch replies);
- ``sparse``: only the terms found, nested (Qwen 2.5 VL via OpenRouter);
- ``flat``: ``{term: value}`` with sentinels such as "N/A" and "Not
  Specified" for absent terms and an extra key (the flattened gpt-4o-mini).

Images without ground truth are answered with a real reply from those files.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS

STYLES = ("nested", "sparse", "flat")
# Columns of the aocr parsed CSVs that stand in for a requested term.
AOCR_FALLBACKS = {
    "scientificName": "aocr:verbatimScientificName",
    "locality": "dwc:verbatimLocality",
}
SENTINEL_CYCLE = ("N/A", "Not Specified", "unknown", "")


def load_aocr_truth(folder: Path) -> dict[str, dict[str, str]]:
    """Read ``folder/parsed/*.csv`` into {image stem: {term: value}}.

    Herbarium sheets have one row per label region; the first non-empty value
    of a term over the rows wins.
    """
    truth: dict[str, dict[str, str]] = {}
    for path in sorted((folder / "parsed").glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        terms: dict[str, str] = {}
        for term in EXTRACTED_TERMS:
            for column in (f"dwc:{term}", AOCR_FALLBACKS.get(term, "")):
                value = next(
                    (" ".join(r[column].split()) for r in rows if r.get(column)), ""
                )
                if value:
                    terms[term] = value
                    break
        truth[path.stem] = terms
    return truth


def load_real_replies(replies: Path) -> list[str]:
    """Return the content texts real models sent, from aafc/replies."""
    texts: list[str] = []
    batch = replies / "gpt4omini_batch_output.jsonl"
    if batch.exists():
        for line in batch.read_text(encoding="utf-8").splitlines():
            body = json.loads(line)["response"]["body"]
            texts.append(body["choices"][0]["message"]["content"])
    for name in ("openrouter_qwen25vl72b_free_raw.jsonl", "gpt4omini_raw.jsonl"):
        path = replies / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                texts.append(json.dumps(json.loads(line)["dwc"], indent=2))
    return texts


def style_for(name: str) -> str:
    """Pick a reply style for an image, stable across runs."""
    return STYLES[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(STYLES)]


def render_reply(truth: dict[str, str], style: str) -> str:
    """Write the reply text a model in ``style`` would give for ``truth``."""
    if style == "sparse":
        data: dict[str, object] = {
            t: {"value": v, "confidence": 0.95} for t, v in truth.items() if v
        }
        return json.dumps(data)
    if style == "flat":
        flat: dict[str, object] = {}
        for index, term in enumerate(EXTRACTED_TERMS):
            value = truth.get(term, "")
            flat[term] = value or SENTINEL_CYCLE[index % len(SENTINEL_CYCLE)]
        flat["basisOfRecord"] = "PreservedSpecimen"
        return json.dumps(flat, indent=2)
    nested: dict[str, object] = {
        term: {
            "value": truth.get(term, ""),
            "confidence": 0.9 if truth.get(term) else 0.0,
        }
        for term in EXTRACTED_TERMS
    }
    nested["preparations"] = {"value": "pressed", "confidence": 1.0}
    return json.dumps(nested, indent=2)


def pick(texts: Iterable[str], name: str) -> str:
    """Pick one of ``texts`` for an image name, stable across runs."""
    options = list(texts)
    return options[int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(options)]
