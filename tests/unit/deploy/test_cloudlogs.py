"""Formatting CloudWatch log events and choosing a function's log group."""

from __future__ import annotations

from devd.deploy.cloudlogs import format_event, log_group_of
from devd.inventory import Function
from devd.logs.records import Level

REQUEST = "8f5c3c1e-3f1a-4c2e-9d61-0c1b2a3d4e5f"


def _function(log_group: str | None = None) -> Function:
    return Function("aws_lambda_function.f", "app-f", "python3.11", "app.handler", None, None, log_group=log_group)


def test_report_line_compact() -> None:
    message = (f"REPORT RequestId: {REQUEST}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
               "Memory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 150.12 ms\t\n")

    record = format_event(message, "app-f", 1_700_000_000_000)

    assert record.text == f"REPORT {REQUEST} 12.34 ms, 70/128 MB, init 150.12 ms"
    assert record.request_id == REQUEST
    assert record.time == 1_700_000_000.0


def test_start_and_end_lines_compact() -> None:
    start = format_event(f"START RequestId: {REQUEST} Version: $LATEST\n", "app-f")
    end = format_event(f"END RequestId: {REQUEST}\n", "app-f")

    assert start.text == f"START {REQUEST}"
    assert end.text == f"END {REQUEST}"
    assert start.level == Level.DEBUG


def test_handler_line_kept_and_masked() -> None:
    record = format_event("2026-12-04T10:00:00Z\tabc\tINFO\tkey AKIAIOSFODNN7EXAMPLE used\n", "app-f")

    assert "AKIAIOSFODNN7EXAMPLE" not in record.text
    assert record.text.startswith("2026-12-04T10:00:00Z\tabc\tINFO\tkey AKIA")
    assert record.source == "app-f"


def test_log_group_default_and_configured() -> None:
    assert log_group_of(_function()) == "/aws/lambda/app-f"
    assert log_group_of(_function("/app/shared")) == "/app/shared"
