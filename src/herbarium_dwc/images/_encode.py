"""Encoding: a decoded picture to a JPEG that fits the engine's byte budget."""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field

from PIL import Image

from herbarium_dwc.errors import ConfigError

logger = logging.getLogger(__name__)

QUALITY_STEP = 10
"""How far JPEG quality drops per attempt while the image is too large."""

MIN_EDGE = 64
"""The smallest long edge the budget loop shrinks an image to."""


@dataclass
class EncodedImage:
    """A JPEG within budget and how it was reached.

    :param data: the JPEG bytes.
    :param size: its width and height in pixels.
    :param quality: the JPEG quality used.
    :param flags: ``budget_quality:Q`` when quality had to drop below the
        first one tried, ``budget_shrunk:EDGE`` when the image had to shrink.
    """

    data: bytes
    size: tuple[int, int]
    quality: int
    flags: list[str] = field(default_factory=list)


def base64_length(size: int) -> int:
    """Return how many characters ``size`` bytes take once base64-encoded.

    >>> base64_length(3_932_160)
    5242880
    """
    return 4 * ((size + 2) // 3)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    # No EXIF, ICC or comment is copied: the pixels are already upright sRGB
    # (or grey), so the engine needs nothing else. optimize=True would save
    # about 1 % of bytes for 40 % more encoding time.
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _shrunk(image: Image.Image, long_edge: int) -> Image.Image:
    width, height = image.size
    scale = long_edge / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def encode_within_budget(
    image: Image.Image, max_bytes: int, quality: int, min_quality: int
) -> EncodedImage:
    """Encode ``image`` as JPEG of at most ``max_bytes`` bytes.

    Quality steps down by :data:`QUALITY_STEP` from ``quality`` to
    ``min_quality``; if the image still does not fit, its long edge shrinks
    (each step by the square root of the overshoot, since bytes grow with the
    pixel count) until it does.

    :param image: an L or RGB picture.
    :param max_bytes: the largest JPEG accepted, in bytes.
    :param quality: the first JPEG quality tried (1-100).
    :param min_quality: the lowest quality tried before shrinking.
    :raises ConfigError: even a :data:`MIN_EDGE`-pixel image does not fit, so
        ``max_bytes`` is set too low for any image.

    >>> encoded = encode_within_budget(picture, 3_932_160, 90, 60)
    >>> len(encoded.data) <= 3_932_160
    True
    """
    current = image
    current_quality = quality
    long_edge = max(image.size)
    while True:
        data = _jpeg(current, current_quality)
        if len(data) <= max_bytes:
            break
        if current_quality > min_quality:
            current_quality = max(min_quality, current_quality - QUALITY_STEP)
            continue
        ratio = min(0.9, max(0.5, 0.95 * math.sqrt(max_bytes / len(data))))
        if long_edge <= MIN_EDGE:
            raise ConfigError(
                f"prepare.max_bytes={max_bytes} is too small: even a "
                f"{MIN_EDGE}-pixel JPEG at quality {min_quality} takes "
                f"{len(data)} bytes; raise prepare.max_bytes"
            )
        long_edge = max(MIN_EDGE, int(long_edge * ratio))
        current = _shrunk(image, long_edge)
    flags: list[str] = []
    if current_quality < quality:
        flags.append(f"budget_quality:{current_quality}")
    if current is not image:
        flags.append(f"budget_shrunk:{max(current.size)}")
        logger.info(
            "shrunk to %dx%d at quality %d to fit %d bytes",
            *current.size,
            current_quality,
            max_bytes,
        )
    return EncodedImage(data, current.size, current_quality, flags)
