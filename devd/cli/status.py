"""`devd status`: the state of the daemon that runs for this project, read over its control socket."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from devd.errors import DevdError


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd status` to the parser."""
    status = commands.add_parser("status", help="show the functions, builds, workers and processes of a running devd",
                                 description="Show the state of the `devd up` that runs for this project. Exits "
                                             "with status 1 when none runs.")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.set_defaults(run=run)


def connect_running(project: str):
    """Connect to the devd that runs for the project; print that none runs and return None
    when there is none."""
    from devd.control.client import connect

    state_dir = project_state_dir(project)
    client = connect(state_dir)
    if client is None:
        print(f"devd: {NotRunning(state_dir)}", file=sys.stderr)
    return client


def run(args: argparse.Namespace) -> int:
    """Print the running daemon's state; return 1 when no daemon runs for the project."""
    client = connect_running(args.project)
    if client is None:
        return 1
    with client:
        document = client.call("status", timeout=10.0)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print("\n".join(status_lines(document)))
    return 0


class NotRunning(DevdError):
    """No daemon listens on the project's control socket."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(f"no devd is running for {state_dir.parent} (no daemon listens on "
                         f"{state_dir / 'control.sock'}); start one with `devd up`")


def project_state_dir(project: str) -> Path:
    """Return the `.devd/` directory of the project root given with -C."""
    return Path(project).resolve() / ".devd"


def status_lines(document: dict[str, Any]) -> list[str]:
    """Return the text lines of `devd status` for a status document."""
    from devd.cli.inventory import table_lines

    watcher = "watching" if document["watching"] else "watcher off"
    lines = [f"serving {document['url']} ({document['backend']})  infra {document['infra']}  {watcher}"]
    for var_file in document["var_files"]:
        lines.append(f"var file {var_file}")
    lines.append("")
    rows = [[f["name"], f["runtime"], _state(f), _ms(f["last_build_ms"]), _workers(f["workers"]),
             str(f["requests"]), _ms(f["p50_ms"]), ", ".join(f["routes"])] for f in document["functions"]]
    lines += table_lines(["FUNCTION", "RUNTIME", "STATE", "BUILD", "WORKERS", "REQUESTS", "P50", "ROUTES"], rows)
    if document["processes"]:
        lines.append("")
        rows = [[p["name"], p["state"], str(p["pid"] or "-"), str(p["restarts"]), p["detail"]]
                for p in document["processes"]]
        lines += table_lines(["PROCESS", "STATE", "PID", "RESTARTS", "DETAIL"], rows)
    lines += [f"problem: {problem}" for problem in document["problems"]]
    return lines


def _state(function: dict[str, Any]) -> str:
    if function["build_state"] == "ready":
        return f"ready #{function['generation']}"
    return function["waiting"] or function["build_state"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _workers(workers: dict[str, int]) -> str:
    return f"{workers['idle']} idle, {workers['busy']} busy"
