"""Coordinates on labels to ``decimalLatitude`` / ``decimalLongitude``.

Reads degrees-minutes-seconds and degrees-decimal-minutes with any of the
quote marks typewriters, OCR and word processors produce, decimal degrees,
and UTM references with zone and latitude band. Township/Range/Section
references are recognised and kept verbatim only (see :func:`find_trs`).

The hemisphere letter written on the label is the authority for the sign: an
engine's decimal that contradicts it is corrected and flagged.

UTM is converted here with Krüger's series for the inverse transverse
Mercator projection (accurate to well under a metre inside a zone) rather
than with pyproj: pyproj would add a compiled PROJ library and its data files
to every install for this one conversion, and the series needs only a few
lines of ``math``. The ellipsoid follows the datum the label states (Clarke
1866 for NAD27, GRS80/WGS84 otherwise); no datum shift is applied, so the
decimals are in the stated datum and ``geodeticDatum`` says which.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

#: Why coordinates were changed or rejected, as used in ``term:reason`` flags.
FLAG_REASONS: dict[str, str] = {
    "unparsed": "the verbatim coordinates could not be read",
    "out_of_range": "a value lies outside -90..90 (latitude) or -180..180 "
    "(longitude), or minutes/seconds reach 60",
    "hemisphere_corrected": "the engine's sign contradicted the hemisphere "
    "written on the label and was corrected from the label",
    "engine_value_replaced": "the engine's decimal disagreed with the verbatim "
    "coordinates and was replaced",
    "hemisphere_missing": "no N/S/E/W was written, so the sign is unknown",
    "several_points": "several points were written; the first one was used",
    "trs_not_converted": "a Township/Range/Section reference is kept verbatim "
    "only; it needs a PLSS lookup to become decimals",
    "utm_incomplete": "a UTM reference lacks its zone or latitude band",
    "datum_not_recognised": "the stated geodetic datum is not one we know",
}

_QUOTES = {
    "\u2019": "'",
    "\u2018": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "`": "'",
    "\u201d": '"',
    "\u201c": '"',
    "\u2033": '"',
    "''": '"',
    "\u00ba": "°",
    "\u02da": "°",
    "\u2070": "°",
}
_HEMISPHERE_WORDS: dict[str, str] = {
    "n": "N",
    "north": "N",
    "nord": "N",
    "norte": "N",
    "s": "S",
    "south": "S",
    "sud": "S",
    "sur": "S",
    "süd": "S",
    "e": "E",
    "east": "E",
    "est": "E",
    "este": "E",
    "ost": "E",
    "w": "W",
    "west": "W",
    "o": "W",
    "oeste": "W",
    "ouest": "W",
}
_HEMI = (
    r"(?:north|nord|norte|south|süd|sud|sur|east|este|est|ost|west|oeste|ouest|[nsewo])"
)
_NUM = r"\d{1,3}(?:[.,]\d+)?"
_DMS_CORE = rf"""
    (?:\b(?P<pre>{_HEMI})\.?\s*)?
    (?P<deg>{_NUM})\s*(?:°|deg\.?|d(?=\s*\d))\s*
    (?:(?P<min>{_NUM})\s*(?:'|min\.?|m(?=\s*\d))?\s*)?
    (?:(?P<sec>{_NUM})\s*(?:"|sec\.?|(?=\s*{_HEMI}\b))\s*)?
    """
_DMS_RE = re.compile(
    _DMS_CORE + rf"(?:(?P<post>{_HEMI})\b\.?)?", re.IGNORECASE | re.VERBOSE
)
# For labels that write the letter first: a letter after a value is the next
# value's prefix, so this form never reads one after the value.
_DMS_PREFIX_RE = re.compile(_DMS_CORE + r"(?P<post>(?!))?", re.IGNORECASE | re.VERBOSE)
_DECIMAL_RE = re.compile(
    rf"""
    (?:\b(?P<pre>{_HEMI})\.?\s*)?
    (?P<value>[-+]?\d{{1,3}}\.\d+)\s*°?\s*
    (?:(?P<post>{_HEMI})\b\.?)?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_LABEL_WORDS_RE = re.compile(
    r"\b(?:lat(?:itude)?|long?(?:itude)?|circa|ca|approx|coords?|coordinates)\b\.?",
    re.IGNORECASE,
)
_TRS_RE = re.compile(
    r"\bT\.?\s*\d{1,3}\s*[NS]\b.*?\bR\.?\s*\d{1,3}\s*[EW]\b|"
    r"\bR\.?\s*\d{1,3}\s*[EW]\b.*?\bT\.?\s*\d{1,3}\s*[NS]\b",
    re.IGNORECASE,
)
_UTM_RE = re.compile(
    r"""
    (?:\bUTM\b[:\s]*)?(?:\bzone\s*)?
    \b(?P<zone>[1-9]|[1-5]\d|60)\s*(?P<band>[C-HJ-NP-X])\b[\s,:]*
    (?:E(?:asting)?[:\s]*)?(?P<east>\d{6}(?:\.\d+)?)\s*(?:m\s*)?E?\b[\s,;]*
    (?:N(?:orthing)?[:\s]*)?(?P<north>\d{6,7}(?:\.\d+)?)\s*(?:m\s*)?N?\b
    """,
    re.IGNORECASE | re.VERBOSE,
)

# Datum names as written -> EPSG code of the geographic CRS, as DwC recommends.
_DATUMS: dict[str, str] = {
    "wgs84": "EPSG:4326",
    "wgs1984": "EPSG:4326",
    "epsg4326": "EPSG:4326",
    "nad83": "EPSG:4269",
    "nad1983": "EPSG:4269",
    "epsg4269": "EPSG:4269",
    "nad27": "EPSG:4267",
    "nad1927": "EPSG:4267",
    "epsg4267": "EPSG:4267",
    "etrs89": "EPSG:4258",
    "ed50": "EPSG:4230",
    "grs80": "EPSG:4019",
}
_DATUM_RE = re.compile(
    r"\b(WGS\s*-?\s*(?:19)?84|NAD\s*-?\s*(?:19)?(?:83|27)|ETRS\s*-?\s*89|ED\s*-?\s*50"
    r"|EPSG\s*:?\s*\d{4,5})\b",
    re.IGNORECASE,
)
# Semi-major axis (m) and flattening per datum's ellipsoid.
_ELLIPSOIDS: dict[str, tuple[float, float]] = {
    "EPSG:4267": (6378206.4, 1 / 294.978698214),  # Clarke 1866
    "EPSG:4230": (6378388.0, 1 / 297.0),  # International 1924
}
_WGS84 = (6378137.0, 1 / 298.257223563)


@dataclass
class CoordinateResult:
    """Decimal coordinates read from a label, with what was noticed."""

    latitude: float | None = None
    longitude: float | None = None
    latitude_text: str = ""
    longitude_text: str = ""
    system: str = ""
    datum: str = ""
    flags: list[str] = field(default_factory=list)


@dataclass
class _Axis:
    value: float
    hemisphere: str | None
    decimals: int
    decimal_form: bool = False


def _clean(text: str) -> str:
    out = text
    for bad, good in _QUOTES.items():
        out = out.replace(bad, good)
    return " ".join(out.split())


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _hemisphere(word: str | None) -> str | None:
    if not word:
        return None
    return _HEMISPHERE_WORDS.get(word.lower().rstrip("."))


def _decimals_for(match: re.Match[str]) -> int:
    """Decimal places that keep the precision the label was written with."""
    if match.group("sec"):
        extra = len(match.group("sec").replace(",", ".").partition(".")[2])
        return min(4 + extra, 7)
    if match.group("min"):
        extra = len(match.group("min").replace(",", ".").partition(".")[2])
        return min(3 + extra, 7)
    return 2


def _axes(text: str, flags: list[str], term: str) -> list[_Axis]:
    """Find every degree value in ``text`` with its hemisphere."""
    stripped = _LABEL_WORDS_RE.sub(" ", text)
    axes: list[_Axis] = []
    # "N. 48° 48' W. 88° 40'": letters before the numbers. Then a letter after
    # a value belongs to the next value, so only the prefix letter is read.
    prefix_style = bool(re.match(rf"\W*{_HEMI}\.?\s*\d", stripped, re.IGNORECASE))
    pattern = _DMS_PREFIX_RE if prefix_style else _DMS_RE
    for match in pattern.finditer(stripped):
        degrees = _number(match.group("deg"))
        minutes = _number(match.group("min")) if match.group("min") else 0.0
        seconds = _number(match.group("sec")) if match.group("sec") else 0.0
        if minutes >= 60 or seconds >= 60:
            flags.append(f"{term}:out_of_range")
            continue
        pre, post = _hemisphere(match.group("pre")), _hemisphere(match.group("post"))
        axes.append(
            _Axis(
                degrees + minutes / 60 + seconds / 3600,
                post or pre,
                _decimals_for(match),
            )
        )
    if axes:
        return axes
    for match in _DECIMAL_RE.finditer(stripped):
        value = float(match.group("value"))
        pre, post = _hemisphere(match.group("pre")), _hemisphere(match.group("post"))
        places = len(match.group("value").partition(".")[2])
        axes.append(_Axis(value, post or pre, places, decimal_form=True))
    return axes


def _signed(axis: _Axis, negative: str) -> float:
    value = abs(axis.value) if axis.hemisphere else axis.value
    return -value if axis.hemisphere == negative else value


def find_trs(text: str) -> str | None:
    """Return the Township/Range/Section part of ``text``, if there is one.

    >>> find_trs("sec. 8, T34N, R6E.")
    'T34N, R6E'
    """
    match = _TRS_RE.search(text)
    return match.group(0) if match else None


def find_datum(text: str) -> str | None:
    """Return the EPSG code of a geodetic datum named in ``text``.

    >>> find_datum("NAD 27"), find_datum("WGS-84")
    ('EPSG:4267', 'EPSG:4326')
    """
    match = _DATUM_RE.search(text)
    if not match:
        return None
    key = re.sub(r"[\s\-:]", "", match.group(1)).lower()
    return _DATUMS.get(key)


def utm_to_latlon(
    zone: int,
    band: str,
    easting: float,
    northing: float,
    ellipsoid: tuple[float, float] = _WGS84,
) -> tuple[float, float]:
    """Convert a UTM reference to latitude and longitude in degrees.

    Uses Krüger's series (to the third power of the third flattening) for the
    inverse transverse Mercator projection with the UTM constants: scale 0.9996,
    false easting 500 km, false northing 10,000 km south of the equator.

    :param zone: UTM zone, 1-60.
    :param band: latitude band letter C-X; C-M are south of the equator.
    :param easting: metres.
    :param northing: metres.
    :param ellipsoid: (semi-major axis in metres, flattening).
    :raises ValueError: the zone or band does not exist.

    >>> [round(v, 4) for v in utm_to_latlon(17, "T", 630084, 4833438)]
    [43.6426, -79.3871]
    """
    band = band.upper()
    if not 1 <= zone <= 60 or band not in "CDEFGHJKLMNPQRSTUVWX" or len(band) != 1:
        raise ValueError(f"UTM zone {zone}{band} does not exist")
    a, f = ellipsoid
    n = f / (2 - f)
    big_a = a / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    beta = (
        n / 2 - 2 * n**2 / 3 + 37 * n**3 / 96,
        n**2 / 48 + n**3 / 15,
        17 * n**3 / 480,
    )
    delta = (
        2 * n - 2 * n**2 / 3 - 2 * n**3,
        7 * n**2 / 3 - 8 * n**3 / 5,
        56 * n**3 / 15,
    )
    k0 = 0.9996
    false_northing = 10_000_000.0 if band < "N" else 0.0
    xi = (northing - false_northing) / (k0 * big_a)
    eta = (easting - 500_000.0) / (k0 * big_a)
    xi_p = xi - sum(
        b * math.sin(2 * j * xi) * math.cosh(2 * j * eta)
        for j, b in enumerate(beta, start=1)
    )
    eta_p = eta - sum(
        b * math.cos(2 * j * xi) * math.sinh(2 * j * eta)
        for j, b in enumerate(beta, start=1)
    )
    chi = math.asin(math.sin(xi_p) / math.cosh(eta_p))
    phi = chi + sum(d * math.sin(2 * j * chi) for j, d in enumerate(delta, start=1))
    central = math.radians(zone * 6 - 183)
    lam = central + math.atan2(math.sinh(eta_p), math.cos(xi_p))
    return math.degrees(phi), math.degrees(lam)


def _format(value: float, places: int) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_decimal(value: float, places: int = 5) -> str:
    """Format a decimal degree with at most ``places`` decimals, no trailing zeros.

    >>> format_decimal(-124.216666, 3)
    '-124.217'
    """
    return _format(value, places)


def parse_utm(
    text: str, datum: str | None, flags: list[str]
) -> CoordinateResult | None:
    """Read a UTM reference (``11U 520000 5600000``) into decimal degrees.

    :param text: verbatim coordinates.
    :param datum: EPSG code of the stated datum, or None.
    :param flags: list to add ``verbatimCoordinates:<reason>`` flags to.
    :return: the result, or None when ``text`` holds no UTM reference.
    """
    match = _UTM_RE.search(_clean(text))
    if not match:
        if re.search(r"\bUTM\b", text, re.IGNORECASE):
            flags.append("verbatimCoordinates:utm_incomplete")
            return CoordinateResult(system="UTM", flags=flags)
        return None
    zone, band = int(match.group("zone")), match.group("band").upper()
    easting, northing = float(match.group("east")), float(match.group("north"))
    ellipsoid = _ELLIPSOIDS.get(datum or "", _WGS84)
    lat, lon = utm_to_latlon(zone, band, easting, northing, ellipsoid)
    return CoordinateResult(
        latitude=lat,
        longitude=lon,
        latitude_text=_format(lat, 5),
        longitude_text=_format(lon, 5),
        system="UTM",
        datum=datum or "",
        flags=flags,
    )


def parse_coordinates(text: str) -> CoordinateResult:
    """Read verbatim coordinates (DMS, decimal minutes, decimal degrees, UTM).

    :param text: e.g. ``43°32’38”N 19°39’058”E`` or ``17T 630084 4833438``.
    :return: a :class:`CoordinateResult`; latitude/longitude are None where the
        text could not be read, and ``flags`` (``verbatimCoordinates:<reason>``)
        say why.

    >>> r = parse_coordinates("43°32’38”N 19°39’058”E")
    >>> r.latitude_text, r.longitude_text
    ('43.5439', '19.6661')
    """
    flags: list[str] = []
    term = "verbatimCoordinates"
    cleaned = _clean(text)
    datum = find_datum(cleaned)
    if datum is None and re.search(r"\b(datum|WGS|NAD|ETRS)\b", cleaned, re.I):
        flags.append(f"{term}:datum_not_recognised")
    without_datum = _DATUM_RE.sub(" ", cleaned)
    utm = parse_utm(without_datum, datum, flags)
    if utm is not None:
        return utm
    trs = find_trs(without_datum)
    if trs:
        flags.append(f"{term}:trs_not_converted")
        without_datum = without_datum.replace(trs, " ")
    axes = _axes(without_datum, flags, term)
    result = CoordinateResult(datum=datum or "", flags=flags)
    if not axes:
        if trs:
            result.system = "Township Range Section"
        elif cleaned:
            flags.append(f"{term}:unparsed")
        return result
    lats = [a for a in axes if a.hemisphere in ("N", "S")]
    lons = [a for a in axes if a.hemisphere in ("E", "W")]
    unmarked = [a for a in axes if a.hemisphere is None]
    if not lats and unmarked:
        lats.append(unmarked.pop(0))
    if not lons and unmarked:
        lons.append(unmarked.pop(0))
    distinct_lats = {round(a.value, 6) for a in lats}
    distinct_lons = {round(a.value, 6) for a in lons}
    if len(distinct_lats) > 1 or len(distinct_lons) > 1:
        flags.append(f"{term}:several_points")
    if lats:
        _set_axis(result, lats[0], "latitude", flags)
    if lons:
        _set_axis(result, lons[0], "longitude", flags)
    result.system = _system_name(without_datum)
    return result


def _set_axis(
    result: CoordinateResult, axis: _Axis, which: str, flags: list[str]
) -> None:
    limit, negative = (90, "S") if which == "latitude" else (180, "W")
    term = "decimalLatitude" if which == "latitude" else "decimalLongitude"
    if axis.hemisphere is None and not axis.decimal_form:
        # Degrees and minutes with no hemisphere letter: the sign is unknown.
        flags.append(f"{term}:hemisphere_missing")
    value = _signed(axis, negative)
    if abs(value) > limit:
        flags.append(f"{term}:out_of_range")
        return
    if which == "latitude":
        result.latitude, result.latitude_text = value, _format(value, axis.decimals)
    else:
        result.longitude, result.longitude_text = value, _format(value, axis.decimals)


def _system_name(text: str) -> str:
    """The verbatimCoordinateSystem term's usual wording for ``text``."""
    match = _DMS_RE.search(text)
    if match:
        if match.group("sec"):
            return "degrees minutes seconds"
        if match.group("min"):
            return "degrees decimal minutes"
    return "decimal degrees"


def parse_decimal(text: str, limit: float) -> float | None:
    """Read an engine's decimal degree, tolerating a hemisphere letter.

    :param text: e.g. ``"-34.9167"`` or ``"34.9167 S"``.
    :param limit: 90 for latitude, 180 for longitude.
    :return: the signed value, or None when unreadable or out of range.
    """
    match = re.fullmatch(
        rf"\s*(?P<pre>{_HEMI})?\.?\s*(?P<v>[-+]?\d+(?:[.,]\d+)?)\s*°?\s*"
        rf"(?P<post>{_HEMI})?\.?\s*",
        text,
        re.IGNORECASE,
    )
    if not match:
        return None
    value = _number(match.group("v"))
    hemisphere = _hemisphere(match.group("post")) or _hemisphere(match.group("pre"))
    if hemisphere in ("S", "W"):
        value = -abs(value)
    if abs(value) > limit:
        return None
    return value
