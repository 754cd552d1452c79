"""A line above the footer that shows running long actions with their elapsed time."""

from __future__ import annotations

import itertools
import time

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
"""Frames of the spinner, one per redraw."""

REDRAW_INTERVAL = 0.2
"""Seconds between redraws while an action runs."""


class ActivityLine(Static):
    """Long actions in progress, such as a deploy, each with a spinner and its elapsed seconds.

    The line is hidden while nothing runs.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._in_progress: dict[int, tuple[str, float]] = {}
        self._tokens = itertools.count(1)
        self._frames = itertools.cycle(SPINNER)
        self._timer: Timer | None = None
        self.display = False

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of the actions that run now, oldest first."""
        return tuple(label for label, _ in self._in_progress.values())

    def start(self, label: str) -> int:
        """Show an action that starts now; return the token that `finish` takes."""
        token = next(self._tokens)
        self._in_progress[token] = (label, time.monotonic())
        self.display = True
        if self._timer is None:
            self._timer = self.set_interval(REDRAW_INTERVAL, self._redraw)
        self._redraw()
        return token

    def finish(self, token: int) -> None:
        """Remove a finished action; hide the line when it was the last."""
        self._in_progress.pop(token, None)
        if self._in_progress:
            self._redraw()
            return
        self.display = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _redraw(self) -> None:
        frame = next(self._frames)
        now = time.monotonic()
        text = Text()
        for label, started in self._in_progress.values():
            if text:
                text.append("   ")
            text.append(f"{frame} ", style="bold cyan")
            text.append(label)
            text.append(f"  {now - started:.1f} s", style="dim")
        self.update(text)
