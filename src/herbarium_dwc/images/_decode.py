"""Decoding: an image file to an upright 8-bit picture no larger than needed.

The expensive part of preparing a sheet is decoding it, so the decoder never
makes more pixels than the engine will see. JPEG files (nearly every camera
and sheet scanner) are decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself
(draft mode), which is both faster and far smaller in memory than a full
decode; other formats are decoded in full and then shrunk in two steps (an
integer box reduction, then Lanczos). Colour conversion, bit-depth scaling
and rotation all happen after shrinking, on the few pixels that are left.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from PIL import Image, ImageFile, UnidentifiedImageError

from herbarium_dwc.errors import FailureKind, ImageError
from herbarium_dwc.images._colour import to_display
from herbarium_dwc.images._source import SourceFile, describe_unknown, is_heif

logger = logging.getLogger(__name__)

ALLOWED_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "GIF", "BMP", "AVIF")
"""Pillow formats accepted (those this Pillow build has); HEIF joins them when
pillow-heif is installed. JPEG includes the MPO files of many phones (a JPEG
with extra preview frames), which Pillow opens through its JPEG plugin."""

# Formats whose extra frames are further pages a person may need to see. An
# MPO's extra frames are previews or depth maps and a HEIF's are thumbnails or
# bursts, so those are not flagged.
_PAGED_FORMATS = frozenset({"TIFF", "GIF", "WEBP"})
_DRAFT_FORMATS = frozenset({"JPEG", "MPO"})

# Leading bytes of formats this tool reads: a file that starts like one of
# them but cannot be identified is damaged, not of another format.
_IMAGE_SIGNATURES = (
    b"\xff\xd8\xff",
    b"\x89PNG",
    b"II*\x00",
    b"MM\x00*",
    b"GIF8",
    b"BM",
)

# Pillow transpose operations that undo each EXIF orientation (2 to 8).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112

# Pillow's decompression-bomb limit is a process-wide setting; this lock keeps
# two threads from setting it to different values while they open files.
_OPEN_LOCK = threading.Lock()
_heif_registered = False


@dataclass
class DecodedImage:
    """An upright L or RGB image whose long edge is at most the budget.

    :param image: the pixels, mode ``L`` (greyscale sources) or ``RGB``.
    :param source_format: Pillow's name for the file format, e.g. ``JPEG``.
    :param original_size: the source's size in pixels, upright (width and
        height swapped when EXIF orientation turns the picture on its side).
    :param flags: what the decoder noticed that a reader of the record should
        know (see the package docstring for the vocabulary).
    """

    image: Image.Image
    source_format: str
    original_size: tuple[int, int]
    flags: list[str] = field(default_factory=list)


def heif_plugin_available() -> bool:
    """Register pillow-heif's HEIC/HEIF opener if the package is installed.

    :returns: False when pillow-heif cannot be imported.
    """
    global _heif_registered
    try:
        import pillow_heif
    except ImportError:
        return False
    if not _heif_registered:
        pillow_heif.register_heif_opener()
        _heif_registered = True
    return True


def readable_formats(heif: bool = True) -> list[str]:
    """The Pillow format names this tool opens, in the order Pillow tries them.

    :param heif: include HEIF if pillow-heif is installed. Importing it takes
        about 0.1 s, a tenth of a sheet's time, so callers that know the file
        is no HEIF pass False.

    >>> readable_formats()[:3]
    ['JPEG', 'PNG', 'TIFF']
    """
    Image.init()
    extra = ["HEIF"] if heif and heif_plugin_available() else []
    return [name for name in (*ALLOWED_FORMATS, *extra) if name in Image.OPEN]


def target_size(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    """Return ``size`` scaled so that its long edge is at most ``max_edge``.

    >>> target_size((3744, 5616), 2048)
    (1365, 2048)
    """
    width, height = size
    longest = max(width, height)
    if longest <= max_edge:
        return size
    scale = max_edge / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


@contextmanager
def _bomb_limit(max_pixels: int) -> Iterator[None]:
    """Let Pillow refuse, while opening, exactly what ``max_pixels`` refuses.

    Pillow only warns between its limit and twice its limit; turning that
    warning into an error makes the configured limit the one that holds.
    """
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _too_large(source: SourceFile, detail: str, max_pixels: int) -> ImageError:
    return ImageError(
        FailureKind.unsupported_format,
        f"{source.path}: {detail}, more than the prepare.max_pixels limit of "
        f"{max_pixels:,}; if this is a real scan, raise prepare.max_pixels",
    )


def _stream(source: SourceFile) -> IO[bytes]:
    if source.data is not None:
        return io.BytesIO(source.data)
    return open(source.path, "rb")  # noqa: SIM115 - the caller closes it


def decode(source: SourceFile, max_edge: int, max_pixels: int) -> DecodedImage:
    """Decode an image file into an upright picture within ``max_edge``.

    :param source: the file, read and hashed by
        :func:`~herbarium_dwc.images.read_source`.
    :param max_edge: the long edge, in pixels, of the result.
    :param max_pixels: the largest source (width times height) accepted.
    :raises ImageError: ``unsupported_format`` for a file that is no image
        this tool reads (with the HEIF plugin's install command when that is
        what is missing) or is larger than ``max_pixels``; ``image_corrupt``
        for a damaged or cut-short file.

    >>> decoded = decode(read_source("sheet.jpg"), 2048, 400_000_000)
    >>> decoded.image.size, decoded.flags
    """
    formats = readable_formats(heif=is_heif(_head(source)))
    with _stream(source) as stream:
        image = _open(stream, source, formats, max_pixels)
        with image:
            try:
                return _decode_opened(image, source, max_edge, max_pixels)
            except (ImageError, MemoryError):
                raise
            except Exception as exc:  # truncated data, bad strips, codec errors
                raise _damaged(source, exc) from exc


def _open(
    stream: IO[bytes], source: SourceFile, formats: list[str], max_pixels: int
) -> ImageFile.ImageFile:
    try:
        with _bomb_limit(max_pixels):
            return Image.open(stream, formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(source, str(exc).split(",")[0], max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise _unidentified(source, "HEIF" in formats) from exc
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's plugins raise many types on bad headers
        raise _damaged(source, exc) from exc


def _damaged(source: SourceFile, exc: BaseException) -> ImageError:
    return ImageError(
        FailureKind.image_corrupt,
        f"{source.path}: image cannot be decoded ({exc}); the file is damaged or "
        "incomplete: copy it again from its source or re-export it",
    )


def _head(source: SourceFile, count: int = 512) -> bytes:
    if source.data is not None:
        return source.data[:count]
    with open(source.path, "rb") as handle:
        return handle.read(count)


def _pillow_format(source: SourceFile) -> str | None:
    """Name the format when Pillow knows it but this tool does not read it."""
    stream = _stream(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(stream) as image:
                return image.format
    except Exception:  # anything Pillow cannot even name is simply unknown
        return None
    finally:
        stream.close()


def _unidentified(source: SourceFile, heif_available: bool) -> ImageError:
    head = _head(source)
    if is_heif(head):
        if heif_available:
            return ImageError(
                FailureKind.image_corrupt,
                f"{source.path}: HEIC/HEIF file that the HEIF decoder cannot read; "
                "export it again from the phone or convert it to JPEG",
            )
        return ImageError(
            FailureKind.unsupported_format,
            f"{source.path}: HEIC/HEIF image, and the HEIF plugin is not "
            "installed; run `pip install pillow-heif` or convert it to JPEG",
        )
    if head.startswith(_IMAGE_SIGNATURES) or head[8:12] == b"WEBP":
        return ImageError(
            FailureKind.image_corrupt,
            f"{source.path}: starts like an image but its header is damaged or "
            "cut short; copy it again from its source or re-export it",
        )
    name = _pillow_format(source)
    if name:
        return ImageError(
            FailureKind.unsupported_format,
            f"{source.path}: {name} image, a format this tool does not read; "
            "convert it to JPEG, PNG or TIFF",
        )
    return ImageError(
        FailureKind.unsupported_format, f"{source.path}: {describe_unknown(head)}"
    )


def _orientation(image: Image.Image, source: SourceFile) -> int:
    value = image.getexif().get(_ORIENTATION_TAG, 1)
    if value in _UPRIGHT or value == 1:
        return int(value)
    logger.warning("%s: EXIF orientation %r is not 1 to 8; ignored", source.path, value)
    return 1


def _is_high_bit(image: Image.Image) -> bool:
    """True for sources with more than 8 bits per sample.

    Pillow opens 16-bit greyscale as mode ``I;16`` and 16-bit colour as
    ``RGB`` holding each sample's high byte; the tile's raw mode tells them
    apart from true 8-bit files.
    """
    if image.mode.startswith("I") or image.mode == "F":
        return True
    for tile in getattr(image, "tile", None) or []:
        args = tile[3]
        rawmode = args if isinstance(args, str) else None
        if isinstance(args, tuple) and args and isinstance(args[0], str):
            rawmode = args[0]
        if rawmode and ";16" in rawmode:
            return True
    return False


# Images above this many pixels that cannot be decoded at reduced size (a
# progressive JPEG, any other format) get a warning about memory.
_PROGRESSIVE_WARN_PIXELS = 50_000_000
_LARGE_WARN_PIXELS = 50_000_000


def _reduce_while_decoding(
    image: Image.Image, target: tuple[int, int], source: SourceFile
) -> None:
    pixels = image.width * image.height
    if image.format not in _DRAFT_FORMATS:
        if pixels > _LARGE_WARN_PIXELS:
            # Known shortcoming (see the package docstring): no reduced-size
            # decoder for this format, so the whole picture is held at once.
            per_sample = 4 if image.mode in ("I", "F") else 1
            per_sample = 2 if image.mode.startswith("I;16") else per_sample
            megabytes = pixels * len(image.getbands()) * per_sample // 1_000_000
            logger.warning(
                "%s: %s of %d megapixels is decoded in full, about %d MB",
                source.path,
                image.format,
                pixels // 1_000_000,
                megabytes,
            )
        return
    if image.info.get("progressive") and pixels > _PROGRESSIVE_WARN_PIXELS:
        # Known shortcoming: libjpeg must hold every DCT coefficient of a
        # progressive JPEG until the last scan, so even a reduced decode
        # needs about 3 bytes per pixel (a 280-megapixel sheet: some 900 MB
        # against 125 MB for a baseline JPEG). Pillow offers no way around
        # it; re-saving such scans as baseline JPEG or TIFF does.
        logger.warning(
            "%s: progressive JPEG of %d megapixels; decoding needs about %d MB",
            source.path,
            pixels // 1_000_000,
            pixels * 3 // 1_000_000,
        )
    if target != image.size:
        before = image.size
        image.draft(image.mode, target)
        if image.size != before:
            logger.info(
                "%s: decoding at %dx%d instead of %dx%d (JPEG draft)",
                source.path,
                *image.size,
                *before,
            )


def _decode_opened(
    image: Image.Image, source: SourceFile, max_edge: int, max_pixels: int
) -> DecodedImage:
    width, height = image.size
    if width * height > max_pixels:
        detail = f"{width}x{height} is {width * height:,} pixels"
        raise _too_large(source, detail, max_pixels)
    source_format = image.format or "unknown"
    # The tile list, which tells 16-bit colour apart, is gone once anything
    # loads the pixels (reading a PNG's EXIF does), so look at it first.
    high_bit = _is_high_bit(image)
    flags: list[str] = []
    pages = int(getattr(image, "n_frames", 1))
    if pages > 1 and source_format in _PAGED_FORMATS:
        flags.append(f"multi_page:{pages}")
        logger.warning(
            "%s: %d pages or frames; only the first is prepared", source.path, pages
        )
    declared = _orientation(image, source)
    # Sizes before loading are in the orientation the loaded pixels will have.
    target = target_size(image.size, max_edge)
    _reduce_while_decoding(image, target, source)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Truncated loading paints the missing part of a sheet grey, label
        # included, and the record would look fine: a cut file must fail.
        logger.warning("Pillow's LOAD_TRUNCATED_IMAGES was on; turning it off")
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    image.load()
    # Some decoders (recent Pillow for TIFF) turn the picture upright while
    # loading and drop the tag; only what is left is still to be done.
    remaining = _orientation(image, source) if declared != 1 else 1
    picture = to_display(image, target, high_bit, flags, source)
    if remaining != 1:
        picture = picture.transpose(_UPRIGHT[remaining])
    if declared != 1:
        flags.append(f"exif_orientation:{declared}")
    upright = (height, width) if remaining >= 5 else (width, height)
    return DecodedImage(picture, source_format, upright, flags)
