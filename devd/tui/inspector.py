"""The request inspector: the last requests in a table, and one request's event and response as
pretty JSON with secrets masked."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from devd.console import format_clock, short_request_id
from devd.logs.masking import mask_secrets
from devd.logs.records import RequestRecord
from devd.tui.lines import status_style

REQUESTS_KEPT = 300
"""Requests the inspector lists; older ones leave the list."""

Replay = Callable[[RequestRecord], None]
SaveEvent = Callable[[RequestRecord], None]


def pretty_json(text: str | None) -> str:
    """Return JSON text indented, with secrets masked; a JSON string in a `body` field is
    expanded too. Text that is not JSON is masked and returned as it is."""
    if text is None:
        return "(not kept: no function ran, or it was larger than the inspector keeps)"
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return mask_secrets(text)
    if isinstance(document, dict) and isinstance(document.get("body"), str):
        try:
            document = dict(document, body=json.loads(document["body"]))
        except json.JSONDecodeError:
            pass
    return mask_secrets(json.dumps(document, indent=2, ensure_ascii=False))


def request_cells(record: RequestRecord) -> tuple[str | Text, ...]:
    """Return the inspector row of a request: time, method, path, status, duration, function, id."""
    return (
        format_clock(record.time),
        record.method,
        record.path,
        Text(str(record.status), style=status_style(record.status)),
        f"{record.duration_ms:.1f} ms",
        record.function or "",
        short_request_id(record.request_id) if record.request_id else "",
    )


class RequestsScreen(Screen[None]):
    """The last requests, newest at the bottom; Enter opens one and p replays it."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape,t", "app.pop_screen", "Back"),
        Binding("p", "replay", "Replay"),
    ]

    def __init__(self, requests: Sequence[RequestRecord], replay: Replay, save: SaveEvent) -> None:
        super().__init__(id="requests")
        self.requests = list(requests)
        self.replay = replay
        self.save = save

    def compose(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(cursor_type="row", zebra_stripes=True, id="request-table")
        table.border_title = "Requests (Enter opens, p replays, Escape returns)"
        for label in ("Time", "Method", "Path", "Status", "Duration", "Function", "Request id"):
            table.add_column(label)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.show_requests(self.requests)

    def show_requests(self, requests: Sequence[RequestRecord]) -> None:
        """Show these requests, keeping the cursor on the last row when it was there."""
        table = self.query_one(DataTable)
        at_end = table.row_count == 0 or table.cursor_row >= table.row_count - 1
        self.requests = list(requests)
        table.clear()
        for index, record in enumerate(self.requests):
            table.add_row(*request_cells(record), key=str(index))
        if at_end and self.requests:
            table.move_cursor(row=len(self.requests) - 1)
        table.focus()

    def selected(self) -> RequestRecord | None:
        """Return the request under the cursor."""
        table = self.query_one(DataTable)
        if not self.requests or table.cursor_row >= len(self.requests):
            return None
        return self.requests[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the request of the selected row."""
        record = self.selected()
        if record is not None:
            self.app.push_screen(RequestDetailScreen(record, self.replay, self.save))

    def action_replay(self) -> None:
        """Send the selected request's event to its function again."""
        record = self.selected()
        if record is not None:
            self.replay(record)


class RequestDetailScreen(Screen[None]):
    """One request: its summary line, the event sent to the handler and the response it returned."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "app.pop_screen", "Back"),
        Binding("p", "replay", "Replay"),
        Binding("w", "save", "Save as invoke event"),
    ]

    def __init__(self, record: RequestRecord, replay: Replay, save: SaveEvent) -> None:
        super().__init__(id="request-detail")
        self.record = record
        self.replay = replay
        self.save = save

    def compose(self) -> ComposeResult:
        record = self.record
        with VerticalScroll(id="request-body") as body:
            body.border_title = f"{record.method} {record.path} {record.status}"
            yield Static(Text.assemble(*_summary(record)), id="request-summary")
            yield Static(Text("Event sent to the handler", style="bold"))
            yield Static(Syntax(pretty_json(record.event), "json", theme="ansi_dark", word_wrap=True), id="event")
            yield Static(Text("Response returned by the handler", style="bold"))
            yield Static(Syntax(pretty_json(record.response), "json", theme="ansi_dark", word_wrap=True),
                         id="response")
        yield Footer()

    def action_replay(self) -> None:
        """Send this request's event to its function again."""
        self.replay(self.record)

    def action_save(self) -> None:
        """Save this request's event as its function's invoke event."""
        self.save(self.record)


def _summary(record: RequestRecord) -> list[str | tuple[str, str]]:
    parts: list[str | tuple[str, str]] = [
        (format_clock(record.time), "dim"), "  ",
        (f"{record.method} {record.path}", "bold"), " ",
        (str(record.status), status_style(record.status)),
        f"  {record.duration_ms:.1f} ms",
    ]
    if record.function:
        parts += ["  function ", (record.function, "bold")]
    if record.request_id:
        parts += ["  request id ", (record.request_id, "bold magenta")]
    return parts
