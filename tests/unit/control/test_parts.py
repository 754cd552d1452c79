"""Pure parts behind the control commands and the header: status documents and lines, build
waiters, the AWS target, and sample events."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from devd.cli.status import status_lines
from devd.control.documents import (
    record_document,
    record_from_document,
    status_document,
)
from devd.engine.aws_target import aws_target
from devd.engine.sample_events import event_for, save_event
from devd.engine.view import (
    BuildState,
    FunctionView,
    RequestStats,
    Snapshot,
    waiting_reason,
)
from devd.engine.waiters import BuildWaiters
from devd.inventory import ApiKind, Function, Inventory, Route
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.supervise.status import ProcessState, ProcessStatus

HELLO = FunctionView("aws_lambda_function.hello", "get-hello", "nodejs20.x", ("GET /hello",), BuildState.READY, 2,
                     35.0, 1_700_000_000.0, workers=3, busy=1, requests=5, p50_ms=4.0)
SNAPSHOT = Snapshot("http://127.0.0.1:3000", "/app/infra", (HELLO,), ("a problem",), True,
                    (ProcessStatus("moto", ProcessState.RUNNING, pid=42),), var_files=("/app/infra/dev.tfvars",))


def test_status_document_and_lines() -> None:
    document = json.loads(json.dumps(status_document(SNAPSHOT)))
    function = document["functions"][0]
    assert function["workers"] == {"count": 3, "busy": 1, "idle": 2}
    assert function["build_state"] == "ready"
    assert document["processes"][0]["pid"] == 42

    lines = status_lines(document)
    assert lines[0] == "serving http://127.0.0.1:3000 (native)  infra /app/infra  watching"
    assert lines[1] == "var file /app/infra/dev.tfvars"
    row = next(line for line in lines if line.startswith("get-hello"))
    assert "ready #2" in row
    assert "2 idle, 1 busy" in row
    assert "4 ms" in row
    assert any(line.startswith("moto") and "running" in line for line in lines)
    assert lines[-1] == "problem: a problem"


def test_record_documents_round_trip() -> None:
    log = LogRecord("get-hello", "boom", Level.ERROR, "id-1", 1.5)
    request = RequestRecord("GET", "/hello", 200, 2.5, "get-hello", "id-2", 2.5, event="{}", response="{}")
    assert record_from_document(record_document(log)) == log
    rebuilt = record_from_document(record_document(request))
    assert rebuilt.status == 200
    assert rebuilt.event is None  # documents leave events out


@pytest.mark.parametrize("state, error, reloading, reason", [
    (BuildState.PENDING, None, False, "queued"),
    (BuildState.BUILDING, None, False, "building"),
    (BuildState.READY, None, True, "Terraform reloading"),
    (BuildState.FAILED, "node not found (running in /app): install it or fix the command", False,
     "toolchain missing"),
    (BuildState.FAILED, "src/a.ts:1:1: ERROR: x", False, ""),
    (BuildState.READY, None, False, ""),
])
def test_waiting_reason(state: BuildState, error: str | None, reloading: bool, reason: str) -> None:
    function = FunctionView("a", "a", "nodejs20.x", (), state, 1, None, None, error)
    assert waiting_reason(function, reloading) == reason


def test_request_stats_median_and_window() -> None:
    stats = RequestStats(keep=3)
    for duration in (10.0, 1.0, 2.0, 3.0):
        stats.add("f", duration)
    stats.add(None, 99.0)
    assert stats.count("f") == 4
    assert stats.recent("f") == (1.0, 2.0, 3.0)
    assert stats.p50("f") == 2.0
    assert stats.p50("other") is None


async def test_waiters_skip_older_builds() -> None:
    waiters: BuildWaiters[str] = BuildWaiters()
    future = waiters.wait("a", 3)
    waiters.finished("a", 2, "old")
    assert not future.done()
    waiters.finished("a", 3, "new")
    assert await future == "new"

    stopped = waiters.wait("a", 4)
    waiters.cancel_all(RuntimeError("stopped"))
    with pytest.raises(RuntimeError, match="stopped"):
        await asyncio.wait_for(stopped, 1)


def test_aws_target_from_env_and_config(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-west-2\n[profile dev]\nregion = eu-west-1\n")
    assert aws_target({"AWS_PROFILE": "dev", "AWS_REGION": "ap-south-1"}) == ("dev", "ap-south-1")
    assert aws_target({"AWS_PROFILE": "dev", "AWS_CONFIG_FILE": str(config)}) == ("dev", "eu-west-1")
    assert aws_target({"AWS_CONFIG_FILE": str(config)}) == (None, "us-west-2")
    assert aws_target({}, home=tmp_path) == (None, None)


def test_sample_then_saved_event(tmp_path: Path) -> None:
    function = Function(address="aws_lambda_function.item", name="get-item", runtime="python3.11",
                        handler="handler.main", code_dir=str(tmp_path), source="functions/items")
    route = Route(ApiKind.REST, "aws_api_gateway_rest_api.api", "GET", "/items/{id}", "1.0",
                  "aws_lambda_function.item")
    inventory = Inventory(functions=(function,), routes=(route,))

    event, origin = event_for(inventory, tmp_path, function.address)
    document = json.loads(event)
    assert origin == "a sample GET /items/sample event"
    assert document["path"] == "/items/sample"
    assert document["pathParameters"] == {"id": "sample"}

    path = save_event(tmp_path, "get-item", b'{"saved": true}')
    event, origin = event_for(inventory, tmp_path, function.address)
    assert event == b'{"saved": true}'
    assert origin == f"saved event {path}"
