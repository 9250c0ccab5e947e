"""Prepared images on disk, keyed by the source's content hash and the settings.

Layout: ``<root>/<settings key>/<sha[:2]>/<sha>.jpg`` plus ``<sha>.json``
holding what was learnt about the source. The JSON is written last, so an
entry whose JSON exists is complete; a rerun, the OCR stage and the API
engine all read the same file, and two specimens with identical bytes share
one entry. Nothing here is ever edited in place: entries are written to a
temporary name and renamed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from herbarium_dwc.images._model import PreparedImage, PrepareSettings
from herbarium_dwc.record import write_bytes_atomic

logger = logging.getLogger(__name__)


class PreparedCache:
    """A folder of prepared images that later stages and reruns reuse.

    :param root: the cache folder, e.g. ``results/cache/prepared``.

    >>> cache = PreparedCache("results/cache/prepared")
    >>> cached = cache.get(source.sha256, settings) or cache.put(
    ...     prepare_source(source, settings), settings)
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def image_path(self, sha256: str, settings: PrepareSettings) -> Path:
        """Where the prepared JPEG of a source with this hash lives."""
        return self.root / settings.key() / sha256[:2] / f"{sha256}.jpg"

    def get(self, sha256: str, settings: PrepareSettings) -> PreparedImage | None:
        """Return the cached image for this hash and settings, or None.

        An entry that is half there or unreadable counts as missing, so the
        image is simply prepared again.
        """
        image = self.image_path(sha256, settings)
        meta = image.with_suffix(".json")
        try:
            info: dict[str, Any] = json.loads(meta.read_text(encoding="utf-8"))
            data = image.read_bytes()
        except (OSError, ValueError):
            return None
        if len(data) != info.get("bytes_sent"):
            logger.warning("cache entry %s does not match its metadata", image)
            return None
        return PreparedImage(
            data=data,
            media_type=str(info["media_type"]),
            size=(int(info["sent_size"][0]), int(info["sent_size"][1])),
            original_size=(
                int(info["original_size"][0]),
                int(info["original_size"][1]),
            ),
            source_format=info.get("format"),
            sha256=sha256,
            flags=[str(flag) for flag in info.get("flags", [])],
            original_bytes=info.get("original_bytes"),
            quality=info.get("quality"),
        )

    def put(self, prepared: PreparedImage, settings: PrepareSettings) -> PreparedImage:
        """Store a prepared image (the JPEG first, then its metadata).

        :returns: ``prepared``, so ``get(...) or put(...)`` reads naturally.
        """
        image = self.image_path(prepared.sha256, settings)
        write_bytes_atomic(image, prepared.data)
        meta = {
            "media_type": prepared.media_type,
            "format": prepared.source_format,
            "original_size": list(prepared.original_size),
            "original_bytes": prepared.original_bytes,
            "sent_size": list(prepared.size),
            "bytes_sent": len(prepared.data),
            "quality": prepared.quality,
            "flags": prepared.flags,
            "settings": settings.key(),
        }
        write_bytes_atomic(image.with_suffix(".json"), json.dumps(meta).encode("utf-8"))
        return prepared
