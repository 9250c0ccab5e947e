"""The Darwin Core answer an API engine is asked for, as a pydantic model.

:class:`LabelReading` has one field per term in
:data:`~herbarium_dwc.dwc.terms.EXTRACTED_TERMS`; each holds the text as
written on the label and the model's confidence. :func:`response_schema`
turns it into the JSON Schema sent through ``response_format`` so that a
provider with structured outputs can only answer in that shape.

Term definitions follow https://dwc.tdwg.org/terms/ in our own words.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from herbarium_dwc.dwc.terms import EXTRACTED_TERMS

# What each extracted term means, as the model should read it off a label.
TERM_DESCRIPTIONS: dict[str, str] = {
    "catalogNumber": "the herbarium's accession or barcode number of the sheet",
    "scientificName": "the plant or lichen name, with its authorship if written",
    "recordedBy": "the collector or collectors, as written",
    "recordNumber": "the collector's own number for this gathering",
    "eventDate": "the collection date as ISO 8601 (YYYY-MM-DD, or YYYY-MM, YYYY)",
    "verbatimEventDate": "the collection date exactly as written",
    "country": "the country of collection",
    "stateProvince": "the state, province or region of collection",
    "county": "the county, district or parish of collection",
    "municipality": "the town or municipality of collection",
    "locality": "the place description of the collecting site",
    "habitat": "the habitat or substrate the specimen grew in",
    "verbatimCoordinates": "latitude and longitude exactly as written",
    "decimalLatitude": "latitude in decimal degrees, if written or given",
    "decimalLongitude": "longitude in decimal degrees, if written or given",
    "verbatimElevation": "elevation or altitude exactly as written, with units",
    "identifiedBy": "who identified the specimen (determiner), as written",
    "dateIdentified": "when the specimen was identified, as written",
}

if set(TERM_DESCRIPTIONS) != set(EXTRACTED_TERMS):  # pragma: no cover
    raise RuntimeError("TERM_DESCRIPTIONS must describe every EXTRACTED_TERMS term")


class TermReading(BaseModel):
    """One term as read from the label.

    :param value: the text, or an empty string when the label does not say.
    :param confidence: how sure the model is, from 0 to 1.
    """

    model_config = ConfigDict(extra="forbid")

    value: str = Field(description="text as on the label; empty if absent")
    confidence: float = Field(ge=0, le=1, description="0 (guess) to 1 (certain)")


def _build_label_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        term: (TermReading, Field(description=TERM_DESCRIPTIONS[term]))
        for term in EXTRACTED_TERMS
    }
    return create_model(
        "LabelReading",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Every extracted Darwin Core term of one specimen label.",
        **fields,
    )


LabelReading: type[BaseModel] = _build_label_model()


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = dict(defs[ref.removeprefix("#/$defs/")])
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return _inline_refs({**target, **extra}, defs)
        return {
            k: _inline_refs(v, defs)
            for k, v in node.items()
            if k not in ("$defs", "title")
        }
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


@cache
def _schema() -> dict[str, Any]:
    raw = LabelReading.model_json_schema()
    schema: dict[str, Any] = _inline_refs(raw, raw.get("$defs", {}))
    schema["required"] = list(EXTRACTED_TERMS)
    for prop in schema["properties"].values():
        prop["required"] = ["value", "confidence"]
        prop["additionalProperties"] = False
        # Strict mode rejects numeric bounds on some providers; the prompt
        # states the 0-1 range and parsing clamps it.
        prop["properties"]["confidence"].pop("minimum", None)
        prop["properties"]["confidence"].pop("maximum", None)
    return schema


def response_schema() -> dict[str, Any]:
    """Return the JSON Schema of :class:`LabelReading` for ``response_format``.

    The schema follows the strict structured-output rules of OpenAI-compatible
    APIs: every property required, ``additionalProperties`` false, no
    ``$ref`` (some providers do not resolve references), no titles.

    >>> schema = response_schema()
    >>> schema["required"][0]
    'catalogNumber'
    """
    return copy.deepcopy(_schema())
