"""Tests of following a Python handler's imports to the project modules they load."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from devd.build.pyimports import project_imports, relative_base


def write(root: Path, relative: str, text: str = "") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_import_of_sibling_module(tmp_path: Path) -> None:
    handler = write(tmp_path, "app.py", "import json\nimport common\n")
    common = write(tmp_path, "common.py", "import os\n")
    write(tmp_path, "unused.py")

    assert project_imports(tmp_path, handler) == {handler, common}


def test_transitive_imports(tmp_path: Path) -> None:
    handler = write(tmp_path, "app.py", "from service import run\n")
    service = write(tmp_path, "service.py", "import db\n")
    db = write(tmp_path, "db.py", "import boto3\n")

    assert project_imports(tmp_path, handler) == {handler, service, db}


def test_package_and_submodule(tmp_path: Path) -> None:
    handler = write(tmp_path, "app.py", "import pkg.models\nfrom pkg import views\n")
    init = write(tmp_path, "pkg/__init__.py")
    models = write(tmp_path, "pkg/models.py")
    views = write(tmp_path, "pkg/views.py")
    write(tmp_path, "pkg/admin.py")

    assert project_imports(tmp_path, handler) == {handler, init, models, views}


def test_relative_imports_inside_package(tmp_path: Path) -> None:
    init = write(tmp_path, "pkg/__init__.py", "from . import api\n")
    api = write(tmp_path, "pkg/api.py", "from .helpers import clean\nfrom ..shared import config\n")
    helpers = write(tmp_path, "pkg/helpers.py")
    handler = write(tmp_path, "pkg/handlers/get.py", "from .. import api\n")
    handlers_init = write(tmp_path, "pkg/handlers/__init__.py")

    found = project_imports(tmp_path, handler)

    assert found == {handler, handlers_init, init, api, helpers}


def test_handler_package_inits_count(tmp_path: Path) -> None:
    init = write(tmp_path, "pkg/__init__.py", "import setup_logging\n")
    setup = write(tmp_path, "setup_logging.py")
    handler = write(tmp_path, "pkg/app.py")

    assert project_imports(tmp_path, handler) == {handler, init, setup}


def test_import_inside_function_counts(tmp_path: Path) -> None:
    handler = write(tmp_path, "app.py", "def handler(e, c):\n    import lazy\n    return lazy.X\n")
    lazy = write(tmp_path, "lazy.py", "X = 1\n")

    assert project_imports(tmp_path, handler) == {handler, lazy}


def test_syntax_error_stops_at_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    handler = write(tmp_path, "app.py", "import broken\n")
    broken = write(tmp_path, "broken.py", "import common\ndef f(:\n")
    write(tmp_path, "common.py")

    with caplog.at_level(logging.WARNING, logger="devd.build"):
        found = project_imports(tmp_path, handler)

    assert found == {handler, broken}
    assert f"cannot follow the imports of {broken}" in caplog.text


@pytest.mark.parametrize(
    ("module", "is_package", "level", "expected"),
    [
        ("pkg.api", False, 1, "pkg"),
        ("pkg", True, 1, "pkg"),
        ("pkg.sub.api", False, 2, "pkg"),
        ("app", False, 1, ""),
        ("app", False, 2, None),
    ],
)
def test_relative_base(module: str, is_package: bool, level: int, expected: str | None) -> None:
    assert relative_base(module, is_package, level) == expected
