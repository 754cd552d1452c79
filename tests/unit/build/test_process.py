"""Tests of running a build tool in its own process group."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from devd.build.process import run_tool
from devd.errors import BuildError, ToolchainMissing
from devd.supervise.process_group import group_exists


async def test_output_tail_and_exit_code(tmp_path: Path) -> None:
    script = "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; exit 3"

    outcome = await run_tool(["/bin/sh", "-c", script], cwd=tmp_path, timeout=10, tail_lines=3)

    assert outcome.returncode == 3
    assert not outcome.ok
    assert outcome.output_tail == "line 4\nline 5\noops"


async def test_timeout_stops_group(tmp_path: Path) -> None:
    script = "echo $$ > pid; sleep 30 & sleep 30"

    outcome = await run_tool(["/bin/sh", "-c", script], cwd=tmp_path, timeout=0.3)

    assert outcome.timed_out
    assert outcome.returncode is None
    assert not group_exists(int((tmp_path / "pid").read_text()))


async def test_background_child_stopped_after_exit(tmp_path: Path) -> None:
    script = "echo $$ > pid; sleep 30 & echo done"

    outcome = await run_tool(["/bin/sh", "-c", script], cwd=tmp_path, timeout=10)

    assert outcome.ok
    assert outcome.output_tail == "done"
    assert not group_exists(int((tmp_path / "pid").read_text()))


async def test_cancel_stops_group(tmp_path: Path) -> None:
    task = asyncio.create_task(
        run_tool(["/bin/sh", "-c", "echo $$ > pid; sleep 30"], cwd=tmp_path, timeout=60)
    )
    while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text():
        await asyncio.sleep(0.02)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert not group_exists(int((tmp_path / "pid").read_text()))


async def test_missing_program_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ToolchainMissing, match="/nonexistent/tool not found"):
        await run_tool(["/nonexistent/tool"], cwd=tmp_path, timeout=5)
    with pytest.raises(BuildError, match="does not exist: create it or fix the path"):
        await run_tool(["/bin/true"], cwd=tmp_path / "missing", timeout=5)


def processes_with_arguments(arguments: list[str]) -> list[int]:
    """Return the pids whose command line is exactly `arguments`."""
    wanted = b"\0".join(argument.encode() for argument in arguments) + b"\0"
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == wanted:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


async def test_cancel_during_start_stops_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["sleep", f"30.{os.getpid()}"]  # unique to this test process
    real_exec = asyncio.create_subprocess_exec

    async def slow_exec(*arguments: object, **options: object) -> asyncio.subprocess.Process:
        # The child runs, but the caller is cancelled before the start returns to it.
        process = await real_exec(*arguments, **options)  # type: ignore[arg-type]
        await asyncio.sleep(0.3)
        return process

    monkeypatch.setattr(asyncio, "create_subprocess_exec", slow_exec)
    task = asyncio.create_task(run_tool(argv, cwd=tmp_path, timeout=60))
    while not processes_with_arguments(argv):
        await asyncio.sleep(0.01)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert processes_with_arguments(argv) == []
