"""Country to ISO 3166-1 ``countryCode``; ``stateProvince`` cleaned and expanded.

Country names are looked up in pycountry's ISO 3166-1 table, after a short list
of forms labels use that the table lacks (``U.S.A.``, ``Porto Rico``,
``Rep. Dominicana``). A country that no longer exists is never given the code
of a different country: when its whole territory is now one country, that
country's code is used and flagged; when it split (USSR, Yugoslavia,
Czechoslovakia, ...) the successor is looked for in the locality, state and
county, and the code is left empty and flagged when none or several match.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import pycountry

# pycountry ships no type hints; these two handles are all this module uses.
_COUNTRIES: Any = pycountry.countries
_SUBDIVISIONS: Any = pycountry.subdivisions

logger = logging.getLogger(__name__)

#: Why a place was changed or rejected, as used in ``term:reason`` flags.
FLAG_REASONS: dict[str, str] = {
    "unknown_country": "the country name matches no ISO 3166-1 country",
    "historical_country": "a former country whose territory is now one country "
    "was given that country's code",
    "derived_from_locality": "a former country that split was resolved to a "
    "successor named in the locality, state or county",
    "historical_country_ambiguous": "a former country that split; no single "
    "successor could be found, so countryCode is empty",
    "abbreviation_expanded": "an abbreviation was written out in full",
    "prefix_removed": "a word such as Prov. or State of was removed",
    "code_conflict": "the engine's countryCode disagreed with the country name",
}


def _key(text: str) -> str:
    """Fold a place name for lookup: no accents, case, dots or extra spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = re.sub(r"[.,;:()\[\]]", " ", plain.lower())
    return " ".join(plain.replace("-", " ").split())


_ALIASES: dict[str, str] = {
    "usa": "US",
    "u s a": "US",
    "us": "US",
    "u s": "US",
    "united states": "US",
    "united states of america": "US",
    "america": "US",
    "estados unidos": "US",
    "etats unis": "US",
    "porto rico": "PR",
    "bahama islands": "BS",
    "bahamas": "BS",
    "rep dominicana": "DO",
    "republica dominicana": "DO",
    "santo domingo": "DO",
    "caicos islands": "TC",
    "caicos island": "TC",
    "turks islands": "TC",
    "turks and caicos": "TC",
    "navassa island": "UM",
    "st thomas": "VI",
    "st croix": "VI",
    "st john": "VI",
    "st vincents": "VC",
    "st vincent": "VC",
    "saint vincent": "VC",
    "st lucia": "LC",
    "st kitts": "KN",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "great britain": "GB",
    "britain": "GB",
    "uk": "GB",
    "u k": "GB",
    "northern ireland": "GB",
    "holland": "NL",
    "deutschland": "DE",
    "allemagne": "DE",
    "espana": "ES",
    "brasil": "BR",
    "mexico": "MX",
    "peru": "PE",
    "russia": "RU",
    "russian federation": "RU",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "iran": "IR",
    "syria": "SY",
    "laos": "LA",
    "vietnam": "VN",
    "viet nam": "VN",
    "taiwan": "TW",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "czech republic": "CZ",
    "czechia": "CZ",
    "ivory coast": "CI",
    "cote d ivoire": "CI",
    "turkey": "TR",
    "macedonia": "MK",
    "the netherlands": "NL",
    "the bahamas": "BS",
    "newfoundland": "CA",
    "canada": "CA",
    "nouvelle caledonie": "NC",
    "new caledonia": "NC",
    "french guiana": "GF",
    "guyane": "GF",
}


def _former(successors: str, *names: str) -> dict[str, tuple[str, ...]]:
    """Map each spelling of one former country to its successors' codes.

    :param successors: the present-day ISO codes covering its territory,
        separated by spaces.
    :param names: the former country's spellings as :func:`_key` folds them.

    >>> _former("CZ SK", "czechoslovakia")
    {'czechoslovakia': ('CZ', 'SK')}
    """
    return dict.fromkeys(names, tuple(successors.split()))


_SOVIET_SUCCESSORS = "RU UA BY MD EE LV LT GE AM AZ KZ UZ TM KG TJ"
_YUGOSLAV_SUCCESSORS = "SI HR BA RS ME MK XK"
_AUSTRO_HUNGARIAN_SUCCESSORS = "AT HU CZ SK SI HR BA PL UA RO IT RS"

