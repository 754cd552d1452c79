"""The line at the top of the screen: where devd serves, which Terraform root it reads, the watcher,
and the state of each Procfile process."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from devd.engine.view import Snapshot
from devd.supervise.status import ProcessState, describe_status


def status_text(snapshot: Snapshot) -> Text:
    """Build `devd  http://127.0.0.1:3000  infra ./infra  watching` from a snapshot."""
    watcher = ("watching", "green") if snapshot.watching else ("watcher off", "yellow")

    text = Text.assemble(
        ("devd", "bold"),
        "  ",
        (snapshot.url, "bold underline"),
        "  infra ",
        (snapshot.infra, "bold"),
        "  ",
        watcher,
    )
    for status in snapshot.processes:
        style = "green" if status.state is ProcessState.RUNNING else "yellow"
        text.append("  ")
        text.append(f"{status.name}: {describe_status(status, time.monotonic())}", style=style)
    return text


class StatusLine(Static):
    """One line that shows the daemon's URL, Terraform root and watcher state."""

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show the URL, Terraform root and watcher state of this snapshot."""
        self.update(status_text(snapshot))
