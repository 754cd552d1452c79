"""`devd up --no-tui` on a copy of the bundled example, with real node, esbuild and Python
workers: requests over 127.0.0.1, edits on disk, and a clean exit."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, RunningDevd, processes_under, start_devd, stop_devd

FIXTURES = REPO / "tests" / "fixtures"

NEW_ROUTE = """
module "get_ping" {
  source = "./modules/http_function"

  function_name          = "${local.name_prefix}-get-ping"
  http_method            = "GET"
  path_part              = "ping"
  parent_id              = aws_api_gateway_rest_api.api.root_resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn
  handler                = "ping.handler"
  runtime                = "python3.11"
  package                = "${path.module}/../dist/get-ping.zip"
  role_arn               = aws_iam_role.lambda.arn
}
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_serves_every_route(devd: RunningDevd) -> None:
    status, body = devd.get("/hello")
    assert status == 200
    assert json.loads(body) == {"message": "Hello, world!"}

    status, body = devd.get("/hello?name=Ada")
    assert json.loads(body)["message"] == "Hello, Ada!"

    status, body = devd.get("/items/1")
    assert status == 200
    assert json.loads(body)["name"] == "apple"

    status, body = devd.get("/dev/items/7")
    assert status == 404
    assert json.loads(body) == {"message": "item 7 not found"}

    status, body = devd.get("/items", data=json.dumps({"name": "pear"}).encode(), method="POST")
    assert status == 201
    assert json.loads(body)["name"] == "pear"

    status, body = devd.get("/status")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "stage": "dev", "path": "/status"}

    status, _ = devd.get("/nothing/here")
    assert status == 404
    devd.wait_for_line(r"GET /hello -> 200 .*get-hello")


def test_handler_edit_reaches_next_request(devd: RunningDevd, example: Path) -> None:
    devd.wait_for_body("/hello", "Hello, world!")
    mark = devd.mark()
    edit(example / "functions/hello/handler.ts", '"world"', '"devd"')

    devd.wait_for_body("/hello", "Hello, devd!")
    devd.wait_for_line(r"get-hello: ready #2", mark)
    assert not any("status: ready #2" in line for line in devd.lines[mark:])
    assert not any("get-item: ready #2" in line for line in devd.lines[mark:])


def test_shared_module_edit_rebuilds_only_importers(devd: RunningDevd, example: Path) -> None:
    devd.wait_for_line(r"create-item: ready #1")
    devd.wait_for_line(r"get-item: ready #1")
    mark = devd.mark()
    edit(example / "functions/items/validation.py", "def ", "# edited\ndef ", )

    devd.wait_for_line(r"create-item: ready #2", mark)
    time.sleep(0.5)
    assert not any("get-item: ready #2" in line for line in devd.lines[mark:])

    mark = devd.mark()
    edit(example / "functions/lib/greeting.ts", "export function", "// edited\nexport function")
    devd.wait_for_line(r"get-hello: ready #2", mark)
    time.sleep(0.5)
    assert not any("status: ready #2" in line for line in devd.lines[mark:])


def test_throwing_handler_gives_502_and_keeps_serving(devd: RunningDevd, example: Path) -> None:
    devd.wait_for_line(r"get-hello: ready #1")
    handler = example / "functions/hello/handler.ts"
    original = handler.read_text()
    edit(handler, "export const main = async", 'export const main = async (..._args: unknown[]) => {\n  throw new Error("boom from test");\n};\nexport const unused = async')
    mark = devd.mark()
    devd.wait_for_line(r"get-hello: ready #2", mark)

    status, body = devd.get("/hello")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    devd.wait_for_line(r"boom from test", mark)
    assert "boom" not in body
    assert devd.get("/items/1")[0] == 200

    handler.write_text(original)
    devd.wait_for_body("/hello", "Hello, world!")


