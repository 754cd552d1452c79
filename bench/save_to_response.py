"""Measure save-to-response: the time from writing a handler file to the first HTTP response
that comes from the new code.

devd runs on a copy of the bundled example (`devd up --no-tui --port 0`). Each round writes a
new message into `functions/hello/handler.ts` (TypeScript, esbuild) or
`functions/items/get_item.py` (Python), then polls the route over one keep-alive connection
until the body changes.

The peer, measured in the same run, is the restart loop that tools like nodemon give: a fresh
esbuild process bundles the handler and a fresh node process imports and calls it. That is
the least a restart-on-save setup pays per save, before any server starts.

Usage: .venv/bin/python bench/save_to_response.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import http.client
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.conftest import copy_example, start_devd, stop_devd  # noqa: E402

HELLO = "functions/hello/handler.ts"
ITEM = "functions/items/get_item.py"


def poll_until(connection: http.client.HTTPConnection, path: str, text: str, limit: float = 10.0) -> None:
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        connection.request("GET", path)
        body = connection.getresponse().read().decode()
        if text in body:
            return
    raise RuntimeError(f"{path} returned no body containing {text!r} within {limit} s")


def devd_rounds(project: Path, url: str, file: str, path: str, old: str, quote: str, rounds: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    source = project / file
    original = source.read_text()
    samples = []
    previous = old
    for index in range(rounds):
        marker = f"bench{index}x"
        text = source.read_text().replace(previous, f"{quote}{marker}{quote}")
        time.sleep(0.3)
        started = time.perf_counter()
        source.write_text(text)
        poll_until(connection, path, marker)
        samples.append((time.perf_counter() - started) * 1000)
        previous = f"{quote}{marker}{quote}"
    source.write_text(original)
    connection.close()
    return samples


def restart_rounds(project: Path, rounds: int) -> list[float]:
    esbuild = REPO / "node_modules" / ".bin" / "esbuild"
    out = project / ".bench-restart" / "handler.mjs"
    call = f"import('{out}').then(m => m.main({{}})).then(r => console.log(r.body))"
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([str(esbuild), str(project / HELLO), "--bundle", "--platform=node", "--format=esm",
                        "--sourcemap", f"--outfile={out}", "--log-level=error"], check=True)
        subprocess.run(["node", "--enable-source-maps", "-e", call], check=True, capture_output=True)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def describe(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1] if len(ordered) >= 10 else ordered[-1]
    return f"| {name} | {len(samples)} | {statistics.median(samples):.0f} | {p90:.0f} | {min(samples):.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        project = copy_example(Path(directory) / "app")
        running = start_devd(project)
        try:
            running.wait_for_body("/hello", "Hello, world!")
            running.wait_for_body("/items/1", "apple")
            typescript = devd_rounds(project, running.url, HELLO, "/hello", '"world"', '"', args.rounds)
            python = devd_rounds(project, running.url, ITEM, "/items/7", "not found", "", args.rounds)
        finally:
            stop_devd(running)
        restart = restart_rounds(project, args.rounds)

    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}")
    print("| case | rounds | median ms | p90 ms | min ms |")
    print("| --- | --- | --- | --- | --- |")
    print(describe("devd, TypeScript handler", typescript))
    print(describe("devd, Python handler", python))
    print(describe("restart loop (esbuild + node), TypeScript", restart))
    ratio = statistics.median(restart) / statistics.median(typescript)
    print(f"restart loop median / devd TypeScript median: {ratio:.1f}")


if __name__ == "__main__":
    main()
