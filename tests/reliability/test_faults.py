"""Faults inside a handler, under the real `devd up --no-tui`: each one fails its own request
with the response API Gateway gives, while other requests keep being served.

tests/integration/test_workers.py checks the same faults on a worker pool alone. Here they go
through the gateway, the engine and the HTTP client, with a second route under load beside them.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import psutil
import pytest

from tests.integration.conftest import RunningDevd, start_devd, stop_devd

FAULT_MODULES = """
module "python_fault" {
  source = "./modules/http_function"

  function_name          = "${local.name_prefix}-python-fault"
  http_method            = "GET"
  path_part              = "python-fault"
  parent_id              = aws_api_gateway_rest_api.api.root_resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn
  handler                = "fault.handler"
  runtime                = "python3.11"
  timeout                = 6
  memory_size            = 128
  package                = "${path.module}/../dist/python-fault.zip"
  role_arn               = aws_iam_role.lambda.arn
}

module "node_fault" {
  source = "./modules/http_function"

  function_name          = "${local.name_prefix}-node-fault"
  http_method            = "GET"
  path_part              = "node-fault"
  parent_id              = aws_api_gateway_rest_api.api.root_resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn
  handler                = "fault.handler"
  runtime                = "nodejs20.x"
  timeout                = 6
  memory_size            = 128
  package                = "${path.module}/../dist/node-fault.zip"
  role_arn               = aws_iam_role.lambda.arn
}
"""

PYTHON_FAULT = '''
import os
import sys
import time


def handler(event, context):
    action = (event.get("queryStringParameters") or {}).get("action", "pid")
    if action == "sleep":
        time.sleep(5)
    elif action == "hang":
        while True:
            time.sleep(1)
    elif action == "exit":
        os._exit(7)
    elif action == "flood":
        line = "x" * 1023
        for _ in range(8 * 1024):
            print(line)
        sys.stdout.flush()
    elif action == "allocate":
        chunks = []
        for _ in range(24):
            chunks.append(bytearray(16 * 1024 * 1024))
    return {"statusCode": 200, "body": str(os.getpid())}
'''

NODE_FAULT = '''
export const handler = async (event) => {
  const action = (event.queryStringParameters || {}).action || "pid";
  if (action === "hang") await new Promise(() => setInterval(() => {}, 1000));
  if (action === "exit") process.exit(7);
  if (action === "flood") {
    const line = "x".repeat(1023);
    for (let i = 0; i < 8 * 1024; i++) console.log(line);
  }
  return { statusCode: 200, body: String(process.pid) };
};
'''

INTERNAL_ERROR = {"message": "Internal server error"}
"""The body a REST API returns with 502 when its Lambda proxy integration fails."""


@pytest.fixture
def faults(example: Path) -> Iterator[RunningDevd]:
    faults_dir = example / "functions/faults"
    faults_dir.mkdir()
    (faults_dir / "fault.py").write_text(PYTHON_FAULT)
    (faults_dir / "fault.mjs").write_text(NODE_FAULT)
    rest_api = example / "infra/rest_api.tf"
    rest_api.write_text(rest_api.read_text() + FAULT_MODULES)
    devd_toml = example / "devd.toml"
    devd_toml.write_text(devd_toml.read_text() + '"dist/python-fault.zip" = "functions/faults"\n'
                         '"dist/node-fault.zip" = "functions/faults"\n')
    running = start_devd(example)
    running.wait_for_line(r"python-fault: ready #1")
    running.wait_for_line(r"node-fault: ready #1")
    yield running
    stop_devd(running)


class _Background:
    """Requests to /items/1 in a thread while a fault happens, counting what comes back."""

    def __init__(self, running: RunningDevd) -> None:
        self.running = running
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(35)

    def _run(self) -> None:
        for _ in range(2000):
            if self._stop.is_set():
                return
            self.statuses.append(self.running.get("/items/1")[0])
            time.sleep(0.01)


def _pid(running: RunningDevd, path: str) -> int:
    status, body = running.get(path)
    assert status == 200, body
    return int(body)


def _assert_fault_contained(running: RunningDevd, path: str, action: str, before: int,
                            fresh_worker: bool = True) -> float:
    with _Background(running) as background:
        started = time.monotonic()
        status, body = running.get(f"{path}?action={action}")
        elapsed = time.monotonic() - started

    assert status == 502, body
    assert json.loads(body) == INTERNAL_ERROR
    assert background.statuses, "no request ran beside the fault"
    assert set(background.statuses) == {200}
    after = _pid(running, path)
    if fresh_worker:
        assert after != before, "the failed worker served the next request"
        assert psutil.pid_exists(before) is False or psutil.Process(before).status() == psutil.STATUS_ZOMBIE
    return elapsed


def test_kill_9_mid_request(faults: RunningDevd) -> None:
    before = _pid(faults, "/python-fault")
    with concurrent.futures.ThreadPoolExecutor(1) as pool, _Background(faults) as background:
        pending = pool.submit(faults.get, "/python-fault?action=sleep")
        time.sleep(1.0)
        started = time.monotonic()
        os.kill(before, signal.SIGKILL)
        status, body = pending.result(timeout=30)
        recovered = time.monotonic() - started

    started = time.monotonic()
    after = _pid(faults, "/python-fault")
    next_request = time.monotonic() - started

    assert status == 502, body
    assert json.loads(body) == INTERNAL_ERROR
    assert recovered < 2.0
    assert set(background.statuses) == {200}
    assert after != before
    faults.wait_for_line(r"signal 9|SIGKILL")
    print(f"\nfigures: kill -9 mid-request: 502 after {recovered * 1000:.0f} ms, next request served by a "
          f"fresh worker in {next_request * 1000:.0f} ms, {len(background.statuses)} other requests all 200")


@pytest.mark.parametrize("path", ["/python-fault", "/node-fault"], ids=["python", "node"])
def test_handler_never_returns(faults: RunningDevd, path: str) -> None:
    before = _pid(faults, path)

    elapsed = _assert_fault_contained(faults, path, "hang", before)

    assert 5.9 <= elapsed < 8.0
    faults.wait_for_line(r"Task timed out after 6\.00 seconds")
    print(f"\nfigures: {path} never returns: 502 after {elapsed * 1000:.0f} ms")


@pytest.mark.parametrize("path", ["/python-fault", "/node-fault"], ids=["python", "node"])
def test_handler_exits_process(faults: RunningDevd, path: str) -> None:
    before = _pid(faults, path)

    elapsed = _assert_fault_contained(faults, path, "exit", before)

    assert elapsed < 2.0
    faults.wait_for_line(r"Runtime exited with exit status 7")


@pytest.mark.parametrize("path", ["/python-fault", "/node-fault"], ids=["python", "node"])
def test_handler_floods_stdout(faults: RunningDevd, path: str) -> None:
    before = _pid(faults, path)
    daemon = psutil.Process(faults.process.pid)
    rss_before = daemon.memory_info().rss

    with _Background(faults) as background:
        started = time.monotonic()
        status, body = faults.get(f"{path}?action=flood")
        elapsed = time.monotonic() - started
    rss_after = daemon.memory_info().rss

    assert status == 200
    assert int(body) == before, "a flood of output must not cost the worker"
    assert set(background.statuses) == {200}
    assert elapsed < 3.0
    assert _pid(faults, path) == before
    print(f"\nfigures: {path} writes 8 MiB to stdout: 200 after {elapsed * 1000:.0f} ms, "
          f"devd RSS {rss_before >> 20} -> {rss_after >> 20} MiB")


def test_handler_allocates_without_bound(faults: RunningDevd) -> None:
    before = _pid(faults, "/python-fault")

    _assert_fault_contained(faults, "/python-fault", "allocate", before, fresh_worker=False)

    faults.wait_for_line(r"MemoryError")
