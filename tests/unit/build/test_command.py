"""Tests of user build commands: matching, input globs, output copies and shared runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devd.build.command import (
    CommandRunner,
    UserCommand,
    copy_command_output,
    find_command,
    glob_regex,
    input_files,
    literal_prefix,
)
from devd.build.process import ProcessOutcome
from devd.errors import BuildError, ConfigError
from devd.inventory import Function
from devd.supervise.process_group import group_exists


def make_function(
    name: str, handler: str = "src/handler.main", runtime: str = "nodejs20.x"
) -> Function:
    return Function(
        address=f'module.api.aws_lambda_function.this["{name}"]',
        name=name,
        runtime=runtime,
        handler=handler,
        code_dir=None,
        source=None,
    )


def make_command(tmp_path: Path, **changes: object) -> UserCommand:
    values: dict[str, object] = {
        "pattern": "*",
        "command": ("true",),
        "cwd": tmp_path,
        "output_dir": tmp_path / "out",
    }
    values.update(changes)
    return UserCommand(**values)  # type: ignore[arg-type]


def write(root: Path, relative: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    return path


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("src/**/*.ts", "src/a.ts", True),
        ("src/**/*.ts", "src/x/y/a.ts", True),
        ("src/*.ts", "src/x/a.ts", False),
        ("src/*.ts", "src/a.tsx", False),
        ("**/package.json", "package.json", True),
        ("**/package.json", "a/b/package.json", True),
        ("src/?.ts", "src/ab.ts", False),
        ("src/[ab].ts", "src/b.ts", True),
        ("src/[!ab].ts", "src/b.ts", False),
        ("src/[!ab].ts", "src/c.ts", True),
        ("a.b", "axb", False),
    ],
)
def test_glob_regex(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is matches


def test_literal_prefix() -> None:
    assert literal_prefix("src/functions/**/*.ts") == "src/functions"
    assert literal_prefix("**/*.ts") == ""
    assert literal_prefix("package.json") == ""


def test_input_files_skip_output_and_modules(tmp_path: Path) -> None:
    handler = write(tmp_path, "src/handler.ts")
    nested = write(tmp_path, "src/lib/util.ts")
    write(tmp_path, "src/node_modules/dep/index.ts")
    write(tmp_path, ".esbuild/src/handler.ts")
    write(tmp_path, ".devd/build/x/handler.ts")
    manifest = write(tmp_path, "package.json")

    found = input_files(
        tmp_path,
        ["**/*.ts", "package.json", "missing/*.ts"],
        [tmp_path / ".esbuild", tmp_path / ".devd"],
    )

    assert found == {handler, nested, manifest}


def test_matches_name_or_address(tmp_path: Path) -> None:
    by_name = make_command(tmp_path, pattern="get-*")
    by_address = make_command(tmp_path, pattern="module.api.*")
    commands = [by_name, by_address]

    assert find_command(make_function("get-hello"), commands) is by_name
    assert find_command(make_function("post-item"), commands) is by_address
    assert find_command(make_function("post-item"), [by_name]) is None


def test_string_command_runs_in_shell(tmp_path: Path) -> None:
    command = make_command(tmp_path, command="npm run build:dev")

    assert command.argv == ["/bin/sh", "-c", "npm run build:dev"]
    assert command.display == "npm run build:dev"
    assert make_command(tmp_path, command=("npm", "run", "a b")).display == "npm run 'a b'"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"command": ""}, "is empty"),
        ({"command": ()}, "is empty"),
        ({"timeout": 0}, "use a positive number of seconds"),
        ({"inputs": ("/abs/*.ts",)}, "write it relative to the project root"),
    ],
)
def test_invalid_command_rejected(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_command(tmp_path, **changes)


def test_resolved_paths_relative_to_root(tmp_path: Path) -> None:
    command = make_command(tmp_path, cwd=Path("web"), output_dir=Path(".esbuild"))

    resolved = command.resolved(tmp_path)

    assert resolved.cwd == tmp_path / "web"
    assert resolved.output_dir == tmp_path / ".esbuild"


def test_copy_output_needs_handler_file(tmp_path: Path) -> None:
    write(tmp_path, "out/src/other.js")
    command = make_command(tmp_path)

    with pytest.raises(BuildError) as raised:
        copy_command_output(command, make_function("get"), tmp_path / "build", tmp_path / "state")

    message = str(raised.value)
    assert 'wrote no file for handler "src/handler.main"' in message
    assert str(tmp_path / "out" / "src" / "handler.js") in message
    assert str(tmp_path / "out" / "src" / "handler.cjs") in message
    assert not (tmp_path / "build").exists()


def test_copy_output_finds_python_module(tmp_path: Path) -> None:
    write(tmp_path, "out/pkg/app.py")
    write(tmp_path, "out/state/cache.txt")
    command = make_command(tmp_path)
    function = make_function("py", handler="pkg.app.handler", runtime="python3.12")

    copy_command_output(command, function, tmp_path / "build", tmp_path / "out" / "state")

    copied = sorted(
        str(path.relative_to(tmp_path / "build")) for path in (tmp_path / "build").rglob("*")
    )
    assert copied == ["pkg", "pkg/app.py"]


def test_copy_output_missing_directory(tmp_path: Path) -> None:
    command = make_command(tmp_path, output_dir=tmp_path / "never")

    with pytest.raises(BuildError, match=r"output directory .*never does not exist"):
        copy_command_output(command, make_function("get"), tmp_path / "build", tmp_path / "state")


async def test_runner_shares_pending_run(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    command = make_command(tmp_path, command=f"echo run >> {log}")
    runner = CommandRunner(asyncio.Semaphore(2))
    seen: list[int | None] = []

    async def record(outcome: ProcessOutcome) -> int | None:
        seen.append(outcome.returncode)
        return outcome.returncode

    try:
        results = await asyncio.gather(*(runner.run(command, record) for _ in range(3)))
    finally:
        await runner.close()

    assert results == [0, 0, 0]
    assert log.read_text().splitlines() == ["run"]


async def test_runner_reruns_for_later_request(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    command = make_command(tmp_path, command=f"echo run >> {log}; sleep 0.2")
    runner = CommandRunner(asyncio.Semaphore(2))

    async def ignore(outcome: ProcessOutcome) -> None:
        return None

    try:
        first = asyncio.create_task(runner.run(command, ignore))
        await asyncio.sleep(0.1)  # the first run has started
        await asyncio.gather(first, runner.run(command, ignore))
    finally:
        await runner.close()

    assert log.read_text().splitlines() == ["run", "run"]


async def test_runner_reports_missing_program(tmp_path: Path) -> None:
    command = make_command(tmp_path, command=("/nonexistent/build-tool",))
    runner = CommandRunner(asyncio.Semaphore(1))

    async def ignore(outcome: ProcessOutcome) -> None:
        return None

    try:
        with pytest.raises(BuildError, match="/nonexistent/build-tool not found"):
            await runner.run(command, ignore)
    finally:
        await runner.close()


async def test_close_fails_waiting_builds(tmp_path: Path) -> None:
    command = make_command(tmp_path, command="echo $$ > pid; sleep 30")
    runner = CommandRunner(asyncio.Semaphore(1))

    async def ignore(outcome: ProcessOutcome) -> None:
        return None

    build = asyncio.create_task(runner.run(command, ignore))
    while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text():
        await asyncio.sleep(0.02)
    await runner.close()

    with pytest.raises(BuildError, match="the build service is closed"):
        await build
    assert not group_exists(int((tmp_path / "pid").read_text()))
