"""The table of Lambda functions, one row per function, keyed by its Terraform address."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from devd.console import first_line, format_build_state, format_duration_ms
from devd.engine.view import BuildState, FunctionView

COLUMNS = (
    ("name", "Function"),
    ("runtime", "Runtime"),
    ("routes", "Routes"),
    ("state", "State"),
    ("build", "Build"),
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


def function_cells(function: FunctionView) -> tuple[str | Text, ...]:
    """Return the cells of a function's row, in the order of COLUMNS."""
    error = ""
    if function.build_state in (BuildState.FAILED, BuildState.NOT_RUNNABLE) and function.error:
        error = first_line(function.error)

    return (
        function.name,
        function.runtime,
        ", ".join(function.routes),
        Text(format_build_state(function), style=STATE_STYLES[function.build_state]),
        format_duration_ms(function.last_build_ms),
        Text(error, style="red"),
    )


class FunctionsTable(DataTable[str | Text]):
    """The functions of the Terraform with their routes and build state."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self._functions: dict[str, FunctionView] = {}
        self.border_title = "Functions"

        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show_functions(self, functions: Sequence[FunctionView]) -> None:
        """Show these functions, keeping the cursor on the same function where it still exists.

        When the set of functions is unchanged, only the cells are updated. Otherwise the
        rows are rebuilt in the order given.
        """
        addresses = [function.address for function in functions]

        if addresses == list(self._functions):
            for function in functions:
                self._update_row(function)
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

    def _update_row(self, function: FunctionView) -> None:
        if self._functions.get(function.address) == function:
            return

        for (column, _), value in zip(COLUMNS, function_cells(function)):
            self.update_cell(function.address, column, value, update_width=True)

    def _replace_rows(self, functions: Sequence[FunctionView]) -> None:
        selected = self.selected_function()

        self.clear()
        for function in functions:
            self.add_row(*function_cells(function), key=function.address)

        if selected is None or selected.address not in self.rows:
            return
        self.move_cursor(row=self.get_row_index(selected.address))
