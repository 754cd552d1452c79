"""50 connections of wrk against the real `devd up --no-tui`, from 127.0.0.1 only.

CI runs 15 s per route. With `--soak` (or `DEVD_SOAK=1`) each route runs 60 s, and the
save-under-load test runs 10 minutes. Each test prints its figures on one `figures:` line
(run pytest with `-s` to see them).
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from pathlib import Path

import pytest

from tests.integration.conftest import RunningDevd, start_devd, stop_devd
from tests.reliability.loadgen import Sampler, growth, run_wrk

SHORT_SECONDS = 15
LONG_SECONDS = 60
SOAK_SECONDS = 600
WARM_UP_SECONDS = 10
"""Memory and descriptors are compared from this offset on: the first seconds start workers."""
MAX_GROWTH = 0.10

CHECK_BODY = """
bad = 0
highest = 0
function response(status, headers, body)
  local version = string.match(body, "Hello, v(%d+)!")
  if status ~= 200 or version == nil then
    bad = bad + 1
  elseif tonumber(version) > highest then
    highest = tonumber(version)
  end
end
threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function done(summary, latency, requests)
  local total, newest = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    newest = math.max(newest, thread:get("highest"))
  end
  io.write(string.format("bad bodies: %d, highest version: %d\\n", total, newest))
end
"""


def _measure(running: RunningDevd, path: str, seconds: int) -> None:
    running.wait_for_body(path, "")
    sampler = Sampler(running.process.pid)
    sampler.start()
    result = run_wrk(running.url + path, seconds)
    sampler.stop()
    warm, last = sampler.at(WARM_UP_SECONDS), sampler.last()
    print(f"\nfigures: {path} {seconds} s: {result.requests} requests, {result.requests_per_second:.0f}/s, "
          f"p99 {result.p99_ms:.1f} ms, non-2xx {result.non_2xx}, socket errors {result.socket_errors}, "
          f"daemon RSS {warm.daemon_rss >> 20} -> {last.daemon_rss >> 20} MiB, "
          f"worker RSS {warm.worker_rss >> 20} -> {last.worker_rss >> 20} MiB "
          f"({warm.members} -> {last.members} processes), "
          f"fds {warm.daemon_fds}+{warm.worker_fds} -> {last.daemon_fds}+{last.worker_fds}")

    assert result.requests > seconds * 50, "fewer than 50 requests a second: devd stalled"
    assert result.non_2xx == 0
    assert result.socket_errors == 0
    assert growth(warm.daemon_rss, last.daemon_rss) < MAX_GROWTH
    assert growth(warm.worker_rss, last.worker_rss) < MAX_GROWTH
    assert last.members == warm.members, "workers were started or lost under steady load"
    assert last.daemon_fds <= warm.daemon_fds + 5
    assert last.worker_fds <= warm.worker_fds + 5


@pytest.mark.timeout(LONG_SECONDS + 90)
@pytest.mark.parametrize("path", ["/hello", "/items/1"], ids=["node", "python"])
def test_steady_load(devd: RunningDevd, path: str, soak: bool) -> None:
    _measure(devd, path, LONG_SECONDS if soak else SHORT_SECONDS)


def _save_version(handler: Path, template: str, version: int) -> None:
    """Save the handler as an editor without atomic saves does: truncate, then write."""
    with handler.open("w") as file:
        file.write(template.replace('"world"', f'"v{version}"'))


@pytest.mark.timeout(SOAK_SECONDS + 120)
def test_saves_under_load(example: Path, soak: bool, tmp_path: Path) -> None:
    handler = example / "functions/hello/handler.ts"
    template = handler.read_text()
    _save_version(handler, template, 0)
    running = start_devd(example)
    script = tmp_path / "check_body.lua"
    script.write_text(CHECK_BODY)
    seconds = SOAK_SECONDS if soak else SHORT_SECONDS
    try:
        running.wait_for_body("/hello", "Hello, v0!")
        sampler = Sampler(running.process.pid)
        sampler.start()
        result, versions = _load_while_saving(running, handler, template, script, seconds)
        sampler.stop()
        final = running.wait_for_body("/hello", f"Hello, v{versions}!")
    finally:
        stop_devd(running)

    warm, last = sampler.at(WARM_UP_SECONDS), sampler.last()
    counts = re.search(r"bad bodies: (\d+), highest version: (\d+)", result.script_output)
    bad, highest = int(counts.group(1)), int(counts.group(2))
    print(f"\nfigures: saves under load {seconds} s: {versions} saves, {result.requests} requests, "
          f"non-2xx {result.non_2xx}, wrong bodies {bad}, highest version served {highest}, socket errors {result.socket_errors}, "
          f"daemon RSS {warm.daemon_rss >> 20} -> {last.daemon_rss >> 20} MiB, "
          f"fds {warm.daemon_fds}+{warm.worker_fds} -> {last.daemon_fds}+{last.worker_fds}")
    assert f"Hello, v{versions}!" in final
    assert bad == 0
    assert highest >= versions - 1, "saves during the load never reached the responses"
    assert result.non_2xx == 0
    assert result.socket_errors == 0
    assert growth(warm.daemon_rss, last.daemon_rss) < MAX_GROWTH


def _load_while_saving(running: RunningDevd, handler: Path, template: str, script: Path, seconds: int):
    """Run wrk for `seconds` while saving a new version every 3 s; return its result and the last version."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        load = pool.submit(run_wrk, running.url + "/hello", seconds, 50, script)
        version = 0
        deadline = time.monotonic() + seconds - 3
        while time.monotonic() < deadline and version < seconds:
            time.sleep(3)
            version += 1
            _save_version(handler, template, version)
        return load.result(), version
