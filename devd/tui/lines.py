"""Styled lines for the TUI's log pane, built from log and request records."""

from __future__ import annotations

from rich.text import Text

from devd.console import format_clock, short_request_id
from devd.logs.records import Level, LogRecord, RequestRecord

LEVEL_STYLES = {Level.ERROR: "red", Level.WARNING: "yellow", Level.DEBUG: "dim"}
"""Styles of log record text by level. Info text keeps the default style."""

REQUEST_ID_STYLE = "bold magenta"
"""Style of request ids, so the lines of one request stand out."""

SPARK_BARS = "▁▂▃▄▅▆▇█"
"""Eight bar heights, lowest first."""

SPARK_WIDTH = 12
"""Most recent values a sparkline shows."""


def sparkline(values: tuple[float, ...] | list[float], width: int = SPARK_WIDTH) -> str:
    """Return the last `width` values as bars scaled between their minimum and maximum."""
    recent = list(values)[-width:]
    if not recent:
        return ""
    low, high = min(recent), max(recent)
    if high == low:
        return SPARK_BARS[0] * len(recent)
    scale = (len(SPARK_BARS) - 1) / (high - low)
    return "".join(SPARK_BARS[round((value - low) * scale)] for value in recent)


def status_style(status: int) -> str:
    """Return the style of an HTTP status code: green 2xx, cyan 3xx, yellow 4xx, red 5xx."""
    if status >= 500:
        return "bold red"
    if status >= 400:
        return "yellow"
    if status >= 300:
        return "cyan"
    return "green"


def log_line(record: LogRecord, folded: bool = True) -> Text:
    """Build `HH:MM:SS source  [1a2b3c4d] text`, with the text coloured by level.

    The bracketed request id appears only when the record has one. A folded multi-line error,
    such as a stack trace, shows its first line and the number of lines hidden.
    """
    line = Text.assemble(
        (format_clock(record.time), "dim"),
        " ",
        (record.source, "bold"),
        "  ",
    )

    if record.request_id:
        line.append(f"[{short_request_id(record.request_id)}] ", style=REQUEST_ID_STYLE)

    text = record.text.rstrip("\r\n")
    hidden = 0
    if folded and record.level is Level.ERROR and "\n" in text:
        text, _, rest = text.partition("\n")
        hidden = rest.count("\n") + 1
    style = LEVEL_STYLES.get(record.level, "")
    if "\x1b" in text:
        # Colour codes from a program's output (moto's server, for one) become styles, because
        # raw escape sequences would move the cursor and break the pane's borders.
        line.append_text(Text.from_ansi(text, style=style))
    else:
        line.append(text, style=style)
    if hidden:
        noun = "line" if hidden == 1 else "lines"
        line.append(f"  [+{hidden} {noun}, z unfolds]", style="dim italic")
    return line


def request_line(record: RequestRecord) -> Text:
    """Build `HH:MM:SS GET /hello 200 12.3 ms  get-hello`, with the status coloured by class.

    The function name is left out when the request matched no function.
    """
    line = Text.assemble(
        (format_clock(record.time), "dim"),
        " ",
        (f"{record.method} {record.path}", "bold"),
        " ",
        (str(record.status), status_style(record.status)),
        f" {record.duration_ms:.1f} ms",
    )

    if record.function:
        line.append(f"  {record.function}", style="dim")
    if record.request_id:
        line.append(f"  [{short_request_id(record.request_id)}]", style=REQUEST_ID_STYLE)
    return line


def skipped_line(count: int) -> Text:
    """Build the note that replaces the log lines a burst skipped."""
    noun = "line" if count == 1 else "lines"
    return Text(f"... {count:,} {noun} skipped", style="dim italic")


def entry_line(entry: LogRecord | RequestRecord, folded: bool = True) -> Text:
    """Build the log pane line for either kind of record."""
    if isinstance(entry, RequestRecord):
        return request_line(entry)
    return log_line(entry, folded)
