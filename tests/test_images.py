"""Image preparation: every format, every quirk, every clear failure.

Each test draws the small file it needs. Pictures use large solid blocks of
distinct colours so that a lossy JPEG round trip cannot blur the answer.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from herbarium_dwc.errors import ConfigError, FailureKind, ImageError
from herbarium_dwc.images import (
    PreparedImage,
    PrepareSettings,
    base64_length,
    prepare_image,
    prepare_source,
    read_source,
    sha256_file,
)
from herbarium_dwc.prepare import load_prepared, prepare_specimen
from herbarium_dwc.prepare import main as prepare_main
from herbarium_dwc.record import read_record

from .conftest import Workflow

RED = (220, 30, 30)
BLUE = (30, 30, 220)
PAPER = (245, 240, 230)


def _decoded(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.data))
    image.load()
    return image


def _rgb_at(image: Image.Image, x: float, y: float) -> tuple[int, ...]:
    """The colour at a fraction (x, y) of the width and height."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    pixel = rgb.getpixel((int(x * (width - 1)), int(y * (height - 1))))
    assert isinstance(pixel, tuple)
    return pixel


def _near(
    actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40
) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def _upright_sheet(size: tuple[int, int] = (120, 200)) -> Image.Image:
    """A portrait sheet: a red block top left, a blue block bottom right."""
    width, height = size
    image = Image.new("RGB", size, PAPER)
    image.paste(RED, (0, 0, width // 2, height // 3))
    image.paste(BLUE, (width // 2, 2 * height // 3, width, height))
    return image


def _assert_upright(image: Image.Image) -> None:
    width, height = image.size
    assert height > width, "a portrait sheet must come out portrait"
    assert _near(_rgb_at(image, 0.2, 0.15), RED)
    assert _near(_rgb_at(image, 0.8, 0.85), BLUE)
    assert _near(_rgb_at(image, 0.8, 0.15), PAPER)
    assert _near(_rgb_at(image, 0.2, 0.85), PAPER)


def _failure(path: Path, settings: PrepareSettings | None = None) -> ImageError:
    with pytest.raises(ImageError) as caught:
        prepare_image(path, settings or PrepareSettings())
    return caught.value


# --- clear failures --------------------------------------------------------


def test_zero_byte_file_is_image_corrupt_and_says_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    error = _failure(path)
    assert error.kind is FailureKind.image_corrupt
    assert str(path) in error.message
    assert "empty" in error.message and "copy the image again" in error.message


def _noisy_jpeg(path: Path, size: tuple[int, int]) -> Path:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


@pytest.mark.parametrize("max_edge", [4000, 300], ids=["full-decode", "draft-decode"])
def test_truncated_jpeg_is_image_corrupt_not_painted_grey(
    tmp_path: Path, max_edge: int
) -> None:
    whole = _noisy_jpeg(tmp_path / "whole.jpg", (1200, 1600)).read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    error = _failure(path, PrepareSettings(max_edge=max_edge))
    assert error.kind is FailureKind.image_corrupt
    assert str(path) in error.message and "copy it again" in error.message


def test_truncated_jpeg_fails_even_if_someone_enabled_truncated_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _noisy_jpeg(tmp_path / "whole.jpg", (600, 800)).read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert _failure(path).kind is FailureKind.image_corrupt
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("keep", [3, 40, 200])
def test_jpeg_cut_inside_its_header_is_image_corrupt(tmp_path: Path, keep: int) -> None:
    whole = _noisy_jpeg(tmp_path / "whole.jpg", (200, 200)).read_bytes()
    path = tmp_path / "stub.jpg"
    path.write_bytes(whole[:keep])
    error = _failure(path)
    assert error.kind is FailureKind.image_corrupt
    assert str(path) in error.message and "copy it again" in error.message


def test_text_file_named_jpg_is_unsupported_and_called_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("Collected near the river, 12 May 1931\n", encoding="utf-8")
    error = _failure(path)
    assert error.kind is FailureKind.unsupported_format
    assert str(path) in error.message and "text file" in error.message


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("scan.tif", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF document"),
        ("download.jpg", b"<!DOCTYPE html><html><body>Not found", "web page"),
        ("sheets.png", b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "ZIP archive"),
        ("odd.jpg", bytes(range(256)) * 4, "convert it to JPEG, PNG or TIFF"),
    ],
)
def test_unsupported_formats_are_named_with_the_next_step(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    error = _failure(path)
    assert error.kind is FailureKind.unsupported_format
    assert str(path) in error.message and says in error.message


@pytest.mark.parametrize("pillow_format", ["PPM", "ICO", "TGA"])
def test_images_in_formats_this_tool_does_not_read_are_unsupported(
    tmp_path: Path, pillow_format: str
) -> None:
    path = tmp_path / "sheet.png"
    _upright_sheet((32, 48)).save(path, format=pillow_format)
    error = _failure(path)
    assert error.kind is FailureKind.unsupported_format
    assert f"{pillow_format} image" in error.message
    assert "convert it to JPEG, PNG or TIFF" in error.message


def _heic(path: Path, image: Image.Image) -> Path:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    image.save(path, format="HEIF", quality=90)
    return path


def test_heic_without_the_plugin_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _heic(tmp_path / "phone.heic", _upright_sheet())
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import now fails
    error = _failure(path)
    assert error.kind is FailureKind.unsupported_format
    assert str(path) in error.message
    assert "pip install pillow-heif" in error.message


def test_symlink_to_nothing_is_image_corrupt_and_names_the_target(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dangling.jpg"
    os.symlink(tmp_path / "gone" / "sheet.jpg", path)
    error = _failure(path)
    assert error.kind is FailureKind.image_corrupt
    assert str(path) in error.message and "gone/sheet.jpg" in error.message


def test_missing_file_folder_and_pipe_are_image_corrupt(tmp_path: Path) -> None:
    assert _failure(tmp_path / "nowhere.jpg").kind is FailureKind.image_corrupt
    folder = tmp_path / "looks-like.jpg"
    folder.mkdir()
    error = _failure(folder)
    assert error.kind is FailureKind.image_corrupt and "a folder" in error.message
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)
    assert "not a regular file" in _failure(pipe).message  # and does not hang


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "locked.jpg"
    _upright_sheet().save(path)
    path.chmod(0)
    error = _failure(path)
    assert error.kind is FailureKind.image_corrupt
    assert "permission denied" in error.message


def test_name_with_spaces_and_non_ascii_letters_prepares(tmp_path: Path) -> None:
    path = tmp_path / "Herbier Zürich" / "Quercus robur – Åsa Ñúñez 01.jpg"
    path.parent.mkdir()
    _upright_sheet().save(path)
    prepared = prepare_image(path, PrepareSettings())
    assert prepared.sha256 == sha256_file(path)
    _assert_upright(_decoded(prepared))


def test_image_above_max_pixels_fails_naming_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("L", (1500, 1000), 200).save(path)
    error = _failure(path, PrepareSettings(max_pixels=1_000_000))
    assert error.kind is FailureKind.unsupported_format
    assert "prepare.max_pixels" in error.message and str(path) in error.message


def test_configured_pixel_limit_rules_over_pillows_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big real scan must not be dropped by Pillow's own bomb check."""
    path = tmp_path / "big.jpg"
    Image.new("L", (1500, 1000), 200).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # 15x too small
    prepared = prepare_image(path, PrepareSettings(max_pixels=2_000_000))
    assert prepared.original_size == (1500, 1000)
    assert Image.MAX_IMAGE_PIXELS == 100_000  # restored after opening


# --- formats and behaviours ------------------------------------------------


def test_jpeg_is_shrunk_to_the_long_edge_and_records_sizes_and_bytes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sheet.jpg"
    _upright_sheet((600, 1000)).save(path, quality=95)
    prepared = prepare_image(path, PrepareSettings(max_edge=500))
    assert prepared.size == (300, 500)
    assert prepared.original_size == (600, 1000)
    assert prepared.original_bytes == path.stat().st_size
    assert prepared.media_type == "image/jpeg"
    assert prepared.source_format == "JPEG"
    assert prepared.quality == 90
    assert _decoded(prepared).size == (300, 500)
    _assert_upright(_decoded(prepared))


def test_large_jpeg_is_decoded_at_reduced_size(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "scan.jpg"
    _upright_sheet((2400, 4000)).save(path, quality=90)
    with caplog.at_level(logging.INFO, logger="herbarium_dwc"):
        prepared = prepare_image(path, PrepareSettings(max_edge=480))
    assert "decoding at 300x500 instead of 2400x4000" in caplog.text
    assert prepared.size == (288, 480)
    assert prepared.original_size == (2400, 4000)
    _assert_upright(_decoded(prepared))


# EXIF orientation N says how the stored pixels relate to the upright picture
# (EXIF 2.32, tag 0x0112). Each entry makes the stored pixels from upright.
_STORED_FROM_UPRIGHT: dict[int, Callable[[Image.Image], Image.Image]] = {
    2: lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    3: lambda im: im.rotate(180),
    4: lambda im: im.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    5: lambda im: im.transpose(Image.Transpose.TRANSPOSE),
    6: lambda im: im.rotate(90, expand=True),  # viewer turns it 90 clockwise
    7: lambda im: im.transpose(Image.Transpose.TRANSVERSE),
    8: lambda im: im.rotate(-90, expand=True),  # viewer turns it 90 anticlockwise
}


@pytest.mark.parametrize("orientation", sorted(_STORED_FROM_UPRIGHT))
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_exif_orientation_is_applied_then_dropped(
    tmp_path: Path, orientation: int, suffix: str
) -> None:
    stored = _STORED_FROM_UPRIGHT[orientation](_upright_sheet())
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"turned{suffix}"
    stored.save(path, exif=exif.tobytes())
    assert Image.open(path).getexif().get(0x0112) == orientation
    prepared = prepare_image(path, PrepareSettings())
    image = _decoded(prepared)
    _assert_upright(image)
    assert image.getexif().get(0x0112) is None
    assert prepared.original_size == (120, 200)
    assert f"exif_orientation:{orientation}" in prepared.flags


def test_real_sheet_with_exif_orientation_comes_out_upright(
    shared_data: Path,
) -> None:
    path = shared_data / "aafc" / "images" / "specimen_001.jpg"
    with Image.open(path) as source:
        assert source.getexif().get(0x0112) == 6 and source.width > source.height
    prepared = prepare_image(path, PrepareSettings())
    assert prepared.size[1] > prepared.size[0]
    assert prepared.original_size == (1068, 1600)


def test_greyscale_jpeg_stays_greyscale(tmp_path: Path) -> None:
    path = tmp_path / "grey.jpg"
    _upright_sheet().convert("L").save(path)
    assert _decoded(prepare_image(path, PrepareSettings())).mode == "L"


def test_png_alpha_is_laid_on_white(tmp_path: Path) -> None:
    image = _upright_sheet().convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 100, 60, 200))  # transparent bottom-left
    path = tmp_path / "alpha.png"
    image.save(path)
    prepared = prepare_image(path, PrepareSettings())
    picture = _decoded(prepared)
    assert _near(_rgb_at(picture, 0.1, 0.9), (255, 255, 255), 8)
    assert _near(_rgb_at(picture, 0.2, 0.15), RED)
    assert "alpha_flattened" in prepared.flags


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_png_is_read(tmp_path: Path, transparent: bool) -> None:
    palette = _upright_sheet().quantize(colors=8)
    path = tmp_path / "palette.png"
    if transparent:
        paper_index = palette.getpixel((110, 100))
        palette.save(path, transparency=paper_index)
    else:
        palette.save(path)
    picture = _decoded(prepare_image(path, PrepareSettings()))
    assert _near(_rgb_at(picture, 0.2, 0.15), RED)
    paper = (255, 255, 255) if transparent else PAPER
    assert _near(_rgb_at(picture, 0.9, 0.5), paper, 12)


def _sheet_16bit(paper: int = 40_000, ink: int = 4_000) -> np.ndarray:
    """A 16-bit greyscale sheet: paper at 40,000 and a dark label block."""
    pixels = np.full((200, 120), paper, dtype=np.uint16)
    pixels[120:170, 20:100] = ink
    return pixels


@pytest.mark.parametrize(
    ("suffix", "options"),
    [(".png", {}), (".tif", {"compression": "tiff_lzw"}), (".tif", {})],
    ids=["png", "tiff-lzw", "tiff-raw"],
)
def test_16bit_grey_is_scaled_by_its_range_not_clipped(
    tmp_path: Path, suffix: str, options: dict[str, str]
) -> None:
    path = tmp_path / f"scan16{suffix}"
    Image.fromarray(_sheet_16bit()).save(path, **options)
    assert Image.open(path).mode.startswith("I;16")
    prepared = prepare_image(path, PrepareSettings())
    picture = _decoded(prepared)
    paper = picture.getpixel((60, 50))
    ink = picture.getpixel((60, 145))
    assert isinstance(paper, int) and isinstance(ink, int)
    assert paper > 230 and ink < 25, "paper must be light and ink dark"
    assert "high_bit_depth_scaled:4000-40000" in prepared.flags


def _png_16bit_rgb(path: Path, pixels: np.ndarray) -> Path:
    """Write a 16-bit-per-sample RGB PNG (Pillow cannot write one)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


def test_16bit_colour_is_scaled_by_its_range(tmp_path: Path) -> None:
    grey = _sheet_16bit()
    path = _png_16bit_rgb(tmp_path / "colour16.png", np.dstack([grey, grey, grey]))
    prepared = prepare_image(path, PrepareSettings())
    picture = _decoded(prepared)
    assert min(_rgb_at(picture, 0.5, 0.25)) > 230
    assert max(_rgb_at(picture, 0.5, 0.72)) < 25
    assert any(flag.startswith("high_bit_depth_scaled:") for flag in prepared.flags)


def test_multipage_tiff_uses_the_first_page_and_flags_it(tmp_path: Path) -> None:
    first = _upright_sheet()
    others = [Image.new("RGB", (120, 200), (0, 160, 0)) for _ in range(2)]
    path = tmp_path / "pages.tif"
    first.save(path, save_all=True, append_images=others, compression="tiff_lzw")
    prepared = prepare_image(path, PrepareSettings())
    _assert_upright(_decoded(prepared))
    assert "multi_page:3" in prepared.flags
    assert prepared.source_format == "TIFF"


@pytest.mark.parametrize(
    ("suffix", "options"),
    [
        (".tif", {"compression": "tiff_lzw"}),
        (".tif", {"compression": "tiff_deflate"}),
        (".webp", {"quality": 90}),
        (".webp", {"lossless": True}),
        (".png", {}),
        (".bmp", {}),
    ],
)
def test_common_formats_prepare_upright(
    tmp_path: Path, suffix: str, options: dict[str, object]
) -> None:
    path = tmp_path / f"sheet{suffix}"
    _upright_sheet().save(path, **options)
    _assert_upright(_decoded(prepare_image(path, PrepareSettings())))


def test_bilevel_tiff_becomes_greyscale(tmp_path: Path) -> None:
    path = tmp_path / "fax.tif"
    _upright_sheet().convert("L").point(lambda v: 255 if v > 128 else 0).convert(
        "1"
    ).save(path, compression="group4")
    picture = _decoded(prepare_image(path, PrepareSettings()))
    assert picture.mode == "L"


def test_heic_is_read_with_the_plugin(tmp_path: Path) -> None:
    path = _heic(tmp_path / "phone.heic", _upright_sheet())
    prepared = prepare_image(path, PrepareSettings())
    assert prepared.source_format == "HEIF"
    _assert_upright(_decoded(prepared))


def test_heic_orientation_is_applied_once(tmp_path: Path) -> None:
    stored = _STORED_FROM_UPRIGHT[6](_upright_sheet())
    exif = Image.Exif()
    exif[0x0112] = 6
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "turned.heic"
    stored.save(path, format="HEIF", exif=exif.tobytes(), quality=90)
    _assert_upright(_decoded(prepare_image(path, PrepareSettings())))


def _cmyk_profile_cyan_prints_red() -> bytes:
    """Build an ICC v2 CMYK output profile whose cyan ink looks red.

    ImageCms cannot create CMYK profiles, so the bytes are laid out here by
    hand (ICC.1:2001-04): a header, a tag table, a description, a white
    point and an A2B0 ``mft2`` lookup table from CMYK to CIELAB. Cyan mapped
    to red tells a conversion through the profile from Pillow's naive CMYK
    formula, which gives cyan.
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def lab(lightness: float, a: float, b: float) -> bytes:
        return struct.pack(
            ">HHH",
            round(lightness * 652.8),
            round((a + 128) * 256),
            round((b + 128) * 256),
        )

    white, red, black = lab(100, 0, 0), lab(54, 80, 67), lab(0, 0, 0)
    grid = b""
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    grid += (
                        black if k else red if c else white if not (m or y) else black
                    )
    identity = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    a2b0 = (
        b"mft2\x00\x00\x00\x00"
        + bytes([4, 3, 2, 0])
        + identity
        + struct.pack(">HH", 2, 2)
        + struct.pack(">HH", 0, 65535) * 4
        + grid
        + struct.pack(">HH", 0, 65535) * 3
    )
    text = b"cyan prints red\x00"
    desc = (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(text))
        + text
        + b"\x00" * 8
        + b"\x00\x00\x00"
        + b"\x00" * 67
    )
    d50 = s15(0.9642) + s15(1.0) + s15(0.8249)
    wtpt = b"XYZ \x00\x00\x00\x00" + d50
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"A2B0", a2b0)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\x00" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4
        + struct.pack(">I", 0x02100000)
        + b"prtrCMYKLab "
        + b"\x00" * 12
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)
        + d50
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def _cmyk_sheet() -> Image.Image:
    """Pure cyan ink on the left half, bare paper (no ink) on the right."""
    image = Image.new("CMYK", (120, 200), (0, 0, 0, 0))
    image.paste((255, 0, 0, 0), (0, 0, 60, 200))
    return image


