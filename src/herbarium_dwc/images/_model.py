"""The settings and the result of image preparation."""

from __future__ import annotations

from dataclasses import dataclass, field

PIPELINE_VERSION = 2
"""Bump when a change makes prepared images differ, so caches are not reused."""

# 5 MiB of base64, the most some providers accept for one image, holds
# 5 MiB * 3 / 4 bytes of JPEG.
_FIVE_MIB_AS_BASE64 = 5 * 1024 * 1024 * 3 // 4


@dataclass(frozen=True)
class PrepareSettings:
    """What an engine should be sent.

    :param max_edge: the long edge in pixels after resizing.
    :param max_bytes: the largest JPEG in bytes; the default is 5 MiB once
        base64-encoded, the most some providers accept.
    :param quality: the first JPEG quality tried.
    :param min_quality: the lowest quality tried before the image shrinks.
    :param max_pixels: the largest source (width times height) accepted; the
        decompression-bomb limit. 400 million holds a 1200-dpi scan of a
        whole herbarium sheet (about 280 million) with room to spare.
    """

    max_edge: int = 2048
    max_bytes: int = _FIVE_MIB_AS_BASE64
    quality: int = 90
    min_quality: int = 60
    max_pixels: int = 400_000_000

    def key(self) -> str:
        """A short string naming the settings that shape the output, for the
        cache folder (``max_pixels`` only decides whether a file fails)."""
        return (
            f"v{PIPELINE_VERSION}-e{self.max_edge}-b{self.max_bytes}"
            f"-q{self.quality}-m{self.min_quality}"
        )


@dataclass
class PreparedImage:
    """A prepared image and what was learnt about its source.

    :param data: the encoded image an engine is sent.
    :param media_type: its MIME type (``image/jpeg``).
    :param size: its width and height in pixels.
    :param original_size: the source's upright width and height.
    :param source_format: Pillow's name of the source format, e.g. ``TIFF``.
    :param sha256: hex SHA-256 of the source file.
    :param flags: what preparation noticed (see the module docstring).
    :param original_bytes: the source file's length in bytes.
    :param quality: the JPEG quality of ``data``.
    """

    data: bytes
    media_type: str
    size: tuple[int, int]
    original_size: tuple[int, int]
    source_format: str | None
    sha256: str
    flags: list[str] = field(default_factory=list)
    original_bytes: int | None = None
    quality: int | None = None
