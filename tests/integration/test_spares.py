"""Spare runtime processes against real node and python: taking over, prewarming, replacing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from devd.logs.records import Level, LogRecord
from devd.runtime.environment import BOOTSTRAP_DIR, DEFERRED_INIT_VARIABLE
from devd.runtime.pool import FunctionPool
from devd.runtime.spares import SpareKind, SpareWorkers
from devd.runtime.worker import Worker
from devd.supervise.backoff import Backoff
from devd.supervise.process_group import group_exists
from tests.integration.test_workers import (
    NODE,
    NODE_ROOT,
    PYTHON_ROOT,
    decode_payload,
    is_running,
    make_function,
    ready_spares,
    requires_node,
)

REPO = Path(__file__).resolve().parents[2]

PER_PROCESS_NAMES = ("AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API", "_X_AMZN_TRACE_ID")
"""Variables whose values differ between any two workers of one function."""

RUNTIMES = [pytest.param("nodejs20.x", marks=requires_node), "python3.12"]

SAME_PROCESS_VALUES = {
    "nodejs20.x": ("cwd", "execArgv", "noDeprecation", "timeZone", "locale", "offsetMinutes"),
    "python3.12": ("cwd", "sys_path", "optimize", "tzname", "stdout_encoding", "preferred_encoding"),
}
"""Values of `runtime_state` that a worker taken over from a spare must share with a started one."""

PoolFactory = Callable[..., FunctionPool]


def without_per_process(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name not in PER_PROCESS_NAMES}


def process_environ(pid: int) -> dict[str, str]:
    """The environment that a process started with, as Linux records it."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [entry.decode().split("=", 1) for entry in raw.split(b"\0") if entry]
    return dict(pairs)


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> float:
    """Wait until `condition()` is true and return the seconds that took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, "the condition did not hold in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.fixture
def logs() -> list[LogRecord]:
    return []


@pytest.fixture
async def spares(logs: list[LogRecord]):
    spare_workers = SpareWorkers(logs.append)
    yield spare_workers
    await spare_workers.close()


@pytest.fixture
async def make_pool(logs: list[LogRecord]):
    """Create pools that log into `logs` and are closed after the test."""
    pools: list[FunctionPool] = []

    def create(handler: str, runtime: str, **options: Any) -> FunctionPool:
        function_values = {key: options.pop(key) for key in ("timeout", "environment") if key in options}
        function = make_function(options.pop("name", "state"), runtime, handler, **function_values)
        root = NODE_ROOT if runtime.startswith("nodejs") else PYTHON_ROOT
        pool = FunctionPool(function, root, handler, logs.append, node=NODE or "node", **options)
        pools.append(pool)
        return pool

    yield create

    for pool in pools:
        await pool.close()


async def ready_kind(spares: SpareWorkers, pool: FunctionPool) -> SpareKind:
    kind = pool.spare_kind
    await ready_spares(spares, [kind])
    return kind


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_spare_worker_sees_started_worker_state(
    make_pool: PoolFactory, spares: SpareWorkers, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "developer-profile")
    monkeypatch.setenv("DEVD_TEST_PASSED", "from-host")
    options = {"environment": {"TABLE_NAME": "orders-table"}, "passthrough": ("DEVD_TEST_PASSED",), "timeout": 5}
    started_pool = make_pool("runtime_state.handler", runtime, **options)
    spare_pool = make_pool("runtime_state.handler", runtime, spares=spares, **options)
    await ready_kind(spares, spare_pool)

    started = decode_payload(await started_pool.invoke(b"{}"))
    from_spare = decode_payload(await spare_pool.invoke(b"{}"))

    assert spare_pool.stats.spare_starts == 1
    assert started_pool.stats.spare_starts == 0
    assert without_per_process(from_spare["env"]) == without_per_process(started["env"])
    assert DEFERRED_INIT_VARIABLE not in from_spare["env"]
    assert from_spare["env"]["TABLE_NAME"] == "orders-table"
    assert from_spare["env"]["DEVD_TEST_PASSED"] == "from-host"
    assert "AWS_PROFILE" not in from_spare["env"]
    assert from_spare["env"]["AWS_LAMBDA_RUNTIME_API"] != started["env"]["AWS_LAMBDA_RUNTIME_API"]
    child_env = "childEnv" if runtime.startswith("nodejs") else "child_env"
    assert without_per_process(from_spare[child_env]) == without_per_process(started[child_env])
    for key in SAME_PROCESS_VALUES[runtime]:
        assert from_spare[key] == started[key], key


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_pool_takes_ready_spare(make_pool: PoolFactory, spares: SpareWorkers, runtime: str) -> None:
    pool = make_pool("counter.handler", runtime, spares=spares)
    kind = await ready_kind(spares, pool)
    [spare_pid] = spares.ready_pids(kind)

    first = decode_payload(await pool.invoke(b"{}"))
    second = decode_payload(await pool.invoke(b"{}"))

    assert first == {"count": 1, "pid": spare_pid}
    assert second == {"count": 2, "pid": spare_pid}
    assert pool.stats.spare_starts == 1

    await wait_until(lambda: bool(spares.ready_pids(kind)))
    assert spares.ready_pids(kind) != (spare_pid,)


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_spare_starts_without_function_values(
    make_pool: PoolFactory, spares: SpareWorkers, monkeypatch: pytest.MonkeyPatch, runtime: str
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    pool = make_pool("counter.handler", runtime, spares=spares, environment={"TABLE_NAME": "orders-table"})
    kind = await ready_kind(spares, pool)
    [spare_pid] = spares.ready_pids(kind)

    environ = process_environ(spare_pid)

    assert environ[DEFERRED_INIT_VARIABLE] == "1"
    assert environ["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert environ["PATH"] == os.environ["PATH"]
    assert environ["TZ"] == "UTC"
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "_HANDLER", "LAMBDA_TASK_ROOT", "TABLE_NAME", "AWS_SECRET_ACCESS_KEY"):
        assert name not in environ
    assert Path(os.readlink(f"/proc/{spare_pid}/cwd")) == BOOTSTRAP_DIR


@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_startup_variable_needs_own_spare_kind(
    make_pool: PoolFactory, spares: SpareWorkers, runtime: str
) -> None:
    """A variable that the runtime reads at process start cannot be set after it started."""
    node = runtime.startswith("nodejs")
    startup = {"NODE_OPTIONS": "--no-deprecation"} if node else {"PYTHONOPTIMIZE": "1"}
    plain_pool = make_pool("runtime_state.handler", runtime, spares=spares, timeout=5)
    await ready_kind(spares, plain_pool)

    pool = make_pool("runtime_state.handler", runtime, spares=spares, environment=startup, timeout=5)
    first = decode_payload(await pool.invoke(b"{}"))

    assert pool.spare_kind != plain_pool.spare_kind
    assert pool.stats.spare_starts == 0
    assert first["noDeprecation" if node else "optimize"] in (True, 1)

    await ready_kind(spares, pool)
    later_pool = make_pool("runtime_state.handler", runtime, spares=spares, environment=startup, timeout=5)
    later = decode_payload(await later_pool.invoke(b"{}"))
    assert later_pool.stats.spare_starts == 1
    assert later["noDeprecation" if node else "optimize"] in (True, 1)


@requires_node
async def test_spare_of_other_kind_is_stopped(spares: SpareWorkers, logs: list[LogRecord]) -> None:
    python_pool = FunctionPool(make_function("p", "python3.12", "counter.handler"), PYTHON_ROOT, "counter.handler",
                               logs.append)
    python_kind = await ready_kind(spares, python_pool)
    spare = spares.take(python_kind)
    assert spare is not None

    function = make_function("n", "nodejs20.x", "counter.handler")
    worker = await Worker.start(function, task_root=NODE_ROOT, handler="counter.handler", on_log=logs.append,
                                interpreter=NODE or "node", spare=spare)
    try:
        result = decode_payload(await worker.invoke(b"{}", "req-other-kind"))
    finally:
        await worker.close()

    assert not worker.from_spare
    assert result["pid"] != spare.pid
    assert not is_running(spare.pid)


@pytest.mark.parametrize(("runtime", "handler"), [
    pytest.param("nodejs20.x", "syntax_error.handler", marks=requires_node),
    ("python3.12", "missing_import.handler"),
])
async def test_init_error_from_spare(
    make_pool: PoolFactory, spares: SpareWorkers, logs: list[LogRecord], runtime: str, handler: str
) -> None:
    pool = make_pool(handler, runtime, spares=spares)
    await ready_kind(spares, pool)

    first = await pool.invoke(b"{}")
    second = await pool.invoke(b"{}")

    expected = "Runtime.UserCodeSyntaxError" if runtime.startswith("nodejs") else "Runtime.ImportModuleError"
    assert pool.stats.spare_starts >= 1
    assert first.function_error == "Unhandled"
    assert decode_payload(first)["errorType"] == expected
    assert decode_payload(second)["errorType"] == expected
    first_lines = [record.text for record in logs if record.request_id == first.request_id]
    assert first_lines[0].startswith(expected)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("with_spares", [False, True])
async def test_prewarm_loads_handler_before_request(
    make_pool: PoolFactory, spares: SpareWorkers, runtime: str, with_spares: bool
) -> None:
    pool = make_pool("runtime_state.handler", runtime, timeout=5, **({"spares": spares} if with_spares else {}))
    if with_spares:
        await ready_kind(spares, pool)

    await pool.prewarm()
    prewarmed_at = time.time()
    workers_after_prewarm = pool.stats.workers
    await pool.prewarm()
    await asyncio.sleep(0.2)
    state = decode_payload(await pool.invoke(b"{}"))

    loaded_at = state["loadedAt"] / 1000 if runtime.startswith("nodejs") else state["loaded_at"]
    assert workers_after_prewarm == 1
    assert loaded_at <= prewarmed_at
    assert pool.stats.workers == 1
    assert pool.stats.spare_starts == (1 if with_spares else 0)


@requires_node
async def test_request_during_prewarm_uses_its_worker(make_pool: PoolFactory, spares: SpareWorkers) -> None:
    pool = make_pool("counter.handler", "nodejs20.x", spares=spares)
    await ready_kind(spares, pool)

    prewarm = asyncio.create_task(pool.prewarm())
    await asyncio.sleep(0)
    result = decode_payload(await pool.invoke(b"{}"))
    await prewarm

    assert result["count"] == 1
    assert pool.stats.workers == 1


async def test_prewarm_reports_init_error(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("missing_import.handler", "python3.12")

    await pool.prewarm()

    errors = [record for record in logs if record.level is Level.ERROR]
    assert errors[0].text.startswith("Runtime.ImportModuleError")
    assert errors[0].request_id is None
    result = await pool.invoke(b"{}")
    assert decode_payload(result)["errorType"] == "Runtime.ImportModuleError"


async def test_close_stops_ready_spares(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    spare_workers = SpareWorkers(logs.append, per_kind=2)
    pool = make_pool("counter.handler", "python3.12", spares=spare_workers)
    kind = pool.spare_kind
    await wait_until(lambda: len(spare_workers.ready_pids(kind)) == 2)
    pids = spare_workers.ready_pids(kind)

    await spare_workers.close()

    for pid in pids:
        assert not is_running(pid)
        assert not group_exists(pid)
    assert spare_workers.take(kind) is None
    assert not [record for record in logs if record.level is Level.WARNING]


async def test_dead_spare_is_replaced_after_backoff(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    spare_workers = SpareWorkers(logs.append, backoff=lambda: Backoff(base=0.3, maximum=5.0))
    try:
        kind = make_pool("counter.handler", "python3.12", spares=spare_workers).spare_kind
        await wait_until(lambda: bool(spare_workers.ready_pids(kind)))

        waits = []
        for _ in range(2):
            [pid] = spare_workers.ready_pids(kind)
            os.kill(pid, signal.SIGKILL)
            waits.append(await wait_until(lambda killed=pid: spare_workers.ready_pids(kind) not in ((), (killed,))))
    finally:
        await spare_workers.close()

    assert waits[0] >= 0.3
    assert waits[1] >= 0.6
    warnings = [record.text for record in logs if record.level is Level.WARNING]
    assert len(warnings) == 2
    assert "exited with signal SIGKILL" in warnings[0]
    assert warnings[0].endswith("The next one starts in 0.3 s.")
    assert warnings[1].endswith("The next one starts in 0.6 s.")


async def test_failing_spare_start_backs_off(logs: list[LogRecord]) -> None:
    spare_workers = SpareWorkers(logs.append, backoff=lambda: Backoff(base=0.1, maximum=5.0))
    kind = SpareKind("python", "/nonexistent/python3", ())
    try:
        spare_workers.prepare(kind)
        await asyncio.sleep(1.0)
        taken = spare_workers.take(kind)
    finally:
        await spare_workers.close()

    attempts = [record.text for record in logs if "could not start" in record.text]
    assert taken is None
    # Starts at 0, 0.1, 0.3 and 0.7 s fit in one second.
    assert 3 <= len(attempts) <= 5
    assert "/nonexistent/python3" in attempts[0]


async def test_spares_die_with_their_parent(tmp_path: Path) -> None:
    script = tmp_path / "keep_spares.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, os, sys
        sys.path.insert(0, {str(REPO)!r})
        from devd.runtime.spares import SpareKind, SpareWorkers

        async def main():
            spares = SpareWorkers(lambda record: None)
            kind = SpareKind.for_environment("python", sys.executable, {{"PATH": os.environ["PATH"]}})
            spares.prepare(kind)
            while not spares.ready_pids(kind):
                await asyncio.sleep(0.01)
            print(*spares.ready_pids(kind), flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None
        [spare_pid] = [int(pid) for pid in parent.stdout.readline().split()]
        assert is_running(spare_pid)

        parent.kill()
        parent.wait(5)
        await wait_until(lambda: not is_running(spare_pid), timeout_s=3.0)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
            parent.wait(5)