# Former countries: alias keys -> present-day codes covering their territory.
_HISTORICAL: dict[str, tuple[str, ...]] = {
    **_former(_SOVIET_SUCCESSORS, "ussr", "u s s r", "soviet union", "sssr", "cccp"),
    **_former(_YUGOSLAV_SUCCESSORS, "yugoslavia", "jugoslavija", "jugoslawien"),
    **_former("RS ME XK", "serbia and montenegro"),
    **_former("CZ SK", "czechoslovakia", "tchecoslovaquie"),
    **_former("CW SX BQ", "netherlands antilles"),
    **_former("VN LA KH", "indochina", "french indochina"),
    **_former(_AUSTRO_HUNGARIAN_SUCCESSORS, "austria hungary"),
    **_former("IN PK BD MM", "british india"),
    **_former(
        "DE",
        "east germany",
        "german democratic republic",
        "ddr",
        "gdr",
        "west germany",
        "federal republic of germany",
        "brd",
    ),
    **_former("CD", "zaire", "belgian congo"),
    **_former("MM", "burma"),
    **_former("LK", "ceylon"),
    **_former("TH", "siam"),
    **_former("IR", "persia"),
    **_former("TW", "formosa"),
    **_former("BJ", "dahomey"),
    **_former("BF", "upper volta"),
    **_former("BZ", "british honduras"),
    **_former("SZ", "swaziland"),
    **_former("ZW", "southern rhodesia"),
    **_former("ZM", "northern rhodesia"),
    **_former("ZW ZM", "rhodesia"),
    **_former("GH", "gold coast"),
    **_former("TZ", "tanganyika"),
    **_former("TL", "east timor"),
    **_former("VU", "new hebrides"),
    **_former("NA", "south west africa"),
    **_former("GY", "british guiana"),
    **_former("SR", "dutch guiana"),
    **_former("ET", "abyssinia"),
    **_former("KH", "khmer republic", "kampuchea"),
    **_former("ML", "french sudan"),
    **_former("LS", "basutoland"),
    **_former("BW", "bechuanaland"),
    **_former("MW", "nyasaland"),
    **_former("PA", "panama canal zone", "canal zone"),
}

# Older names of successor states, for finding them in a locality.
_SUCCESSOR_NAMES: dict[str, tuple[str, ...]] = {
    "BY": ("byelorussia", "belorussia", "byelorussian", "belarus"),
    "MD": ("moldavia", "moldavian"),
    "KG": ("kirghizia", "kirgizia", "kyrgyzstan", "kirghiz"),
    "TM": ("turkmenia", "turkmen"),
    "UA": ("ukrainian", "ukraine", "crimea", "krym"),
    "RU": ("siberia", "russian", "rsfsr", "kamchatka", "altai", "caucasus"),
    "KZ": ("kazakh", "kazakhstan"),
    "UZ": ("uzbek", "uzbekistan"),
    "TJ": ("tadzhik", "tajik", "tadjik"),
    "AZ": ("azerbaijan", "azerbaidzhan"),
    "AM": ("armenia", "armenian"),
    "EE": ("estonia", "estonian"),
    "LV": ("latvia", "latvian"),
    "LT": ("lithuania", "lithuanian"),
    "GE": ("georgian ssr", "georgia ssr"),
    "SI": ("slovenia", "slovenija"),
    "HR": ("croatia", "hrvatska", "dalmatia", "istria"),
    "BA": ("bosnia", "herzegovina", "hercegovina"),
    "RS": ("serbia", "srbija", "vojvodina"),
    "ME": ("montenegro", "crna gora"),
    "MK": ("macedonia", "makedonija"),
    "XK": ("kosovo",),
    "CZ": ("bohemia", "moravia", "czech"),
    "SK": ("slovakia", "slovensko", "slovak"),
}

