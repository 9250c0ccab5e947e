"""Image preparation: any image file in, an upright RGB JPEG within budget out.

The first version: decode with Pillow, apply EXIF orientation, convert to
RGB, shrink to the long-edge budget and encode as JPEG. Anything Pillow
cannot read becomes an :class:`ImageError` with a failure kind.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from herbarium_dwc.errors import FailureKind, ImageError

logger = logging.getLogger(__name__)

# Sheets scanned at 1200 dpi pass 200 megapixels; we shrink them anyway, so
# the bomb check only has to stop absurd files, not real scans.
Image.MAX_IMAGE_PIXELS = 400_000_000


@dataclass(frozen=True)
class PrepareSettings:
    """What an engine should be sent.

    :param max_edge: the long edge in pixels after resizing.
    :param max_bytes: the largest encoded JPEG, in bytes (before base64).
    :param quality: the first JPEG quality tried.
    """

    max_edge: int = 2048
    max_bytes: int = 3_900_000
    quality: int = 90

    def key(self) -> str:
        """A short string naming these settings, for cache file names."""
        return f"e{self.max_edge}-b{self.max_bytes}-q{self.quality}"


@dataclass
class PreparedImage:
    """A prepared image and what was learnt about its source."""

    data: bytes
    media_type: str
    size: tuple[int, int]
    original_size: tuple[int, int]
    source_format: str | None
    sha256: str
    flags: list[str] = field(default_factory=list)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _check_readable(path: Path) -> None:
    if not os.path.lexists(path):
        raise ImageError(
            FailureKind.image_corrupt,
            f"{path}: file not found; check the images setting or the manifest",
        )
    if not path.exists():
        raise ImageError(
            FailureKind.image_corrupt,
            f"{path}: broken symbolic link; point it at the image or remove it",
        )
    if path.stat().st_size == 0:
        raise ImageError(
            FailureKind.image_corrupt,
            f"{path}: file is empty (0 bytes); copy the image again from its source",
        )


def prepare_image(path: str | Path, settings: PrepareSettings) -> PreparedImage:
    """Read an image file and return it ready to send to an engine.

    :param path: the image file.
    :param settings: the size budget.
    :raises ImageError: the file is missing, empty, corrupt or unsupported.

    >>> prepared = prepare_image("sheet.jpg", PrepareSettings(max_edge=1600))
    """
    source = Path(path)
    _check_readable(source)
    sha = sha256_file(source)
    try:
        with Image.open(source) as image:
            source_format = image.format
            image.load()
            original_size = image.size
            upright = ImageOps.exif_transpose(image)
            rgb = upright.convert("RGB")
    except UnidentifiedImageError as exc:
        raise ImageError(
            FailureKind.unsupported_format,
            f"{source}: not an image format this tool reads; convert it to JPEG, "
            "PNG or TIFF",
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(
            FailureKind.image_corrupt,
            f"{source}: image cannot be decoded ({exc}); re-export or re-scan it",
        ) from exc
    rgb.thumbnail((settings.max_edge, settings.max_edge), Image.Resampling.LANCZOS)
    quality = settings.quality
    while True:
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=quality, optimize=True)
        if buffer.tell() <= settings.max_bytes or quality <= 40:
            break
        quality -= 10
    return PreparedImage(
        data=buffer.getvalue(),
        media_type="image/jpeg",
        size=rgb.size,
        original_size=original_size,
        source_format=source_format,
        sha256=sha,
    )
