"""Inventories of the bundled example and the public example, and fake build paths for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from devd.build import layout
from devd.inventory import Inventory
from devd.sam.artifacts import Artifact
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions

REPO = Path(__file__).resolve().parents[3]
PUBLIC = REPO / "tests" / "fixtures" / "public_example"

HELLO = "module.get_hello.aws_lambda_function.this"
CREATE_ITEM = "module.create_item.aws_lambda_function.this"
GET_ITEM = "module.get_item.aws_lambda_function.this"
STATUS = "aws_lambda_function.status"
PUBLIC_HELLO = "module.get_hello.module.lambda.aws_lambda_function.this[0]"


def fake_build(project_root: Path, inventory: Inventory, address: str, generation: int = 3) -> Path:
    """Return where devd would put a function's build generation (nothing is created)."""
    function = inventory.function(address)
    assert function is not None, address
    return project_root / ".devd" / "build" / layout.function_dir_name(function) / str(generation)


@pytest.fixture(scope="session")
def example() -> Inventory:
    return discover(TerraformOptions(REPO / "infra", (REPO / "infra/vars/dev.tfvars",)), REPO)


@pytest.fixture(scope="session")
def public_example() -> Inventory:
    return discover(TerraformOptions(PUBLIC / "terraform", ()), PUBLIC)


@pytest.fixture
def example_builds(example: Inventory) -> dict[str, Path]:
    return {function.address: fake_build(REPO, example, function.address) for function in example.functions}


@pytest.fixture
def example_artifacts(example: Inventory, example_builds: dict[str, Path]) -> dict[str, Artifact]:
    handlers = {HELLO: "handler.main", CREATE_ITEM: "create_item.handler",
                GET_ITEM: "get_item.handler", STATUS: "index.handler"}
    return {address: Artifact(path, handlers[address]) for address, path in example_builds.items()}
