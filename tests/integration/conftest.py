"""Fixtures that run `devd up` on a copy of the bundled example, as a user would."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_PARTS = ("infra", "functions", "devd.toml", "package.json", "Procfile")


@dataclass
class RunningDevd:
    """A `devd up --no-tui` process, its output lines, and helpers to talk to it."""

    project: Path
    process: subprocess.Popen
    url: str = ""
    lines: list[str] = field(default_factory=list)

    def get(self, path: str, data: bytes | None = None, method: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def wait_for_line(self, pattern: str, start: int = 0, timeout: float = 20.0) -> str:
        """Return the first output line from index start that matches pattern."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                if regex.search(line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines[-40:]))

    def wait_for_body(self, path: str, text: str, timeout: float = 20.0) -> str:
        """Poll path until its body contains text; return that body."""
        deadline = time.monotonic() + timeout
        body = ""
        while time.monotonic() < deadline:
            _, body = self.get(path)
            if text in body:
                return body
            time.sleep(0.05)
        raise AssertionError(f"{path} never contained {text!r}; last body {body!r}\n" + "\n".join(self.lines[-30:]))

    def mark(self) -> int:
        """Return the index of the next output line, to wait for lines after an action."""
        return len(self.lines)


def copy_example(destination: Path) -> Path:
    """Copy the example app as committed into destination, sharing the repository's
    node_modules.

    The committed version is used, so local edits to the example (which the README invites) do
    not change what the tests expect. Outside a git checkout the working tree is copied.
    """
    destination.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD", "--", *EXAMPLE_PARTS],
                             capture_output=True)
    if archive.returncode == 0:
        subprocess.run(["tar", "-x", "-C", str(destination)], input=archive.stdout, check=True)
    else:
        for part in EXAMPLE_PARTS:
            source = REPO / part
            if source.is_dir():
                shutil.copytree(source, destination / part, ignore=shutil.ignore_patterns("__pycache__", ".terraform"))
            else:
                shutil.copy2(source, destination / part)
    (destination / "node_modules").symlink_to(REPO / "node_modules")
    return destination


def start_devd(project: Path, *args: str, procfile: bool = False, path_first: Path | None = None,
               environ: dict[str, str] | None = None) -> RunningDevd:
    """Start `devd up --no-tui` on a free port; the Procfile runs only when procfile is true,
    because the example's moto server has a fixed port. `path_first` goes first on PATH, for
    stand-ins of external tools; `environ` replaces the test's environment."""
    options = [] if procfile else ["--no-procfile"]
    command = [sys.executable, "-m", "devd", "-C", str(project), "up", "--no-tui", "--port", "0", *options, *args]
    env = dict(os.environ if environ is None else environ, PYTHONUNBUFFERED="1")
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, env=env)
    running = RunningDevd(project, process)
    threading.Thread(target=_collect, args=(process, running.lines), daemon=True).start()
    line = running.wait_for_line(r"serving http://", timeout=30)
    running.url = re.search(r"http://[\d.]+:\d+", line).group(0)
    return running


def _collect(process: subprocess.Popen, lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


def stop_devd(running: RunningDevd, timeout: float = 15.0) -> int:
    """Send SIGTERM to devd and return its exit status."""
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
    try:
        return running.process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(running.process.pid, signal.SIGKILL)
        raise AssertionError("devd did not exit within 15 s of SIGTERM")


def processes_under(path: Path) -> list[str]:
    """Return command lines of live processes that mention path (workers, esbuild, devd)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if str(path) in cmdline or cwd.startswith(str(path)):
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "app")


@pytest.fixture
def devd(example: Path) -> Iterator[RunningDevd]:
    running = start_devd(example)
    yield running
    stop_devd(running)
