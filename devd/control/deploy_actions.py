"""Control actions that let `devd deploy` in another terminal deploy through the running daemon.

The command requests a plan, shows it, prompts the user, then applies the plan by its id, so
the plan applied is the one the user saw. Terraform's output goes to the daemon's log pane.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devd.control.actions import resolve_functions
from devd.control.protocol import ControlError
from devd.deploy.model import DeployPlan, DeployResult, ResourceChange
from devd.logs.records import LogRecord

if TYPE_CHECKING:
    from devd.control.server import ActionTable
    from devd.engine.daemon import Daemon

SOURCE = "control"


def add_deploy_actions(daemon: Daemon, table: ActionTable) -> None:
    """Add deploy.plan, deploy.apply, deploy.discard and deploy.code to the table."""
    plans: dict[str, DeployPlan] = {}
    ids = itertools.count(1)

    async def plan(args: dict[str, Any]) -> dict[str, Any]:
        address = _address(daemon, args.get("function"))
        daemon.publish(LogRecord(SOURCE, f"devd deploy {address}: requested from the command line"))
        found = await daemon.deploys.plan(address)
        plan_id = str(next(ids))
        plans[plan_id] = found
        return {"id": plan_id, **plan_document(found)}

    async def apply(args: dict[str, Any]) -> dict[str, Any]:
        found = plans.pop(str(args.get("id")), None)
        if found is None:
            raise ControlError(f"no plan with id {args.get('id')!r}; ask for a new one with deploy.plan")
        return result_document(await daemon.deploys.apply(found))

    async def discard(args: dict[str, Any]) -> bool:
        found = plans.pop(str(args.get("id")), None)
        if found is not None:
            found.plan_file.unlink(missing_ok=True)
            daemon.deploys.cancelled(found.function)
        return found is not None

    async def code(args: dict[str, Any]) -> dict[str, Any]:
        address = _address(daemon, args.get("function"))
        daemon.publish(LogRecord(SOURCE, f"devd deploy {address} --code-only: requested from the command line"))
        return result_document(await daemon.deploys.deploy_code(address))

    table.add("deploy.plan", plan, summary="plan a deploy of one function; returns the plan and its id")
    table.add("deploy.apply", apply, summary="apply a plan returned by deploy.plan")
    table.add("deploy.discard", discard, summary="drop a plan the user declined")
    table.add("deploy.code", code, summary="upload one function's build with UpdateFunctionCode")


def _address(daemon: Daemon, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ControlError("deploy needs a function: give its name or Terraform address")
    return resolve_functions(daemon, [name], runnable_only=False)[0]


def plan_document(plan: DeployPlan) -> dict[str, Any]:
    """Return a plan as JSON: function, targets, plan file and changes."""
    return {"function": plan.function, "targets": list(plan.targets), "plan_file": str(plan.plan_file),
            "changes": [{"address": c.address, "action": c.action} for c in plan.changes]}


def plan_from_document(document: dict[str, Any]) -> DeployPlan:
    """Return the DeployPlan that `plan_document` described."""
    changes = tuple(ResourceChange(c["address"], c["action"]) for c in document["changes"])
    return DeployPlan(document["function"], tuple(document["targets"]), Path(document["plan_file"]), changes)


def result_document(result: DeployResult) -> dict[str, Any]:
    """Return a deploy result as JSON."""
    return {"function": result.function, "ok": result.ok, "summary": result.summary,
            "code_sha256": result.code_sha256}
