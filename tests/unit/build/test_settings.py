"""Tests of reading the `[build]` table of devd.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from devd.build.settings import BuildSettings, parse_build_settings
from devd.errors import ConfigError

EXAMPLE = """
concurrency = 4

[node_externals]
"image-*" = ["sharp"]

[[commands]]
functions = "get-*"
run = "npm run build:dev"
output = ".esbuild"
inputs = ["src/**/*.ts", "package.json"]

[[commands]]
functions = "legacy"
run = ["make", "lambda"]
cwd = "legacy"
output = "legacy/dist"
timeout = 30
"""


def test_full_table(tmp_path: Path) -> None:
    settings = parse_build_settings(tomllib.loads(EXAMPLE), tmp_path)

    assert settings.concurrency == 4
    assert settings.node_externals == (("image-*", ("sharp",)),)
    first, second = settings.user_commands
    assert first.pattern == "get-*"
    assert first.command == "npm run build:dev"
    assert first.cwd == tmp_path
    assert first.output_dir == tmp_path / ".esbuild"
    assert first.inputs == ("src/**/*.ts", "package.json")
    assert first.timeout == 300
    assert second.command == ("make", "lambda")
    assert second.cwd == tmp_path / "legacy"
    assert second.output_dir == tmp_path / "legacy" / "dist"
    assert second.timeout == 30


def test_empty_table_is_default(tmp_path: Path) -> None:
    assert parse_build_settings({}, tmp_path) == BuildSettings()


def test_list_of_externals(tmp_path: Path) -> None:
    settings = parse_build_settings({"node_externals": ["sharp", "pg"]}, tmp_path)

    assert settings.node_externals == (("*", ("sharp", "pg")),)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"jobs": 2}, "devd.toml: unknown setting 'build.jobs'"),
        ({"concurrency": 0}, "build.concurrency must be a whole number of 1 or more, got 0"),
        ({"concurrency": True}, "build.concurrency must be a whole number"),
        ({"node_externals": "sharp"}, "build.node_externals must be a list of package names"),
        ({"node_externals": {"*": "sharp"}}, "build.node_externals must be a list"),
        ({"commands": {"run": "x"}}, r"build.commands must be an array of tables"),
        ({"commands": [{"functions": "*", "run": "x"}]}, r"build.commands\[0\] has no `output`"),
        (
            {"commands": [{"functions": "*", "run": 3, "output": "o"}]},
            r"build.commands\[0\].run must be",
        ),
        (
            {"commands": [{"functions": "*", "run": "x", "output": "o", "dir": "."}]},
            r"build.commands\[0\]: unknown setting 'dir'",
        ),
        (
            {"commands": [{"functions": "*", "run": "x", "output": "o", "inputs": "src"}]},
            r"build.commands\[0\].inputs must be a list of glob patterns",
        ),
        (
            {"commands": [{"functions": "*", "run": "", "output": "o"}]},
            r"build.commands\[0\]: build command for \"\*\" is empty",
        ),
    ],
)
def test_invalid_values_rejected(tmp_path: Path, table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_build_settings(table, tmp_path)
