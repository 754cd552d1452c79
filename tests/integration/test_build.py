"""Builds of the fixture project with real node and esbuild, and runs of what they produce."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest

from devd.build import BuildResult, BuildService
from devd.inventory import Function

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "build"


def esbuild_dir() -> Path:
    """Return a directory whose node_modules contains esbuild: the repository or DEVD_TEST_ESBUILD_DIR."""
    candidates = [REPO_ROOT]
    configured = os.environ.get("DEVD_TEST_ESBUILD_DIR")
    if configured:
        candidates.insert(0, Path(configured))
    for candidate in candidates:
        if (candidate / "node_modules" / "esbuild" / "package.json").is_file():
            return candidate
    pytest.fail(
        f"esbuild is not installed: run `npm ci` in {REPO_ROOT}, or set DEVD_TEST_ESBUILD_DIR "
        "to a directory whose node_modules contains esbuild"
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
async def service(project: Path) -> AsyncIterator[BuildService]:
    build_service = BuildService(
        project, project / ".devd", esbuild_search_paths=[esbuild_dir()]
    )
    yield build_service
    await build_service.close()


def node_function(
    project: Path, name: str, handler: str, code_dir: str, runtime: str = "nodejs20.x"
) -> Function:
    return Function(
        address=f"aws_lambda_function.{name}",
        name=name,
        runtime=runtime,
        handler=handler,
        code_dir=str(project / code_dir),
        source=code_dir,
    )


def python_function(project: Path, name: str, handler: str) -> Function:
    return Function(
        address=f"aws_lambda_function.{name}",
        name=name,
        runtime="python3.12",
        handler=handler,
        code_dir=str(project / "python"),
        source="python",
    )


def handler_a(project: Path) -> Function:
    return node_function(project, "a", "functions/a/handler.main", "functions/a")


def run_node(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
        cwd=cwd,
    )


def call_esm_handler(bundle: Path, export: str = "main") -> object:
    """Import a bundle with node, call one export with an empty event and return its result."""
    script = (
        "const module = await import(process.argv[1]);"
        f"console.log(JSON.stringify(await module.{export}({{}})));"
    )
    completed = run_node("--input-type=module", "-e", script, bundle.as_uri())
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def service_pids(project: Path) -> list[int]:
    """Return the pids of esbuild services started for this project."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"esbuild_service.mjs" in argument for argument in arguments) and str(
            project
        ).encode() in arguments:
            pids.append(int(entry.name))
    return pids