# Canadian and US abbreviations as written on labels -> ISO 3166-2 codes.
_STATE_ABBREVIATIONS: dict[str, str] = {
    "alta": "CA-AB",
    "b c": "CA-BC",
    "bc": "CA-BC",
    "man": "CA-MB",
    "n b": "CA-NB",
    "nfld": "CA-NL",
    "n s": "CA-NS",
    "n w t": "CA-NT",
    "nwt": "CA-NT",
    "ont": "CA-ON",
    "p e i": "CA-PE",
    "pei": "CA-PE",
    "que": "CA-QC",
    "p q": "CA-QC",
    "sask": "CA-SK",
    "y t": "CA-YT",
    "yuk": "CA-YT",
    "ala": "US-AL",
    "ariz": "US-AZ",
    "ark": "US-AR",
    "cal": "US-CA",
    "calif": "US-CA",
    "colo": "US-CO",
    "conn": "US-CT",
    "del": "US-DE",
    "fla": "US-FL",
    "ga": "US-GA",
    "ill": "US-IL",
    "ind": "US-IN",
    "kan": "US-KS",
    "kans": "US-KS",
    "ky": "US-KY",
    "la": "US-LA",
    "md": "US-MD",
    "mass": "US-MA",
    "mich": "US-MI",
    "minn": "US-MN",
    "miss": "US-MS",
    "mo": "US-MO",
    "mont": "US-MT",
    "neb": "US-NE",
    "nebr": "US-NE",
    "nev": "US-NV",
    "n h": "US-NH",
    "n j": "US-NJ",
    "n m": "US-NM",
    "n mex": "US-NM",
    "n y": "US-NY",
    "n c": "US-NC",
    "n d": "US-ND",
    "n dak": "US-ND",
    "okla": "US-OK",
    "ore": "US-OR",
    "oreg": "US-OR",
    "pa": "US-PA",
    "penn": "US-PA",
    "penna": "US-PA",
    "r i": "US-RI",
    "s c": "US-SC",
    "s d": "US-SD",
    "s dak": "US-SD",
    "tenn": "US-TN",
    "tex": "US-TX",
    "vt": "US-VT",
    "va": "US-VA",
    "wash": "US-WA",
    "w va": "US-WV",
    "wis": "US-WI",
    "wisc": "US-WI",
    "wyo": "US-WY",
    "d c": "US-DC",
}
_PREFIX_RE = re.compile(
    r"^(?:prov(?:ince)?\.?\s+(?:of\s+|de\s+)?|provincia\s+(?:de\s+)?|"
    r"state\s+of\s+|estado\s+(?:de\s+)?|dept\.?\s+(?:of\s+|de\s+)?|"
    r"departamento\s+(?:de\s+)?|departement\s+(?:de\s+|du\s+)?)",
    re.IGNORECASE,
)
# All-capital words that are names in their own right and stay as written.
_ACRONYMS = frozenset(
    {
        "USA",
        "U.S.A",
        "US",
        "UK",
        "USSR",
        "U.S.S.R",
        "SSSR",
        "CCCP",
        "DDR",
        "GDR",
        "BRD",
        "UAR",
        "NWT",
        "PEI",
        "DC",
        "D.C",
        "SSR",
        "ASSR",
        "RSFSR",
    }
)
_SMALL_WORDS = frozenset(
    {
        "of",
        "and",
        "the",
        "de",
        "del",
        "la",
        "las",
        "los",
        "el",
        "y",
        "et",
        "du",
        "des",
        "di",
        "da",
        "do",
        "dos",
        "das",
        "von",
        "van",
        "der",
        "en",
    }
)


@dataclass
class PlaceResult:
    """Normalised place terms and the flags raised on the way."""

    terms: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def title_case(text: str) -> str:
    """Title-case an all-capitals or all-lower-case place name; keep mixed case.

    >>> title_case("PROVINCE OF PINAR DEL RIO"), title_case("Québec")
    ('Province of Pinar del Rio', 'Québec')
    """
    letters = [ch for ch in text if ch.isalpha()]
    if not letters or not (text.upper() == text or text.lower() == text):
        return text
    out = []
    for index, original in enumerate(text.split(" ")):
        word = original.lower()
        letters_only = re.sub(r"[^A-Za-z]", "", original)
        if original.rstrip(".,").upper() in _ACRONYMS or (
            "." in original.rstrip(".") and len(letters_only) <= 4
        ):  # dotted abbreviations such as S.A. stay as written
            out.append(original)
        elif index and word in _SMALL_WORDS:
            out.append(word)
        else:
            out.append(
                "-".join(part[:1].upper() + part[1:] for part in word.split("-"))
            )
    return " ".join(out)


