"""`devd logs FUNCTION`: the local log and request lines of a running daemon, optionally followed."""

from __future__ import annotations

import argparse
import sys


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd logs` to the parser."""
    logs = commands.add_parser("logs", help="print the local logs of a function from the running devd",
                               description="Print the log and request lines that the running `devd up` keeps "
                                           "for a function (or for all), and with --follow every new one "
                                           "until devd stops or you press Ctrl-C.")
    logs.add_argument("function", nargs="?", metavar="FUNCTION",
                      help="function name or Terraform address (default: every source)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the daemon's lines for the function; return 1 when no daemon runs."""
    from devd.cli.status import NotRunning, project_state_dir
    from devd.console import format_log_line, format_request_line
    from devd.control.client import connect
    from devd.control.documents import record_from_document
    from devd.logs.records import RequestRecord

    state_dir = project_state_dir(args.project)
    client = connect(state_dir)
    if client is None:
        print(f"devd: {NotRunning(state_dir)}", file=sys.stderr)
        return 1
    with client:
        for document in client.stream("logs", timeout=None, function=args.function, follow=args.follow):
            record = record_from_document(document)
            line = format_request_line(record) if isinstance(record, RequestRecord) else format_log_line(record)
            print(line, flush=args.follow)
    return 0
