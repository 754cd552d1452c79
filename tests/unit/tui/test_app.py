"""Tests of the devd TUI, run as a real Textual app under a headless Pilot."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.pilot import Pilot

from devd.console import format_clock
from devd.engine.view import BuildState, FunctionView, Snapshot
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.tui.app import DevdApp
from devd.tui.functions_table import FunctionsTable
from devd.tui.log_pane import LogPane
from devd.tui.status_line import StatusLine
from tests.fakes import FakeDaemon

SCREEN_SIZE = (140, 40)

HELLO = FunctionView(
    address="aws_lambda_function.hello",
    name="get-hello",
    runtime="nodejs20.x",
    routes=("GET /hello",),
    build_state=BuildState.READY,
    generation=3,
    last_build_ms=35.2,
    last_built_at=1_700_000_000.0,
)

ORDERS = FunctionView(
    address="aws_lambda_function.orders",
    name="orders",
    runtime="python3.12",
    routes=("POST /orders", "GET /orders/{id}"),
    build_state=BuildState.BUILDING,
    generation=0,
    last_build_ms=None,
    last_built_at=None,
)

START = Snapshot(
    url="http://127.0.0.1:3000",
    infra="examples/basic/infra",
    functions=(HELLO, ORDERS),
    watching=True,
)


def table_rows(app: DevdApp) -> list[list[str]]:
    table = app.query_one(FunctionsTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def pane_lines(app: DevdApp) -> list[str]:
    return [strip.text for strip in app.query_one(LogPane).lines]


def colour_of(app: DevdApp, text: str) -> str | None:
    """Return the colour name of the first log pane segment that contains this text."""
    for strip in app.query_one(LogPane).lines:
        for segment in strip:
            if text in segment.text and segment.style is not None and segment.style.color:
                return segment.style.color.name
    return None


async def wait_until(pilot: Pilot, condition, timeout: float = 5.0) -> None:
    """Let the app run until the condition holds, or fail after `timeout` seconds."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition(), "condition still false after waiting"


async def test_table_shows_functions():
    app = DevdApp(FakeDaemon(START))

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.pause()

        assert table_rows(app) == [
            ["get-hello", "nodejs20.x", "GET /hello", "ready #3", f"{format_clock(HELLO.last_built_at)} 35 ms",
             "", "", "", "", ""],
            ["orders", "python3.12", "POST /orders, GET /orders/{id}", "building", "", "", "", "", "", ""],
        ]


async def test_status_line_shows_url_infra_watcher():
    app = DevdApp(FakeDaemon(replace(START, watching=False)))

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.pause()
        status = str(app.query_one(StatusLine).render())

        assert "http://127.0.0.1:3000" in status
        assert "examples/basic/infra" in status
        assert "watcher off" in status


async def test_records_appear_in_log_pane():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(
            RequestRecord(
                method="GET", path="/hello", status=200, duration_ms=12.34,
                function="get-hello", time=1_700_000_000.0,
            )
        )
        daemon.push(
            LogRecord(
                source="get-hello", text="handler boom", level=Level.ERROR,
                request_id="1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809", time=1_700_000_001.0,
            )
        )
        await wait_until(pilot, lambda: len(pane_lines(app)) == 2)
        request_line, log_line = pane_lines(app)

        assert request_line.endswith(" GET /hello 200 12.3 ms  get-hello")
        assert log_line.endswith(" get-hello  [1a2b3c4d] handler boom")
        assert "5e6f" not in log_line
        assert colour_of(app, "handler boom") == "red"


async def test_failed_build_shows_error():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        failed = replace(
            HELLO,
            build_state=BuildState.FAILED,
            error="src/hello.ts(3,1): error TS2304: Cannot find name 'x'.\nsecond line",
        )
        daemon.push(replace(START, functions=(failed, ORDERS)))
        await wait_until(pilot, lambda: table_rows(app)[0][3] == "FAILED")

        assert table_rows(app)[0][9] == "src/hello.ts(3,1): error TS2304: Cannot find name 'x'."


async def test_last_snapshot_of_burst_shown():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        for generation in range(4, 54):
            daemon.push(replace(START, functions=(replace(HELLO, generation=generation), ORDERS)))
            await pilot.pause(0.001)

        await wait_until(pilot, lambda: table_rows(app)[0][3] == "ready #53")


async def test_problems_shown_once_in_yellow():
    problem = "infra/api.tf: unsupported integration type HTTP_PROXY"
    daemon = FakeDaemon(replace(START, problems=(problem,)))
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(replace(START, problems=(problem,)))
        daemon.push(LogRecord(source="get-hello", text="after the snapshot"))
        await wait_until(pilot, lambda: any("after the snapshot" in line for line in pane_lines(app)))

        assert sum(problem in line for line in pane_lines(app)) == 1
        assert colour_of(app, problem) == "yellow"


async def test_rebuild_key_uses_selected_row():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("down", "b")
        await pilot.pause()

        assert daemon.rebuilds == ["aws_lambda_function.orders"]


async def test_filter_key_toggles_function_logs():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(LogRecord(source="get-hello", text="hello line"))
        daemon.push(LogRecord(source="orders", text="orders line"))
        daemon.push(
            RequestRecord(method="POST", path="/orders", status=201, duration_ms=3.0, function="orders")
        )
        await wait_until(pilot, lambda: len(pane_lines(app)) == 3)

        await pilot.press("down", "f")
        filtered = pane_lines(app)

        assert len(filtered) == 2
        assert "orders line" in filtered[0]
        assert "POST /orders 201" in filtered[1]
        assert app.query_one(LogPane).border_title == "Logs: orders only"

        await pilot.press("f")

        assert len(pane_lines(app)) == 3
        assert "hello line" in pane_lines(app)[0]


async def test_filter_applies_to_new_records():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("f")
        daemon.push(LogRecord(source="orders", text="orders line"))
        daemon.push(LogRecord(source="get-hello", text="hello line"))
        await wait_until(pilot, lambda: len(app.query_one(LogPane).buffer) == 2)
        await pilot.pause()

        assert len(pane_lines(app)) == 1
        assert "hello line" in pane_lines(app)[0]


async def test_clear_key_empties_pane():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(LogRecord(source="get-hello", text="old line"))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 1)

        await pilot.press("c")
        assert pane_lines(app) == []

        await pilot.press("f", "f")
        assert pane_lines(app) == []


async def test_quit_key_stops_daemon_and_exits():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)

    assert daemon.stopped


async def test_app_exits_when_daemon_stops():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await daemon.stop()
        await wait_until(pilot, lambda: not app.is_running)


@pytest.mark.timeout(30)
async def test_log_burst_shows_skipped_note():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)

    async with app.run_test(size=SCREEN_SIZE) as pilot:
        for number in range(10_000):
            daemon.push(LogRecord(source="get-hello", text=f"burst line {number}"))
        await wait_until(pilot, lambda: any("burst line 9999" in line for line in pane_lines(app)))
        lines = pane_lines(app)

        assert "9,900 lines skipped" in lines[0]
        assert "burst line 9900" in lines[1]
        assert len(lines) == 101
        assert len(app.query_one(LogPane).buffer) == 5_000


async def test_refresh_after_shutdown_is_ignored():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE):
        daemon.push(RequestRecord(method="GET", path="/hello", status=200, duration_ms=1.0, function="get-hello"))

    # A refresh timer that fires after the screens are gone does nothing.
    app._requests_changed = True
    app._show_latest_snapshot()

    assert app.screen_stack == []
