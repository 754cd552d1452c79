"""Tests of finding a handler's source file from its handler string."""

from __future__ import annotations

from pathlib import Path

import pytest

from devd.build.locate import candidate_files, locate_entry, split_handler
from devd.errors import BuildError
from devd.inventory import Function


def make_function(handler: str, code_dir: Path | None, runtime: str = "nodejs20.x") -> Function:
    return Function(
        address="aws_lambda_function.api",
        name="api",
        runtime=runtime,
        handler=handler,
        code_dir=str(code_dir) if code_dir else None,
        source=None,
        file="main.tf",
        line=12,
    )


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        ("index.handler", ("index", "handler")),
        ("src/functions/getHello/handler.main", ("src/functions/getHello/handler", "main")),
        ("./src/app.main", ("src/app", "main")),
        ("pkg.app.handler", ("pkg.app", "handler")),
    ],
)
def test_split_handler_at_last_dot(handler: str, expected: tuple[str, str]) -> None:
    assert split_handler(handler) == expected


@pytest.mark.parametrize("handler", ["index", "index.", ".main", "src/.main", ""])
def test_split_handler_rejects_invalid(handler: str) -> None:
    with pytest.raises(BuildError, match="expected \"path/to/file.export\""):
        split_handler(handler)


def test_locate_in_code_dir(tmp_path: Path) -> None:
    code_dir = tmp_path / "lambda"
    source = touch(code_dir / "src" / "app.ts")

    entry = locate_entry(make_function("src/app.main", code_dir), tmp_path)

    assert entry.source_file == source
    assert entry.language == "node"
    assert entry.output_name == "src/app"
    assert entry.handler_export == "main"


def test_locate_extension_order(tmp_path: Path) -> None:
    touch(tmp_path / "app.js")
    touch(tmp_path / "app.mts")

    entry = locate_entry(make_function("app.main", tmp_path), tmp_path)

    assert entry.source_file == tmp_path / "app.mts"


def test_locate_beside_build_output_dir(tmp_path: Path) -> None:
    code_dir = tmp_path / "build" / ".esbuild"
    source = touch(tmp_path / "build" / "src" / "functions" / "getHello" / "handler.ts")

    entry = locate_entry(make_function("src/functions/getHello/handler.main", code_dir), tmp_path)

    assert entry.source_file == source


def test_locate_at_project_root(tmp_path: Path) -> None:
    code_dir = tmp_path / "dist" / ".esbuild"
    source = touch(tmp_path / "src" / "functions" / "getHello" / "handler.ts")

    entry = locate_entry(make_function("src/functions/getHello/handler.main", code_dir), tmp_path)

    assert entry.source_file == source


def test_locate_prefers_typescript_over_stale_bundle(tmp_path: Path) -> None:
    code_dir = tmp_path / ".esbuild"
    touch(code_dir / "src" / "handler.js")
    source = touch(tmp_path / "src" / "handler.ts")

    entry = locate_entry(make_function("src/handler.main", code_dir), tmp_path)

    assert entry.source_file == source


def test_locate_without_code_dir(tmp_path: Path) -> None:
    source = touch(tmp_path / "handler.cjs")

    entry = locate_entry(make_function("handler.main", None), tmp_path)

    assert entry.source_file == source


def test_locate_python_dotted_module(tmp_path: Path) -> None:
    source = touch(tmp_path / "svc" / "pkg" / "app.py")
    function = make_function("pkg.app.handler", tmp_path / "svc", runtime="python3.12")

    entry = locate_entry(function, tmp_path)

    assert entry.source_file == source
    assert entry.language == "python"
    assert entry.output_name == "pkg/app"
    assert entry.handler_export == "handler"


def test_locate_python_ignores_typescript(tmp_path: Path) -> None:
    touch(tmp_path / "app.ts")
    function = make_function("app.handler", tmp_path, runtime="python3.12")

    with pytest.raises(BuildError, match="not found"):
        locate_entry(function, tmp_path)


def test_missing_source_lists_tried_paths(tmp_path: Path) -> None:
    code_dir = tmp_path / ".esbuild"
    function = make_function("src/handler.main", code_dir)

    with pytest.raises(BuildError) as raised:
        locate_entry(function, tmp_path)

    message = str(raised.value)
    expected = 'aws_lambda_function.api: source file for handler "src/handler.main" not found'
    assert expected in message
    assert str(code_dir / "src" / "handler.ts") in message
    assert str(tmp_path / "src" / "handler.ts") in message
    assert str(tmp_path / "src" / "handler.cjs") in message
    assert "Fix `handler` (main.tf:12) or the function's source directory." in message


def test_unsupported_runtime(tmp_path: Path) -> None:
    function = make_function("bootstrap.main", tmp_path, runtime="provided.al2023")

    with pytest.raises(BuildError, match="runtime 'provided.al2023' is not supported"):
        locate_entry(function, tmp_path)


def test_candidates_skip_parent_outside_project(tmp_path: Path) -> None:
    project = tmp_path / "project"

    candidates = candidate_files("app", "python", project, project)

    assert candidates == [project / "app.py"]