@pytest.mark.parametrize("suffix", [".tif", ".jpg"])
def test_cmyk_goes_to_rgb_through_its_icc_profile(tmp_path: Path, suffix: str) -> None:
    profile = _cmyk_profile_cyan_prints_red()
    ImageCms.ImageCmsProfile(io.BytesIO(profile))  # LittleCMS accepts it
    path = tmp_path / f"press{suffix}"
    _cmyk_sheet().save(path, icc_profile=profile)
    prepared = prepare_image(path, PrepareSettings())
    picture = _decoded(prepared)
    assert picture.mode == "RGB"
    red, green, blue = _rgb_at(picture, 0.25, 0.5)
    assert red > 180 and green < 90 and blue < 90, "cyan must follow the profile"
    assert min(_rgb_at(picture, 0.75, 0.5)) > 230
    assert "cmyk_converted_with_profile" in prepared.flags


def test_cmyk_without_profile_is_converted_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "press.tif"
    _cmyk_sheet().save(path)
    prepared = prepare_image(path, PrepareSettings())
    assert _near(_rgb_at(_decoded(prepared), 0.25, 0.5), (0, 255, 255))
    assert "cmyk_without_profile" in prepared.flags


def test_unusable_icc_profile_is_ignored_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "odd-profile.jpg"
    _upright_sheet().save(path, icc_profile=b"not really a profile" * 8)
    prepared = prepare_image(path, PrepareSettings())
    _assert_upright(_decoded(prepared))
    assert "icc_profile_unusable" in prepared.flags


