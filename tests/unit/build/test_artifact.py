"""Tests of reproducible zips of build directories."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import zipfile
from pathlib import Path

from devd.build.artifact import collect_entries, write_zip


def write(root: Path, relative: str, text: str = "x") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_zip_bytes_ignore_order_and_mtime(tmp_path: Path) -> None:
    first = tmp_path / "first"
    write(first, "b.py", "b")
    write(first, "a/z.py", "z")
    write(first, "a/y.py", "y")
    second = tmp_path / "second"
    write(second, "a/y.py", "y")
    write(second, "a/z.py", "z")
    write(second, "b.py", "b")
    os.utime(second / "b.py", (1_000_000, 1_000_000))

    one = write_zip(first, tmp_path / "one.zip")
    two = write_zip(second, tmp_path / "two.zip")

    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.sha256 == two.sha256


def test_zip_bytes_change_with_content(tmp_path: Path) -> None:
    write(tmp_path / "tree", "a.py", "value = 1\n")
    before = write_zip(tmp_path / "tree", tmp_path / "before.zip")

    write(tmp_path / "tree", "a.py", "value = 2\n")
    after = write_zip(tmp_path / "tree", tmp_path / "after.zip")

    assert before.sha256 != after.sha256


def test_sha256_is_base64_digest(tmp_path: Path) -> None:
    write(tmp_path / "tree", "a.py")

    artifact = write_zip(tmp_path / "tree", tmp_path / "out.zip")

    digest = hashlib.sha256(artifact.path.read_bytes()).digest()
    assert artifact.sha256 == base64.b64encode(digest).decode()
    assert len(artifact.sha256) == 44


def test_entries_have_fixed_metadata(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree, "run.sh").chmod(0o700)
    write(tree, "data.txt").chmod(0o600)
    write(tree, "pkg/mod.py").chmod(0o664)

    artifact = write_zip(tree, tmp_path / "out.zip")

    with zipfile.ZipFile(artifact.path) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert list(infos) == ["data.txt", "pkg/mod.py", "run.sh"]
    modes = {name: info.external_attr >> 16 for name, info in infos.items()}
    assert modes == {
        "data.txt": stat.S_IFREG | 0o644,
        "pkg/mod.py": stat.S_IFREG | 0o644,
        "run.sh": stat.S_IFREG | 0o755,
    }
    for info in infos.values():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert info.extra == b""
        assert info.comment == b""


def test_symlinks_followed_and_dangling_skipped(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write(tree, "real/file.js", "content")
    (tree / "linked").symlink_to(tree / "real")
    (tree / "dangling.js").symlink_to(tree / "missing.js")
    (tree / "real" / "loop").symlink_to(tree)

    names = [entry.name for entry in collect_entries(tree)]

    assert "linked/file.js" in names
    assert "real/file.js" in names
    assert "dangling.js" not in names
    assert len(names) == len(set(names))


def test_empty_directories_left_out(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "empty").mkdir(parents=True)
    write(tree, "a.py")

    artifact = write_zip(tree, tmp_path / "out.zip")

    with zipfile.ZipFile(artifact.path) as archive:
        assert archive.namelist() == ["a.py"]


def test_write_replaces_existing_zip(tmp_path: Path) -> None:
    write(tmp_path / "tree", "a.py")
    destination = tmp_path / "out.zip"
    destination.write_bytes(b"old")

    write_zip(tmp_path / "tree", destination)

    assert zipfile.is_zipfile(destination)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.zip", "tree"]
