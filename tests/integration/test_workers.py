"""Worker pools against real node and python processes and the handlers in tests/fixtures.

Every test that uses `make_pool` runs twice: with workers that start their own process, and
with workers that take over a ready spare process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from devd.errors import RuntimeStartError
from devd.inventory import Function
from devd.logs.records import Level, LogRecord
from devd.runtime.invoke import InvokeResult
from devd.runtime.pool import FunctionPool
from devd.runtime.runtime_api import MAX_RESPONSE_BYTES
from devd.runtime.spares import SpareKind, SpareWorkers

HANDLERS = Path(__file__).resolve().parents[1] / "fixtures" / "handlers"
NODE_ROOT = HANDLERS / "node"
PYTHON_ROOT = HANDLERS / "python"
NODE = shutil.which("node")

requires_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

PoolFactory = Callable[..., FunctionPool]


def make_function(name: str, runtime: str, handler: str, **values: Any) -> Function:
    return Function(
        address=f"aws_lambda_function.{name}",
        name=name,
        runtime=runtime,
        handler=handler,
        code_dir=None,
        source=None,
        **values,
    )


def decode_payload(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def is_running(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False

    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state != "Z"


@pytest.fixture
def logs() -> list[LogRecord]:
    return []


def default_spare_kind(runtime: str) -> SpareKind:
    """The spare kind of a pool with default options, which most tests create."""
    function = make_function("probe", runtime, "probe.handler")
    return FunctionPool(function, PYTHON_ROOT, "probe.handler", lambda record: None, node=NODE or "node").spare_kind


async def ready_spares(spares: SpareWorkers, kinds: list[SpareKind], timeout_s: float = 10.0) -> None:
    """Prepare spares of each kind and wait until one of each is ready."""
    for kind in kinds:
        spares.prepare(kind)
    deadline = time.monotonic() + timeout_s
    while not all(spares.ready_pids(kind) for kind in kinds):
        assert time.monotonic() < deadline, "no spare became ready"
        await asyncio.sleep(0.01)


@pytest.fixture(params=["process", "spare"])
async def make_pool(request: pytest.FixtureRequest, logs: list[LogRecord]):
    """Create pools that log into `logs` and are closed after the test.

    With the "spare" parameter, node and python spares are ready before the test starts, and
    the test fails unless at least one of its workers took one over.
    """
    pools: list[FunctionPool] = []
    spares = SpareWorkers(lambda record: None) if request.param == "spare" else None
    if spares is not None:
        runtimes = ["python3.12", *(["nodejs20.x"] if NODE else [])]
        await ready_spares(spares, [default_spare_kind(runtime) for runtime in runtimes])

    def create(handler: str, runtime: str = "nodejs20.x", *, root: Path | None = None, **options: Any) -> FunctionPool:
        function_values = {key: options.pop(key) for key in ("timeout", "memory", "environment") if key in options}
        name = options.pop("name", handler.split(".")[0].replace("/", "-"))
        function = make_function(name, runtime, handler, **function_values)
        task_root = root or (NODE_ROOT if runtime.startswith("nodejs") else PYTHON_ROOT)
        pool = FunctionPool(function, task_root, handler, logs.append, node=NODE or "node", spares=spares, **options)
        pools.append(pool)
        return pool

    yield create

    for pool in pools:
        await pool.close()
    if spares is not None:
        await spares.close()
        if any(pool.stats.invocations for pool in pools):
            assert sum(pool.stats.spare_starts for pool in pools) >= 1, "no worker took over a spare"


PLATFORM_PREFIXES = ("START RequestId: ", "END RequestId: ", "REPORT RequestId: ")


def log_texts(logs: list[LogRecord], request_id: str | None = None) -> list[str]:
    """Return the texts of the records of one request (or all), without the START, END and
    REPORT lines that every invocation has."""
    return [
        record.text
        for record in logs
        if (request_id is None or record.request_id == request_id) and not record.text.startswith(PLATFORM_PREFIXES)
    ]


@requires_node
@pytest.mark.parametrize("handler", ["counter.handler", "counter_cjs.handler"])
async def test_node_counter_stays_warm(make_pool: PoolFactory, handler: str) -> None:
    pool = make_pool(handler)

    first = await pool.invoke(b"{}")
    second = await pool.invoke(b"{}")

    assert first.function_error is None
    assert decode_payload(first)["count"] == 1
    assert decode_payload(second)["count"] == 2
    assert decode_payload(second)["pid"] == decode_payload(first)["pid"]
    assert pool.stats.workers == 1
    assert pool.stats.invocations == 2


async def test_python_counter_stays_warm(make_pool: PoolFactory) -> None:
    pool = make_pool("counter.handler", "python3.12")

    first = await pool.invoke(b"{}")
    second = await pool.invoke(b"{}")

    assert decode_payload(first)["count"] == 1
    assert decode_payload(second)["count"] == 2
    assert decode_payload(second)["pid"] == decode_payload(first)["pid"]


@requires_node
async def test_node_callback_handler_in_js_file(make_pool: PoolFactory) -> None:
    pool = make_pool("callback.handler")

    result = await pool.invoke(b'{"name": "Ada"}')

    assert result.function_error is None
    assert decode_payload(result) == {"greeting": "hello Ada"}


@requires_node
async def test_handler_in_subdirectory(make_pool: PoolFactory) -> None:
    node_pool = make_pool("nested/deep.handler")
    python_pool = make_pool("pkg/module.handler", "python3.12")

    assert decode_payload(await node_pool.invoke(b"{}")) == {"where": "nested/deep"}
    assert decode_payload(await python_pool.invoke(b"{}")) == {"where": "pkg/module"}


@requires_node
async def test_node_context_values(make_pool: PoolFactory) -> None:
    pool = make_pool("context_env.handler", name="orders", timeout=3, memory=128)

    result = await pool.invoke(b'{"id": 7}', request_id="req-context-1")
    seen = decode_payload(result)

    assert seen["functionName"] == "orders"
    assert seen["functionVersion"] == "$LATEST"
    assert seen["memoryLimitInMB"] == "128"
    assert seen["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:orders"
    assert seen["awsRequestId"] == "req-context-1"
    assert result.request_id == "req-context-1"
    assert seen["logGroupName"] == "/aws/lambda/orders"
    assert "[$LATEST]" in seen["logStreamName"]
    assert 0 < seen["remainingMs"] <= 3000
    assert seen["event"] == {"id": 7}


async def test_python_context_values(make_pool: PoolFactory) -> None:
    pool = make_pool("context_env.handler", "python3.12", name="orders", timeout=2, region="eu-west-1")

    seen = decode_payload(await pool.invoke(b"{}", request_id="req-context-2"))

    assert seen["function_name"] == "orders"
    assert seen["function_version"] == "$LATEST"
    assert seen["memory_limit_in_mb"] == "128"
    assert seen["invoked_function_arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:orders"
    assert seen["aws_request_id"] == "req-context-2"
    assert seen["log_group_name"] == "/aws/lambda/orders"
    assert 0 < seen["remaining_ms"] <= 2000
    assert seen["sys_path_0"] == str(PYTHON_ROOT)


@requires_node
@pytest.mark.parametrize("runtime", ["nodejs20.x", "python3.12"])
async def test_worker_environment(make_pool: PoolFactory, monkeypatch: pytest.MonkeyPatch, runtime: str) -> None:
    monkeypatch.setenv("AWS_PROFILE", "developer-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTKEY")
    monkeypatch.setenv("DEVD_TEST_PASSED", "from-host")
    pool = make_pool(
        "context_env.handler",
        runtime,
        name="orders",
        environment={"TABLE_NAME": "orders-table"},
        passthrough=("DEVD_TEST_PASSED",),
    )

    env = decode_payload(await pool.invoke(b"{}"))["env"]

    assert env["TABLE_NAME"] == "orders-table"
    assert env["DEVD_TEST_PASSED"] == "from-host"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "orders"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "context_env.handler"
    assert env["TZ"] == "UTC"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert Path(env["LAMBDA_TASK_ROOT"]) in (NODE_ROOT, PYTHON_ROOT)
    assert "AWS_PROFILE" not in env
    assert "AWS_ACCESS_KEY_ID" not in env


@requires_node
async def test_node_throw_returns_error_document(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("throws.handler")

    failed = await pool.invoke(b'{"fail": true}')
    document = decode_payload(failed)

    assert failed.function_error == "Unhandled"
    assert document["errorType"] == "TypeError"
    assert document["errorMessage"] == "bad input 1"
    assert any("throws.mjs:6" in line for line in document["stackTrace"])
    assert not any("node.mjs" in line for line in document["stackTrace"])

    error_lines = [r for r in logs if r.request_id == failed.request_id and r.level is Level.ERROR]
    assert error_lines[0].text == "TypeError: bad input 1"
    assert any("throws.mjs:6" in record.text for record in error_lines)

    # The same warm worker serves the next request: its module state continues.
    after = await pool.invoke(b"{}")
    assert after.function_error is None
    assert decode_payload(after) == {"count": 2}


async def test_python_raise_returns_error_document(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("raises.handler", "python3.12")

    failed = await pool.invoke(b'{"fail": true, "order": 7}')
    document = decode_payload(failed)

    assert failed.function_error == "Unhandled"
    assert document["errorType"] == "InvalidOrder"
    assert document["errorMessage"] == "order 7 is invalid"
    assert any("raises.py" in line for line in document["stackTrace"])
    assert "InvalidOrder: order 7 is invalid" in log_texts(logs, failed.request_id)

    after = await pool.invoke(b'{"order": 8}')
    assert after.function_error is None
    assert decode_payload(after) == {"order": 8}


@requires_node
@pytest.mark.parametrize(
    ("runtime", "handler", "slow_event", "quick_event"),
    [
        ("nodejs20.x", "sleeps.handler", b'{"ms": 5000}', b'{"ms": 10}'),
        ("python3.12", "sleeps.handler", b'{"seconds": 5}', b'{"seconds": 0.01}'),
    ],
)
async def test_timeout_replaces_worker(
    make_pool: PoolFactory,
    logs: list[LogRecord],
    runtime: str,
    handler: str,
    slow_event: bytes,
    quick_event: bytes,
) -> None:
    pool = make_pool(handler, runtime, timeout=1)
    warm = decode_payload(await pool.invoke(quick_event))

    started = time.monotonic()
    timed_out = await pool.invoke(slow_event)
    elapsed = time.monotonic() - started

    assert 0.9 <= elapsed < 3.0
    assert timed_out.function_error == "Unhandled"
    assert decode_payload(timed_out)["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in decode_payload(timed_out)["errorMessage"]

    timeout_records = [r for r in logs if r.text == "Task timed out after 1.00 seconds"]
    assert len(timeout_records) == 1
    assert timeout_records[0].level is Level.ERROR
    assert timeout_records[0].request_id == timed_out.request_id
    assert not is_running(warm["pid"])

    fresh = await pool.invoke(quick_event)
    assert fresh.function_error is None
    assert decode_payload(fresh)["pid"] != warm["pid"]


@requires_node
async def test_exit_mid_request_reports_exit_error(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("exits.handler")

    result = await pool.invoke(b"{}")
    document = decode_payload(result)

    assert result.function_error == "Unhandled"
    assert document["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in document["errorMessage"]
    lines = log_texts(logs, result.request_id)
    assert lines == ["about to exit", "Runtime exited with exit status 3"]
    assert pool.stats.workers == 0


@requires_node
async def test_node_syntax_error_is_init_error(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("syntax_error.handler")

    result = await pool.invoke(b"{}")
    document = decode_payload(result)

    assert result.function_error == "Unhandled"
    assert document["errorType"] == "Runtime.UserCodeSyntaxError"
    assert "syntax_error.mjs:2" in document["errorMessage"]
    lines = log_texts(logs, result.request_id)
    assert lines[0].startswith("Runtime.UserCodeSyntaxError: SyntaxError")
    assert "  return { broken: 1 + };" in lines
    assert not any("Runtime exited" in line for line in log_texts(logs))


@requires_node
async def test_node_missing_package_is_import_error(make_pool: PoolFactory) -> None:
    pool = make_pool("missing_dep.handler")

    document = decode_payload(await pool.invoke(b"{}"))

    assert document["errorType"] == "Runtime.ImportModuleError"
    assert "devd-no-such-package" in document["errorMessage"]


async def test_python_missing_module_is_import_error(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("missing_import.handler", "python3.12")

    result = await pool.invoke(b"{}")
    document = decode_payload(result)

    assert result.function_error == "Unhandled"
    assert document["errorType"] == "Runtime.ImportModuleError"
    assert "devd_no_such_module" in document["errorMessage"]
    lines = log_texts(logs, result.request_id)
    assert "ModuleNotFoundError: No module named 'devd_no_such_module'" in lines
    assert any("missing_import.py" in line for line in lines)


@requires_node
async def test_missing_handler_export(make_pool: PoolFactory) -> None:
    node_pool = make_pool("counter.missing")
    python_pool = make_pool("counter.missing", "python3.12")

    assert decode_payload(await node_pool.invoke(b"{}"))["errorType"] == "Runtime.HandlerNotFound"
    assert decode_payload(await python_pool.invoke(b"{}"))["errorType"] == "Runtime.HandlerNotFound"


@requires_node
async def test_parallel_requests_start_two_workers(make_pool: PoolFactory) -> None:
    pool = make_pool("sleeps.handler", timeout=5)

    started = time.monotonic()
    first, second = await asyncio.gather(pool.invoke(b'{"ms": 600}'), pool.invoke(b'{"ms": 600}'))
    elapsed = time.monotonic() - started

    assert decode_payload(first)["pid"] != decode_payload(second)["pid"]
    assert pool.stats.workers == 2
    assert pool.stats.busy == 0
    assert elapsed < 1.15


@requires_node
async def test_requests_beyond_max_workers_wait_in_order(make_pool: PoolFactory) -> None:
    pool = make_pool("counter.handler", max_workers=1)

    results = await asyncio.gather(*(pool.invoke(b"{}", request_id=f"req-{i}") for i in range(4)))

    assert [decode_payload(result)["count"] for result in results] == [1, 2, 3, 4]
    assert [result.request_id for result in results] == ["req-0", "req-1", "req-2", "req-3"]
    assert pool.stats.workers == 1


@requires_node
async def test_pool_grows_to_cap_one_invocation_each(make_pool: PoolFactory) -> None:
    pool = make_pool("sleeps.handler", timeout=5, max_workers=3)

    results = await asyncio.gather(*(pool.invoke(b'{"ms": 400}') for _ in range(5)))

    pids = [decode_payload(result)["pid"] for result in results]
    assert len(set(pids)) == 3
    assert max(pids.count(pid) for pid in set(pids)) == 2
    assert pool.stats.workers == 3


@requires_node
async def test_idle_workers_stop_but_one_stays_warm(make_pool: PoolFactory) -> None:
    pool = make_pool("sleeps.handler", timeout=5, idle_timeout_s=0.5)
    await asyncio.gather(pool.invoke(b'{"ms": 300}'), pool.invoke(b'{"ms": 300}'))
    assert pool.stats.workers == 2

    await asyncio.sleep(0.3)
    assert pool.stats.workers == 2
    deadline = time.monotonic() + 5
    while pool.stats.workers > 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)

    assert pool.stats.workers == 1
    await asyncio.sleep(0.8)
    assert pool.stats.workers == 1
    assert decode_payload(await pool.invoke(b'{"ms": 1}'))["slept"] == 1


@requires_node
async def test_close_leaves_no_process(make_pool: PoolFactory) -> None:
    node_pool = make_pool("sleeps.handler", timeout=5)
    python_pool = make_pool("sleeps.handler", "python3.12", timeout=5)
    results = await asyncio.gather(
        node_pool.invoke(b'{"ms": 200}'),
        node_pool.invoke(b'{"ms": 200}'),
        python_pool.invoke(b'{"seconds": 0.2}'),
    )
    pids = [decode_payload(result)["pid"] for result in results]
    assert all(is_running(pid) for pid in pids)

    await node_pool.close()
    await python_pool.close()

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_close_kills_worker_that_ignores_sigterm(make_pool: PoolFactory) -> None:
    pool = make_pool("ignores_sigterm.handler", "python3.12")
    seen = decode_payload(await pool.invoke(b"{}"))

    started = time.monotonic()
    await pool.close()
    elapsed = time.monotonic() - started

    assert 1.8 <= elapsed < 5.0
    with pytest.raises(ProcessLookupError):
        os.kill(seen["pid"], 0)
    assert not is_running(seen["child_pid"])


@requires_node
async def test_close_waits_for_running_invocation(make_pool: PoolFactory) -> None:
    pool = make_pool("sleeps.handler", timeout=5)
    running = asyncio.create_task(pool.invoke(b'{"ms": 500}'))
    await asyncio.sleep(0.2)

    await pool.close()

    result = running.result()
    assert result.function_error is None
    assert decode_payload(result)["slept"] == 500
    with pytest.raises(RuntimeStartError):
        await pool.invoke(b'{"ms": 1}')


@requires_node
async def test_close_serves_queued_requests(make_pool: PoolFactory) -> None:
    pool = make_pool("sleeps.handler", timeout=5, max_workers=1)
    running = asyncio.create_task(pool.invoke(b'{"ms": 300}'))
    queued = asyncio.create_task(pool.invoke(b'{"ms": 1}'))
    await asyncio.sleep(0.1)

    await pool.close()

    assert running.result().function_error is None
    assert queued.result().function_error is None
    assert decode_payload(queued.result())["pid"] == decode_payload(running.result())["pid"]
    assert pool.stats.workers == 0


@requires_node
async def test_close_rejects_queued_when_no_worker_left(make_pool: PoolFactory) -> None:
    pool = make_pool("sleeps.handler", timeout=1, max_workers=1)
    running = asyncio.create_task(pool.invoke(b'{"ms": 5000}'))
    queued = asyncio.create_task(pool.invoke(b'{"ms": 1}'))
    await asyncio.sleep(0.1)

    await pool.close()

    assert decode_payload(running.result())["errorType"] == "Sandbox.Timedout"
    with pytest.raises(RuntimeStartError):
        queued.result()


@requires_node
async def test_output_lines_carry_request_id(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("prints.handler")

    first = await pool.invoke(b'{"tag": "a"}')
    second = await pool.invoke(b'{"tag": "b"}')

    first_records = [
        r for r in logs if r.request_id == first.request_id and not r.text.startswith(PLATFORM_PREFIXES)
    ]
    assert [r.text for r in first_records if r.level is Level.INFO] == ["first line for a", "last line for a"]
    assert [r.text for r in first_records if r.level is Level.WARNING] == ["warning line for a"]
    assert all(r.source == "prints" for r in first_records)
    assert "last line for b" in log_texts(logs, second.request_id)


async def test_python_print_and_logging_reach_log(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("context_env.handler", "python3.12")

    result = await pool.invoke(b"{}")

    lines = log_texts(logs, result.request_id)
    assert "printed line" in lines
    assert "[INFO]\tlogged line" in lines


@requires_node
async def test_rejection_after_response_keeps_worker(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("rejects_later.handler")

    first = await pool.invoke(b"{}")
    await asyncio.sleep(0.2)
    second = await pool.invoke(b"{}")

    assert decode_payload(first) == {"count": 1}
    assert decode_payload(second) == {"count": 2}
    rejection = [r for r in logs if "Unhandled promise rejection" in r.text]
    assert len(rejection) == 1
    assert rejection[0].level is Level.ERROR


@requires_node
async def test_uncaught_exception_fails_invocation(make_pool: PoolFactory, logs: list[LogRecord]) -> None:
    pool = make_pool("throws_in_timer.handler", timeout=5)

    result = await pool.invoke(b"{}")
    document = decode_payload(result)

    assert result.function_error == "Unhandled"
    assert document["errorType"] == "RangeError"
    assert document["errorMessage"] == "thrown in a timer"

    # The runtime exits right after it reports the error.
    deadline = time.monotonic() + 3.0
    while "Runtime exited with exit status 1" not in log_texts(logs) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert "Runtime exited with exit status 1" in log_texts(logs)
    assert pool.stats.workers == 0

    after = await pool.invoke(b"{}")
    assert decode_payload(after)["errorType"] == "RangeError"


@requires_node
async def test_handler_name_with_parent_directory(make_pool: PoolFactory) -> None:
    pool = make_pool("../node/counter.handler", name="escape")

    document = decode_payload(await pool.invoke(b"{}"))

    assert document["errorType"] == "Runtime.MalformedHandlerName"


@requires_node
async def test_source_map_points_stack_at_typescript(make_pool: PoolFactory) -> None:
    pool = make_pool("sourcemapped.handler")

    document = decode_payload(await pool.invoke(b'{"reason": "bad"}'))

    assert document["errorMessage"] == "mapped bad"
    assert any("sourcemapped.ts:5" in line for line in document["stackTrace"])


async def test_response_over_limit_is_error(make_pool: PoolFactory) -> None:
    pool = make_pool("big_response.handler", "python3.12")

    small = await pool.invoke(b'{"size": 1000}')
    large = await pool.invoke(json.dumps({"size": MAX_RESPONSE_BYTES + 10}).encode())

    assert small.function_error is None
    assert large.function_error == "Unhandled"
    assert decode_payload(large)["errorType"] == "Function.ResponseSizeTooLarge"


async def test_unsupported_runtime_is_rejected(logs: list[LogRecord]) -> None:
    function = make_function("orders", "java21", "example.Handler::handleRequest")

    with pytest.raises(RuntimeStartError, match="java21"):
        FunctionPool(function, PYTHON_ROOT, "example.Handler::handleRequest", logs.append)


async def test_missing_interpreter_fails_invoke(make_pool: PoolFactory) -> None:
    pool = make_pool("counter.handler", "python3.12", python="/nonexistent/python3")

    with pytest.raises(RuntimeStartError, match="/nonexistent/python3"):
        await pool.invoke(b"{}")
    assert pool.stats.workers == 0



@requires_node
@pytest.mark.parametrize("runtime", ["nodejs20.x", "python3.12"])
async def test_last_output_lines_arrive_before_result(
    make_pool: PoolFactory, logs: list[LogRecord], runtime: str
) -> None:
    pool = make_pool("prints_many.handler", runtime)

    for _ in range(5):
        result = await pool.invoke(b'{"lines": 3000}')

        lines = log_texts(logs, result.request_id)
        assert len(lines) == 3000
        assert lines[-1].startswith("line 3000 of 3000")
