"""Colour and size: a loaded image to 8-bit greyscale or RGB at its target size.

Everything here runs after decoding, and the costly conversions (bit depth,
ICC profiles, flattening) run after shrinking, on the pixels that remain.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from PIL import Image, ImageCms

from herbarium_dwc.errors import FailureKind, ImageError
from herbarium_dwc.images._source import SourceFile

logger = logging.getLogger(__name__)

_WHITE = 255


def _resize(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    if image.size == target:
        return image
    # reducing_gap first shrinks by a whole factor with a box filter, then
    # finishes with Lanczos: much faster on big images, same look. Pillow's
    # integer reduction has no 16-bit greyscale mode, so those go in one step.
    gap = None if image.mode.startswith("I;16") else 3.0
    return image.resize(target, Image.Resampling.LANCZOS, reducing_gap=gap)


def to_display(
    image: Image.Image,
    target: tuple[int, int],
    high_bit: bool,
    flags: list[str],
    source: SourceFile,
) -> Image.Image:
    """Shrink ``image`` to ``target`` and turn it into 8-bit L or RGB.

    :param image: a loaded image in any mode Pillow gives.
    :param target: the width and height wanted.
    :param high_bit: the source has more than 8 bits per sample, so its
        range is stretched to 0-255.
    :param flags: gets what was done that a reader should know.
    :param source: the file, named in log lines and errors.
    :raises ImageError: the colour mode cannot be turned into RGB.

    >>> picture = to_display(loaded, (1365, 2048), False, flags, source)
    """
    mode = image.mode
    if mode == "1":
        image = image.convert("L")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("L", "RGB") and "transparency" in image.info:
        image = image.convert("LA" if mode == "L" else "RGBA")
    elif mode in ("LAB", "HSV", "YCbCr"):
        image = _other_colour_space(image, source)
    if image.mode.startswith("I") or image.mode == "F":
        low, high = _value_range(image)
        image = _scale_grey_by_range(_resize(image, target), low, high)
        flags.append(f"high_bit_depth_scaled:{low:g}-{high:g}")
        return image
    if high_bit:
        # 16-bit colour arrives as its high bytes; stretch their range.
        low, high = (int(value) for value in _value_range(image))
        image = _stretch(_resize(image, target), low, high)
        flags.append(f"high_bit_depth_scaled:{low * 256}-{high * 256 + 255}")
    else:
        image = _resize(image, target)
    icc = image.info.get("icc_profile")
    if image.mode == "CMYK":
        return _cmyk_to_rgb(image, icc, flags, source)
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        image = _flatten(image)
        flags.append("alpha_flattened")
    if image.mode == "RGB" and icc:
        return _to_srgb(image, icc, flags, source)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return image


def _value_range(image: Image.Image) -> tuple[float, float]:
    """The lowest and highest sample over all bands."""
    extrema: Any = image.getextrema()
    pairs = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return min(float(pair[0]) for pair in pairs), max(float(pair[1]) for pair in pairs)


def _scale_grey_by_range(image: Image.Image, low: float, high: float) -> Image.Image:
    """Map ``low`` to 0 and ``high`` to 255; Pillow's own conversion clips
    16-bit values at 255, turning a scan whose paper is 40,000 all white."""
    if image.mode != "F":
        image = image.convert("F")
    span = high - low
    if span <= 0:
        return Image.new("L", image.size, 128 if high > 0 else 0)
    scale = 255.0 / span
    offset = -low * scale
    scaled = image.point(lambda value: value * scale + offset)
    return scaled.convert("L")


def _stretch(image: Image.Image, low: int, high: int) -> Image.Image:
    if high <= low or (low, high) == (0, 255):
        return image
    table = [
        min(255, max(0, round((v - low) * 255 / (high - low)))) for v in range(256)
    ]
    return image.point(table * len(image.getbands()))


def _flatten(image: Image.Image) -> Image.Image:
    """Lay a transparent image on white paper, as a sheet would be."""
    image = image.convert("LA" if image.mode in ("LA", "La") else "RGBA")
    base_mode = "L" if image.mode == "LA" else "RGB"
    paper = Image.new(
        base_mode, image.size, _WHITE if base_mode == "L" else (_WHITE,) * 3
    )
    paper.paste(image.convert(base_mode), mask=image.getchannel("A"))
    return paper


def _profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(icc))


def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _cmyk_to_rgb(
    image: Image.Image, icc: bytes | None, flags: list[str], source: SourceFile
) -> Image.Image:
    if icc:
        try:
            converted = ImageCms.profileToProfile(
                image, _profile(icc), _srgb(), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            logger.warning("%s: CMYK profile unusable (%s)", source.path, exc)
            flags.append("icc_profile_unusable")
        else:
            assert converted is not None  # profileToProfile returns a new image
            flags.append("cmyk_converted_with_profile")
            return converted
    else:
        flags.append("cmyk_without_profile")
        logger.warning(
            "%s: CMYK without an ICC profile; colours are approximate", source.path
        )
    return image.convert("RGB")


def _to_srgb(
    image: Image.Image, icc: bytes, flags: list[str], source: SourceFile
) -> Image.Image:
    """Convert RGB in another colour space (e.g. Adobe RGB scans) to sRGB."""
    try:
        profile = _profile(icc)
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return image
        converted = ImageCms.profileToProfile(image, profile, _srgb(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        logger.warning("%s: RGB profile unusable (%s); ignored", source.path, exc)
        flags.append("icc_profile_unusable")
        return image
    assert converted is not None
    return converted


def _other_colour_space(image: Image.Image, source: SourceFile) -> Image.Image:
    if image.mode == "LAB":
        lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
        converted = ImageCms.profileToProfile(image, lab, _srgb(), outputMode="RGB")
        assert converted is not None
        return converted
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageError(
            FailureKind.unsupported_format,
            f"{source.path}: colour mode {image.mode} cannot be converted to RGB "
            "here; convert the image to RGB or greyscale first",
        ) from exc
