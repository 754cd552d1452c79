"""Screenshots of the TUI compared with accepted SVG snapshots (pytest-textual-snapshot).

Every value on screen is fixed: record times, build times and the clock's time zone, so a
snapshot changes only when the layout or the content does. After an intended change, run
`pytest tests/unit/tui/test_snapshots.py --snapshot-update` and review the new SVG files.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from textual.pilot import Pilot

from devd.deploy.model import ResourceChange
from devd.engine.view import BuildState
from devd.logs.records import Level, LogRecord
from devd.tui.app import DevdApp
from devd.tui.inspector import RequestDetailScreen, RequestsScreen
from devd.tui.screens import ConfirmScreen, HelpScreen
from tests.fakes import FakeDaemon
from tests.unit.tui.deployer import RecordingDeployer
from tests.unit.tui.test_app import HELLO, ORDERS, SCREEN_SIZE, START
from tests.unit.tui.test_keys import REQUEST

BUSY_HELLO = replace(HELLO, workers=2, busy=1, requests=12, p50_ms=3.4, recent_ms=(2.0, 3.0, 9.0, 3.4, 2.5))
MAIN = replace(START, functions=(BUSY_HELLO, ORDERS), var_files=("infra/vars/dev.tfvars",), aws_profile="dev",
               aws_region="eu-west-1")

RECORDS = (
    LogRecord("devd", "serving http://127.0.0.1:3000 from examples/basic/infra", time=1_700_000_000.0),
    LogRecord("get-hello", "built #3 in 35 ms", time=1_700_000_001.0),
    REQUEST,
    LogRecord("get-hello", "TypeError: name is undefined\n    at main (handler.ts:3:9)", Level.ERROR,
              request_id="1a2b3c4d-0000", time=1_700_000_002.0),
)


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def app_with_records(daemon: FakeDaemon) -> DevdApp:
    app = DevdApp(daemon)

    async def push_records() -> None:
        for record in RECORDS:
            daemon.push(record)

    app.call_later(push_records)
    return app


async def wait_for(pilot: Pilot, condition) -> None:
    for _ in range(250):
        if condition():
            break
        await pilot.pause(0.02)
    assert condition()
    await pilot.pause(0.2)


def test_main_screen(snap_compare) -> None:
    app = app_with_records(FakeDaemon(MAIN))

    async def settle(pilot: Pilot) -> None:
        await wait_for(pilot, lambda: len(app.log_pane.lines) == 4)

    assert snap_compare(app, terminal_size=SCREEN_SIZE, run_before=settle)


def test_failed_build(snap_compare) -> None:
    failed = replace(HELLO, build_state=BuildState.FAILED,
                     error="src/hello.ts:3:1: ERROR: Expected \";\" but found \"x\"\nsecond line")
    app = app_with_records(FakeDaemon(replace(MAIN, functions=(failed, ORDERS))))

    async def settle(pilot: Pilot) -> None:
        await wait_for(pilot, lambda: len(app.log_pane.lines) == 4)

    assert snap_compare(app, terminal_size=SCREEN_SIZE, run_before=settle)


def test_help_screen(snap_compare) -> None:
    app = DevdApp(FakeDaemon(MAIN))

    async def open_help(pilot: Pilot) -> None:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))

    assert snap_compare(app, terminal_size=SCREEN_SIZE, run_before=open_help)


def test_request_inspector(snap_compare) -> None:
    app = app_with_records(FakeDaemon(MAIN))

    async def open_request(pilot: Pilot) -> None:
        await wait_for(pilot, lambda: len(app.requests) == 1)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, RequestsScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RequestDetailScreen))

    assert snap_compare(app, terminal_size=SCREEN_SIZE, run_before=open_request)


def test_deploy_confirmation(snap_compare) -> None:
    deployer = RecordingDeployer((ResourceChange("aws_lambda_function.hello", "update"),
                                  ResourceChange("aws_iam_role.hello", "replace")))
    app = DevdApp(FakeDaemon(replace(MAIN, deploys_configured=True), deployer))

    async def plan(pilot: Pilot) -> None:
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))

    assert snap_compare(app, terminal_size=SCREEN_SIZE, run_before=plan)
