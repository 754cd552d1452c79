"""The table of Lambda functions, one row per function, keyed by its Terraform address."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from devd.console import (
    first_line,
    format_build_state,
    format_clock,
    format_duration_ms,
)
from devd.engine.view import BuildState, FunctionView, waiting_reason
from devd.tui.lines import sparkline

COLUMNS = (
    ("name", "Function"),
    ("runtime", "Runtime"),
    ("routes", "Routes"),
    ("state", "State"),
    ("build", "Build"),
    ("workers", "Workers"),
    ("requests", "Reqs"),
    ("latency", "p50"),
    ("deploy", "Deploy"),
    ("error", "Error"),
)
"""Column keys and labels, in display order."""

STATE_STYLES = {
    BuildState.READY: "green",
    BuildState.BUILDING: "yellow",
    BuildState.PENDING: "dim",
    BuildState.FAILED: "bold red",
    BuildState.NOT_RUNNABLE: "dim",
}


def function_cells(function: FunctionView, reloading: bool = False) -> tuple[str | Text, ...]:
    """Return the cells of a function's row, in the order of COLUMNS."""
    error = ""
    if function.build_state in (BuildState.FAILED, BuildState.NOT_RUNNABLE) and function.error:
        error = first_line(function.error)

    return (
        function.name,
        function.runtime,
        ", ".join(function.routes),
        _state_cell(function, reloading),
        _build_cell(function),
        _workers_cell(function),
        str(function.requests) if function.requests else "",
        _latency_cell(function),
        function.deploy,
        Text(error, style="red"),
    )


def _state_cell(function: FunctionView, reloading: bool) -> Text:
    state = Text(format_build_state(function), style=STATE_STYLES[function.build_state])
    reason = waiting_reason(function, reloading)
    if reason and reason != function.build_state.value:
        state.append(f" ({reason})", style="yellow")
    return state


def _build_cell(function: FunctionView) -> str:
    duration = format_duration_ms(function.last_build_ms)
    if function.last_built_at is None:
        return duration
    return f"{format_clock(function.last_built_at)} {duration}"


def _workers_cell(function: FunctionView) -> str:
    if function.workers == 0:
        return ""
    return f"{function.workers - function.busy} idle {function.busy} busy"


def _latency_cell(function: FunctionView) -> Text:
    if function.p50_ms is None:
        return Text("")
    return Text.assemble(f"{function.p50_ms:.1f} ms ", (sparkline(function.recent_ms), "cyan"))


class FunctionsTable(DataTable[str | Text]):
    """The functions of the Terraform with their routes, build, workers, requests and deploy state."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self._functions: dict[str, FunctionView] = {}
        self._reloading = False
        self.border_title = "Functions"

        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show_functions(self, functions: Sequence[FunctionView], reloading: bool = False) -> None:
        """Show these functions, keeping the cursor on the same function where it still exists.

        When the set of functions is unchanged, only the cells are updated. Otherwise the
        rows are rebuilt in the order given.
        """
        addresses = [function.address for function in functions]
        reload_changed = reloading != self._reloading
        self._reloading = reloading

        if addresses == list(self._functions):
            for function in functions:
                self._update_row(function, force=reload_changed)
        else:
            self._replace_rows(functions)

        self._functions = {function.address: function for function in functions}

    def selected_function(self) -> FunctionView | None:
        """Return the function of the row under the cursor, or None when the table is empty."""
        if self.row_count == 0:
            return None

        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        if row_key.value is None:
            return None
        return self._functions.get(row_key.value)

    def _update_row(self, function: FunctionView, force: bool) -> None:
        if self._functions.get(function.address) == function and not force:
            return

        for (column, _), value in zip(COLUMNS, function_cells(function, self._reloading), strict=True):
            self.update_cell(function.address, column, value, update_width=True)

    def _replace_rows(self, functions: Sequence[FunctionView]) -> None:
        selected = self.selected_function()

        self.clear()
        for function in functions:
            self.add_row(*function_cells(function, self._reloading), key=function.address)

        if selected is None or selected.address not in self.rows:
            return
        self.move_cursor(row=self.get_row_index(selected.address))
