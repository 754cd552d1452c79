"""The log pane: handler output and requests, with a ring buffer so a filter can re-render."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import RichLog

from devd.logs.records import LogRecord, RequestRecord
from devd.tui.lines import entry_line, skipped_line

Entry = LogRecord | RequestRecord

BUFFER_SIZE = 5_000
"""Records kept for re-rendering when the filter changes. Older records are dropped."""

BATCH_LINE_LIMIT = 300
"""Lines written for one batch of records; a larger batch shows its last lines and a note."""


def entry_function(entry: Entry) -> str | None:
    """Return the name of the function a record belongs to, if any.

    A log record belongs to the function its source names. Sources that are not functions
    (a side process, "devd") never match a function filter.
    """
    if isinstance(entry, RequestRecord):
        return entry.function
    return entry.source


class LogPane(RichLog):
    """A log view that keeps the last records and can show only one function's lines."""

    def __init__(
        self,
        *,
        buffer_size: int = BUFFER_SIZE,
        batch_line_limit: int = BATCH_LINE_LIMIT,
        id: str | None = None,
    ) -> None:
        super().__init__(max_lines=buffer_size, wrap=False, markup=False, id=id)
        self.buffer: deque[Entry] = deque(maxlen=buffer_size)
        self.batch_line_limit = batch_line_limit
        self.function_filter: str | None = None
        self._update_title()

    def add_entries(self, entries: Sequence[Entry]) -> None:
        """Store a batch of records and write the lines of those that pass the filter.

        When more than `batch_line_limit` of them pass, only the last ones are written,
        after a note with the number skipped. The skipped ones stay in the buffer.
        """
        self.buffer.extend(entries)

        visible = [entry for entry in entries if self._passes_filter(entry)]
        skipped = max(0, len(visible) - self.batch_line_limit)
        self._write_entries(visible[skipped:], skipped)

    def show_only(self, function: str | None) -> None:
        """Show only the lines of this function, or every line for None, and re-render."""
        self.function_filter = function
        self._update_title()

        self.clear()
        self._write_entries([entry for entry in self.buffer if self._passes_filter(entry)], 0)

    def clear_entries(self) -> None:
        """Clear the pane and the buffer, so a later filter change does not bring lines back."""
        self.buffer.clear()
        self.clear()

    def _passes_filter(self, entry: Entry) -> bool:
        if self.function_filter is None:
            return True
        return entry_function(entry) == self.function_filter

    def _write_entries(self, entries: Iterable[Entry], skipped: int) -> None:
        lines = [entry_line(entry) for entry in entries]
        if skipped:
            lines.insert(0, skipped_line(skipped))

        if not lines:
            return

        # One write of a multi-line Text renders far faster than one write per line.
        self.write(Text("\n").join(lines))

    def _update_title(self) -> None:
        if self.function_filter is None:
            self.border_title = "Logs: all functions"
        else:
            self.border_title = f"Logs: {self.function_filter} only"
