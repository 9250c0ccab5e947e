"""Scientific names split into Darwin Core taxon terms with GBIF's name parser.

``gbif-name-parser`` (imported as ``nameparser``) does the parsing: genus,
epithets, rank, hybrid markers and authorship. This module adds what a label
needs around it: identification qualifiers (``cf.``, ``aff.``, ``nr.``,
``sp.``, ``?``) are taken out before parsing and written to
``identificationQualifier`` (with the part of the name they qualify, as the
Darwin Core examples do), never left in the name or an epithet; the name as
written goes to ``verbatimIdentification``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import nameparser

logger = logging.getLogger(__name__)

#: Why a name was changed or rejected, as used in ``term:reason`` flags.
FLAG_REASONS: dict[str, str] = {
    "qualifier_moved": "cf./aff./nr./sp./? was moved to identificationQualifier",
    "unparsed": "the name parser could not read the name; it is kept as written "
    "and no taxon terms are filled",
    "partly_parsed": "the name parser read only part of the name",
    "informal": "an informal name (Carex sp. 1) kept whole; only genus filled",
    "hybrid_sign_normalised": "a hybrid x was written as the multiplication sign",
    "parser_form": "(scientificNameAuthorship) the authorship as written could "
    "not be found in the name, so the parser's spelling of it is used",
}

_QUALIFIER_RE = re.compile(
    r"(?<![\w.])(?P<q>cf\.?|conf\.?|aff\.?|nr\.?|near|vel\s+aff\.?|\?)(?=\s|$)",
    re.IGNORECASE,
)
_SP_RE = re.compile(r"\s+(?P<q>spp?\.?|sp\.?\s*nov\.?|indet\.?)(?=\s|$)(?P<rest>.*)$")
_HYBRID_X_RE = re.compile(r"(?<=\s)[xX]\s*(?=[a-z])")
_RANKS: dict[str, str] = {
    "SPECIES": "species",
    "SUBSPECIES": "subspecies",
    "VARIETY": "variety",
    "SUBVARIETY": "subvariety",
    "FORM": "form",
    "SUBFORM": "subform",
    "GENUS": "genus",
    "SUBGENUS": "subgenus",
    "SECTION_BOTANY": "section",
    "FAMILY": "family",
    "SUBFAMILY": "subfamily",
    "TRIBE": "tribe",
    "ORDER": "order",
    "INFRASPECIFIC_NAME": "infraspecificname",
    "CULTIVAR": "cultivar",
}
_HIGHER_SUFFIXES = (
    "aceae",
    "ales",
    "oideae",
    "ineae",
    "idae",
    "inae",
    "eae",
    "phyta",
    "mycota",
    "opsida",
    "phyceae",
    "mycetes",
)


@dataclass
class NameResult:
    """Darwin Core taxon terms read from one scientific name."""

    terms: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def _fix_case(name: str) -> str:
    """``STIPA COMPTA RYDB.`` -> ``Stipa compta RYDB.``: genus and epithets only."""
    words = name.split()
    letters = "".join(ch for ch in name if ch.isalpha())
    if not words or not letters.isupper():
        return name
    out = [words[0][:1] + words[0][1:].lower()]
    for word in words[1:]:
        if word.isalpha() and len(word) > 2 and not out[-1].endswith("."):
            out.append(word.lower())
        else:
            out.append(word)
    return " ".join(out)


def _take_qualifier(name: str) -> tuple[str, str | None, int]:
    """Remove a qualifier; return the name, the qualifier, its word position."""
    match = _QUALIFIER_RE.search(name)
    if match:
        qualifier = match.group("q")
        if qualifier != "?" and not qualifier.endswith("."):
            qualifier = qualifier.lower() + ("." if qualifier.lower() != "near" else "")
        position = len(name[: match.start()].split())
        cleaned = (name[: match.start()] + " " + name[match.end() :]).strip()
        return " ".join(cleaned.split()), qualifier.lower(), position
    match = _SP_RE.search(name)
    if match:
        cleaned = name[: match.start()].strip()
        qualifier = match.group("q").lower()
        if not qualifier.endswith("."):
            qualifier += "."
        rest = match.group("rest").strip()
        if re.fullmatch(r"[\w-]{1,8}", rest) and any(ch.isdigit() for ch in rest):
            qualifier += " " + rest  # a morphospecies number: "sp. 1"
        return cleaned, qualifier, -1
    return name, None, 0


def parse_scientific_name(text: str, qualifier_in: str = "") -> NameResult:
    """Split a scientific name into Darwin Core taxon terms.

    :param text: the name as read, e.g. ``"Mentha ×piperita L."`` or
        ``"aff. Carex"``.
    :param qualifier_in: an ``identificationQualifier`` the engine already gave.
    :return: terms ``scientificName``, ``genus``, ``specificEpithet``,
        ``infraspecificEpithet``, ``taxonRank``, ``scientificNameAuthorship``,
        ``identificationQualifier`` and ``verbatimIdentification`` (each only
        when known), plus flags.

    >>> r = parse_scientific_name("Mentha ×piperita L.")
    >>> r.terms["specificEpithet"], r.terms["scientificNameAuthorship"]
    ('piperita', 'L.')
    """
    result = NameResult()
    written = " ".join(text.split())
    if not written:
        return result
    name, qualifier, position = _take_qualifier(_fix_case(written))
    if qualifier:
        result.flags.append("scientificName:qualifier_moved")
        result.terms["verbatimIdentification"] = written
    hybrid = _HYBRID_X_RE.sub("×", name) if _HYBRID_X_RE.search(name) else name
    try:
        parsed = nameparser.parse(hybrid)
    except nameparser.UnparsableNameError as exc:
        logger.debug("name %r not parsed: %s", written, exc)
        result.flags.append("scientificName:unparsed")
        result.terms["scientificName"] = name
        _set_qualifier(result, qualifier, qualifier_in, name, position)
        return result
    if isinstance(parsed, nameparser.Informal):
        result.flags.append("scientificName:informal")
        result.terms["scientificName"] = name
        result.terms["genus"] = parsed.taxon
        _set_qualifier(result, qualifier, qualifier_in, parsed.taxon, position)
        return result
    if parsed.notho and hybrid != name:
        result.flags.append("scientificName:hybrid_sign_normalised")
        name = hybrid
    if parsed.state == "PARTIAL" or parsed.unparsed:
        result.flags.append("scientificName:partly_parsed")
    result.terms["scientificName"] = name
    _fill_parts(result, parsed, name)
    canonical = parsed.canonical_name_without_authorship() or name
    _set_qualifier(
        result, qualifier, qualifier_in, canonical.replace("× ", ""), position
    )
    return result


def _fill_parts(result: NameResult, parsed: nameparser.ParsedName, name: str) -> None:
    terms = result.terms
    genus = parsed.genus
    if (
        genus is None
        and parsed.uninomial
        and not parsed.uninomial.endswith(_HIGHER_SUFFIXES)
    ):
        genus = parsed.uninomial
    if genus:
        terms["genus"] = genus
    if parsed.specific_epithet:
        terms["specificEpithet"] = parsed.specific_epithet
    if parsed.infraspecific_epithet:
        terms["infraspecificEpithet"] = parsed.infraspecific_epithet
    rank = _RANKS.get(parsed.rank)
    if (
        rank is None
        and parsed.rank == "UNRANKED"
        and genus
        and genus == parsed.uninomial
    ):
        rank = "genus"
    if rank:
        terms["taxonRank"] = rank
    authorship = parsed.authorship_complete()
    if authorship:
        written = _written_authorship(name, authorship)
        if written is None:
            result.flags.append("scientificNameAuthorship:parser_form")
        terms["scientificNameAuthorship"] = written or authorship


def _written_authorship(name: str, parsed: str) -> str | None:
    """The authorship as the label wrote it, when it matches the parser's."""
    squeeze = re.compile(r"\s+")
    target = squeeze.sub("", parsed)
    words = name.split()
    for start in range(1, len(words)):
        tail = " ".join(words[start:])
        if squeeze.sub("", tail) == target:
            return tail
    return None


def _set_qualifier(
    result: NameResult,
    qualifier: str | None,
    qualifier_in: str,
    canonical: str,
    position: int,
) -> None:
    if qualifier is None:
        if qualifier_in.strip():
            result.terms["identificationQualifier"] = qualifier_in.strip()
        return
    if position < 0:
        result.terms["identificationQualifier"] = qualifier
        return
    words = canonical.split()
    qualified = " ".join(words[position:]) if position < len(words) else ""
    result.terms["identificationQualifier"] = f"{qualifier} {qualified}".strip()