def test_syntax_error_keeps_last_good_build(devd: RunningDevd, example: Path) -> None:
    devd.wait_for_line(r"get-hello: ready #1")
    handler = example / "functions/hello/handler.ts"
    original = handler.read_text()
    mark = devd.mark()
    handler.write_text(original + "\nconst broken = ;\n")

    line = devd.wait_for_line(r"get-hello: build FAILED", mark)
    assert "handler.ts" in line or any("handler.ts:" in l for l in devd.lines[mark:])
    status, body = devd.get("/hello")
    assert status == 200
    assert "Hello, world!" in body

    mark = devd.mark()
    handler.write_text(original.replace('"world"', '"again"'))
    devd.wait_for_body("/hello", "Hello, again!")


def test_broken_tf_keeps_routes_then_recovers(devd: RunningDevd, example: Path) -> None:
    devd.wait_for_line(r"get-hello: ready #1")
    main_tf = example / "infra/main.tf"
    original = main_tf.read_text()
    mark = devd.mark()
    main_tf.write_text(original + '\nlocals {\n  broken = \n}\n')

    devd.wait_for_line(r"main\.tf:\d+: invalid HCL syntax", mark)
    assert devd.get("/hello")[0] == 200

    main_tf.write_text(original)
    time.sleep(0.3)
    assert devd.get("/hello")[0] == 200


def test_tf_change_adds_and_removes_route(devd: RunningDevd, example: Path) -> None:
    devd.wait_for_line(r"get-item: ready #1")
    assert devd.get("/ping")[0] == 404
    ping = example / "functions/ping"
    ping.mkdir()
    (ping / "ping.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'pong'}\n")
    devd_toml = example / "devd.toml"
    devd_toml.write_text(devd_toml.read_text() + '"dist/get-ping.zip" = "functions/ping"\n')
    rest_api = example / "infra/rest_api.tf"
    original = rest_api.read_text()
    rest_api.write_text(original + NEW_ROUTE)

    assert devd.wait_for_body("/ping", "pong") == "pong"

    rest_api.write_text(original)
    deadline = time.monotonic() + 20
    while devd.get("/ping")[0] != 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert devd.get("/ping")[0] == 404
    assert devd.get("/hello")[0] == 200


def test_sigterm_leaves_no_process(example: Path) -> None:
    running = start_devd(example)
    running.wait_for_body("/hello", "Hello")
    running.wait_for_body("/items/1", "apple")
    assert processes_under(example), "workers should be running while devd serves"

    assert stop_devd(running) == 0
    time.sleep(0.2)
    assert processes_under(example) == []


def test_missing_node_is_reported_and_python_serves(example: Path) -> None:
    settings = example / "devd.toml"
    settings.write_text('node = "/nonexistent/node"\n' + settings.read_text())
    running = start_devd(example)
    try:
        line = running.wait_for_line(r"get-hello: build FAILED")
        assert "node" in line
        assert running.get("/items/1")[0] == 200
        status, body = running.get("/hello")
        assert status == 502
    finally:
        stop_devd(running)


def test_kill_9_leaves_no_process(example: Path) -> None:
    running = start_devd(example)
    running.wait_for_body("/hello", "Hello")
    running.wait_for_body("/items/1", "apple")
    assert processes_under(example)

    running.process.kill()
    running.process.wait(10)
    deadline = time.monotonic() + 5
    while processes_under(example) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(example) == []


def test_serves_public_example_shape(tmp_path: Path) -> None:
    project = tmp_path / "public"
    shutil.copytree(FIXTURES / "public_example", project)
    (project / "node_modules").symlink_to(REPO / "node_modules")
    running = start_devd(project)
    try:
        status, body = running.get("/hello")
        assert status == 200
        assert json.loads(body)["message"] == "Hello from getHello"
        assert running.get("/dev/hello")[0] == 200
        running.wait_for_line(r"getHello: ready #1")
    finally:
        stop_devd(running)