def live_group_members(pgid: int) -> list[int]:
    """Return the pids in a process group that are running, zombies excluded."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


async def test_typescript_handler_runs(service: BuildService, project: Path) -> None:
    result = await service.build(handler_a(project), 1)

    assert result.ok, result.error
    assert result.error is None
    assert result.function == "aws_lambda_function.a"
    assert result.generation == 1
    assert result.handler == "functions/a/handler.main"
    assert result.task_root is not None
    bundle = result.task_root / "functions" / "a" / "handler.mjs"
    assert call_esm_handler(bundle) == {"statusCode": 200, "body": "hello a"}


async def test_output_path_follows_handler(service: BuildService, project: Path) -> None:
    stale = project / ".esbuild" / "src" / "functions" / "getHello" / "handler.js"
    stale.parent.mkdir(parents=True)
    stale.write_text('export const main = async () => ({ statusCode: 500, body: "stale" });\n')
    function = node_function(
        project, "get-hello", "src/functions/getHello/handler.main", ".esbuild", "nodejs22.x"
    )

    result = await service.build(function, 1)

    assert result.ok, result.error
    assert result.handler == "src/functions/getHello/handler.main"
    assert result.task_root is not None
    bundle = result.task_root / "src" / "functions" / "getHello" / "handler.mjs"
    assert bundle.is_file()
    assert bundle.with_name("handler.mjs.map").is_file()
    assert call_esm_handler(bundle) == {"statusCode": 200, "body": "hello from getHello"}
    assert result.inputs == {project / "src" / "functions" / "getHello" / "handler.ts"}


async def test_inputs_include_shared_module(service: BuildService, project: Path) -> None:
    shared = project / "functions" / "lib" / "shared.ts"

    results = {
        name: await service.build(
            node_function(project, name, f"functions/{name}/handler.main", f"functions/{name}"), 1
        )
        for name in ("a", "b", "c")
    }

    assert results["a"].inputs == {project / "functions" / "a" / "handler.ts", shared}
    assert results["b"].inputs == {project / "functions" / "b" / "handler.ts", shared}
    assert results["c"].inputs == {project / "functions" / "c" / "handler.ts"}


async def test_syntax_error_keeps_previous_generation(
    service: BuildService, project: Path
) -> None:
    function = handler_a(project)
    shared = project / "functions" / "lib" / "shared.ts"
    first = await service.build(function, 1)
    assert first.ok, first.error
    assert first.task_root is not None
    before = snapshot(first.task_root)

    original = shared.read_text()
    shared.write_text('export function greet(name: string): string {\n  return "hi " +;\n}\n')
    broken = await service.build(function, 2)

    assert not broken.ok
    assert broken.task_root is None
    assert broken.error is not None
    assert "functions/lib/shared.ts:2:" in broken.error
    assert 'Unexpected ";"' in broken.error
    assert shared in broken.inputs
    assert snapshot(first.task_root) == before
    assert not (first.task_root.parent / "2").exists()

    shared.write_text(original.replace("hello", "fixed"))
    fixed = await service.build(function, 3)

    assert fixed.ok, fixed.error
    assert fixed.task_root is not None
    assert call_esm_handler(fixed.task_root / "functions" / "a" / "handler.mjs") == {
        "statusCode": 200,
        "body": "fixed a",
    }


async def test_error_column_counts_characters(service: BuildService, project: Path) -> None:
    handler = project / "functions" / "c" / "handler.ts"
    handler.write_text('export const main = () => "héllo" +;\n')

    function = node_function(project, "c", "functions/c/handler.main", "functions/c")

    result = await service.build(function, 1)

    assert not result.ok
    assert result.error is not None
    lines = result.error.splitlines()
    assert lines[0] == 'functions/c/handler.ts:1:36: error: Unexpected ";"'
    assert lines[1] == '  1 | export const main = () => "héllo" +;'
    assert lines[2] == "    | " + " " * 35 + "^"


async def test_rebuild_after_one_file_change(service: BuildService, project: Path) -> None:
    function = handler_a(project)
    shared = project / "functions" / "lib" / "shared.ts"
    first = await service.build(function, 1)
    assert first.ok, first.error

    durations = []
    for generation in range(2, 7):
        shared.write_text(
            "export function greet(name: string): string {\n"
            f"  return `v{generation} ${{name}}`;\n"
            "}\n"
        )
        result = await service.build(function, generation)
        assert result.ok, result.error
        assert result.task_root is not None
        bundle = result.task_root / "functions" / "a" / "handler.mjs"
        assert call_esm_handler(bundle) == {"statusCode": 200, "body": f"v{generation} a"}
        durations.append(result.duration_ms)

    rounded = [round(duration, 1) for duration in durations]
    logger.info("first build %.1f ms, rebuilds after one change %s ms", first.duration_ms, rounded)


async def test_stack_trace_points_at_typescript(service: BuildService, project: Path) -> None:
    function = node_function(project, "c", "functions/c/handler.main", "functions/c")
    result = await service.build(function, 1)
    assert result.ok, result.error
    assert result.task_root is not None
    bundle = result.task_root / "functions" / "c" / "handler.mjs"
    script = "const module = await import(process.argv[1]); await module.fail({});"

    mapped = run_node("--enable-source-maps", "--input-type=module", "-e", script, bundle.as_uri())
    unmapped = run_node("--input-type=module", "-e", script, bundle.as_uri())

    assert mapped.returncode != 0
    assert "failure from handler c" in mapped.stderr
    assert f"{project}/functions/c/handler.ts:9:" in mapped.stderr
    assert "handler.ts:9:" not in unmapped.stderr
    assert "handler.mjs:" in unmapped.stderr


async def test_bundled_commonjs_can_require(service: BuildService, project: Path) -> None:
    function = node_function(project, "e", "functions/e/handler.main", "functions/e")

    result = await service.build(function, 1)

    assert result.ok, result.error
    assert result.task_root is not None
    bundle = result.task_root / "functions" / "e" / "handler.mjs"
    assert call_esm_handler(bundle) == {"statusCode": 200, "body": "a/b"}
    assert project / "functions" / "e" / "legacy.cjs" in result.inputs


async def test_commonjs_entry_in_module_project(service: BuildService, project: Path) -> None:
    (project / "package.json").write_text('{"type": "module"}\n')
    function = node_function(project, "d", "functions/d/handler.main", "functions/d")

    result = await service.build(function, 1)

    assert result.ok, result.error
    assert result.task_root is not None
    bundle = result.task_root / "functions" / "d" / "handler.js"
    script = (
        "require(process.argv[1]).main({})"
        ".then((value) => console.log(JSON.stringify(value)));"
    )
    completed = run_node("-e", script, str(bundle))
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {"statusCode": 200, "body": "hello d"}


async def test_generations_pruned_to_three(service: BuildService, project: Path) -> None:
    results: list[BuildResult] = []
    for generation in range(1, 6):
        results.append(await service.build(handler_a(project), generation))

    assert all(result.ok for result in results)
    function_dir = results[-1].task_root.parent if results[-1].task_root else None
    assert function_dir is not None
    assert sorted(path.name for path in function_dir.iterdir()) == [
        "3",
        "3.zip",
        "4",
        "4.zip",
        "5",
        "5.zip",
    ]


async def test_concurrent_builds(service: BuildService, project: Path) -> None:
    functions = [
        node_function(project, name, f"functions/{name}/handler.main", f"functions/{name}")
        for name in ("a", "b", "c", "e")
    ]
    functions.append(python_function(project, "h1", "h1.handler"))

    results = await asyncio.gather(*(service.build(function, 1) for function in functions))

    assert [result.error for result in results] == [None] * len(functions)
    assert len({result.task_root for result in results}) == len(functions)


async def test_python_inputs_follow_imports(service: BuildService, project: Path) -> None:
    code = project / "python"

    first = await service.build(python_function(project, "h1", "h1.handler"), 1)
    second = await service.build(python_function(project, "h2", "h2.handler"), 1)

    assert first.ok, first.error
    assert first.inputs == {code / "h1.py", code / "common.py"}
    assert second.ok, second.error
    assert second.inputs == {code / "h2.py"}
    assert first.task_root is not None
    assert first.handler == "h1.handler"
    completed = subprocess.run(
        [sys.executable, "-c", "import h1; print(h1.handler({}, None)['body'])"],
        cwd=first.task_root,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == '"hello h1"'


async def test_missing_source_file(service: BuildService, project: Path) -> None:
    function = node_function(project, "gone", "functions/gone/handler.main", "functions/gone")

    result = await service.build(function, 1)

    assert not result.ok
    assert result.task_root is None
    assert result.error is not None
    assert 'source file for handler "functions/gone/handler.main" not found' in result.error
    assert str(project / "functions" / "gone" / "functions" / "gone" / "handler.ts") in result.error


async def test_missing_esbuild(tmp_path: Path) -> None:
    project = tmp_path / "bare"
    shutil.copytree(FIXTURE, project)
    searched = [project, *project.parents]
    assert not any((directory / "node_modules" / "esbuild").exists() for directory in searched)
    service = BuildService(project, project / ".devd")
    try:
        missing = await service.build(handler_a(project), 1)

        assert not missing.ok
        assert missing.error == (
            f"esbuild not found in {project}/node_modules: "
            f"run `npm install --save-dev esbuild` in {project}"
        )

        (project / "node_modules").symlink_to(esbuild_dir() / "node_modules")
        installed = await service.build(handler_a(project), 2)

        assert installed.ok, installed.error
    finally:
        await service.close()


async def test_node_not_found(project: Path) -> None:
    service = BuildService(
        project, project / ".devd", node="/nonexistent/node", esbuild_search_paths=[esbuild_dir()]
    )
    try:
        node_result = await service.build(handler_a(project), 1)
        python_result = await service.build(python_function(project, "h1", "h1.handler"), 1)
    finally:
        await service.close()

    assert not node_result.ok
    assert node_result.error == (
        "node not found: /nonexistent/node: install Node.js 20 or later or put `node` on PATH"
    )
    assert python_result.ok, python_result.error


async def test_forget_deletes_builds(service: BuildService, project: Path) -> None:
    function = handler_a(project)
    first = await service.build(function, 1)
    assert first.task_root is not None
    function_dir = first.task_root.parent

    await service.forget(function.address)

    assert not function_dir.exists()
    again = await service.build(function, 1)
    assert again.ok, again.error


async def test_service_restarts_after_crash(service: BuildService, project: Path) -> None:
    first = await service.build(handler_a(project), 1)
    assert first.ok, first.error
    [pid] = service_pids(project)

    os.killpg(pid, signal.SIGKILL)
    second = await service.build(handler_a(project), 2)

    assert second.ok, second.error
    assert service_pids(project) != [pid]
    assert len(service_pids(project)) == 1


async def test_close_leaves_no_process(project: Path) -> None:
    service = BuildService(project, project / ".devd", esbuild_search_paths=[esbuild_dir()])
    result = await service.build(handler_a(project), 1)
    assert result.ok, result.error
    pids = service_pids(project)
    assert len(pids) == 1
    assert len(live_group_members(pids[0])) >= 2  # node and esbuild's own binary

    await service.close()

    assert service_pids(project) == []
    assert live_group_members(pids[0]) == []
    closed = await service.build(handler_a(project), 2)
    assert closed.error == "the build service is closed"
