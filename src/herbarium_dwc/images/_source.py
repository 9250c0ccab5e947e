"""Reading an image file from disk: checks, one read, the content hash.

The file is read once. Files up to :data:`HOLD_LIMIT` bytes (every JPEG a
camera or sheet scanner makes) stay in memory, so the hash and the decoder
share that single read. Larger files, typically uncompressed TIFF scans of a
gigabyte or more, are hashed in chunks and decoded from disk, so memory stays
bounded at the price of a second pass (served by the page cache).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from herbarium_dwc.errors import FailureKind, ImageError

logger = logging.getLogger(__name__)

HOLD_LIMIT = 64 * 1024 * 1024
"""Files up to this many bytes are held in memory for hashing and decoding."""

_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    """An image file that exists, is not empty, and has been hashed.

    :param path: the file as named in the specimen table.
    :param sha256: hex SHA-256 of the file's bytes.
    :param size_bytes: the file's length in bytes.
    :param data: the whole file when it is at most :data:`HOLD_LIMIT` bytes,
        otherwise None (decode from ``path``).
    """

    path: Path
    sha256: str
    size_bytes: int
    data: bytes | None = None


def sha256_file(path: str | Path, chunk: int = _CHUNK) -> str:
    """Return the hex SHA-256 of a file, read in chunks.

    :param path: the file to hash.
    :param chunk: how many bytes to read at a time.
    :raises OSError: the file cannot be read.

    >>> sha256_file("sheet.jpg")[:8]
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _unreadable(path: Path, exc: OSError) -> ImageError:
    if isinstance(exc, PermissionError):
        detail = "permission denied; make the file readable by this user"
    else:
        detail = f"{exc.strerror or exc}; check the disk or copy the file again"
    return ImageError(FailureKind.image_corrupt, f"{path}: cannot be read ({detail})")


def read_source(path: str | Path, hold_limit: int = HOLD_LIMIT) -> SourceFile:
    """Check that an image file can be read, read it once and hash it.

    :param path: the image file.
    :param hold_limit: files up to this size are kept in memory.
    :raises ImageError: kind ``image_corrupt`` when the file is missing, a
        broken symbolic link, empty, a folder or unreadable.

    >>> source = read_source("scans/NY 0012 Quercus robur.jpg")
    >>> source.sha256[:8], source.size_bytes
    """
    source = Path(path)
    if not os.path.lexists(source):
        raise ImageError(
            FailureKind.image_corrupt,
            f"{source}: file not found; check the images setting or the manifest",
        )
    if source.is_symlink() and not source.exists():
        target = os.readlink(source)
        raise ImageError(
            FailureKind.image_corrupt,
            f"{source}: symbolic link to {target}, which does not exist; point "
            "the link at the image or remove it",
        )
    try:
        # Checked before opening: opening a named pipe would wait forever.
        if not stat.S_ISREG(os.stat(source).st_mode):
            kind = "a folder" if source.is_dir() else "not a regular file"
            raise ImageError(
                FailureKind.image_corrupt,
                f"{source}: {kind}, not an image file; name the image itself",
            )
        with open(source, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_size == 0:
                raise ImageError(
                    FailureKind.image_corrupt,
                    f"{source}: file is empty (0 bytes); copy the image again from "
                    "its source",
                )
            digest = hashlib.sha256()
            if info.st_size <= hold_limit:
                whole = handle.read()
                digest.update(whole)
                data: bytes | None = whole
                size = len(whole)
            else:
                data = None
                size = 0
                while block := handle.read(_CHUNK):
                    digest.update(block)
                    size += len(block)
    except OSError as exc:
        raise _unreadable(source, exc) from exc
    return SourceFile(
        path=source, sha256=digest.hexdigest(), size_bytes=size, data=data
    )


# File signatures of things that end up in image folders but are not images
# this tool reads, with what to do about each. HEIF is sniffed separately
# because it depends on the optional plugin.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document; export its pages as JPEG or TIFF images"),
    (b"PK\x03\x04", "a ZIP archive or Office document; unpack the images from it"),
    (b"8BPS", "a Photoshop document; save a flattened JPEG or TIFF copy"),
    (b"\x1f\x8b", "a gzip archive; unpack it first"),
    (b"Rar!", "a RAR archive; unpack it first"),
    (b"7z\xbc\xaf", "a 7-Zip archive; unpack it first"),
)
_HEIF_BRANDS = frozenset(
    {
        b"heic",
        b"heix",
        b"hevc",
        b"hevx",
        b"heim",
        b"heis",
        b"hevm",
        b"hevs",
        b"mif1",
        b"msf1",
    }
)


def is_heif(head: bytes) -> bool:
    """True when ``head`` (the file's first bytes) starts an HEIC/HEIF file."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return False
    brands = {head[8:12]}
    box_end = min(len(head), int.from_bytes(head[:4], "big"))
    brands.update(head[i : i + 4] for i in range(16, box_end - 3, 4))
    return bool(brands & _HEIF_BRANDS) and b"avif" not in brands


def describe_unknown(head: bytes) -> str:
    """Say what a file that no image decoder accepted seems to be.

    :param head: the first bytes of the file (a few hundred are plenty).
    :returns: a phrase such as ``"a PDF document; export its pages ..."``.
    """
    for signature, description in _SIGNATURES:
        if head.startswith(signature):
            return description
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML), perhaps a failed download; download the image again"
    if text.startswith((b"<?xml", b"<svg")):
        return "an XML or SVG file; export a JPEG, PNG or TIFF image instead"
    # Text has no control bytes other than tab, line feed and carriage return.
    if not any(byte < 32 and byte not in (9, 10, 13) for byte in head):
        return "a text file, not an image; check that the right file was named"
    return (
        "not an image format this tool reads (it starts with bytes "
        f"{head[:8].hex(' ')}); convert it to JPEG, PNG or TIFF"
    )
