"""Pure helpers of the workers: custom runtime commands, REPORT lines, `[workers]` settings and
debugger ports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devd.errors import ConfigError, RuntimeStartError
from devd.inventory import Function
from devd.runtime.launch import bootstrap_command, is_custom_runtime
from devd.runtime.options import DebugPlan, WorkerSettings, parse_worker_settings
from devd.runtime.report import (
    PeakMemoryReader,
    Report,
    billed_duration_ms,
    parse_peak_rss_mb,
    report_line,
    start_line,
)


def make_function(name: str = "orders", runtime: str = "nodejs20.x", address: str | None = None) -> Function:
    return Function(address or f"aws_lambda_function.{name}", name, runtime, "index.handler", None, None)


@pytest.mark.parametrize(("runtime", "custom"), [
    ("provided.al2023", True), ("provided.al2", True), ("provided", True),
    ("nodejs20.x", False), ("python3.12", False), (None, False),
])
def test_is_custom_runtime(runtime: str | None, custom: bool) -> None:
    assert is_custom_runtime(runtime) is custom


def test_custom_runtime_command_is_bootstrap(tmp_path: Path) -> None:
    bootstrap = tmp_path / "bootstrap"
    bootstrap.write_text("#!/bin/sh\n")
    bootstrap.chmod(0o755)

    assert bootstrap_command(make_function(runtime="provided.al2023"), "node", tmp_path) == [str(bootstrap)]


def test_custom_runtime_without_bootstrap_names_fix(tmp_path: Path) -> None:
    with pytest.raises(RuntimeStartError, match=r"bootstrap.*does not exist.*go build"):
        bootstrap_command(make_function(runtime="provided.al2"), "node", tmp_path)


def test_custom_runtime_bootstrap_not_executable(tmp_path: Path) -> None:
    (tmp_path / "bootstrap").write_text("#!/bin/sh\n")

    with pytest.raises(RuntimeStartError, match="chmod \\+x"):
        bootstrap_command(make_function(runtime="provided.al2"), "node", tmp_path)


def test_interpreter_args_before_script() -> None:
    command = bootstrap_command(make_function(runtime="python3.12"), "python3", None, ("-m", "debugpy"))

    assert command[:4] == ["python3", "-u", "-m", "debugpy"]
    assert command[-1].endswith("python_bootstrap.py")


def test_report_line_cold_start() -> None:
    line = report_line(Report("abc", 12.345, 128, 45, init_duration_ms=150.5))

    assert line == (
        "REPORT RequestId: abc\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 45 MB\tInit Duration: 150.50 ms"
    )


def test_report_line_timeout_status() -> None:
    line = report_line(Report("abc", 3000.0, 256, None, status="timeout", error_type="Sandbox.Timedout"))

    assert line.endswith("Memory Size: 256 MB\tStatus: timeout\tError Type: Sandbox.Timedout")
    assert "Max Memory Used" not in line


@pytest.mark.parametrize(("duration", "billed"), [(0.0, 1), (0.4, 1), (1.0, 1), (1.01, 2), (99.999, 100)])
def test_billed_duration_rounds_up(duration: float, billed: int) -> None:
    assert billed_duration_ms(duration) == billed


def test_start_line() -> None:
    assert start_line("abc") == "START RequestId: abc Version: $LATEST"


def test_peak_rss_from_proc_status() -> None:
    assert parse_peak_rss_mb("Name:\tnode\nVmHWM:\t   46081 kB\nVmRSS:\t 40000 kB\n") == 46
    assert parse_peak_rss_mb("Name:\tnode\n") is None


def test_peak_memory_reader_rereads_open_file() -> None:
    reader = PeakMemoryReader(os.getpid())

    first = reader.read()
    resident = _resident_mb()
    kept = b"x" * (64 * 1024 * 1024)
    second = reader.read()
    reader.close()

    # The peak already includes earlier tests' memory; the new allocation raises it above what
    # is resident now, whatever the history.
    assert first is not None and second is not None
    assert second >= max(first, resident + 60)
    assert len(kept) > 0


def _resident_mb() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) // 1024


def test_peak_memory_reader_missing_process() -> None:
    assert PeakMemoryReader(2**22 + 12345).read() is None


def test_worker_settings_defaults() -> None:
    assert parse_worker_settings({}) == WorkerSettings()


def test_worker_settings_values() -> None:
    settings = parse_worker_settings(
        {"pass_env": ["AWS_PROFILE"], "max_concurrency": 2, "idle_timeout": 30, "account_id": "000000000042"}
    )

    assert settings == WorkerSettings(("AWS_PROFILE",), 2, 30.0, "000000000042")


@pytest.mark.parametrize(("table", "message"), [
    ({"pass_env": "AWS_PROFILE"}, "workers.pass_env"),
    ({"max_concurrency": 0}, "workers.max_concurrency"),
    ({"idle_timeout": -1}, "workers.idle_timeout"),
    ({"account_id": 123}, "workers.account_id"),
    ({"concurrency": 3}, "unknown setting workers.concurrency"),
])
def test_worker_settings_invalid(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_worker_settings(table)


def test_debug_plan_ports_per_language() -> None:
    plan = DebugPlan(("orders", "aws_lambda_function.users", "report-*"))

    node = plan.debugger_for(make_function("orders"))
    python = plan.debugger_for(make_function("users", "python3.12"))
    second_node = plan.debugger_for(make_function("report-daily"))

    assert (node.kind, node.port, node.interpreter_args) == ("node", 9229, ("--inspect=127.0.0.1:9229",))
    assert (python.kind, python.port) == ("debugpy", 5678)
    assert python.interpreter_args == ("-Xfrozen_modules=off", "-m", "debugpy", "--listen", "127.0.0.1:5678")
    assert second_node.port == 9230
    assert plan.debugger_for(make_function("orders")).port == 9229
    assert plan.debugger_for(make_function("billing")) is None


def test_debug_plan_rejects_custom_runtime() -> None:
    with pytest.raises(RuntimeStartError, match="nodejs\\* and python\\*"):
        DebugPlan(("go-fn",)).debugger_for(make_function("go-fn", "provided.al2023"))


def test_debug_plan_takes_short_names_and_reports_unmatched() -> None:
    hello = make_function("devd-example-dev-get-hello")
    item = make_function("devd-example-dev-get-item", "python3.12")
    plan = DebugPlan(("get-hello", "get-helo"))

    assert plan.matches(hello)
    assert not plan.matches(item)
    assert plan.unmatched([hello, item]) == ["get-helo"]
