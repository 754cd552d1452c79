"""The full-screen view loses its terminal while requests keep arriving.

With SIGHUP ignored, devd learns of the closed terminal only by polling it. Each request
redraws the view, and Textual's output thread dies on the first write that fails with EIO,
and after 30 more redraws the event loop blocks on that thread's full queue. This test makes
those redraws happen and checks that devd still exits and leaves no process behind.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.integration.conftest import processes_under


def _take_terminal_ignoring_hangup() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_tui(example: Path, port: int) -> tuple[subprocess.Popen, int]:
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "devd", "-C", str(example), "up", "--no-procfile", "--port", str(port)],
        stdin=secondary, stdout=secondary, stderr=secondary, start_new_session=True,
        preexec_fn=_take_terminal_ignoring_hangup,  # noqa: PLW1509 (the test process starts no threads)
        env=dict(os.environ, TERM="xterm-256color"))
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 30
    while b"ready #1" not in screen and time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            screen += os.read(primary, 65536)
    assert b"ready #1" in screen
    return process, primary


def _request(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=2).read()
    except (urllib.error.URLError, OSError):
        pass


def test_closed_terminal_under_requests(example: Path) -> None:
    port = _free_port()
    process, primary = _start_tui(example, port)
    _request(f"http://127.0.0.1:{port}/items/1")

    os.close(primary)
    started = time.monotonic()
    for _ in range(200):
        if process.poll() is not None or time.monotonic() - started > 10:
            break
        _request(f"http://127.0.0.1:{port}/items/1")
    try:
        status = process.wait(30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

    assert status == 129
    deadline = time.monotonic() + 5
    while processes_under(example) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(example) == []


BLOCKED_LOOP = """
import asyncio, logging, sys, time
from devd.cli import up

up._HANGUP_EXIT_SECONDS = 0.5
handler = logging.FileHandler(sys.argv[1])
logging.getLogger("devd").addHandler(handler)
loop = asyncio.new_event_loop()
app_done = up.threading.Event()
up.threading.Thread(target=up._watch_terminal, args=(loop, object(), app_done), daemon=True).start()
print("watching", flush=True)
time.sleep(30)  # the event loop never runs, as when it blocks on Textual's full output queue
"""


def test_blocked_loop_still_exits(tmp_path: Path) -> None:
    log_file = tmp_path / "devd.log"
    primary, secondary = os.openpty()
    process = subprocess.Popen([sys.executable, "-c", BLOCKED_LOOP, str(log_file)], stdin=secondary,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=_take_terminal_ignoring_hangup)  # noqa: PLW1509 (no threads here)
    os.close(secondary)
    try:
        assert process.stdout.readline().strip() == "watching"
        started = time.monotonic()
        os.close(primary)
        status = process.wait(10)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert status == 129, process.stderr.read()
    assert elapsed < 3.0
    assert "did not stop within 0.5 s of the terminal closing: exiting without cleanup" in log_file.read_text()
