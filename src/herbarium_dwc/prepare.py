"""The prepare stage: one image file in, a small manifest JSON out.

The workflow runs this module once per specimen (``python -m
herbarium_dwc.prepare``, see rules/prepare.smk). It imports only the image
package, so a job spends its time on the image and not on start-up: a
Snakemake ``script:`` job costs about a second more per specimen, which for a
0.1-second image was most of the stage.

The manifest names the prepared JPEG in the cache and what was learnt about
the source; later stages read it with :func:`load_prepared`. A file that
cannot be used gives a manifest with ``status: failed`` and the failure, so
the extract stage writes a ``failed`` record and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from herbarium_dwc.errors import ConfigError, SpecimenError
from herbarium_dwc.images import (
    PreparedCache,
    PreparedImage,
    PrepareSettings,
    prepare_image,
    prepare_source,
    read_source,
    write_bytes_atomic,
)

logger = logging.getLogger(__name__)


def prepare_specimen(
    specimen_id: str,
    source: str,
    settings: PrepareSettings,
    cache_dir: str | Path,
    out: str | Path,
) -> dict[str, Any]:
    """Prepare one image and write its manifest (never raises for bad images).

    The file is read and hashed once; when the cache under ``cache_dir``
    already holds a prepared image for that content and these settings, it is
    reused without decoding anything. Otherwise the image is prepared and
    stored there, so identical files, reruns and later stages share it.

    :param specimen_id: the specimen's id, for the manifest and log lines.
    :param source: the image file.
    :param settings: the size and byte budget.
    :param cache_dir: the prepared-image cache folder.
    :param out: the manifest JSON to write (atomically).
    :raises ConfigError: ``settings.max_bytes`` is too small for any image.
    :returns: the manifest written to ``out``.

    >>> prepare_specimen("NY01", "scans/NY01.jpg", PrepareSettings(),
    ...                  "results/cache/prepared", "results/work/prepared/NY01.json")
    """
    manifest: dict[str, Any] = {"specimen_id": specimen_id, "source": source}
    cache = PreparedCache(cache_dir)
    try:
        read = read_source(source)
        manifest.update(sha256=read.sha256, original_bytes=read.size_bytes)
        prepared = cache.get(read.sha256, settings)
        if prepared is None:
            prepared = cache.put(prepare_source(read, settings), settings)
        else:
            logger.info("%s: prepared image reused from the cache", specimen_id)
    except SpecimenError as exc:
        logger.warning("%s: %s", specimen_id, exc.message)
        manifest.update(
            status="failed", failure={"kind": exc.kind, "message": exc.message}
        )
    else:
        manifest.update(
            status="ok",
            sha256=prepared.sha256,
            format=prepared.source_format,
            original_size=list(prepared.original_size),
            original_bytes=prepared.original_bytes,
            sent_size=list(prepared.size),
            bytes_sent=len(prepared.data),
            quality=prepared.quality,
            media_type=prepared.media_type,
            flags=prepared.flags,
            prepared=str(cache.image_path(prepared.sha256, settings)),
            settings=settings.key(),
        )
    text = json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
    write_bytes_atomic(Path(out), text.encode("utf-8"))
    return manifest


def load_prepared(manifest: dict[str, Any], settings: PrepareSettings) -> PreparedImage:
    """Return the prepared image a manifest names, preparing it again if the
    cached file was removed.

    :param manifest: what :func:`prepare_specimen` wrote (status ``ok``).
    :param settings: the budget, used only to prepare the image again.
    :raises ImageError: the cached file is gone and the source cannot be
        prepared any more.

    >>> image = load_prepared(json.load(open("NY01.json")), PrepareSettings())
    """
    cached = Path(manifest["prepared"])
    if cached.exists():
        width, height = manifest["sent_size"]
        original_width, original_height = manifest["original_size"]
        return PreparedImage(
            data=cached.read_bytes(),
            media_type=manifest["media_type"],
            size=(int(width), int(height)),
            original_size=(int(original_width), int(original_height)),
            source_format=manifest.get("format"),
            sha256=manifest["sha256"],
            flags=list(manifest.get("flags", [])),
            original_bytes=manifest.get("original_bytes"),
            quality=manifest.get("quality"),
        )
    logger.info("prepared image %s is gone; preparing it again", cached)
    return prepare_image(manifest["source"], settings)


def _parser() -> argparse.ArgumentParser:
    defaults = PrepareSettings()
    parser = argparse.ArgumentParser(
        prog="python -m herbarium_dwc.prepare",
        description="Prepare one specimen image and write its manifest JSON.",
    )
    parser.add_argument("--specimen-id", required=True)
    parser.add_argument("--source", required=True, help="the image file")
    parser.add_argument("--cache", required=True, help="prepared-image cache folder")
    parser.add_argument("--out", required=True, help="manifest JSON to write")
    parser.add_argument("--max-edge", type=int, default=defaults.max_edge)
    parser.add_argument("--max-bytes", type=int, default=defaults.max_bytes)
    parser.add_argument("--quality", type=int, default=defaults.quality)
    parser.add_argument("--min-quality", type=int, default=defaults.min_quality)
    parser.add_argument("--max-pixels", type=int, default=defaults.max_pixels)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stage for one specimen; log lines go to standard error.

    :returns: 0 when a manifest was written (``ok`` or ``failed``), 2 when
        the settings cannot work for any image.

    >>> main(["--specimen-id", "NY01", "--source", "NY01.jpg",
    ...       "--cache", "cache", "--out", "NY01.json"])
    0
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = PrepareSettings(
        max_edge=args.max_edge,
        max_bytes=args.max_bytes,
        quality=args.quality,
        min_quality=args.min_quality,
        max_pixels=args.max_pixels,
    )
    try:
        prepare_specimen(args.specimen_id, args.source, settings, args.cache, args.out)
    except ConfigError as exc:
        logger.error("configuration problem: %s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
