"""`devd up --debug`: workers under the Node inspector or debugpy, with their timeouts lifted,
and NODE_OPTIONS from the terminal reaching Node workers.

The debugger ports are the defaults that editors use (9229 for Node, 5678 for debugpy), so
these tests fail if another program on this machine listens on them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.conftest import RunningDevd, copy_example, start_devd, stop_devd

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")

STATUS_HANDLER = """
export const handler = async (event) => {
  const sleepMs = Number(event.queryStringParameters?.sleep ?? 0);
  await new Promise((resolve) => setTimeout(resolve, sleepMs));
  return { pid: process.pid, preloaded: globalThis.devdPreloaded ?? null };
};
"""

PRELOAD = "globalThis.devdPreloaded = 'from NODE_OPTIONS';\n"


def example_with_sleeping_status(root: Path) -> Path:
    project = copy_example(root)
    (project / "functions" / "status" / "index.mjs").write_text(STATUS_HANDLER)
    return project


@pytest.fixture(scope="module")
def debugging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevd]:
    project = example_with_sleeping_status(tmp_path_factory.mktemp("debug") / "app")
    running = start_devd(project, "--debug", "devd-example-dev-status", "--debug", "*-get-item")
    yield running
    stop_devd(running)


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def read_dap_message(connection: socket.socket, buffer: bytearray) -> dict:
    """Read one Debug Adapter Protocol message (a Content-Length header, then JSON)."""
    while b"\r\n\r\n" not in buffer:
        chunk = connection.recv(4096)
        assert chunk, "debugpy closed the connection"
        buffer.extend(chunk)
    header, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = int(header.decode().split("Content-Length:")[1].strip())
    while len(rest) < length:
        chunk = connection.recv(4096)
        assert chunk, "debugpy closed the connection"
        rest += chunk
    buffer[:] = rest[length:]
    return json.loads(rest[:length])


def test_attach_hints_printed(debugging: RunningDevd) -> None:
    node = debugging.wait_for_line(r"devd-example-dev-status \| debugging: Node inspector on 127\.0\.0\.1:9229")
    python = debugging.wait_for_line(r"devd-example-dev-get-item \| debugging: debugpy on 127\.0\.0\.1:5678")

    assert "attach" in node
    assert "attach" in python


def test_node_inspector_lists_target(debugging: RunningDevd) -> None:
    wait_for_port(9229)

    with urllib.request.urlopen("http://127.0.0.1:9229/json/list", timeout=10) as response:
        targets = json.loads(response.read())

    assert targets, "the inspector lists no target"
    assert targets[0]["webSocketDebuggerUrl"].startswith("ws://127.0.0.1:9229/")


def connect_when_listening(port: int, timeout: float = 20.0) -> socket.socket:
    """Connect to 127.0.0.1:port once something listens there. debugpy serves one client, so
    the test must not probe the port with a connection of its own first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=20)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_debugpy_answers_initialize(debugging: RunningDevd) -> None:
    request = {
        "seq": 1, "type": "request", "command": "initialize",
        "arguments": {"clientID": "devd-test", "adapterID": "debugpy", "pathFormat": "path"},
    }
    body = json.dumps(request).encode()

    with connect_when_listening(5678) as connection:
        connection.sendall(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        buffer = bytearray()
        message = read_dap_message(connection, buffer)
        while message.get("type") != "response":
            message = read_dap_message(connection, buffer)

    assert message["command"] == "initialize"
    assert message["request_seq"] == 1
    assert message["success"] is True
    assert "supportsConfigurationDoneRequest" in message["body"]


def test_debug_lifts_function_timeout(debugging: RunningDevd) -> None:
    started = time.monotonic()
    status, body = debugging.get("/status?sleep=3600")

    assert status == 200, body
    assert time.monotonic() - started >= 3.5
    assert "timed out" not in "\n".join(debugging.lines)


def test_debug_runs_one_worker(debugging: RunningDevd) -> None:
    answers: list[str] = []

    def request() -> None:
        answers.append(debugging.get("/status?sleep=300")[1])

    threads = [threading.Thread(target=request) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len({json.loads(answer)["pid"] for answer in answers}) == 1


def test_python_function_serves_under_debugpy(debugging: RunningDevd) -> None:
    status, body = debugging.get("/items/1")

    assert status == 200, body


def test_node_options_reach_node_workers(tmp_path: Path) -> None:
    project = example_with_sleeping_status(tmp_path / "app")
    preload = tmp_path / "preload.cjs"
    preload.write_text(PRELOAD)
    saved = os.environ.get("NODE_OPTIONS")
    os.environ["NODE_OPTIONS"] = f"--require {preload}"
    try:
        running = start_devd(project)
    finally:
        if saved is None:
            os.environ.pop("NODE_OPTIONS", None)
        else:
            os.environ["NODE_OPTIONS"] = saved
    try:
        status, body = running.get("/status")
        assert status == 200, body
        assert json.loads(body)["preloaded"] == "from NODE_OPTIONS"
    finally:
        stop_devd(running)