def _take_terminal() -> None:
    """Make the pseudo-terminal on stdin the controlling terminal of the new session."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _take_terminal_ignoring_hangup() -> None:
    """As `_take_terminal`, with SIGHUP ignored, as under `make` or `nohup`."""
    _take_terminal()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_tui(example: Path, setup) -> tuple[subprocess.Popen, int]:
    """Start `devd up` with the full-screen view on a pseudo-terminal, the Procfile's moto
    server on a free port; return the process and the terminal's primary side."""
    procfile = example / "Procfile"
    procfile.write_text(procfile.read_text().replace("-p 4566", f"-p {_free_port()}"))
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "devd", "-C", str(example), "up", "--port", "0"],
        stdin=secondary, stdout=secondary, stderr=secondary, start_new_session=True,
        preexec_fn=setup, env=dict(os.environ, TERM="xterm-256color"))
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 30
    while not (b"ready #1" in screen and b"moto: running" in screen) and time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            screen += os.read(primary, 65536)
    assert b"ready #1" in screen
    assert b"moto: running" in screen
    return process, primary


def _assert_all_gone(example: Path, process: subprocess.Popen) -> int:
    try:
        status = process.wait(30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes_under(example) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(example) == []
    return status


@pytest.mark.parametrize("setup", [_take_terminal, _take_terminal_ignoring_hangup], ids=["sighup", "no-sighup"])
def test_closed_terminal_stops_tui(example: Path, setup) -> None:
    process, primary = _start_tui(example, setup)
    assert processes_under(example)

    os.close(primary)
    _assert_all_gone(example, process)


def _drain(primary: int) -> None:
    """Read the terminal's output until it closes, as a terminal emulator does."""
    try:
        while os.read(primary, 65536):
            pass
    except OSError:
        pass


@pytest.mark.parametrize("key", [b"q", b"\x03"], ids=["q", "ctrl-c"])
def test_tui_key_quits_cleanly(example: Path, key: bytes) -> None:
    process, primary = _start_tui(example, _take_terminal)
    reader = threading.Thread(target=_drain, args=(primary,), daemon=True)
    reader.start()
    try:
        os.write(primary, key)
        assert _assert_all_gone(example, process) == 0
    finally:
        os.close(primary)


def test_procfile_moto_runs_and_stops(example: Path) -> None:
    port = _free_port()
    procfile = example / "Procfile"
    procfile.write_text(procfile.read_text().replace("-p 4566", f"-p {port}"))
    running = start_devd(example, procfile=True)
    try:
        running.wait_for_line(r"moto: running, pid \d+")
        deadline = time.monotonic() + 30
        status = None
        while status != 200 and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2) as response:
                    status = response.status
            except OSError:
                time.sleep(0.2)
        assert status == 200
    finally:
        assert stop_devd(running) == 0
    time.sleep(0.3)
    assert processes_under(example) == []
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2)


def test_sam_backend_without_engine_serves_natively(example: Path) -> None:
    running = start_devd(example, "--backend", "sam")
    try:
        running.wait_for_line(r"no Docker or Finch engine responds.*the sam backend is off")
        assert running.get("/hello")[0] == 200
        running.wait_for_line(r"get-item: ready #1")
        template = example / ".devd/template.yaml"
        metadata = example / "infra/devd_sam_metadata.tf.json"
        deadline = time.monotonic() + 10
        while not (template.exists() and metadata.exists()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "AWS::Serverless::Function" in template.read_text()
        triggers = json.loads(metadata.read_text())["resource"]["null_resource"]
        assert any(t["triggers"]["resource_name"] == "module.get_hello.aws_lambda_function.this"
                   for t in triggers.values())
        assert running.get("/items/1")[0] == 200
    finally:
        stop_devd(running)


def test_sam_backend_runs_sam_local(example: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(FIXTURES / "supervise" / "sam", tools / "sam")
    (tools / "docker").write_text("#!/bin/sh\n# A stand-in client whose engine responds.\nexit 0\n")
    (tools / "docker").chmod(0o755)
    running = start_devd(example, "--backend", "sam", path_first=tools)
    try:
        running.wait_for_line(r"the docker engine responds.*sam local start-api serves the functions")
        template = example / ".devd" / "template.yaml"
        line = running.wait_for_line(r'argv \["local", "start-api"')
        assert str(template) in line
        running.wait_for_line(r"sam local serves .*GET /hello")
        assert "AWS::Serverless::Function" in template.read_text()
    finally:
        stop_devd(running)
    time.sleep(0.3)
    assert processes_under(example) == []
