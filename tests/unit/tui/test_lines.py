"""Log pane lines built from records."""

from __future__ import annotations

from devd.logs.records import Level, LogRecord
from devd.tui.lines import log_line


def test_colour_codes_become_styles():
    record = LogRecord("moto", "\x1b[33mWARNING: This is a development server.\x1b[0m", Level.INFO)

    line = log_line(record)

    assert "\x1b" not in line.plain
    assert line.plain.endswith("WARNING: This is a development server.")
    assert any(getattr(span.style, "color", None) is not None for span in line.spans)


def test_plain_text_is_kept_as_written():
    line = log_line(LogRecord("fn", "a [b] c", Level.ERROR))

    assert line.plain.endswith("a [b] c")
