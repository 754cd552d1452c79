"""Finding devd's builds for the SAM files: from build results and from `.devd/build`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devd.build import BuildResult, layout
from devd.inventory import Inventory
from devd.sam.artifacts import Artifact, artifacts_from_results, find_artifacts
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions
from tests.unit.sam.conftest import CREATE_ITEM, GET_ITEM, HELLO, REPO, STATUS


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Inventory]:
    root = tmp_path / "app"
    shutil.copytree(REPO / "infra", root / "infra", ignore=shutil.ignore_patterns(".terraform"))
    shutil.copytree(REPO / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "devd.toml", root / "devd.toml")
    inventory = discover(TerraformOptions(root / "infra", (root / "infra/vars/dev.tfvars",)), root)
    return root, inventory


def make_generations(root: Path, inventory: Inventory, address: str, *generations: int) -> Path:
    function_dir = root / ".devd" / "build" / layout.function_dir_name(inventory.function(address))
    for generation in generations:
        (function_dir / str(generation)).mkdir(parents=True)
    return function_dir


def test_latest_generation_found(project: tuple[Path, Inventory]) -> None:
    root, inventory = project
    hello_dir = make_generations(root, inventory, HELLO, 2, 10, 9)
    items_dir = make_generations(root, inventory, CREATE_ITEM, 1)

    scan = find_artifacts(inventory, root, root / ".devd")

    assert scan.artifacts[HELLO] == Artifact(hello_dir / "10", "handler.main")
    assert scan.artifacts[CREATE_ITEM] == Artifact(items_dir / "1", "create_item.handler")
    assert sorted(scan.artifacts) == sorted([CREATE_ITEM, HELLO])


def test_unbuilt_functions_skipped(project: tuple[Path, Inventory]) -> None:
    root, inventory = project
    make_generations(root, inventory, HELLO, 1)
    (root / ".devd" / "build" / layout.function_dir_name(inventory.function(STATUS)) / ".partial-1").mkdir(
        parents=True)

    scan = find_artifacts(inventory, root, root / ".devd")

    skipped = {function.address: function for function in scan.skipped}
    assert sorted(skipped) == sorted([CREATE_ITEM, GET_ITEM, STATUS])
    assert skipped[STATUS].name == "devd-example-dev-status"
    assert "run `devd up`" in skipped[STATUS].reason
    assert layout.function_dir_name(inventory.function(STATUS)) in skipped[STATUS].reason


def test_missing_source_skipped(project: tuple[Path, Inventory]) -> None:
    root, inventory = project
    make_generations(root, inventory, STATUS, 4)
    (root / "functions" / "status" / "index.mjs").unlink()

    scan = find_artifacts(inventory, root, root / ".devd")

    assert STATUS not in scan.artifacts
    reasons = {function.address: function.reason for function in scan.skipped}
    assert "not found" in reasons[STATUS]


def result(address: str, ok: bool, task_root: Path | None, handler: str) -> BuildResult:
    return BuildResult(address, 1, ok, task_root, handler, frozenset())


def test_results_keep_successful_builds(tmp_path: Path) -> None:
    results = [
        result("aws_lambda_function.a", True, tmp_path / "a" / "1", "src/a.main"),
        result("aws_lambda_function.b", False, None, "b.main"),
    ]

    artifacts = artifacts_from_results(results)

    assert artifacts == {"aws_lambda_function.a": Artifact(tmp_path / "a" / "1", "src/a.main")}
