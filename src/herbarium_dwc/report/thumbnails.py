"""Small JPEG previews of specimen images, embedded in the report as data URIs."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

from PIL import Image, ImageOps

# Importing images applies the project's decoder settings (pixel limit, and
# any extra format plug-ins registered there).
from herbarium_dwc import images as _images  # noqa: F401

logger = logging.getLogger(__name__)


def thumbnail_data_uri(
    path: str | Path, edge: int = 240, quality: int = 70
) -> str | None:
    """Return a ``data:image/jpeg;base64,...`` preview of an image, or None.

    JPEGs are decoded at reduced scale (Pillow's draft mode), so a 20 MB
    sheet costs tens of milliseconds, not a full decode.

    :param path: the specimen's image (``image.source`` of its record).
    :param edge: the preview's long edge in pixels.
    :param quality: JPEG quality of the preview.
    :returns: the data URI; None when the file is missing or unreadable
        (the page then says "no preview").

    >>> thumbnail_data_uri("resources/demo/images/demo-0001.jpg")[:23]
    'data:image/jpeg;base64,'
    """
    try:
        with Image.open(path) as image:
            image.draft("RGB", (edge * 2, edge * 2))
            upright = ImageOps.exif_transpose(image) or image
            upright.thumbnail((edge, edge))
            buffer = io.BytesIO()
            upright.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        logger.info("no preview of %s: %s", path, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
