"""Table-driven tests for dwc/coordinates.py."""

from __future__ import annotations

import pytest

from herbarium_dwc.dwc.coordinates import (
    find_datum,
    find_trs,
    parse_coordinates,
    parse_decimal,
    utm_to_latlon,
)

# (verbatim, latitude, longitude, verbatimCoordinateSystem)
CASES = [
    ("43°32’38”N 19°39’058”E", 43.5439, 19.6661, "degrees minutes seconds"),
    ("43°32'38\"N 19°39'58\"E", 43.5439, 19.6661, "degrees minutes seconds"),
    ("43°32′38″N 19°39′58″E", 43.5439, 19.6661, "degrees minutes seconds"),
    ("43°32‘38“N 19°39‘58“E", 43.5439, 19.6661, "degrees minutes seconds"),
    ("43°32'38''N 19°39'58''E", 43.5439, 19.6661, "degrees minutes seconds"),
    ("60°09.7'N, 152°36.7'W", 60.1617, -152.6117, "degrees decimal minutes"),
    ("34°55′S 138°36′E", -34.9167, 138.6, "degrees decimal minutes"),
    ("34°55'12 S 138°36'E", -34.92, 138.6, "degrees minutes seconds"),
    ("N. 48° 48' W.88° 40'", 48.8, -88.6667, "degrees decimal minutes"),
    ("Lat. 51° 52'N. Long. 68° 09'W.", 51.8667, -68.15, "degrees decimal minutes"),
    ("22°10'S 68°48’Oeste", -22.1667, -68.8, "degrees decimal minutes"),
    ("-34.9285, 138.6007", -34.9285, 138.6007, "decimal degrees"),
    ("43.5 N 79.25 W", 43.5, -79.25, "decimal degrees"),
]


@pytest.mark.parametrize(("text", "lat", "lon", "system"), CASES)
def test_parse_coordinates_reads_label_forms(
    text: str, lat: float, lon: float, system: str
) -> None:
    result = parse_coordinates(text)
    assert result.latitude == pytest.approx(lat, abs=1e-4)
    assert result.longitude == pytest.approx(lon, abs=1e-4)
    assert result.system == system


def test_text_keeps_the_precision_of_the_label() -> None:
    result = parse_coordinates("43°32’38”N 19°39’058”E")
    assert (result.latitude_text, result.longitude_text) == ("43.5439", "19.6661")
    result = parse_coordinates("43°18'N, 124°13'W")
    assert (result.latitude_text, result.longitude_text) == ("43.3", "-124.217")


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("91°N 10°E", "decimalLatitude:out_of_range"),
        ("43°61'N 79°W", "verbatimCoordinates:out_of_range"),
        ("66°50'13.8\" N 161°38'03.3\"", "decimalLongitude:hemisphere_missing"),
        (
            "43°18'N, 124°13'W; 43°19.5'N, 124°22.5'W",
            "verbatimCoordinates:several_points",
        ),
        ("T35N, R3E, S22", "verbatimCoordinates:trs_not_converted"),
        ("near the old mill", "verbatimCoordinates:unparsed"),
        ("UTM 11U", "verbatimCoordinates:utm_incomplete"),
    ],
)
def test_parse_coordinates_flags_doubts(text: str, flag: str) -> None:
    assert flag in parse_coordinates(text).flags


def test_township_range_section_is_kept_verbatim_only() -> None:
    result = parse_coordinates("sec. 8, T34N, R6E.")
    assert result.latitude is None and result.longitude is None
    assert result.system == "Township Range Section"
    assert find_trs("sec. 8, T34N, R6E.") == "T34N, R6E"


# Known answers computed independently with pyproj (EPSG:32617 -> EPSG:4326,
# EPSG:32756 -> EPSG:4326, EPSG:26711 -> EPSG:4267) when this module was
# written; our series agrees with PROJ to about 1e-8 degrees.
UTM_CASES = [
    ("17T 630084 4833438", 43.642562, -79.387143, ""),
    ("UTM zone 56H E334786 N6252080", -33.858664, 151.214023, ""),
    ("11U 520000mE 5600000mN NAD27", 50.553558, -116.717686, "EPSG:4267"),
]


@pytest.mark.parametrize(("text", "lat", "lon", "datum"), UTM_CASES)
def test_utm_references_convert_to_decimal_degrees(
    text: str, lat: float, lon: float, datum: str
) -> None:
    result = parse_coordinates(text)
    assert result.system == "UTM"
    assert result.latitude == pytest.approx(lat, abs=1e-6)
    assert result.longitude == pytest.approx(lon, abs=1e-6)
    assert result.datum == datum


def test_utm_to_latlon_rejects_a_zone_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="61"):
        utm_to_latlon(61, "T", 500000, 4800000)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("WGS84", "EPSG:4326"),
        ("WGS 1984", "EPSG:4326"),
        ("NAD 27", "EPSG:4267"),
        ("datum NAD83", "EPSG:4269"),
        ("none given", None),
    ],
)
def test_find_datum(text: str, code: str | None) -> None:
    assert find_datum(text) == code


@pytest.mark.parametrize(
    ("text", "limit", "value"),
    [
        ("-34.9167", 90, -34.9167),
        ("34.9167 S", 90, -34.9167),
        ("W 79.5", 180, -79.5),
        ("95", 90, None),
        ("abc", 90, None),
    ],
)
def test_parse_decimal(text: str, limit: float, value: float | None) -> None:
    assert parse_decimal(text, limit) == value
