"""The Textual app that `devd up` shows: a header, the functions table, a live log pane, a
progress line for long actions and the footer with the keys."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from devd.console import new_problems, take_batch
from devd.engine.handle import DaemonHandle, Update
from devd.engine.view import Snapshot
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.supervise.status import ProcessState
from devd.tui.activity import ActivityLine
from devd.tui.commands import CommandsMixin
from devd.tui.functions_table import FunctionsTable
from devd.tui.inspector import REQUESTS_KEPT, RequestsScreen
from devd.tui.keys import ACTIONS, resolve_keys, textual_key
from devd.tui.log_pane import Entry, LogPane
from devd.tui.status_line import StatusLine

logger = logging.getLogger("devd.tui")

TABLE_REFRESH_INTERVAL = 0.1
"""Minimum seconds between two redraws of the header, the functions table and the inspector."""

BATCH_INTERVAL = 0.05
"""Seconds the update reader waits after each batch, so that a burst of records
collects into a few large batches and the screen keeps drawing between them."""

BUSY_BATCH_INTERVAL = 1.0
"""Seconds the update reader waits after a batch that followed the previous one within this
time. Each batch that adds log lines redraws the whole screen on the event loop that the
gateway also uses. So a steady stream of requests gets one redraw a second and leaves the
gateway the CPU, while a lone request after a quiet spell shows within BATCH_INTERVAL. A
limit by batch size instead would let a slow stream of small batches redraw 20 times a second
(see bench/tui_load.py)."""

POLL_INTERVAL = 1.0
"""Seconds between reads of the daemon's snapshot for worker and request counts, which change
without a snapshot being published."""


def problem_records(previous: Snapshot | None, current: Snapshot) -> list[LogRecord]:
    """Return a warning record from "devd" for each problem that `current` adds."""
    return [
        LogRecord(source="devd", text=problem, level=Level.WARNING)
        for problem in new_problems(previous, current)
    ]


def _same_header(current: Snapshot, previous: Snapshot | None) -> bool:
    """Return True when the header would show the same text; a back-off countdown never is."""
    if any(status.state is ProcessState.BACKOFF for status in current.processes):
        return False
    return previous is not None and replace(current, functions=()) == replace(previous, functions=())


class DevdApp(CommandsMixin, App[None]):
    """A screen for one running daemon.

    It shows the header, the functions table and the log pane, and reads updates from
    `daemon.subscribe()` until the daemon stops. The app exits when the queue yields `None`
    or when the user quits, and quitting stops the daemon first. `keys` maps action names to
    keys, as devd.toml's `[keys]` table does.
    """

    CSS_PATH = "devd.tcss"
    TITLE = "devd"

    BINDINGS = [  # noqa: RUF012 - Textual's declared form
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, daemon: DaemonHandle, keys: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.daemon = daemon
        self.keys = resolve_keys(keys or {})
        for item in ACTIONS:
            self.bind(textual_key(self.keys[item.action]), item.action, description=item.label,
                      key_display=self.keys[item.action])
        self.requests: deque[RequestRecord] = deque(maxlen=REQUESTS_KEPT)
        self._requests_changed = False
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
        self.activity = ActivityLine(id="activity")

        yield self.status_line
        yield self.functions_table
        yield self.log_pane
        yield self.activity
        yield Footer()

    def on_mount(self) -> None:
        # Subscribe before reading the snapshot, so no change falls between the two.
        queue = self.daemon.subscribe()

        self._apply_batch([self.daemon.snapshot()])
        self.functions_table.focus()

        self.run_worker(self._read_updates(queue), name="updates", exclusive=True)
        self.set_interval(POLL_INTERVAL, self._poll_snapshot)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """List every devd action in the command palette (ctrl+p), with its key."""
        yield from super().get_system_commands(screen)
        for item in ACTIONS:
            yield SystemCommand(f"{item.label} ({self.keys[item.action]})", item.help,
                                lambda action=item.action: self.run_action(action))

    async def _read_updates(self, queue: asyncio.Queue[Update]) -> None:
        previous = float("-inf")
        while True:
            batch, stopped = await take_batch(queue)
            self._apply_batch(batch)
            now = time.monotonic()
            busy = now - previous < BUSY_BATCH_INTERVAL + BATCH_INTERVAL
            previous = now

            if stopped:
                logger.info("daemon stopped, closing the TUI")
                self.exit()
                return

            await asyncio.sleep(BUSY_BATCH_INTERVAL if busy else BATCH_INTERVAL)

    def _poll_snapshot(self) -> None:
        if self._stopping:
            return
        self._latest_snapshot = self.daemon.snapshot()
        self._schedule_snapshot_refresh()

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
                continue
            entries.append(update)
            if isinstance(update, RequestRecord):
                self.requests.append(update)
                self._requests_changed = True

        if entries:
            self.log_pane.add_entries(entries)

        if snapshot_changed or self._requests_changed:
            self._schedule_snapshot_refresh()

    def _schedule_snapshot_refresh(self) -> None:
        """Redraw now, or once the refresh interval since the last redraw has passed."""
        if self._refresh_timer is not None:
            return

        wait = self._last_table_refresh + TABLE_REFRESH_INTERVAL - time.monotonic()
        if wait <= 0:
            self._show_latest_snapshot()
        else:
            self._refresh_timer = self.set_timer(wait, self._show_latest_snapshot)

    def _show_latest_snapshot(self) -> None:
        self._refresh_timer = None
        if not self.screen_stack:
            return  # the timer fired while the app shut down, after its screens were removed
        self._last_table_refresh = time.monotonic()
        self._show_requests()

        snapshot = self._latest_snapshot
        # The poll returns an equal snapshot when nothing changed, and redrawing it would cost a
        # full-screen layout for nothing.
        if snapshot is None or snapshot == self._displayed_snapshot:
            return

        # The timer can fire after exit(), while the widgets are being removed.
        if not self.functions_table.is_attached:
            return

        if not _same_header(snapshot, self._displayed_snapshot):
            self.status_line.show_snapshot(snapshot)
        self.functions_table.show_functions(snapshot.functions, snapshot.reloading)
        self._displayed_snapshot = snapshot

    def _show_requests(self) -> None:
        if not self._requests_changed:
            return
        self._requests_changed = False
        if isinstance(self.screen, RequestsScreen):
            self.screen.show_requests(self.requests)

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