def test_srgb_profile_leaves_colours_alone(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "srgb.jpg"
    _upright_sheet().save(path, icc_profile=srgb, quality=95)
    prepared = prepare_image(path, PrepareSettings())
    assert prepared.flags == []
    assert _near(_rgb_at(_decoded(prepared), 0.2, 0.15), RED, 12)


def test_animated_gif_uses_the_first_frame(tmp_path: Path) -> None:
    path = tmp_path / "frames.gif"
    frames = [_upright_sheet(), Image.new("RGB", (120, 200), (0, 160, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    prepared = prepare_image(path, PrepareSettings())
    _assert_upright(_decoded(prepared))
    assert "multi_page:2" in prepared.flags


# --- the byte budget ---------------------------------------------------------


def test_default_budget_is_five_mib_once_base64_encoded() -> None:
    assert base64_length(PrepareSettings().max_bytes) == 5 * 1024 * 1024


def test_budget_lowers_quality_first(tmp_path: Path) -> None:
    path = _noisy_jpeg(tmp_path / "noise.jpg", (400, 400))
    at_90 = len(prepare_image(path, PrepareSettings()).data)
    budget = int(at_90 * 0.8)
    prepared = prepare_image(path, PrepareSettings(max_bytes=budget))
    assert len(prepared.data) <= budget
    assert prepared.size == (400, 400), "quality alone was enough"
    assert prepared.quality is not None and 60 <= prepared.quality < 90
    assert f"budget_quality:{prepared.quality}" in prepared.flags


def test_budget_then_shrinks_the_image(tmp_path: Path) -> None:
    path = _noisy_jpeg(tmp_path / "noise.jpg", (800, 800))
    prepared = prepare_image(path, PrepareSettings(max_bytes=40_000))
    assert len(prepared.data) <= 40_000
    assert prepared.quality == 60
    assert max(prepared.size) < 800
    assert f"budget_shrunk:{max(prepared.size)}" in prepared.flags
    assert _decoded(prepared).size == prepared.size


def test_impossible_budget_is_a_config_error(tmp_path: Path) -> None:
    path = _noisy_jpeg(tmp_path / "noise.jpg", (200, 200))
    with pytest.raises(ConfigError, match="prepare.max_bytes"):
        prepare_image(path, PrepareSettings(max_bytes=300))


# --- reading once, hashing, the cache -----------------------------------------


def test_small_file_is_read_once_and_hashed_from_memory(tmp_path: Path) -> None:
    path = tmp_path / "sheet.jpg"
    _upright_sheet().save(path)
    source = read_source(path)
    assert source.data == path.read_bytes()
    assert source.sha256 == sha256_file(path)
    assert source.size_bytes == path.stat().st_size


def test_file_above_the_hold_limit_is_hashed_in_chunks_and_decoded_from_disk(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sheet.tif"
    _upright_sheet().save(path)
    source = read_source(path, hold_limit=1000)
    assert source.data is None
    assert source.sha256 == sha256_file(path)
    _assert_upright(_decoded(prepare_source(source, PrepareSettings())))


def test_manifest_names_the_cached_image_and_its_sizes(tmp_path: Path) -> None:
    path = tmp_path / "sheet one.jpg"
    _upright_sheet((600, 1000)).save(path)
    out = tmp_path / "work" / "sheet.json"
    settings = PrepareSettings(max_edge=500)
    manifest = prepare_specimen("sheet_one", str(path), settings, tmp_path / "c", out)
    assert json.loads(out.read_text(encoding="utf-8")) == manifest
    assert manifest["status"] == "ok"
    assert manifest["sha256"] == sha256_file(path)
    assert manifest["format"] == "JPEG"
    assert manifest["original_size"] == [600, 1000]
    assert manifest["original_bytes"] == path.stat().st_size
    assert manifest["sent_size"] == [300, 500]
    assert manifest["media_type"] == "image/jpeg"
    cached = Path(manifest["prepared"])
    assert cached.is_relative_to(tmp_path / "c" / settings.key())
    assert manifest["bytes_sent"] == cached.stat().st_size
    image = load_prepared(manifest, settings)
    assert image.data == cached.read_bytes() and image.size == (300, 500)


def test_rerun_and_identical_files_reuse_the_cache_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "a.jpg"
    _upright_sheet().save(first)
    copy = tmp_path / "b.jpg"
    copy.write_bytes(first.read_bytes())
    settings = PrepareSettings()
    cache = tmp_path / "cache"
    made = prepare_specimen("a", str(first), settings, cache, tmp_path / "a.json")

    def no_decoding(*args: object) -> None:
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr("herbarium_dwc.images.decode", no_decoding)
    again = prepare_specimen("a", str(first), settings, cache, tmp_path / "a2.json")
    twin = prepare_specimen("b", str(copy), settings, cache, tmp_path / "b.json")
    assert again == made
    assert twin["prepared"] == made["prepared"]
    assert twin["sent_size"] == made["sent_size"]
    assert twin["flags"] == made["flags"]


def test_other_settings_get_their_own_cache_entry(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    _upright_sheet((600, 1000)).save(path)
    cache = tmp_path / "cache"
    small = prepare_specimen(
        "a", str(path), PrepareSettings(max_edge=200), cache, tmp_path / "1.json"
    )
    large = prepare_specimen(
        "a", str(path), PrepareSettings(max_edge=800), cache, tmp_path / "2.json"
    )
    assert small["prepared"] != large["prepared"]
    assert (small["sent_size"], large["sent_size"]) == ([120, 200], [480, 800])


def test_half_written_cache_entry_is_prepared_again(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    _upright_sheet().save(path)
    cache = tmp_path / "cache"
    settings = PrepareSettings()
    made = prepare_specimen("a", str(path), settings, cache, tmp_path / "1.json")
    Path(made["prepared"]).write_bytes(b"\xff\xd8 cut")
    again = prepare_specimen("a", str(path), settings, cache, tmp_path / "2.json")
    assert again["bytes_sent"] == made["bytes_sent"]
    assert Path(made["prepared"]).stat().st_size == made["bytes_sent"]


def test_failed_preparation_writes_a_failed_manifest(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not an image", encoding="utf-8")
    out = tmp_path / "notes.json"
    manifest = prepare_specimen("notes", str(path), PrepareSettings(), tmp_path, out)
    assert manifest["status"] == "failed"
    assert manifest["failure"]["kind"] == "unsupported_format"
    assert manifest["sha256"] == sha256_file(path)
    assert json.loads(out.read_text(encoding="utf-8"))["status"] == "failed"


def test_stage_command_writes_the_manifest_and_exits_zero_even_for_bad_files(
    tmp_path: Path,
) -> None:
    good = tmp_path / "Åsa 01.jpg"
    _upright_sheet((600, 1000)).save(good)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture", encoding="utf-8")
    for sid, path in (("Asa_01", good), ("notes", bad)):
        out = tmp_path / f"{sid}.json"
        code = prepare_main(
            ["--specimen-id", sid, "--source", str(path), "--cache",
             str(tmp_path / "cache"), "--out", str(out), "--max-edge", "500"]
        )  # fmt: skip
        assert code == 0
        manifest = json.loads(out.read_text(encoding="utf-8"))
        assert manifest["specimen_id"] == sid
    assert json.loads((tmp_path / "Asa_01.json").read_text())["sent_size"] == [300, 500]
    assert json.loads((tmp_path / "notes.json").read_text())["status"] == "failed"


def test_stage_command_stops_on_a_budget_no_image_can_meet(tmp_path: Path) -> None:
    path = _noisy_jpeg(tmp_path / "noise.jpg", (200, 200))
    out = tmp_path / "noise.json"
    code = prepare_main(
        ["--specimen-id", "noise", "--source", str(path), "--cache",
         str(tmp_path / "cache"), "--out", str(out), "--max-bytes", "300"]
    )  # fmt: skip
    assert code == 2
    assert not out.exists()


# --- through the whole workflow ---------------------------------------------------


@pytest.mark.workflow
def test_workflow_prepares_every_real_file_or_fails_it_clearly(
    workflow: Workflow, tmp_path: Path
) -> None:
    images = tmp_path / "images"
    images.mkdir()
    _upright_sheet().save(images / "Herbier Zürich – Åsa Ñúñez 01.jpg")
    Image.fromarray(_sheet_16bit()).save(images / "scan16.tif")
    _heic(images / "phone.heic", _upright_sheet())
    pages = [Image.new("RGB", (120, 200), (0, 160, 0))]
    _upright_sheet().save(images / "pages.tif", save_all=True, append_images=pages)
    (images / "empty.jpg").write_bytes(b"")
    (images / "notes.jpg").write_text("a text file, not a picture", encoding="utf-8")
    (images / "report.tif").write_bytes(b"%PDF-1.4\n1 0 obj\n")
    whole = _noisy_jpeg(tmp_path / "whole.jpg", (600, 800)).read_bytes()
    (images / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    os.symlink(images / "gone.jpg", images / "dangling.jpg")
    config = {"images": str(images), "engine": "noop", "truth": ""}
    workflow.run(config=config)
    folder = workflow.root / "results" / "specimens" / "noop-noop-none"
    records = {path.stem: read_record(path) for path in folder.glob("*.json")}
    outcome = {
        sid: (r.status, r.failure.kind if r.failure else None)
        for sid, r in records.items()
    }
    assert outcome == {
        "Herbier_Zurich_Asa_Nunez_01": ("ok", None),
        "scan16": ("ok", None),
        "phone": ("ok", None),
        "pages": ("ok", None),
        "empty": ("failed", "image_corrupt"),
        "notes": ("failed", "unsupported_format"),
        "report": ("failed", "unsupported_format"),
        "truncated": ("failed", "image_corrupt"),
        "dangling": ("failed", "image_corrupt"),
    }
    named = records["Herbier_Zurich_Asa_Nunez_01"].image
    assert named.source.endswith("Herbier Zürich – Åsa Ñúñez 01.jpg")
    assert named.original_size == (120, 200) and named.sent_size == (120, 200)
    assert named.bytes_sent and named.original_bytes
    assert "multi_page:2" in records["pages"].image.flags
    assert "high_bit_depth_scaled:4000-40000" in records["scan16"].image.flags
    for sid, record in records.items():
        if record.failure:
            assert (
                sid in record.failure.message or "report.tif" in record.failure.message
            )

    # A rerun after losing one record prepares it again from the cache.
    (folder / "scan16.json").unlink()
    workflow.run(config=config)
    log = (workflow.root / "logs" / "prepare_image" / "scan16.log").read_text()
    assert "reused from the cache" in log
    assert read_record(folder / "scan16.json").status == "ok"


def test_large_progressive_jpeg_warns_about_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "progressive.jpg"
    _upright_sheet((600, 1000)).save(path, progressive=True)
    monkeypatch.setattr("herbarium_dwc.images._decode._PROGRESSIVE_WARN_PIXELS", 1000)
    with caplog.at_level(logging.WARNING, logger="herbarium_dwc"):
        prepared = prepare_image(path, PrepareSettings(max_edge=300))
    assert "progressive JPEG" in caplog.text
    _assert_upright(_decoded(prepared))


def test_large_image_without_reduced_decoding_warns_about_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scan.tif"
    _upright_sheet((600, 1000)).save(path)
    monkeypatch.setattr("herbarium_dwc.images._decode._LARGE_WARN_PIXELS", 1000)
    with caplog.at_level(logging.WARNING, logger="herbarium_dwc"):
        prepare_image(path, PrepareSettings(max_edge=300))
    assert "TIFF of 0 megapixels is decoded in full, about 1 MB" in caplog.text
