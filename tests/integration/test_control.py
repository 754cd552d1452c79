"""`devd status`, `devd build` and `devd logs` against a real `devd up` on a copy of the example."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.integration.conftest import RunningDevd, start_devd, stop_devd

FUNCTIONS = ["devd-example-dev-create-item", "devd-example-dev-get-hello", "devd-example-dev-get-item",
             "devd-example-dev-status"]


def devd_command(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devd", "-C", str(project), *args], capture_output=True, text=True, check=False,
                          timeout=timeout)


def wait_all_ready(project: Path) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        document = json.loads(devd_command(project, "status", "--json").stdout)
        if all(f["build_state"] == "ready" for f in document["functions"]):
            return document
        time.sleep(0.2)
    raise AssertionError(f"functions never all ready: {document}")


def test_status_text_and_json(devd: RunningDevd) -> None:
    document = wait_all_ready(devd.project)
    assert document["url"] == devd.url
    assert sorted(f["name"] for f in document["functions"]) == FUNCTIONS
    assert document["backend"] == "native"
    assert document["watching"] is True

    status, _ = devd.get("/hello")
    assert status == 200
    document = json.loads(devd_command(devd.project, "status", "--json").stdout)
    hello = next(f for f in document["functions"] if f["name"].endswith("get-hello"))
    assert hello["requests"] == 1
    assert hello["workers"]["count"] == 1
    assert hello["p50_ms"] > 0

    text = devd_command(devd.project, "status")
    assert text.returncode == 0
    assert f"serving {devd.url} (native)" in text.stdout
    hello_line = next(line for line in text.stdout.splitlines() if line.startswith("devd-example-dev-get-hello"))
    assert "ready #1" in hello_line
    assert "1 idle, 0 busy" in hello_line
    assert "GET /hello" in hello_line


def test_build_goes_to_running_daemon(devd: RunningDevd) -> None:
    wait_all_ready(devd.project)
    mark = devd.mark()

    result = devd_command(devd.project, "build", "devd-example-dev-get-hello")

    assert result.returncode == 0, result.stderr
    assert "building in the running devd" in result.stderr
    assert result.stdout.startswith("devd-example-dev-get-hello  ok  #2  ")
    assert "sha256 " in result.stdout
    devd.wait_for_line(r"control .*devd build devd-example-dev-get-hello: requested from the command line", mark)
    devd.wait_for_line(r"get-hello .*built #2", mark)
    status, body = devd.get("/hello")
    assert status == 200
    assert "Hello" in body


def test_build_unknown_function_names_known(devd: RunningDevd) -> None:
    result = devd_command(devd.project, "build", "nope")
    assert result.returncode == 2
    assert "no function named nope; functions: " in result.stderr
    assert "devd-example-dev-get-hello" in result.stderr


def test_logs_follow_streams_new_lines(devd: RunningDevd) -> None:
    wait_all_ready(devd.project)
    follower = subprocess.Popen([sys.executable, "-m", "devd", "-C", str(devd.project), "logs",
                                 "devd-example-dev-get-hello", "--follow"], stdout=subprocess.PIPE, text=True,
                                start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(follower.stdout), daemon=True).start()  # type: ignore[arg-type]
    try:
        devd.wait_for_line(r"control .*devd logs devd-example-dev-get-hello --follow: attached")
        devd.get("/hello")
        devd.get("/status")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("GET /hello -> 200" in line for line in lines):
            time.sleep(0.05)
    finally:
        follower.terminate()
        follower.wait(10)
    assert any("built #1" in line for line in lines)
    assert any("GET /hello -> 200" in line for line in lines)
    assert not any("/status" in line for line in lines)


def test_logs_without_follow_ends(devd: RunningDevd) -> None:
    wait_all_ready(devd.project)
    result = devd_command(devd.project, "logs", "devd-example-dev-get-item", timeout=20)
    assert result.returncode == 0
    assert "devd-example-dev-get-item | built #1" in result.stdout


def test_no_daemon_exits_1(example: Path) -> None:
    for command in (["status"], ["logs", "x"]):
        result = devd_command(example, *command)
        assert result.returncode == 1
        assert "no devd is running for" in result.stderr
        assert "start one with `devd up`" in result.stderr


def test_killed_daemon_socket_is_replaced(example: Path) -> None:
    first = start_devd(example)
    socket_file = example / ".devd" / "control.sock"
    assert socket_file.exists()
    os.killpg(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    assert socket_file.exists()

    result = devd_command(example, "status")
    assert result.returncode == 1

    second = start_devd(example)
    try:
        document = wait_all_ready(example)
        assert document["url"] == second.url
        assert not any("another devd" in line for line in second.lines)
    finally:
        stop_devd(second)
    assert not socket_file.exists()


def test_second_daemon_rejected(devd: RunningDevd) -> None:
    devd.wait_for_line(r"get-hello: ready #1")

    second = devd_command(devd.project, "up", "--no-tui", "--port", "0", "--no-procfile", timeout=60)

    assert second.returncode == 2
    assert "another devd is already running for this project" in second.stderr
    assert "serving http://" not in second.stdout
    document = json.loads(devd_command(devd.project, "status", "--json").stdout)
    assert document["url"] == devd.url
    assert devd.get("/hello")[0] == 200
    assert (devd.project / ".devd" / "control.sock").exists()
