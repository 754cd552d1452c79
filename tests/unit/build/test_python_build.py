"""Tests of copying a Python handler's source directory into a build directory."""

from __future__ import annotations

from pathlib import Path

from devd.build.locate import Entry
from devd.build.python import build_python, source_root


def write(root: Path, relative: str, text: str = "") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_entry(source_file: Path, output_name: str) -> Entry:
    return Entry(
        source_file=source_file,
        language="python",
        output_name=output_name,
        handler_export="handler",
    )


def test_source_root_of_nested_module(tmp_path: Path) -> None:
    entry = make_entry(tmp_path / "src" / "pkg" / "app.py", "pkg/app")

    assert source_root(entry) == tmp_path / "src"


def test_copy_skips_caches_and_hidden_dirs(tmp_path: Path) -> None:
    code = tmp_path / "code"
    handler = write(code, "app.py", "import lib\n")
    write(code, "lib/__init__.py")
    write(code, "lib/__pycache__/x.cpython-311.pyc")
    write(code, "stale.pyc")
    write(code, ".venv/lib/site.py")
    write(code, ".git/HEAD")
    write(code, ".cache/data")
    write(code, "node_modules/x/index.js")
    write(code, ".env", "A=1\n")
    target = tmp_path / "out"

    build_python(make_entry(handler, "app"), target, tmp_path / "state")

    copied = sorted(str(path.relative_to(target)) for path in target.rglob("*"))
    assert copied == [".env", "app.py", "lib", "lib/__init__.py"]


def test_copy_excludes_state_dir(tmp_path: Path) -> None:
    handler = write(tmp_path, "app.py")
    write(tmp_path, "state/build/app-1/1/app.py")
    target = tmp_path / "out"

    build_python(make_entry(handler, "app"), target, tmp_path / "state")

    assert (target / "app.py").is_file()
    assert not (target / "state").exists()


def test_copy_is_independent_of_source(tmp_path: Path) -> None:
    handler = write(tmp_path / "code", "app.py", "VALUE = 1\n")
    target = tmp_path / "out"

    build_python(make_entry(handler, "app"), target, tmp_path / "state")
    handler.write_text("VALUE = 2\n")

    assert (target / "app.py").read_text() == "VALUE = 1\n"


def test_inputs_are_imported_files(tmp_path: Path) -> None:
    code = tmp_path / "code"
    handler = write(code, "app.py", "import helpers\n")
    helpers = write(code, "helpers.py")
    write(code, "other.py")

    output = build_python(make_entry(handler, "app"), tmp_path / "out", tmp_path / "state")

    assert output.inputs == {handler, helpers}
    assert output.source_root == code


def test_requirements_file_copied(tmp_path: Path) -> None:
    code = tmp_path / "code"
    handler = write(code, "app.py")
    write(code, "requirements.txt", "requests==2.32.3\n")
    target = tmp_path / "out"

    output = build_python(make_entry(handler, "app"), target, tmp_path / "state")

    assert (target / "requirements.txt").read_text() == "requests==2.32.3\n"
    assert output.inputs == {handler}
