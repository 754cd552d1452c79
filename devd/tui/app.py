"""The Textual app that `devd up` shows: functions, their build state and a live log pane."""

from __future__ import annotations

import asyncio
import logging
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Footer

from devd.console import new_problems, take_batch
from devd.engine.handle import DaemonHandle, Update
from devd.engine.view import Snapshot
from devd.logs.records import Level, LogRecord
from devd.tui.functions_table import FunctionsTable
from devd.tui.log_pane import Entry, LogPane
from devd.tui.status_line import StatusLine

logger = logging.getLogger("devd.tui")

TABLE_REFRESH_INTERVAL = 0.1
"""Minimum seconds between two redraws of the status line and the functions table."""

BATCH_INTERVAL = 0.05
"""Seconds the update reader waits after each batch, so that a burst of records
collects into a few large batches and the screen keeps drawing between them."""


def problem_records(previous: Snapshot | None, current: Snapshot) -> list[LogRecord]:
    """Return a warning record from "devd" for each problem that `current` adds."""
    return [
        LogRecord(source="devd", text=problem, level=Level.WARNING)
        for problem in new_problems(previous, current)
    ]


class DevdApp(App[None]):
    """A screen for one running daemon.

    It shows the status line, the functions table and the log pane, and reads updates
    from `daemon.subscribe()` until the daemon stops. The app exits when the queue yields
    `None` or when the user quits, and quitting stops the daemon first.
    """

    CSS_PATH = "devd.tcss"
    TITLE = "devd"

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("b", "rebuild", "Rebuild"),
        Binding("f", "toggle_filter", "Filter logs"),
        Binding("c", "clear_logs", "Clear logs"),
    ]

    def __init__(self, daemon: DaemonHandle) -> None:
        super().__init__()
        self.daemon = daemon
        self._latest_snapshot: Snapshot | None = None
        self._displayed_snapshot: Snapshot | None = None
        self._last_table_refresh = float("-inf")
        self._refresh_timer: Timer | None = None
        self._stopping = False

    def compose(self) -> ComposeResult:
        # Widgets need a running app to be created, so they are made here and not in __init__.
        self.status_line = StatusLine(id="status")
        self.functions_table = FunctionsTable(id="functions")
        self.log_pane = LogPane(id="logs")

        yield self.status_line
        yield self.functions_table
        yield self.log_pane
        yield Footer()

    def on_mount(self) -> None:
        # Subscribe before reading the snapshot, so no change falls between the two.
        queue = self.daemon.subscribe()

        self._apply_batch([self.daemon.snapshot()])
        self.functions_table.focus()

        self.run_worker(self._read_updates(queue), name="updates", exclusive=True)

    async def _read_updates(self, queue: "asyncio.Queue[Update]") -> None:
        while True:
            batch, stopped = await take_batch(queue)
            self._apply_batch(batch)

            if stopped:
                logger.info("daemon stopped, closing the TUI")
                self.exit()
                return

            await asyncio.sleep(BATCH_INTERVAL)

    def _apply_batch(self, batch: list[Update]) -> None:
        # After exit() the widgets are being removed, and a late batch has nowhere to go.
        if not self.log_pane.is_attached:
            return

        entries: list[Entry] = []
        snapshot_changed = False

        for update in batch:
            if isinstance(update, Snapshot):
                entries.extend(problem_records(self._latest_snapshot, update))
                self._latest_snapshot = update
                snapshot_changed = True
            else:
                entries.append(update)

        if entries:
            self.log_pane.add_entries(entries)

        if snapshot_changed:
            self._schedule_snapshot_refresh()

    def _schedule_snapshot_refresh(self) -> None:
        """Redraw the table now, or once the refresh interval since the last redraw has passed."""
        if self._refresh_timer is not None:
            return

        wait = self._last_table_refresh + TABLE_REFRESH_INTERVAL - time.monotonic()
        if wait <= 0:
            self._show_latest_snapshot()
        else:
            self._refresh_timer = self.set_timer(wait, self._show_latest_snapshot)

    def _show_latest_snapshot(self) -> None:
        self._refresh_timer = None
        self._last_table_refresh = time.monotonic()

        snapshot = self._latest_snapshot
        if snapshot is None or snapshot is self._displayed_snapshot:
            return

        # The timer can fire after exit(), while the widgets are being removed.
        if not self.functions_table.is_attached:
            return

        self.status_line.show_snapshot(snapshot)
        self.functions_table.show_functions(snapshot.functions)
        self._displayed_snapshot = snapshot

    async def action_quit(self) -> None:
        """Stop the daemon, then exit. Also bound to ctrl+q through Textual's default binding."""
        if self._stopping:
            return
        self._stopping = True

        self.notify("Stopping devd...")
        try:
            await self.daemon.stop()
        except Exception:
            # Exit even when stopping fails, so the terminal is usable. The error goes to the log.
            logger.exception("stopping the daemon failed")

        self.exit()

    async def action_rebuild(self) -> None:
        """Queue a rebuild of the function under the cursor."""
        function = self.functions_table.selected_function()
        if function is None:
            self.notify("No function selected.", severity="warning")
            return

        try:
            await self.daemon.rebuild(function.address)
        except Exception as error:
            # A failed request must not end the TUI, so it is logged and shown instead.
            logger.exception("rebuild of %s failed", function.address)
            self.notify(f"Rebuild of {function.name} failed: {error}", severity="error")
            return

        self.notify(f"Rebuild queued: {function.name}")

    def action_toggle_filter(self) -> None:
        """Switch the log pane between every line and the lines of the function under the cursor."""
        if self.log_pane.function_filter is not None:
            self.log_pane.show_only(None)
            return

        function = self.functions_table.selected_function()
        if function is None:
            self.notify("No function selected.", severity="warning")
            return

        self.log_pane.show_only(function.name)

    def action_clear_logs(self) -> None:
        """Clear the log pane and the records kept for filtering."""
        self.log_pane.clear_entries()
