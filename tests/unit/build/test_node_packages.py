"""Tests of choosing and copying the external packages of a Node build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devd.build.node_packages import (
    copy_node_packages,
    externals_for,
    externals_table,
    nearest_package_json,
    plan_node_packages,
    resolve_package,
)
from devd.errors import BuildError, ConfigError
from devd.inventory import Function


def package(directory: Path, name: str, **fields: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "package.json").write_text(json.dumps({"name": name, **fields}))
    (directory / "index.js").write_text(f"module.exports = {json.dumps(name)};\n")
    return directory


def make_function(name: str, address: str | None = None) -> Function:
    return Function(
        address=address or f"aws_lambda_function.{name}",
        name=name,
        runtime="nodejs20.x",
        handler="index.main",
        code_dir=None,
        source=None,
    )


def targets(project: Path, names: list[str], entry_dir: Path | None = None) -> dict[str, Path]:
    entry = entry_dir or project / "src"
    entry.mkdir(parents=True, exist_ok=True)
    plan = plan_node_packages(names, entry, nearest_package_json(entry, project))
    return {placement.target: placement.source for placement in plan.placements}


def test_list_applies_to_every_function() -> None:
    table = externals_table(["sharp", "pg"])

    assert externals_for(make_function("any"), table) == ("sharp", "pg")


def test_mapping_matches_name_or_address() -> None:
    table = externals_table({"image-*": ["sharp"], "module.db.*": ["pg", "sharp"]})

    assert externals_for(make_function("image-resize"), table) == ("sharp",)
    assert externals_for(make_function("query", "module.db.aws_lambda_function.q"), table) == (
        "pg",
        "sharp",
    )
    assert externals_for(make_function("other"), table) == ()


@pytest.mark.parametrize("value", ["sharp", {"*": "sharp"}])
def test_string_instead_of_list_rejected(value: object) -> None:
    with pytest.raises(ConfigError, match="must be a list of package names"):
        externals_table(value)  # type: ignore[arg-type]


def test_nearest_package_json_stops_at_root(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "functions" / "a").mkdir(parents=True)
    (tmp_path / "package.json").write_text("{}")

    assert nearest_package_json(project / "functions" / "a", project) is None

    (project / "package.json").write_text("{}")
    assert nearest_package_json(project / "functions" / "a", project) == project / "package.json"


def test_resolve_prefers_nearest_node_modules(tmp_path: Path) -> None:
    package(tmp_path / "node_modules" / "dep", "dep")
    near = package(tmp_path / "app" / "node_modules" / "dep", "dep")
    package(tmp_path / "node_modules" / "@scope" / "lib", "@scope/lib")

    assert resolve_package("dep", tmp_path / "app" / "src") == near
    assert (
        resolve_package("@scope/lib", tmp_path / "app")
        == tmp_path / "node_modules" / "@scope" / "lib"
    )
    assert resolve_package("missing", tmp_path / "app") is None


def test_plan_copies_listed_with_dependencies(tmp_path: Path) -> None:
    package(tmp_path, "app", dependencies={"top": "1", "@aws-sdk/client-s3": "3", "bundled": "1"})
    modules = tmp_path / "node_modules"
    package(
        modules / "top", "top", dependencies={"hoisted": "1", "nested": "1", "@aws-sdk/util": "3"}
    )
    package(modules / "top" / "node_modules" / "nested", "nested", dependencies={"deep": "1"})
    package(modules / "hoisted", "hoisted")
    package(modules / "deep", "deep", optionalDependencies={"absent-optional": "1"})

    placed = targets(tmp_path, ["top", "@aws-sdk/client-s3", "layer-only"])

    assert placed == {
        "node_modules/top": (modules / "top").resolve(),
        "node_modules/hoisted": (modules / "hoisted").resolve(),
        "node_modules/deep": (modules / "deep").resolve(),
    }


def test_plan_follows_symlinked_store(tmp_path: Path) -> None:
    package(tmp_path, "app", dependencies={"top": "1"})
    store = tmp_path / "node_modules" / ".pnpm" / "top@1" / "node_modules"
    package(store / "top", "top", dependencies={"helper": "1"})
    package(store / "helper", "helper")
    (tmp_path / "node_modules" / "top").symlink_to(store / "top")

    placed = targets(tmp_path, ["top"])

    assert placed == {
        "node_modules/top": (store / "top").resolve(),
        "node_modules/helper": (store / "helper").resolve(),
    }


def test_missing_dependency_names_fix(tmp_path: Path) -> None:
    package(tmp_path, "app", dependencies={"top": "1"})
    top = package(tmp_path / "node_modules" / "top", "top", dependencies={"gone": "1"})

    with pytest.raises(BuildError) as raised:
        targets(tmp_path, ["top"])

    assert str(raised.value) == (
        f'package "gone" (a dependency in {top.resolve() / "package.json"}) is not installed in '
        f"any node_modules from {top.resolve()} upwards: run `npm install` in {top.resolve()}"
    )


def test_no_manifest_copies_nothing(tmp_path: Path) -> None:
    package(tmp_path / "node_modules" / "top", "top")

    assert targets(tmp_path, ["top"]) == {}


def test_copy_leaves_out_bin_links(tmp_path: Path) -> None:
    package(tmp_path, "app", dependencies={"top": "1"})
    top = package(tmp_path / "node_modules" / "top", "top")
    package(top / "node_modules" / "inner", "inner")
    (top / "node_modules" / ".bin").mkdir()
    (top / "node_modules" / ".bin" / "inner").symlink_to(
        top / "node_modules" / "inner" / "index.js"
    )
    (tmp_path / "src").mkdir()
    plan = plan_node_packages(["top"], tmp_path / "src", tmp_path / "package.json")
    task_root = tmp_path / "task"

    copy_node_packages(plan, task_root)

    copied = sorted(
        str(path.relative_to(task_root)) for path in task_root.rglob("*") if path.is_file()
    )
    assert copied == [
        "node_modules/top/index.js",
        "node_modules/top/node_modules/inner/index.js",
        "node_modules/top/node_modules/inner/package.json",
        "node_modules/top/package.json",
    ]
    assert (task_root / "node_modules" / "top" / "index.js").stat().st_nlink == 1
