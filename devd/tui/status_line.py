"""The header of the screen: where devd serves, its backend, the Terraform root and var files,
the watcher, where a deploy would go, and the state of each Procfile process."""

from __future__ import annotations

import time
from pathlib import PurePath

from rich.text import Text
from textual.widgets import Static

from devd.engine.view import Snapshot
from devd.supervise.status import ProcessState, describe_status


def status_text(snapshot: Snapshot, now: float | None = None) -> Text:
    """Build the two header lines of a snapshot.

    `devd  http://127.0.0.1:3000  native  infra ./infra  vars dev.tfvars  watching` and
    `AWS profile default, region eu-west-1  deploys off  moto: running`. `now` is the
    monotonic clock for process back-off times.
    """
    watcher = ("watching", "green") if snapshot.watching else ("watcher off", "yellow")
    text = Text.assemble(
        ("devd", "bold"), "  ",
        (snapshot.url, "bold underline"), "  ",
        (snapshot.backend, "cyan"),
        "  infra ", (short_path(snapshot.infra, snapshot.project), "bold"),
    )
    if snapshot.var_files:
        text.append("  vars ")
        text.append(", ".join(short_path(path, snapshot.project) for path in snapshot.var_files), style="bold")
    text.append("  ")
    text.append(*watcher)
    if snapshot.reloading:
        text.append("  reloading Terraform", style="yellow")

    text.append("\n")
    text.append_text(_deploy_target(snapshot))
    current = time.monotonic() if now is None else now
    for status in snapshot.processes:
        style = "green" if status.state is ProcessState.RUNNING else "yellow"
        text.append("  ")
        text.append(f"{status.name}: {describe_status(status, current)}", style=style)
    return text


def short_path(path: str, project: str) -> str:
    """Return path relative to the project root when it is inside it, else path unchanged."""
    if not project:
        return path
    try:
        return str(PurePath(path).relative_to(project))
    except ValueError:
        return path


def _deploy_target(snapshot: Snapshot) -> Text:
    profile = snapshot.aws_profile or "default"
    region = snapshot.aws_region or "not set"
    target = Text.assemble("AWS profile ", (profile, "bold"), ", region ", (region, "bold"))
    if snapshot.aws_endpoint:
        target.append_text(Text.assemble(", endpoint ", (snapshot.aws_endpoint, "bold")))
    if not snapshot.deploys_configured:
        target.append("  deploys not set up", style="dim")
    return target


class StatusLine(Static):
    """The header lines: URL, backend, Terraform root, var files, watcher, AWS target and processes."""

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show the header of this snapshot."""
        self.update(status_text(snapshot))
