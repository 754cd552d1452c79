"""Tests of the plain console view: the exact lines it prints for a sequence of updates."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import datetime

import pytest

from devd.console import format_log_line, format_request_line, run_console
from devd.engine.view import BuildState, FunctionView, Snapshot
from devd.logs.records import Level, LogRecord, RequestRecord
from tests.fakes import FakeDaemon


def local_time(hour: int, minute: int, second: int) -> float:
    """Return the Unix time of a local wall-clock time, so the expected HH:MM:SS is right in any time zone."""
    return datetime(2024, 5, 1, hour, minute, second).timestamp()


HELLO = FunctionView(
    address="aws_lambda_function.hello",
    name="hello",
    runtime="nodejs20.x",
    routes=("GET /hello",),
    build_state=BuildState.PENDING,
    generation=0,
    last_build_ms=None,
    last_built_at=None,
)

ORDERS = FunctionView(
    address="aws_lambda_function.orders",
    name="orders",
    runtime="python3.12",
    routes=("POST /orders", "GET /orders/{id}"),
    build_state=BuildState.READY,
    generation=4,
    last_build_ms=120.4,
    last_built_at=local_time(11, 59, 0),
)

START = Snapshot(
    url="http://127.0.0.1:3000",
    infra="./infra",
    functions=(HELLO, ORDERS),
    watching=True,
)


async def run_until_stopped(daemon: FakeDaemon, updates: list) -> list[str]:
    """Run the console, push the updates, stop the daemon and return the printed lines."""
    stream = io.StringIO()
    task = asyncio.create_task(run_console(daemon, stream))
    await asyncio.sleep(0)

    for update in updates:
        daemon.push(update)
    await daemon.stop()

    await asyncio.wait_for(task, timeout=5)
    return stream.getvalue().splitlines()


async def test_console_prints_sequence_exactly():
    daemon = FakeDaemon(START)
    building = replace(START, functions=(replace(HELLO, build_state=BuildState.BUILDING), ORDERS))
    ready = replace(
        START,
        functions=(
            replace(
                HELLO,
                build_state=BuildState.READY,
                generation=1,
                last_build_ms=35.2,
                last_built_at=local_time(12, 0, 2),
            ),
            ORDERS,
        ),
    )
    failed = replace(
        ready,
        functions=(
            replace(
                ready.functions[0],
                build_state=BuildState.FAILED,
                error="\nsrc/hello.ts(3,1): error TS2304: Cannot find name 'x'.\n  at line 3",
                last_built_at=local_time(12, 0, 9),
            ),
            ORDERS,
        ),
        problems=("infra/api.tf: unsupported integration type HTTP_PROXY",),
    )
    orders_removed = replace(failed, functions=(failed.functions[0],))

    updates = [
        building,
        LogRecord(source="hello", text="cold start\n", time=local_time(12, 0, 3)),
        LogRecord(
            source="hello",
            text="TypeError: x is not a function",
            level=Level.ERROR,
            request_id="1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809",
            time=local_time(12, 0, 4),
        ),
        RequestRecord(
            method="GET",
            path="/hello",
            status=200,
            duration_ms=12.34,
            function="hello",
            request_id="1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809",
            time=local_time(12, 0, 5),
        ),
        RequestRecord(
            method="GET", path="/nope", status=404, duration_ms=0.4, function=None,
            time=local_time(12, 0, 6),
        ),
        ready,
        ready,
        failed,
        orders_removed,
    ]

    lines = await run_until_stopped(daemon, updates)

    assert lines == [
        "serving http://127.0.0.1:3000",
        "hello: build pending",
        "orders: ready #4 in 120 ms",
        "hello: building",
        "12:00:03 hello | cold start",
        "12:00:04 hello | ERROR [req 1a2b3c4d] TypeError: x is not a function",
        "12:00:05 GET /hello -> 200 (12.3 ms) hello",
        "12:00:06 GET /nope -> 404 (0.4 ms)",
        "hello: ready #1 in 35 ms",
        "hello: build FAILED: src/hello.ts(3,1): error TS2304: Cannot find name 'x'.",
        "problem: infra/api.tf: unsupported integration type HTTP_PROXY",
        "orders: removed",
    ]


async def test_console_prints_problem_once():
    with_problem = replace(START, problems=("infra: no aws_lambda_function found",))
    daemon = FakeDaemon(with_problem)

    lines = await run_until_stopped(daemon, [with_problem, with_problem])

    assert lines.count("problem: infra: no aws_lambda_function found") == 1


async def test_console_returns_on_stop_sentinel():
    daemon = FakeDaemon(START)
    stream = io.StringIO()
    task = asyncio.create_task(run_console(daemon, stream))
    await asyncio.sleep(0)

    await daemon.stop()
    await asyncio.wait_for(task, timeout=5)

    assert stream.getvalue().splitlines() == [
        "serving http://127.0.0.1:3000",
        "hello: build pending",
        "orders: ready #4 in 120 ms",
    ]


async def test_console_cancel_keeps_written_lines():
    daemon = FakeDaemon(START)
    stream = io.StringIO()
    task = asyncio.create_task(run_console(daemon, stream))
    await asyncio.sleep(0)

    daemon.push(LogRecord(source="hello", text="before cancel", time=local_time(9, 30, 0)))
    await asyncio.sleep(0)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.getvalue().splitlines()[-1] == "09:30:00 hello | before cancel"


def test_log_line_warning_without_request_id():
    record = LogRecord(source="devd", text="port 3000 busy", level=Level.WARNING, time=local_time(8, 1, 2))

    assert format_log_line(record) == "08:01:02 devd | WARNING port 3000 busy"


def test_request_line_server_error():
    record = RequestRecord(
        method="POST", path="/orders", status=502, duration_ms=1503.06, function="orders",
        time=local_time(23, 59, 59),
    )

    assert format_request_line(record) == "23:59:59 POST /orders -> 502 (1503.1 ms) orders"
