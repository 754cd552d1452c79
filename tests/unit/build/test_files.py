"""Tests of merging a directory tree into a build directory."""

from __future__ import annotations

from pathlib import Path

from devd.build.files import merge_tree


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_merge_links_and_keeps_existing(tmp_path: Path) -> None:
    source = tmp_path / "cache"
    installed = write(source, "six.py", "installed")
    write(source, "app.py", "from the cache")
    target = tmp_path / "build"
    write(target, "app.py", "from the sources")

    kept = merge_tree(source, target, hard_links=True)

    assert kept == [target / "app.py"]
    assert (target / "app.py").read_text() == "from the sources"
    assert (target / "six.py").samefile(installed)


def test_merge_copies_without_links(tmp_path: Path) -> None:
    source = tmp_path / "cache"
    write(source, "pkg/mod.py", "content")
    target = tmp_path / "build"

    merge_tree(source, target, hard_links=False)

    copied = target / "pkg" / "mod.py"
    assert copied.read_text() == "content"
    assert not copied.samefile(source / "pkg" / "mod.py")
