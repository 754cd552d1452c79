"""Supervised processes, Procfile runs and the sam local wiring, against real child processes."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from devd.errors import ConfigError
from devd.logs.records import Level, LogRecord
from devd.supervise.backoff import Backoff
from devd.supervise.managed import ManagedProcess
from devd.supervise.procfile_runner import ProcfileRunner
from devd.supervise.sam_local import MountedRoute, SamLocal, container_engine_available
from devd.supervise.status import ProcessState, ProcessStatus, describe_status

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "supervise"
PYTHON = sys.executable


def is_running(pid: int) -> bool:
    """Whether a process exists and is not a zombie (state Z) or dead (state X)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def group_members(pgid: int) -> list[int]:
    """Return the pids of running processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


async def eventually(
    condition: Callable[[], bool], timeout: float = 10.0, description: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{description} did not hold within {timeout} s")
        await asyncio.sleep(0.02)


def texts(records: list[LogRecord], source: str | None = None) -> list[str]:
    return [record.text for record in records if source is None or record.source == source]


def find_pid(records: list[LogRecord], label: str) -> int:
    for text in texts(records):
        match = re.fullmatch(rf"{label} (\d+)", text)
        if match:
            return int(match.group(1))
    raise AssertionError(f"no '{label} PID' line in {texts(records)}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fixture_process(name: str, script: str, logs: list[LogRecord], *args: str, **options) -> ManagedProcess:
    return ManagedProcess(name, [PYTHON, str(FIXTURES / script), *args], on_log=logs.append, **options)


async def test_crash_loop_backs_off() -> None:
    logs: list[LogRecord] = []
    statuses: list[ProcessStatus] = []
    delays: list[float] = []

    async def recording_sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(delay)

    process = fixture_process(
        "crash", "crash.py", logs, on_status=statuses.append, backoff=Backoff(base=0.1), sleep=recording_sleep
    )
    await process.start()
    await eventually(lambda: len(delays) >= 3, description="three backoff waits")
    backoff_status = process.status()
    await process.stop()

    assert delays[:3] == [
        pytest.approx(0.1, abs=0.04),
        pytest.approx(0.2, abs=0.04),
        pytest.approx(0.4, abs=0.04),
    ]
    assert texts(logs).count("crash: starting") >= 3
    assert "exited with exit status 1, next attempt in 0.2 s" in texts(logs)

    assert backoff_status.state is ProcessState.BACKOFF
    assert backoff_status.last_exit_code == 1
    assert backoff_status.next_attempt_at is not None
    assert backoff_status.restarts >= 2
    assert describe_status(backoff_status, time.monotonic()).startswith(
        "crash loop (exit status 1), next attempt in"
    )

    assert [status.state for status in statuses[:3]] == [
        ProcessState.STARTING,
        ProcessState.RUNNING,
        ProcessState.BACKOFF,
    ]
    assert statuses[-1].state is ProcessState.STOPPED


async def test_stop_kills_process_ignoring_sigterm() -> None:
    logs: list[LogRecord] = []
    process = fixture_process("stubborn", "ignore_term.py", logs, grace=0.5)
    await process.start()
    pid = process.status().pid
    await eventually(lambda: "ignoring SIGTERM" in texts(logs), description="the SIGTERM handler")

    started = time.monotonic()
    await process.stop()
    elapsed = time.monotonic() - started

    assert 0.5 <= elapsed < 3.0
    assert process.status().state is ProcessState.STOPPED
    assert process.status().last_exit_code == -signal.SIGKILL
    assert group_members(pid) == []


async def test_stop_ends_grandchild() -> None:
    logs: list[LogRecord] = []
    process = fixture_process("tree", "fork_grandchild.py", logs, grace=2.0)
    await process.start()
    await eventually(
        lambda: any(text.startswith("grandchild ") for text in texts(logs)), description="the grandchild pid"
    )
    child, grandchild = find_pid(logs, "child"), find_pid(logs, "grandchild")
    assert is_running(grandchild)

    await process.stop()

    assert not is_running(child)
    assert not is_running(grandchild)


async def test_exit_ends_grandchild_before_restart() -> None:
    logs: list[LogRecord] = []
    process = fixture_process("tree", "fork_grandchild.py", logs, "--exit", backoff=Backoff(base=5.0))
    await process.start()
    await eventually(lambda: process.status().state is ProcessState.BACKOFF, description="the backoff state")

    grandchild = find_pid(logs, "grandchild")
    assert not is_running(grandchild)
    await process.stop()


async def test_stop_hanging_process() -> None:
    logs: list[LogRecord] = []
    process = fixture_process("hang", "hang.py", logs, grace=5.0)
    await process.start()
    pid = process.status().pid
    await eventually(lambda: "hanging" in texts(logs), description="the first line")

    started = time.monotonic()
    await process.stop()

    assert time.monotonic() - started < 2.0
    assert process.status().last_exit_code == -signal.SIGTERM
    assert process.status().state is ProcessState.STOPPED
    assert not is_running(pid)


async def test_stop_while_starting() -> None:
    logs: list[LogRecord] = []
    statuses: list[ProcessStatus] = []
    process = fixture_process("hang", "hang.py", logs, on_status=statuses.append)
    starting = asyncio.create_task(process.start())
    await asyncio.sleep(0)

    await process.stop()
    await starting

    running = [status.pid for status in statuses if status.state is ProcessState.RUNNING]
    assert len(running) == 1
    assert group_members(running[0]) == []
    assert process.status().state is ProcessState.STOPPED
    assert process.status().last_exit_code == -signal.SIGTERM


async def test_manual_restart_skips_backoff() -> None:
    logs: list[LogRecord] = []
    process = fixture_process("crash", "crash.py", logs, backoff=Backoff(base=30.0))
    await process.start()
    await eventually(lambda: process.status().state is ProcessState.BACKOFF, description="the backoff state")

    started = time.monotonic()
    await process.restart()
    await eventually(lambda: texts(logs).count("crash: starting") == 2, description="the second run")

    assert time.monotonic() - started < 5.0
    assert process.status().restarts == 1
    await process.stop()


async def test_missing_program_fails_without_retry() -> None:
    logs: list[LogRecord] = []
    process = ManagedProcess(
        "ghost", ["devd-no-such-program"], on_log=logs.append, env={"PATH": "/nonexistent"}
    )

    await process.start()

    status = process.status()
    assert status.state is ProcessState.FAILED
    assert "program 'devd-no-such-program' not found" in status.detail
    assert [record.level for record in logs] == [Level.ERROR]
    await process.stop()


async def test_stderr_lines_are_warnings() -> None:
    logs: list[LogRecord] = []
    script = "import sys; print('plain', file=sys.stderr); print('ValueError: bad', file=sys.stderr)"
    process = ManagedProcess("err", [PYTHON, "-c", script], on_log=logs.append, backoff=Backoff(base=30.0))
    await process.start()
    await eventually(lambda: len(logs) >= 3, description="two stderr lines and the exit line")
    await process.stop()

    levels = {record.text: record.level for record in logs}
    assert levels["plain"] is Level.WARNING
    assert levels["ValueError: bad"] is Level.ERROR


async def test_sam_stand_in_routes(tmp_path: Path) -> None:
    logs: list[LogRecord] = []
    reported: list[tuple[MountedRoute, ...]] = []
    port = free_port()
    sam = SamLocal(
        FIXTURES / "template.yaml",
        on_log=logs.append,
        on_routes=reported.append,
        project_root=tmp_path,
        port=port,
        extra_args=["--warm-containers", "LAZY"],
        sam=str(FIXTURES / "sam"),
        grace=2.0,
    )
    await sam.start()
    pid = sam.status().pid
    await eventually(lambda: len(sam.routes()) == 3, description="three mounted routes")

    argv_line = next(text for text in texts(logs, "sam") if text.startswith("argv "))
    assert argv_line == (
        f'argv ["local", "start-api", "-t", "{FIXTURES / "template.yaml"}", "--host", "127.0.0.1", '
        f'"--port", "{port}", "--warm-containers", "LAZY"]'
    )
    assert sam.routes() == (
        MountedRoute("HelloFunction", "GET", "/hello"),
        MountedRoute("ItemsFunction", "GET", "/items/{id}"),
        MountedRoute("ItemsFunction", "DELETE", "/items/{id}"),
    )
    assert reported[-1] == sam.routes()
    assert sam.status().state is ProcessState.RUNNING

    await sam.stop()
    assert group_members(pid) == []


async def test_sam_missing_template_exits(tmp_path: Path) -> None:
    logs: list[LogRecord] = []
    sam = SamLocal(
        tmp_path / "missing.yaml", on_log=logs.append, sam=str(FIXTURES / "sam"), backoff=Backoff(base=30.0)
    )
    await sam.start()
    await eventually(lambda: sam.status().state is ProcessState.BACKOFF, description="the backoff state")
    await sam.stop()

    assert f"Error: Template file not found at {tmp_path / 'missing.yaml'}" in texts(logs)
    assert sam.status().last_exit_code == 1
    assert sam.routes() == ()


def test_no_container_engine_here() -> None:
    available, reason = container_engine_available({"PATH": os.environ["PATH"]})

    assert available is False
    assert (
        reason
        == "no Docker or Finch engine responds at unix:///var/run/docker.sock, so devd serves the functions natively"
    )


def write_project(root: Path, procfile: str, dotenv: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Procfile").write_text(procfile)
    if dotenv is not None:
        (root / ".env").write_text(dotenv)
    for script in ("print_env.py", "fork_grandchild.py"):
        shutil.copy(FIXTURES / script, root / script)
    return root


async def test_procfile_ports_and_dotenv(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "app",
        "# two processes\nweb: python print_env.py GREETING\nworker: python print_env.py SECRET_NAME\n",
        'GREETING="hello there"\nexport SECRET_NAME=abc # comment\n',
    )
    logs: list[LogRecord] = []
    statuses: list[ProcessStatus] = []
    runner = ProcfileRunner(project, logs.append, statuses.append)

    await runner.start()
    pids = [status.pid for status in runner.statuses()]
    await eventually(lambda: len(texts(logs)) >= 2, description="a line from each process")
    await runner.stop()

    assert texts(logs, "web") == ["PORT=5000 GREETING=hello there"]
    assert texts(logs, "worker") == ["PORT=5100 SECRET_NAME=abc"]
    assert [status.name for status in runner.statuses()] == ["web", "worker"]
    assert {status.state for status in runner.statuses()} == {ProcessState.STOPPED}
    assert all(group_members(pid) == [] for pid in pids)


async def test_procfile_restart_by_name(tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", "web: python print_env.py HOME\n")
    logs: list[LogRecord] = []
    runner = ProcfileRunner(project, logs.append, port_base=7000)
    await runner.start()
    first_pid = runner.statuses()[0].pid
    await eventually(lambda: len(texts(logs, "web")) == 1, description="the first run's line")

    await runner.restart("web")
    await eventually(lambda: len(texts(logs, "web")) == 2, description="the second run's line")
    second_pid = runner.statuses()[0].pid
    with pytest.raises(ConfigError, match="no Procfile process is named 'db'"):
        await runner.restart("db")
    await runner.stop()

    assert second_pid != first_pid
    assert texts(logs, "web")[1].startswith("PORT=7000 ")
    assert not is_running(first_pid)
    assert not is_running(second_pid)


async def test_procfile_missing_runs_nothing(tmp_path: Path) -> None:
    runner = ProcfileRunner(tmp_path, lambda record: None)

    await runner.start()

    assert runner.statuses() == ()
    await runner.stop()


async def test_procfile_malformed_raises(tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", "web: python print_env.py A\nbroken line\n")
    runner = ProcfileRunner(project, lambda record: None)

    with pytest.raises(ConfigError, match=r"Procfile:2: invalid line 'broken line'"):
        await runner.start()
    assert runner.statuses() == ()


def read_lines(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))


def test_sigkill_of_devd_leaves_no_orphans(tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", "tree: python fork_grandchild.py\n")
    runner = subprocess.Popen(
        [PYTHON, str(FIXTURES / "orphan_runner.py"), str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    threading.Thread(target=read_lines, args=(runner.stdout, lines), daemon=True).start()
    pids: dict[str, int] = {}

    try:
        deadline = time.monotonic() + 20
        while len(pids) < 3 and time.monotonic() < deadline:
            for line in list(lines):
                match = re.fullmatch(r"(?:log tree: )?(group|child|grandchild) (\d+)", line)
                if match:
                    pids[match.group(1)] = int(match.group(2))
            time.sleep(0.02)
        assert set(pids) == {"group", "child", "grandchild"}, lines
        assert all(is_running(pid) for pid in pids.values())

        runner.kill()
        runner.wait(5)

        deadline = time.monotonic() + 2.0
        while any(is_running(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        survivors = {label: pid for label, pid in pids.items() if is_running(pid)}
        assert survivors == {}
    finally:
        for pid in pids.values():
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
        if runner.poll() is None:
            runner.kill()
            runner.wait()


async def moto_status(url: str) -> int | None:
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                return response.status
    except (TimeoutError, aiohttp.ClientError):
        return None


async def test_repository_procfile_runs_moto(tmp_path: Path) -> None:
    port = free_port()
    procfile = (REPO / "Procfile").read_text()
    assert "moto: MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p 4566" in procfile
    project = tmp_path / "app"
    project.mkdir()
    (project / "Procfile").write_text(procfile.replace("-p 4566", f"-p {port}"))

    logs: list[LogRecord] = []
    runner = ProcfileRunner(project, logs.append, grace=5.0)
    await runner.start()
    pid = runner.statuses()[0].pid

    try:
        url = f"http://127.0.0.1:{port}/moto-api/"
        deadline = time.monotonic() + 60
        status = await moto_status(url)
        while (
            status != 200
            and time.monotonic() < deadline
            and runner.statuses()[0].state is ProcessState.RUNNING
        ):
            await asyncio.sleep(0.2)
            status = await moto_status(url)
        assert status == 200, texts(logs)
    finally:
        await runner.stop()

    assert group_members(pid) == []
