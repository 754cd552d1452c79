"""Measure what the Runtime API's check of a client process costs per connection.

A request without the secret path segment makes the Runtime API look up, once per connection,
which process has the client's end of the connection (`devd/runtime/peer_process.py`). The
script measures that in two ways:

- `identify_peer` alone, on a connection held open by a client process, in three cases: the
  runtime process has the socket open (checked first), a child in the runtime's process group
  has it open (every /proc/PID/stat is read), and an unrelated process has it open (rejected after
  the same reads).
- The round trip of the first request on a new connection to a real `RuntimeApiServer`, sent
  by the runtime process, with the secret and without it. The request is for a route that does
  not exist, so both get 404 from the router and the difference is the check, including the
  hand-off to a thread.

The cost grows with the number of lines in /proc/net/tcp and of processes, which the script
prints with the medians.

Usage: .venv/bin/python bench/peer_lookup.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devd.runtime.peer_process import identify_peer
from devd.runtime.procfs import Endpoint
from devd.runtime.runtime_api import RuntimeApiServer

HOLDER = """
import socket, subprocess, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "child":
    subprocess.run([sys.executable, "-c", sys.argv[4], host, str(port), "self", sys.argv[4]])
else:
    with socket.create_connection((host, port)):
        sys.stdin.read()
"""
"""A client that connects and keeps the connection open until its stdin closes, itself ("self") or
from a child process in its process group ("child")."""

TIMER = """
import json, socket, statistics, sys, time
host, port, secret, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def first_request(path):
    start = time.perf_counter()
    with socket.create_connection((host, port)) as client:
        client.sendall(f"GET {path} HTTP/1.1\\r\\nHost: runtime\\r\\n\\r\\n".encode())
        status = client.recv(4096).split(b" ")[1]
    assert status == b"404", status
    return (time.perf_counter() - start) * 1000
results = {"with secret": [], "without secret": []}
for _ in range(rounds):
    results["with secret"].append(first_request(f"/{secret}/2018-06-01/runtime/none"))
    results["without secret"].append(first_request("/2018-06-01/runtime/none"))
print(json.dumps({name: statistics.median(times) for name, times in results.items()}))
"""


def median_ms(function, rounds: int) -> float:
    """Return the median time of `function()` in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure_lookup(case: str, rounds: int) -> tuple[float, bool]:
    """Hold one connection from the process of `case` and time `identify_peer` on it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        host, port = server.getsockname()
        runtime_mode = "child" if case == "child in group" else "self"
        runtime = subprocess.Popen([sys.executable, "-c", HOLDER, host, str(port), runtime_mode, HOLDER],
                                   stdin=subprocess.PIPE, start_new_session=True)
        outsider = None
        if case == "unrelated process":
            # The runtime has a connection open too, but the measured one is the outsider's.
            server.accept()[0].close()
            outsider = subprocess.Popen([sys.executable, "-c", HOLDER, host, str(port), "self"], stdin=subprocess.PIPE)
        connection, peer = server.accept()
        try:
            arguments = (Endpoint.of(*peer), Endpoint.of(host, port), runtime.pid)
            verdict = identify_peer(*arguments)
            return median_ms(lambda: identify_peer(*arguments), rounds), verdict.trusted
        finally:
            connection.close()
            for process in (runtime, outsider):
                if process is not None:
                    process.communicate(b"")


async def measure_round_trips(rounds: int) -> dict[str, float]:
    """Time first requests on new connections from a runtime process to a RuntimeApiServer."""
    server = RuntimeApiServer()
    await server.start()
    host_port, _, secret = server.address.partition("/")
    host, _, port = host_port.partition(":")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", TIMER, host, port, secret, str(rounds),
        stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )
    server.set_runtime_pid(process.pid)
    output, _ = await process.communicate()
    await server.close()
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="measurements per case (default 200)")
    args = parser.parse_args()

    tcp_lines = len(Path("/proc/net/tcp").read_text().splitlines()) - 1
    processes = sum(name.isdigit() for name in os.listdir("/proc"))
    print(f"{platform.machine()} Linux {platform.release()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; {tcp_lines} sockets in /proc/net/tcp, {processes} processes")

    for case in ("runtime process", "child in group", "unrelated process"):
        cost, trusted = measure_lookup(case, args.rounds)
        print(f"identify_peer, {case}: {cost:.2f} ms median ({'accepted' if trusted else 'rejected'})")

    for name, cost in asyncio.run(measure_round_trips(args.rounds)).items():
        print(f"first request on a new connection, {name}: {cost:.2f} ms median")


if __name__ == "__main__":
    main()
