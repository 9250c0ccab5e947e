"""The specimen table: ids from names, collisions, manifests, ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from herbarium_dwc.errors import ConfigError
from herbarium_dwc.specimens import (
    Specimen,
    assign_ids,
    build_table,
    safe_id,
    select_range,
)


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("NY01075761_lg", "NY01075761_lg"),
        ("Quercus robur (2)", "Quercus_robur_2_"),
        ("Müller Åsa ñ", "Muller_Asa_n"),
        (".hidden", "hidden"),
        ("Ωμέγα", "specimen"),
        ("a/b", "a_b"),
    ],
)
def test_safe_id_folds_to_filesystem_safe_ascii(stem: str, expected: str) -> None:
    assert safe_id(stem) == expected


def test_ids_collide_deterministically_whatever_the_order() -> None:
    paths = ["b/x.jpg", "a/x.jpg", "a/X.png", "c/y.jpg"]
    forward = assign_ids(paths)
    backward = assign_ids(reversed(paths))
    assert forward == backward
    assert forward["X"] == "a/X.png"  # first in sorted order keeps the plain id
    assert forward["y"] == "c/y.jpg"
    others = {path: sid for sid, path in forward.items() if sid not in ("X", "y")}
    assert set(others) == {"a/x.jpg", "b/x.jpg"}
    assert all(sid.startswith("x-") and len(sid) == 10 for sid in others.values())
    # Adding an unrelated file never renames existing specimens.
    assert assign_ids([*paths, "d/z.jpg"]).items() >= forward.items()


def test_folder_table_is_recursive_case_insensitive_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.JPG", "a.jpeg", "sub/c.Tif", "notes.txt", ".DS_Store.jpg"):
        (tmp_path / name).write_bytes(b"x")
    table = build_table(str(tmp_path))
    assert [s.specimen_id for s in table] == ["a", "b", "c"]
    assert table[2].path == str(tmp_path / "sub" / "c.Tif")


def test_glob_table(tmp_path: Path) -> None:
    for name in ("2024-a.jpg", "2024-b.jpg", "2023-c.jpg"):
        (tmp_path / name).write_bytes(b"x")
    table = build_table(str(tmp_path / "2024-*.jpg"))
    assert [s.specimen_id for s in table] == ["2024-a", "2024-b"]


def test_manifest_table_resolves_relative_paths(tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("specimen_id,path\nNY 001,img/one.jpg\nNY002,/abs/two.jpg\n")
    table = build_table(str(manifest))
    assert table == [
        Specimen("NY002", "/abs/two.jpg"),
        Specimen("NY_001", str(tmp_path / "img/one.jpg")),
    ]


def test_manifest_with_repeated_id_names_both_lines(tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("specimen_id,path\nA1,a.jpg\na1,b.jpg\n")
    with pytest.raises(ConfigError, match="line 3.*repeats line 2"):
        build_table(str(manifest))


def test_missing_folder_and_empty_folder_say_what_to_change(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set `images`"):
        build_table(str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="holds no files"):
        build_table(str(tmp_path))


def test_range_and_explicit_list() -> None:
    table = [Specimen(f"s{i}", f"{i}.jpg") for i in range(10)]
    assert [s.specimen_id for s in select_range(table, 2, 3)] == ["s2", "s3", "s4"]
    assert [s.specimen_id for s in select_range(table, 8, None)] == ["s8", "s9"]
    picked = select_range(table, specimens=["s7", "s1*"])
    assert [s.specimen_id for s in picked] == ["s1", "s7"]
    with pytest.raises(ConfigError, match="matches no specimen"):
        select_range(table, specimens=["zzz"])
    with pytest.raises(ConfigError, match="selects no specimen"):
        select_range(table, offset=10)


def test_table_of_100k_names_is_built_without_opening_files(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(100_000):
        (folder / f"S{i:06d}.jpg").touch()
    table = build_table(str(folder))
    assert len(table) == 100_000
    assert table[0].specimen_id == "S000000"
