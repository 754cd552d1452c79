"""The plan summary and confirmation of `devd deploy`, and the queue of one Terraform run at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devd.cli.deploy import confirm, format_plan
from devd.config import resolve_settings
from devd.deploy.model import (
    DeployCancelled,
    DeployPlan,
    DeployState,
    DeployStatus,
    ResourceChange,
)
from devd.deploy.terraform_deployer import TerraformDeployer

REPO = Path(__file__).resolve().parents[3]
HELLO = "module.get_hello.aws_lambda_function.this"
ITEM = "module.get_item.aws_lambda_function.this"


def _plan(*changes: ResourceChange) -> DeployPlan:
    return DeployPlan(HELLO, ("module.get_hello",), Path("plan.tfplan"), changes)


def _answers(*replies: str):
    questions: list[str] = []
    pending = list(replies)

    def ask(question: str) -> str:
        questions.append(question)
        return pending.pop(0)
    return ask, questions


def test_plan_lines_name_every_resource() -> None:
    text = format_plan(_plan(ResourceChange("module.get_hello.aws_lambda_function.this", "update"),
                             ResourceChange("module.get_hello.aws_lambda_permission.this", "replace")))

    assert text.splitlines() == [
        "Targets: module.get_hello",
        "Plan: 1 to add, 1 to change, 1 to destroy",
        "    ~ module.get_hello.aws_lambda_function.this (update)",
        "  -/+ module.get_hello.aws_lambda_permission.this (replace)",
    ]


def test_confirm_asks_once_without_destroy() -> None:
    ask, questions = _answers("y")

    assert confirm(_plan(ResourceChange("a", "update")), ask) is True
    assert len(questions) == 1


def test_confirm_asks_again_naming_destroys() -> None:
    ask, questions = _answers("yes", "n")

    assert confirm(_plan(ResourceChange("module.get_hello.aws_lambda_permission.this", "replace")), ask) is False
    assert "module.get_hello.aws_lambda_permission.this" in questions[1]


def test_confirm_default_is_no() -> None:
    ask, _ = _answers("")

    assert confirm(_plan(ResourceChange("a", "update")), ask) is False


async def test_second_deploy_queues_and_cancels() -> None:
    statuses: list[DeployStatus] = []
    deployer = TerraformDeployer(resolve_settings(REPO), on_status=statuses.append)
    entered = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with deployer._exclusive(HELLO):
            entered.set()
            await release.wait()

    async def second() -> None:
        async with deployer._exclusive(ITEM):
            pass

    holder = asyncio.create_task(first())
    await entered.wait()
    queued = asyncio.create_task(second())
    await asyncio.sleep(0.05)
    cancelled = await deployer.cancel("devd-example-dev-get-item")
    with pytest.raises(DeployCancelled):
        await queued
    release.set()
    await holder

    assert cancelled is True
    assert statuses == [DeployStatus(ITEM, DeployState.QUEUED)]
    assert not deployer._lock.locked()
    assert await deployer.cancel("devd-example-dev-get-item") is False


async def test_cancel_during_build_stops_before_terraform(tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "app"
    for part in ("infra", "functions", "devd.toml", "package.json"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, project / part, ignore=shutil.ignore_patterns(".terraform", "__pycache__"))
        else:
            shutil.copy2(source, project / part)
    statuses: list[DeployStatus] = []
    deployer = TerraformDeployer(resolve_settings(project), on_status=statuses.append,
                                 terraform="/nonexistent/terraform")

    planning = asyncio.create_task(deployer.plan("devd-example-dev-get-item"))
    await asyncio.sleep(0)
    cancelled = await deployer.cancel("devd-example-dev-get-item")
    with pytest.raises(DeployCancelled):
        await planning

    assert cancelled is True
    assert statuses[-1] == DeployStatus(ITEM, DeployState.CANCELLED, summary="cancelled")
    assert (project / "dist/get-item.zip").is_file()
    assert not (project / ".devd/deploy/devd-example-dev-get-item.tfplan").exists()
