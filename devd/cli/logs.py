"""`devd logs [FUNCTION]`: the local lines of the running devd, or with --remote the deployed
function's CloudWatch log events."""

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
        "logs", help="print a function's local logs from the running devd, or its CloudWatch logs",
        description="Print the log and request lines that the running `devd up` keeps for a function (or for "
                    "all). With --remote, print the CloudWatch log events of the deployed function, from its "
                    "logging_config log group or /aws/lambda/NAME.")
    terraform_options(logs)
    logs.add_argument("function", nargs="?", metavar="FUNCTION",
                      help="function name or Terraform address (default: every source; required with --remote)")
    logs.add_argument("--remote", action="store_true", help="read the deployed function's CloudWatch logs")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines until interrupted")
    logs.add_argument("--since", type=float, default=10.0, metavar="MINUTES",
                      help="with --remote, print events from this many minutes ago (default 10)")
    logs.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run `devd logs` and return the exit status."""
    if not args.remote:
        return _local(args)
    from devd.cli import settings_for

    if args.function is None:
        raise ConfigError("devd logs --remote needs a FUNCTION: name the deployed function, such as get-hello")
    if args.since < 0:
        raise ConfigError(f"--since {args.since} is negative: give the minutes to look back, such as 10")
    settings = settings_for(args)
    return asyncio.run(_remote(settings, args.function, args.follow, int((time.time() - args.since * 60) * 1000)))


def _local(args: argparse.Namespace) -> int:
    """Print the daemon's lines for the function; return 1 when no daemon runs."""
    from devd.cli.status import connect_running
    from devd.console import format_log_line, format_request_line
    from devd.control.documents import record_from_document
    from devd.logs.records import RequestRecord

    client = connect_running(args.project)
    if client is None:
        return 1
    with client:
        for document in client.stream("logs", timeout=None, function=args.function, follow=args.follow):
            record = record_from_document(document)
            line = format_request_line(record) if isinstance(record, RequestRecord) else format_log_line(record)
            print(line, flush=args.follow)
    return 0


async def _remote(settings, function: str, follow: bool, since_ms: int) -> int:
    from devd.deploy.terraform_deployer import TerraformDeployer

    deployer = TerraformDeployer(settings)
    async for record in deployer.remote_logs(function, follow=follow, since_ms=since_ms):
        request = f" {short_request_id(record.request_id)}" if record.request_id else ""
        print(f"{format_clock(record.time)}{request} {record.text}", flush=True)
    return 0
