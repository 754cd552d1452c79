"""Tests of the lines and generation numbers of one-shot builds."""

from __future__ import annotations

from pathlib import Path

from devd.build import layout
from devd.build.oneshot import format_build_line, next_generation
from devd.build.service import BuildResult
from devd.inventory import Function

FUNCTION = Function(
    address="aws_lambda_function.get_hello",
    name="get-hello",
    runtime="nodejs20.x",
    handler="functions/hello/handler.main",
    code_dir=None,
    source=None,
)


def test_success_line() -> None:
    result = BuildResult(
        function=FUNCTION.address,
        generation=1,
        ok=True,
        task_root=Path("/state/build/get-hello/1"),
        handler=FUNCTION.handler,
        inputs=frozenset(),
        duration_ms=35.4,
        zip_path=Path("/state/build/get-hello/1.zip"),
        zip_sha256="AbCdEf0123456789AbCdEf0123456789AbCdEf01234=",
    )

    line = format_build_line(result, FUNCTION)

    assert line == "get-hello  ok  #1  35 ms  sha256 AbCdEf0123456789AbCdEf0123456789AbCdEf01234="


def test_failure_line_first_error_line() -> None:
    result = BuildResult(
        function=FUNCTION.address,
        generation=2,
        ok=False,
        task_root=None,
        handler=FUNCTION.handler,
        inputs=frozenset(),
        error='functions/hello/handler.ts:3:7: error: Expected ";" but found "x"\n  3 | let a x\n',
    )

    line = format_build_line(result, FUNCTION, name_width=12)

    assert (
        line
        == 'get-hello     FAILED  functions/hello/handler.ts:3:7: error: Expected ";" but found "x"'
    )


def test_failure_line_without_message() -> None:
    result = BuildResult(
        function=FUNCTION.address,
        generation=2,
        ok=False,
        task_root=None,
        handler=FUNCTION.handler,
        inputs=frozenset(),
    )

    assert (
        format_build_line(result, FUNCTION) == "get-hello  FAILED  failed without an error message"
    )


def test_next_generation_after_highest(tmp_path: Path) -> None:
    function_dir = tmp_path / "build" / layout.function_dir_name(FUNCTION)

    assert next_generation(tmp_path, FUNCTION) == 1

    for number in (2, 9, 4):
        (function_dir / str(number)).mkdir(parents=True)
    (function_dir / "12.zip").write_bytes(b"")

    assert next_generation(tmp_path, FUNCTION) == 10