def country_code(name: str) -> str | None:
    """Return the ISO 3166-1 alpha-2 code of a present-day country name.

    :param name: e.g. ``"U.S.A."``, ``"Canada"``, ``"CAN"``, ``"República
        Dominicana"``.
    :return: the code, or None when the name is not a present-day country
        (former countries are handled by :func:`normalise_place`).

    >>> country_code("U. S. A."), country_code("Porto Rico"), country_code("USSR")
    ('US', 'PR', None)
    """
    key = _key(name)
    if not key or key in _HISTORICAL:
        return None
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        found = _COUNTRIES.lookup(name.strip())
    except LookupError:
        try:
            found = _COUNTRIES.lookup(key)
        except LookupError:
            return None
    return str(found.alpha_2)


def _successors_named(text: str, candidates: tuple[str, ...]) -> set[str]:
    """Which of ``candidates`` (country codes) ``text`` names."""
    key = f" {_key(text)} "
    found: set[str] = set()
    for code in candidates:
        country = _COUNTRIES.get(alpha_2=code)
        names = set(_SUCCESSOR_NAMES.get(code, ()))
        if country is not None:
            names.add(_key(country.name))
            if hasattr(country, "common_name"):
                names.add(_key(country.common_name))
        if any(f" {name} " in key for name in names if name):
            found.add(code)
            continue
        for sub in _SUBDIVISIONS.get(country_code=code) or ():
            sub_name = _key(sub.name)
            if len(sub_name) > 4 and f" {sub_name} " in key:
                found.add(code)
                break
    return found


def normalise_place(
    country: str,
    state_province: str,
    locality_text: str = "",
    country_code_in: str = "",
) -> PlaceResult:
    """Normalise ``country``, ``countryCode`` and ``stateProvince``.

    :param country: the country as read from the label.
    :param state_province: the state or province as read.
    :param locality_text: locality, county and municipality joined, used only to
        find the successor of a former country that split.
    :param country_code_in: a countryCode the engine gave, if any.
    :return: terms ``country``, ``countryCode``, ``stateProvince`` (only those
        with a value) and flags.

    >>> normalise_place("USSR", "", "Ukrainian SSR, Crimea").terms["countryCode"]
    'UA'
    """
    result = PlaceResult()
    country = " ".join(country.split())
    if country:
        result.terms["country"] = title_case(country)
        code = _resolve_country(country, state_province, locality_text, result.flags)
        if code:
            result.terms["countryCode"] = code
    given = country_code_in.strip().upper()
    if given:
        if not country:
            if _COUNTRIES.get(alpha_2=given) is not None:
                result.terms["countryCode"] = given
            else:
                result.flags.append("countryCode:unknown_country")
        elif result.terms.get("countryCode") not in (None, given):
            result.flags.append("countryCode:code_conflict")
    state = " ".join(state_province.split())
    if state:
        result.terms["stateProvince"] = _normalise_state(
            state, result.terms.get("countryCode", ""), result.flags
        )
    return result


def _resolve_country(
    country: str, state: str, locality_text: str, flags: list[str]
) -> str | None:
    key = _key(country)
    if key in _HISTORICAL:
        successors = _HISTORICAL[key]
        if len(successors) == 1:
            flags.append("countryCode:historical_country")
            return successors[0]
        named = _successors_named(f"{state} {locality_text}", successors)
        if len(named) == 1:
            flags.append("countryCode:derived_from_locality")
            return named.pop()
        flags.append("countryCode:historical_country_ambiguous")
        return None
    code = country_code(country)
    if code is None:
        flags.append("countryCode:unknown_country")
    return code


def _normalise_state(state: str, code: str, flags: list[str]) -> str:
    stripped = _PREFIX_RE.sub("", state).strip()
    if stripped and stripped != state:
        flags.append("stateProvince:prefix_removed")
        state = stripped
    key = _key(state)
    subdivision = None
    iso = _STATE_ABBREVIATIONS.get(key)
    if iso and (not code or iso.startswith(code + "-")):
        subdivision = _SUBDIVISIONS.get(code=iso)
    elif len(key) == 2 and code in ("US", "CA") and state.isupper():
        subdivision = _SUBDIVISIONS.get(code=f"{code}-{key.upper()}")
    if subdivision is not None:
        flags.append("stateProvince:abbreviation_expanded")
        return str(subdivision.name)
    return title_case(state)
