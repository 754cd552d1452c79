"""Measure gateway throughput with the full-screen view running in a pseudo-terminal, against
`devd up --no-tui`, on a copy of the bundled example.

Each run starts a fresh `devd up --port P --no-procfile` and waits until `devd status --json`
reports every function ready. It warms the route with a short wrk run, then measures with
`wrk -t2 -c16 -d<seconds>s http://127.0.0.1:P/hello` and reads the CPU time of the devd process
(user + system, from /proc) around that run. On a shared machine the CPU time per request
varies less than the request rate, because the rate also depends on how much CPU others leave. With the TUI, devd's stdin, stdout and
stderr are a pseudo-terminal of 150x45 whose output a thread reads and discards, as a terminal
emulator would. Without it, devd's plain lines go to a pipe that a thread drains. Runs of the
two modes alternate, so drift in machine load spreads over both.

Usage: .venv/bin/python bench/tui_load.py [--runs 3] [--seconds 10] [--connections 16] [--json FILE]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.conftest import copy_example, processes_under

WRK = "/usr/bin/wrk"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0


def free_port() -> int:
    """Return a port that is free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drain(fd: int) -> None:
    """Read and drop everything from fd until it closes."""
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def start_devd(project: Path, port: int, tui: bool) -> tuple[subprocess.Popen, int | None]:
    """Start devd with or without the TUI; return the process and the pty master (TUI only)."""
    command = [sys.executable, "-m", "devd", "-C", str(project), "up", "--port", str(port), "--no-procfile"]
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="150", LINES="45")
    if not tui:
        process = subprocess.Popen([*command, "--no-tui"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True, env=env)
        assert process.stdout is not None
        threading.Thread(target=drain, args=(process.stdout.fileno(),), daemon=True).start()
        return process, None

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 150, 0, 0))
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env,
                               preexec_fn=take_terminal)  # noqa: PLW1509 - it runs one ioctl, no locks
    os.close(slave)
    threading.Thread(target=drain, args=(master,), daemon=True).start()
    return process, master


def take_terminal() -> None:
    """Make stdin (the pty) the controlling terminal of the new session, as a terminal emulator
    does. devd treats a missing terminal as a closed one and exits."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def wait_ready(project: Path) -> None:
    """Return once the running devd reports every function ready."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        result = subprocess.run([sys.executable, "-m", "devd", "-C", str(project), "status", "--json"],
                                capture_output=True, text=True, timeout=30, check=False)
        if result.returncode == 0:
            functions = json.loads(result.stdout)["functions"]
            if functions and all(f["build_state"] == "ready" for f in functions):
                return
        time.sleep(0.3)
    raise RuntimeError(f"devd on {project} was not ready within {READY_TIMEOUT_SECONDS:.0f} s")


def run_wrk(url: str, seconds: int, connections: int) -> float:
    """Run wrk against url and return its requests per second."""
    result = subprocess.run([WRK, "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True,
                            timeout=seconds + 30, check=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no Requests/sec line:\n{result.stdout}\n{result.stderr}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{result.stdout}")
    return float(match.group(1))


def cpu_seconds(pid: int) -> float:
    """Return the user and system CPU time of a process so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen, master: int | None) -> None:
    """Stop devd with SIGTERM and wait; kill its group if it does not exit in time."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if master is not None:
        os.close(master)


def measure(project: Path, tui: bool, seconds: int, connections: int) -> tuple[float, float]:
    """Start devd in one mode, measure requests per second and devd's CPU milliseconds per
    request, stop it, and check that nothing is left."""
    port = free_port()
    process, master = start_devd(project, port, tui)
    try:
        wait_ready(project)
        url = f"http://127.0.0.1:{port}/hello"
        run_wrk(url, 2, connections)
        cpu_before = cpu_seconds(process.pid)
        rate = run_wrk(url, seconds, connections)
        cpu_ms = (cpu_seconds(process.pid) - cpu_before) * 1000
        return rate, cpu_ms / (rate * seconds)
    finally:
        stop(process, master)
        time.sleep(0.5)
        leftovers = processes_under(project)
        if leftovers:
            raise RuntimeError("processes left after devd stopped:\n" + "\n".join(leftovers))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (default 3)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of each measured wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args()

    results: dict[str, list[float]] = {"no-tui": [], "tui": []}
    cpu_per_request: dict[str, list[float]] = {"no-tui": [], "tui": []}
    with tempfile.TemporaryDirectory(prefix="devd-tui-load-") as directory:
        project = copy_example(Path(directory) / "app")
        for run in range(args.runs):
            for mode in ("no-tui", "tui"):
                rate, cpu_ms = measure(project, mode == "tui", args.seconds, args.connections)
                results[mode].append(rate)
                cpu_per_request[mode].append(cpu_ms)
                print(f"run {run + 1} {mode}: {rate:,.0f} requests/s, {cpu_ms:.2f} ms CPU per request, "
                      f"load average {os.getloadavg()[0]:.1f}", flush=True)

    medians = {mode: statistics.median(rates) for mode, rates in results.items()}
    cpu_medians = {mode: statistics.median(values) for mode, values in cpu_per_request.items()}
    ratio = medians["tui"] / medians["no-tui"]
    cpu_ratio = cpu_medians["no-tui"] / cpu_medians["tui"]
    print(f"median no-tui {medians['no-tui']:,.0f} requests/s, tui {medians['tui']:,.0f} requests/s, "
          f"tui / no-tui {ratio:.0%}")
    print(f"median CPU per request no-tui {cpu_medians['no-tui']:.2f} ms, tui {cpu_medians['tui']:.2f} ms, "
          f"requests per CPU second tui / no-tui {cpu_ratio:.0%}")
    print(f"machine: {os.cpu_count()} cores, {platform.machine()} {platform.system()}, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    if args.json:
        document = {"runs": results, "medians": medians, "ratio": ratio, "cpu_ms_per_request": cpu_per_request,
                    "cpu_medians": cpu_medians, "cpu_ratio": cpu_ratio}
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
