"""Modal screens of the TUI: help, a yes/no confirmation, a text prompt and a choice list."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static

from devd.tui.keys import ACTIONS

OTHER_KEYS = (
    ("ctrl+p", "command palette: every action by name"),
    ("up, down", "select a function, or a request in the inspector"),
    ("Enter", "in the request inspector: open the request"),
    ("p", "in the request inspector: replay the request"),
    ("w", "in a request: save its event as the function's invoke event"),
    ("Escape", "close this screen, the inspector or a prompt"),
    ("ctrl+c", "quit"),
)
"""Keys that devd.toml does not configure, as the help screen lists them."""


def help_table(keys: dict[str, str]) -> Table:
    """Return the table of every key and what it does, with the configured keys first."""
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for item in ACTIONS:
        table.add_row(keys[item.action], item.help)
    for key, text in OTHER_KEYS:
        table.add_row(key, text)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key of the TUI and what it does."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]  # noqa: RUF012

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__(id="help")
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "devd keys (Escape closes)"
            yield Static(help_table(self.keys))

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        """Close the help screen."""
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A question with a body text; y confirms, n or Escape declines."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]  # noqa: RUF012

    def __init__(self, title: str, body: Text | str) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-body") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.body)
            yield Label(Text.assemble(("y", "bold green"), " confirm   ", ("n", "bold red"), " cancel"))

    def action_answer(self, answer: bool) -> None:
        """Close the dialog with this response."""
        self.dismiss(answer)


class PromptScreen(ModalScreen[str | None]):
    """One line of text; Enter submits it and Escape cancels with None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-body") as dialog:
            dialog.border_title = self.title_text
            yield Input(self.value, placeholder=self.placeholder, id="prompt")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Close the prompt with the text typed."""
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Close the prompt without a value."""
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """A list of names; Enter picks one and Escape cancels with None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]  # noqa: RUF012

    def __init__(self, title: str, choices: Sequence[str]) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-body") as dialog:
            dialog.border_title = self.title_text
            yield OptionList(*self.choices, id="choices")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Close the list with the chosen name."""
        self.dismiss(self.choices[event.option_index])

    def action_cancel(self) -> None:
        """Close the list without a choice."""
        self.dismiss(None)
