"""The log pane: handler output and requests in a ring buffer, with filters that re-render it,
follow mode, folded stack traces, and a second buffer for a deployed function's remote logs."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import RichLog

from devd.logs.records import Level, LogRecord, RequestRecord
from devd.tui.lines import entry_line, skipped_line

Entry = LogRecord | RequestRecord

BUFFER_SIZE = 5_000
"""Records kept for re-rendering when a filter changes. Older records are dropped and counted."""

BATCH_LINE_LIMIT = 100
"""Lines written for one batch of records; a larger batch shows its last lines and a note.
The pane shows about 30 lines, and each written line costs render time on the gateway's event
loop. A busy batch writes at most this many, and the buffer keeps the rest for a filter change."""

LEVEL_FILTERS = (Level.DEBUG, Level.WARNING, Level.ERROR)
"""Minimum levels that the level key cycles through: everything, warnings and errors, errors."""

_LEVEL_ORDER = {Level.DEBUG: 0, Level.INFO: 1, Level.WARNING: 2, Level.ERROR: 3}


def entry_function(entry: Entry) -> str | None:
    """Return the name of the function a record belongs to, if any.

    A log record belongs to the function its source names. Sources that are not functions
    (a side process, "devd") never match a function filter.
    """
    if isinstance(entry, RequestRecord):
        return entry.function
    return entry.source


def entry_level(entry: Entry) -> Level:
    """Return a record's level; a request counts as an error for 5xx and a warning for 4xx."""
    if isinstance(entry, LogRecord):
        return entry.level
    if entry.status >= 500:
        return Level.ERROR
    if entry.status >= 400:
        return Level.WARNING
    return Level.INFO


@dataclass(frozen=True)
class LogFilter:
    """The filter of the pane: one function or all, a case-insensitive text, and a minimum level."""

    function: str | None = None
    text: str = ""
    level: Level = Level.DEBUG

    def passes(self, entry: Entry) -> bool:
        """Return True when the record passes every part of the filter."""
        if self.function is not None and entry_function(entry) != self.function:
            return False
        if _LEVEL_ORDER[entry_level(entry)] < _LEVEL_ORDER[self.level]:
            return False
        return not self.text or self.text.lower() in entry_line(entry, folded=False).plain.lower()


class LogPane(RichLog):
    """A log view that keeps the last records and re-renders them when a filter changes."""

    def __init__(
        self,
        *,
        buffer_size: int = BUFFER_SIZE,
        batch_line_limit: int = BATCH_LINE_LIMIT,
        id: str | None = None,
    ) -> None:
        super().__init__(max_lines=buffer_size, wrap=False, markup=False, id=id)
        self.buffer: deque[Entry] = deque(maxlen=buffer_size)
        self.remote_buffer: deque[Entry] = deque(maxlen=buffer_size)
        self.batch_line_limit = batch_line_limit
        self.filter = LogFilter()
        self.folded = True
        self.dropped = 0
        """Records the ring buffer dropped because it was full."""
        self.remote_function: str | None = None
        """The function whose remote logs the pane shows, or None for local logs."""
        self._update_title()

    @property
    def function_filter(self) -> str | None:
        """The function whose lines the pane shows, or None for every source."""
        return self.filter.function

    @property
    def following(self) -> bool:
        """True while new lines scroll the pane to the end; scrolling up pauses it."""
        return self.is_vertical_scroll_end or self.max_scroll_y == 0

    def add_entries(self, entries: Sequence[Entry], remote: bool = False) -> None:
        """Store a batch of records and write the lines of those that pass the filter.

        When more than `batch_line_limit` of them pass, only the last ones are written,
        after a note with the number skipped. The skipped ones stay in the buffer.
        """
        buffer = self.remote_buffer if remote else self.buffer
        overflow = max(0, len(buffer) + len(entries) - (buffer.maxlen or 0))
        buffer.extend(entries)
        if not remote:
            self.dropped += overflow

        if remote != (self.remote_function is not None):
            self._update_title()
            return
        visible = [entry for entry in entries if self.filter.passes(entry)]
        skipped = max(0, len(visible) - self.batch_line_limit)
        self.auto_scroll = self.following
        self._write_entries(visible[skipped:], skipped)
        self._update_title()

    def set_filter(self, log_filter: LogFilter) -> None:
        """Apply a filter and re-render the kept records."""
        self.filter = log_filter
        self._rerender()

    def show_only(self, function: str | None) -> None:
        """Show only the lines of this function, or every line for None, and re-render."""
        self.set_filter(LogFilter(function, self.filter.text, self.filter.level))

    def show_remote(self, function: str | None) -> None:
        """Show the remote logs of this function, or the local logs again for None."""
        if function != self.remote_function:
            self.remote_buffer.clear()
        self.remote_function = function
        self._rerender()

    def follow(self) -> None:
        """Scroll to the end and follow new lines again."""
        self.auto_scroll = True
        self.scroll_end(animate=False)
        self._update_title()

    def set_folded(self, folded: bool) -> None:
        """Fold multi-line records to their first line, or show them whole, and re-render."""
        self.folded = folded
        self._rerender()

    def clear_entries(self) -> None:
        """Clear the pane and the buffer, so a later filter change does not bring lines back."""
        self.buffer.clear()
        self.remote_buffer.clear()
        self.dropped = 0
        self.clear()
        self._update_title()

    def _rerender(self) -> None:
        self.clear()
        buffer = self.remote_buffer if self.remote_function is not None else self.buffer
        self.auto_scroll = True
        self._write_entries([entry for entry in buffer if self.filter.passes(entry)], 0)
        self._update_title()

    def _write_entries(self, entries: Iterable[Entry], skipped: int) -> None:
        lines = [entry_line(entry, folded=self.folded) for entry in entries]
        if skipped:
            lines.insert(0, skipped_line(skipped))

        if not lines:
            return

        # One write of a multi-line Text renders far faster than one write per line.
        self.write(Text("\n").join(lines))

    def _update_title(self) -> None:
        if self.remote_function is not None:
            title = f"Remote logs: {self.remote_function}"
        elif self.filter.function is None:
            title = "Logs: all functions"
        else:
            title = f"Logs: {self.filter.function} only"
        if self.filter.text:
            title += f"  filter {self.filter.text!r}"
        if self.filter.level is not Level.DEBUG:
            title += f"  {self.filter.level.value}s and worse"
        self.border_title = title

        subtitle = []
        if self.dropped:
            subtitle.append(f"{self.dropped:,} dropped")
        if not self.auto_scroll:
            subtitle.append("paused, G follows")
        self.border_subtitle = "  ".join(subtitle)
