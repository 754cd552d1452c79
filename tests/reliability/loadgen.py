"""Run wrk against 127.0.0.1 and sample devd's memory and descriptors while it runs."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

WRK = "/usr/bin/wrk"


@dataclass(frozen=True)
class TreeSample:
    """Resident memory and open file descriptors of devd and its descendants at one moment.

    Each worker, build service and Procfile process leads a process group of its own, so the
    tree under devd's pid is measured rather than devd's process group alone.
    """

    daemon_rss: int
    """Resident set size of the devd process itself, in bytes."""
    worker_rss: int
    """Summed resident set size of every descendant of devd, in bytes."""
    daemon_fds: int
    worker_fds: int
    members: int


def sample_tree(pid: int) -> TreeSample:
    """Measure the process pid and every live descendant of it."""
    root = psutil.Process(pid)
    daemon_rss = root.memory_info().rss
    daemon_fds = root.num_fds()
    worker_rss = worker_fds = members = 0
    for child in root.children(recursive=True):
        try:
            worker_rss += child.memory_info().rss
            worker_fds += child.num_fds()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        members += 1
    return TreeSample(daemon_rss, worker_rss, daemon_fds, worker_fds, members)


@dataclass(frozen=True)
class WrkResult:
    """The figures of one wrk run, parsed from its report."""

    requests: int
    non_2xx: int
    """Responses with a status of 400 or more ("Non-2xx or 3xx responses" in wrk's report)."""
    socket_errors: int
    """Connect, read and write errors and timeouts, summed."""
    requests_per_second: float
    p99_ms: float
    script_output: str
    """What the Lua script printed in `done`, if there was a script."""


@dataclass
class Sampler:
    """Samples devd's process tree once a second in a thread until stopped."""

    pid: int
    samples: list[tuple[float, TreeSample]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(5)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - started, sample_tree(self.pid)))
            except psutil.NoSuchProcess:
                return
            self._stop.wait(1.0)

    def at(self, seconds: float) -> TreeSample:
        """Return the first sample taken at or after `seconds` into the run."""
        return next(sample for offset, sample in self.samples if offset >= seconds)

    def last(self) -> TreeSample:
        return self.samples[-1][1]


def run_wrk(url: str, seconds: int, connections: int = 50, script: Path | None = None) -> WrkResult:
    """Run wrk with two threads for `seconds` and return its parsed report."""
    assert url.startswith("http://127.0.0.1:"), "load goes only to devd on 127.0.0.1"
    command = [WRK, "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    finished = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    assert finished.returncode == 0, f"wrk failed with status {finished.returncode}: {finished.stderr}"
    return parse_wrk(finished.stdout)


def parse_wrk(report: str) -> WrkResult:
    """Parse the text report of wrk 4.x."""
    requests = int(re.search(r"(\d+) requests in", report).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", report)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    tail = report.split("Transfer/sec:", 1)[-1].split("\n", 1)[-1]
    return WrkResult(
        requests=requests,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(value) for value in errors.groups()) if errors else 0,
        requests_per_second=rate,
        p99_ms=float(p99.group(1)) * scale[p99.group(2)] if p99 else 0.0,
        script_output=tail.strip(),
    )


def growth(before: int, after: int) -> float:
    """Return the relative growth from before to after (0.05 is 5 %)."""
    return (after - before) / before if before else 0.0
