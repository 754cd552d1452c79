"""The real `devd up` with its full-screen view in a tmux pane: keys in, screen text out."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import processes_under


class TmuxPane:
    """One tmux server of our own (its own socket name) with one session running a command."""

    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket_name, "-f", "/dev/null", *args], capture_output=True,
                              text=True, timeout=10, check=False)

    def start(self, command: list[str], cwd: Path, unset: tuple[str, ...] = ()) -> None:
        prefix = f"env {' '.join('-u ' + shlex.quote(name) for name in unset)} " if unset else ""
        line = f"cd {shlex.quote(str(cwd))} && exec {prefix}{shlex.join(command)}"
        result = self.tmux("new-session", "-d", "-s", "devd", "-x", "150", "-y", "45", line)
        assert result.returncode == 0, result.stderr

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "devd").stdout

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "devd", *keys)

    def running(self) -> bool:
        return self.tmux("has-session", "-t", "devd").returncode == 0

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if condition(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"the pane never matched; it shows:\n{text}")


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[TmuxPane]:
    running = TmuxPane(f"devd-test-{tmp_path.name}-{time.monotonic_ns()}")
    yield running
    running.tmux("kill-server")


def status(project: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "devd", "-C", str(project), "status", "--json"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tui_in_tmux(example: Path, pane: TmuxPane) -> None:
    # No AWS settings reach devd: the upload below must fail here, never reach an account.
    no_aws = ["AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"]
    unset = tuple(name for name in os.environ if name.startswith("AWS_") and not name.endswith("_FILE"))
    pane.start(["env", *no_aws, sys.executable, "-m", "devd", "up", "--port", "0", "--no-procfile"], example, unset)
    pane.wait_for(lambda text: text.count("ready #1") == 4)

    pane.send("?")
    help_text = pane.wait_for(lambda text: "devd keys" in text)
    assert "open the request inspector" in help_text
    pane.send("Escape")
    pane.wait_for(lambda text: "devd keys" not in text)

    # The copy of the example has no .env, so a code upload must fail with a message that names
    # the settings to add.
    pane.send("D")
    pane.wait_for(lambda text: "no AWS credentials found" in text)

    url = status(example)["url"]
    with urllib.request.urlopen(f"{url}/hello", timeout=20) as response:
        assert response.status == 200
    pane.wait_for(lambda text: "GET /hello 200" in text)

    pane.send("t")
    pane.wait_for(lambda text: "Requests (Enter opens" in text)
    pane.send("Enter")
    detail = pane.wait_for(lambda text: "Event sent to the handler" in text)
    assert '"path": "/hello"' in detail
    pane.send("Escape")
    pane.send("Escape")
    pane.wait_for(lambda text: "Logs: all functions" in text)

    pane.send("b")
    pane.wait_for(lambda text: "ready #2" in text)

    pane.send("q")
    deadline = time.monotonic() + 20
    while pane.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pane.running()
    time.sleep(0.5)
    assert processes_under(example) == []
    assert not (example / ".devd" / "control.sock").exists()
