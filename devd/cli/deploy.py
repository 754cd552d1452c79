"""`devd deploy FUNCTION`: deploy one function with a targeted Terraform plan, or upload only its code."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable

from devd.cli.status import project_state_dir
from devd.console import format_clock
from devd.control.client import ControlClient, connect
from devd.control.deploy_actions import plan_from_document
from devd.control.protocol import ControlError
from devd.deploy.model import DeployError, DeployPlan, DeployStatus
from devd.deploy.planfile import summary_line
from devd.errors import ConfigError
from devd.logs.records import Level, LogRecord

ACTION_MARKERS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd deploy` to the parser."""
    from devd.cli import terraform_options

    deploy = commands.add_parser(
        "deploy", help="deploy one function to AWS with Terraform (or only its code)",
        description="Build one function, plan its Terraform resources with -target, show the plan, and apply "
                    "it after confirmation. Exits with status 1 when the deploy fails or is declined.")
    terraform_options(deploy)
    deploy.add_argument("function", metavar="FUNCTION", help="function name or Terraform address")
    deploy.add_argument("--yes", "-y", action="store_true", help="apply without asking for confirmation")
    deploy.add_argument("--code-only", action="store_true",
                        help="upload the built zip with Lambda's UpdateFunctionCode instead of running Terraform")
    deploy.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run `devd deploy` and return the exit status."""
    from devd.cli import settings_for

    settings = settings_for(args)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not args.yes and not args.code_only and not interactive:
        raise ConfigError("devd deploy needs a terminal to ask for confirmation, and stdin or stdout is not "
                          "one: pass --yes to apply without asking")
    client = connect(project_state_dir(args.project))
    if client is not None:
        with client:
            return deploy_through_daemon(client, args.function, args.yes, args.code_only, input)
    return asyncio.run(_deploy(settings, args.function, args.yes, args.code_only, input))


def deploy_through_daemon(client: ControlClient, function: str, yes: bool, code_only: bool,
                          ask: Callable[[str], str]) -> int:
    """Deploy with the running devd, so its view shows the deploy and its drift; return the exit status."""
    pane_content = "the upload" if code_only else "Terraform's output"
    print(f"devd: deploying through the running devd; its log pane shows {pane_content}", file=sys.stderr)
    try:
        if code_only:
            return _print_result(client.call("deploy.code", timeout=None, function=function))
        document = client.call("deploy.plan", timeout=None, function=function)
        plan = plan_from_document(document)
        print(format_plan(plan))
        if not plan.changes or not (yes or confirm(plan, ask)):
            client.call("deploy.discard", id=document["id"])
            print("No changes: the deployed resources match the configuration and the build."
                  if not plan.changes else "Not applied.")
            return 0 if not plan.changes else 1
        return _print_result(client.call("deploy.apply", timeout=None, id=document["id"]))
    except ControlError as error:
        print(f"devd: {error}", file=sys.stderr)
        return 1


def _print_result(result: dict) -> int:
    print(result["summary"])
    return 0 if result["ok"] else 1


def print_record(record: LogRecord) -> None:
    """Print one deploy output line, marked when it is a warning or an error."""
    marker = {Level.ERROR: "ERROR ", Level.WARNING: "WARNING "}.get(record.level, "")
    print(f"{format_clock(record.time)} {marker}{record.text}", flush=True)


def _print_status(status: DeployStatus) -> None:
    summary = f": {status.summary}" if status.summary else ""
    print(f"{format_clock_now()} {status.state.value}{summary}", file=sys.stderr, flush=True)


def format_clock_now() -> str:
    """Return the current local time as HH:MM:SS."""
    return format_clock(time.time())


async def _deploy(settings, function: str, yes: bool, code_only: bool, ask: Callable[[str], str]) -> int:
    try:
        return await _deploy_or_raise(settings, function, yes, code_only, ask)
    except DeployError as error:
        print(f"devd: {error}", file=sys.stderr)
        return 1


async def _deploy_or_raise(settings, function: str, yes: bool, code_only: bool, ask: Callable[[str], str]) -> int:
    from devd.deploy.terraform_deployer import TerraformDeployer

    deployer = TerraformDeployer(settings, on_log=print_record, on_status=_print_status)
    if code_only:
        result = await deployer.deploy_code(function)
        print(result.summary)
        return 0 if result.ok else 1

    plan = await deployer.plan(function)
    print(format_plan(plan))
    if not plan.changes:
        plan.plan_file.unlink(missing_ok=True)
        print("No changes: the deployed resources match the configuration and the build.")
        return 0
    if not yes and not confirm(plan, ask):
        plan.plan_file.unlink(missing_ok=True)
        print("Not applied.")
        return 1
    result = await deployer.apply(plan)
    print(result.summary)
    return 0 if result.ok else 1


def format_plan(plan: DeployPlan) -> str:
    """Return the plan as a user reads it before confirming: targets, counts, then one line per resource."""
    lines = [f"Targets: {', '.join(plan.targets)}", f"Plan: {summary_line(plan.changes)}"]
    for change in plan.changes:
        lines.append(f"  {ACTION_MARKERS.get(change.action, '?'):>3} {change.address} ({change.action})")
    return "\n".join(lines)


def confirm(plan: DeployPlan, ask: Callable[[str], str]) -> bool:
    """Ask y/N, and once more naming what the plan destroys. Return True only when every reply is yes."""
    if not _yes(ask("Apply this plan? [y/N] ")):
        return False
    if plan.destroys:
        names = ", ".join(plan.destroys)
        return _yes(ask(f"This deletes or replaces {names}. Apply anyway? [y/N] "))
    return True


def _yes(answer: str) -> bool:
    return answer.strip().lower() in ("y", "yes")
