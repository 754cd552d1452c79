"""A Deployer for TUI tests that records its calls and returns fixed plans and results."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from devd.deploy.model import DeployPlan, DeployResult, ResourceChange
from devd.logs.records import LogRecord

CHANGES = (
    ResourceChange("aws_lambda_function.hello", "update"),
    ResourceChange("aws_cloudwatch_log_group.hello", "create"),
)


class RecordingDeployer:
    """Records every call; `plan` returns `changes`, and waits for `release` when `hold` is set."""

    def __init__(self, changes: tuple[ResourceChange, ...] = CHANGES, hold: bool = False) -> None:
        self.changes = changes
        self.calls: list[tuple[str, str]] = []
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def plan(self, function: str) -> DeployPlan:
        self.calls.append(("plan", function))
        await self.release.wait()
        return DeployPlan(function, (function,), Path("/plans/hello.tfplan"), self.changes)

    async def apply(self, plan: DeployPlan) -> DeployResult:
        self.calls.append(("apply", plan.function))
        return DeployResult(plan.function, True, "Apply complete: 1 added, 1 changed, 0 destroyed")

    async def deploy_code(self, function: str) -> DeployResult:
        self.calls.append(("deploy_code", function))
        return DeployResult(function, True, "code updated", code_sha256="abc=")

    async def cancel(self, function: str) -> bool:
        self.calls.append(("cancel", function))
        return False

    async def remote_logs(self, function: str) -> AsyncIterator[LogRecord]:
        self.calls.append(("remote_logs", function))
        yield LogRecord("cloudwatch", "START RequestId: 42 remote line", time=1_700_000_000.0)
        yield LogRecord("cloudwatch", "END RequestId: 42", time=1_700_000_001.0)
        await asyncio.Event().wait()
