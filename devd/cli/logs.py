"""`devd logs FUNCTION --remote`: print a deployed function's CloudWatch log events."""

from __future__ import annotations

import argparse
import asyncio
import time

from devd.console import format_clock, short_request_id
from devd.errors import ConfigError


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd logs` to the parser."""
    from devd.cli import terraform_options

    logs = commands.add_parser(
        "logs", help="print a deployed function's CloudWatch logs",
        description="Print the CloudWatch log events of a deployed function, from its logging_config log group "
                    "or /aws/lambda/NAME. Local functions' logs show in `devd up`.")
    terraform_options(logs)
    logs.add_argument("function", metavar="FUNCTION", help="function name or Terraform address")
    logs.add_argument("--remote", action="store_true", help="read the deployed function's logs (required for now)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new events until interrupted")
    logs.add_argument("--since", type=float, default=10.0, metavar="MINUTES",
                      help="print events from this many minutes ago (default 10)")
    logs.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run `devd logs` and return the exit status."""
    from devd.cli import settings_for

    if not args.remote:
        raise ConfigError("devd logs reads deployed functions only: pass --remote (local logs show in `devd up`)")
    if args.since < 0:
        raise ConfigError(f"--since {args.since} is negative: give the minutes to look back, such as 10")
    settings = settings_for(args)
    return asyncio.run(_logs(settings, args.function, args.follow, int((time.time() - args.since * 60) * 1000)))


async def _logs(settings, function: str, follow: bool, since_ms: int) -> int:
    from devd.deploy.terraform_deployer import TerraformDeployer

    deployer = TerraformDeployer(settings)
    async for record in deployer.remote_logs(function, follow=follow, since_ms=since_ms):
        request = f" {short_request_id(record.request_id)}" if record.request_id else ""
        print(f"{format_clock(record.time)}{request} {record.text}", flush=True)
    return 0
