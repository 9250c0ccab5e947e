"""The specimen table: which images exist, their stable ids, and the range.

Ids come from file names, never from list position, so adding images or
changing the range never renames a specimen. The table is built from
directory entries alone (no file is opened or hashed), so it stays fast for
100,000 images; content hashes are taken later, one job per image.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import hashlib
import logging
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from herbarium_dwc.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_EXTENSIONS = ("jpg", "jpeg", "png", "tif", "tiff", "webp", "heic", "heif")
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Specimen:
    """One row of the specimen table: a stable id and the image path."""

    specimen_id: str
    path: str


def safe_id(name: str) -> str:
    """Turn a file stem into a filesystem-safe specimen id.

    Accents are folded to ASCII, anything but letters, digits, ``.``, ``_``
    and ``-`` becomes ``_``, and the id starts with a letter or digit.

    >>> safe_id("Quercus robur (2).JPG")
    'Quercus_robur_2_.JPG'
    """
    folded = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch))
    cleaned = _UNSAFE.sub("_", ascii_only).lstrip("._-")
    return cleaned or "specimen"


def _suffix(relative: str) -> str:
    return hashlib.sha1(relative.encode("utf-8")).hexdigest()[:8]


def assign_ids(relative_paths: Iterable[str]) -> dict[str, str]:
    """Give each relative image path a unique, stable specimen id.

    The id is the safe form of the file stem. When several paths give the
    same id (compared ignoring case, as macOS and Windows file systems do),
    the first path in sorted order keeps the plain id and each other gets
    ``-`` plus eight hex digits of a hash of its relative path, so the answer
    never depends on list position or on which files are selected.

    :returns: a mapping of specimen id to relative path.
    """
    by_key: dict[str, list[str]] = {}
    for relative in sorted(relative_paths):
        stem = Path(relative).stem
        by_key.setdefault(safe_id(stem).lower(), []).append(relative)
    ids: dict[str, str] = {}
    for group in by_key.values():
        first = group[0]
        ids[safe_id(Path(first).stem)] = first
        for other in group[1:]:
            new_id = f"{safe_id(Path(other).stem)}-{_suffix(other)}"
            ids[new_id] = other
            logger.warning(
                "specimen id collision: %s and %s; %s gets id %s",
                first,
                other,
                other,
                new_id,
            )
    return ids


def _walk(folder: Path, extensions: frozenset[str]) -> list[str]:
    found: list[str] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=True):
                    stack.append(Path(entry.path))
                elif entry.name.rsplit(".", 1)[-1].lower() in extensions:
                    # A broken symlink still counts: preparation reports it.
                    found.append(os.path.relpath(entry.path, folder))
    return found


def _read_manifest(manifest: Path) -> list[Specimen]:
    with open(manifest, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        if not {"specimen_id", "path"} <= columns:
            raise ConfigError(
                f"manifest {manifest} needs the columns specimen_id,path; "
                f"it has {sorted(columns)}"
            )
        rows: list[Specimen] = []
        seen: dict[str, int] = {}
        for line, row in enumerate(reader, start=2):
            raw_id = (row["specimen_id"] or "").strip()
            path = (row["path"] or "").strip()
            if not raw_id or not path:
                raise ConfigError(
                    f"manifest {manifest} line {line}: specimen_id and path "
                    "must both be filled"
                )
            specimen_id = safe_id(raw_id)
            if specimen_id.lower() in seen:
                raise ConfigError(
                    f"manifest {manifest} line {line}: specimen id {raw_id!r} "
                    f"repeats line {seen[specimen_id.lower()]} (ids are compared "
                    "ignoring case); give each image its own id"
                )
            seen[specimen_id.lower()] = line
            full = path if os.path.isabs(path) else str(manifest.parent / path)
            rows.append(Specimen(specimen_id, full))
    return rows


def build_table(
    images: str, extensions: Sequence[str] = DEFAULT_EXTENSIONS
) -> list[Specimen]:
    """List the specimens named by the ``images`` setting, sorted by id.

    :param images: a folder (searched recursively), a glob pattern, or a
        manifest CSV with the columns ``specimen_id,path``.
    :param extensions: image file extensions to accept, case-insensitive.
    :raises ConfigError: the folder, glob or manifest finds nothing usable.

    >>> [s.specimen_id for s in build_table("tests/images")][:2]
    """
    exts = frozenset(ext.lower().lstrip(".") for ext in extensions)
    source = Path(images)
    if source.suffix.lower() == ".csv" and source.is_file():
        table = _read_manifest(source)
    elif source.is_dir():
        table = [
            Specimen(sid, str(source / rel))
            for sid, rel in assign_ids(_walk(source, exts)).items()
        ]
    elif glob.has_magic(images):
        base = Path(images.split("*")[0].split("?")[0].split("[")[0]).parent
        paths = [
            p
            for p in glob.glob(images, recursive=True)
            if p.rsplit(".", 1)[-1].lower() in exts and not os.path.isdir(p)
        ]
        table = [
            Specimen(sid, str(base / rel))
            for sid, rel in assign_ids(os.path.relpath(p, base) for p in paths).items()
        ]
    else:
        raise ConfigError(
            f"images: {images!r} is not a folder, a glob pattern or a manifest "
            "CSV that exists; set `images` in config/config.yaml or pass "
            "--config images=PATH"
        )
    if not table:
        raise ConfigError(
            f"images: {images!r} holds no files ending in "
            f"{', '.join(sorted(exts))} (case-insensitive); check the path or "
            "the `extensions` setting"
        )
    return sorted(table, key=lambda s: s.specimen_id)


def select_range(
    table: Sequence[Specimen],
    offset: int = 0,
    limit: int | None = None,
    specimens: Sequence[str] | None = None,
) -> list[Specimen]:
    """Pick the specimens to process from the sorted table.

    :param offset: how many specimens of the sorted table to skip.
    :param limit: how many to take after the offset (None takes all).
    :param specimens: explicit ids (or ``fnmatch`` patterns); when given,
        offset and limit apply to the matching specimens.
    :raises ConfigError: an explicit id matches nothing, or nothing is left.
    """
    chosen = list(table)
    if specimens:
        by_id = {s.specimen_id: s for s in table}
        picked: dict[str, Specimen] = {}
        for wanted in specimens:
            matches = (
                [by_id[wanted]]
                if wanted in by_id
                else [s for s in table if fnmatch.fnmatchcase(s.specimen_id, wanted)]
            )
            if not matches:
                raise ConfigError(
                    f"specimens: {wanted!r} matches no specimen id; ids are file "
                    "names without extension (see `herbarium-dwc table`)"
                )
            picked.update((s.specimen_id, s) for s in matches)
        chosen = sorted(picked.values(), key=lambda s: s.specimen_id)
    end = None if limit is None else offset + limit
    selected = chosen[offset:end]
    if not selected:
        raise ConfigError(
            f"the range offset={offset} limit={limit} selects no specimen out of "
            f"{len(chosen)}; lower offset or raise limit"
        )
    return selected
