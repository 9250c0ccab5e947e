"""Image preparation: any image file in, an upright JPEG within budget out.

Reads JPEG (and phones' MPO), PNG (alpha, palette, 16-bit), TIFF (LZW,
16-bit, multi-page), WebP, GIF, BMP, AVIF and, with the optional pillow-heif
package, HEIC/HEIF; greyscale stays greyscale, CMYK goes to sRGB through its
embedded ICC profile. EXIF orientation is applied and not carried over.
16-bit data is scaled to 8 bits by its own range. Big JPEG scans are decoded
at reduced size. The result fits a long edge and a byte budget (quality
first, then size). A file that cannot be used raises :class:`ImageError`
with kind ``image_corrupt`` or ``unsupported_format`` and a message naming
the file and the next step.

``PreparedImage.flags`` may hold:

- ``multi_page:N``: a TIFF, GIF or WebP with N pages or frames; only the
  first was prepared.
- ``exif_orientation:N``: EXIF orientation N (2-8) was applied.
- ``high_bit_depth_scaled:LOW-HIGH``: samples of more than 8 bits were mapped
  from their range LOW-HIGH to 0-255.
- ``cmyk_converted_with_profile``, ``cmyk_without_profile`` (colours are
  approximate), ``icc_profile_unusable`` (an embedded profile was ignored).
- ``alpha_flattened``: transparent parts were laid on white.
- ``budget_quality:Q``, ``budget_shrunk:EDGE``: what fitting ``max_bytes``
  took.

Known shortcomings, both about memory on very large scans:

- Only JPEG has a reduced-size decoder in Pillow. A PNG, TIFF or WebP scan is
  decoded in full before shrinking, so its peak memory is about width times
  height times bytes per pixel (a 280-megapixel 8-bit colour TIFF needs some
  850 MB); above 50 megapixels a warning names the memory it takes.
  ``max_pixels`` bounds it; decoding TIFF strips one at a time and shrinking
  each would remove it.
- A progressive JPEG needs about 3 bytes per pixel even at reduced size,
  since libjpeg keeps every coefficient until the last scan (a warning is
  logged above 50 megapixels). Baseline JPEGs, what scanners write, stay
  near 125 MB for 280 megapixels.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from herbarium_dwc.images._cache import PreparedCache
from herbarium_dwc.images._decode import (
    ALLOWED_FORMATS,
    decode,
    heif_plugin_available,
    target_size,
)
from herbarium_dwc.images._encode import base64_length, encode_within_budget
from herbarium_dwc.images._model import (
    PIPELINE_VERSION,
    PreparedImage,
    PrepareSettings,
)
from herbarium_dwc.images._source import SourceFile, read_source, sha256_file
from herbarium_dwc.record import write_bytes_atomic

__all__ = [
    "ALLOWED_FORMATS",
    "PIPELINE_VERSION",
    "PrepareSettings",
    "PreparedCache",
    "PreparedImage",
    "SourceFile",
    "base64_length",
    "heif_plugin_available",
    "prepare_image",
    "prepare_source",
    "read_source",
    "sha256_file",
    "target_size",
    "write_bytes_atomic",
]

logger = logging.getLogger(__name__)


def prepare_source(source: SourceFile, settings: PrepareSettings) -> PreparedImage:
    """Decode a file already read by :func:`read_source` and encode it in budget.

    :param source: the file and its hash.
    :param settings: the size and byte budget.
    :raises ImageError: the file is corrupt, cut short, too large or of a
        format this tool does not read.
    :raises ConfigError: ``max_bytes`` is too small for any image.

    >>> prepared = prepare_source(read_source("sheet.tif"), PrepareSettings())
    """
    started = time.perf_counter()
    decoded = decode(source, settings.max_edge, settings.max_pixels)
    encoded = encode_within_budget(
        decoded.image, settings.max_bytes, settings.quality, settings.min_quality
    )
    flags = decoded.flags + encoded.flags
    logger.info(
        "%s: %s %dx%d %d bytes -> %dx%d %d bytes q%d in %.2fs%s",
        source.path,
        decoded.source_format,
        *decoded.original_size,
        source.size_bytes,
        *encoded.size,
        len(encoded.data),
        encoded.quality,
        time.perf_counter() - started,
        f" flags={','.join(flags)}" if flags else "",
    )
    return PreparedImage(
        data=encoded.data,
        media_type="image/jpeg",
        size=encoded.size,
        original_size=decoded.original_size,
        source_format=decoded.source_format,
        sha256=source.sha256,
        flags=flags,
        original_bytes=source.size_bytes,
        quality=encoded.quality,
    )


def prepare_image(path: str | Path, settings: PrepareSettings) -> PreparedImage:
    """Read an image file and return it ready to send to an engine.

    :param path: the image file.
    :param settings: the size and byte budget.
    :raises ImageError: kind ``image_corrupt`` when the file is missing, a
        broken link, empty, cut short or damaged; ``unsupported_format`` when
        it is not an image this tool reads (the message says what to do).
    :raises ConfigError: ``max_bytes`` is too small for any image.

    >>> prepared = prepare_image("sheet.jpg", PrepareSettings(max_edge=1600))
    >>> prepared.size, len(prepared.data)
    """
    return prepare_source(read_source(path), settings)
