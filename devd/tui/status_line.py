"""The line at the top of the screen: where devd serves, which Terraform root it reads, and the watcher."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from devd.engine.view import Snapshot


def status_text(snapshot: Snapshot) -> Text:
    """Build `devd  http://127.0.0.1:3000  infra ./infra  watching` from a snapshot."""
    watcher = ("watching", "green") if snapshot.watching else ("watcher off", "yellow")

    return Text.assemble(
        ("devd", "bold"),
        "  ",
        (snapshot.url, "bold underline"),
        "  infra ",
        (snapshot.infra, "bold"),
        "  ",
        watcher,
    )


class StatusLine(Static):
    """One line that shows the daemon's URL, Terraform root and watcher state."""

    def show_snapshot(self, snapshot: Snapshot) -> None:
        """Show the URL, Terraform root and watcher state of this snapshot."""
        self.update(status_text(snapshot))
