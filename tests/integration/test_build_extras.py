"""Zips, Python requirements, external Node packages, user build commands and one-shot builds,
with real node, esbuild, pip (installing six from PyPI) and sh."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import AsyncIterator, Sequence

import pytest

from devd.build import BuildResult, BuildService, UserCommand, build_all, format_build_line
from devd.config import Settings
from devd.inventory import Function
from tests.integration.test_build import (
    FIXTURE,
    call_esm_handler,
    esbuild_dir,
    handler_a,
    live_group_members,
    node_function,
    python_function,
    run_node,
    service_pids,
)

logger = logging.getLogger(__name__)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
async def service(project: Path) -> AsyncIterator[BuildService]:
    build_service = BuildService(project, project / ".devd", esbuild_search_paths=[esbuild_dir()])
    yield build_service
    await build_service.close()


def requirements_function(project: Path, runtime: str = "python3.12") -> Function:
    return Function(
        address="aws_lambda_function.reqs",
        name="reqs",
        runtime=runtime,
        handler="app.handler",
        code_dir=str(project / "python_requirements"),
        source="python_requirements",
    )


def scripted_function(project: Path, name: str) -> Function:
    return node_function(project, name, "src/handler.main", "scripted/out")


def zip_bytes(result: BuildResult) -> bytes:
    assert result.ok, result.error
    assert result.zip_path is not None
    return result.zip_path.read_bytes()


def run_tool(*arguments: str, cwd: Path | None = None) -> str:
    completed = subprocess.run(
        arguments, capture_output=True, text=True, timeout=60, start_new_session=True, cwd=cwd
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def call_python_handler(task_root: Path) -> str:
    """Call app.handler in task_root with a Python that does not see devd's site-packages."""
    completed = subprocess.run(
        [sys.executable, "-S", "-c", "import app; print(app.handler({}, None)['body'])"],
        cwd=task_root,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


# Reproducible zips


async def test_zip_same_for_same_code(service: BuildService, project: Path, tmp_path: Path) -> None:
    first = await service.build(handler_a(project), 1)
    second = await service.build(handler_a(project), 2)

    other_project = tmp_path / "elsewhere" / "copy"
    shutil.copytree(FIXTURE, other_project)
    other_service = BuildService(
        other_project, other_project / ".devd", esbuild_search_paths=[esbuild_dir()]
    )
    try:
        elsewhere = await other_service.build(handler_a(other_project), 7)
    finally:
        await other_service.close()

    assert zip_bytes(first) == zip_bytes(second)
    assert zip_bytes(first) == zip_bytes(elsewhere)
    assert first.zip_sha256 == second.zip_sha256 == elsewhere.zip_sha256
    expected = base64.b64encode(hashlib.sha256(zip_bytes(first)).digest()).decode()
    assert first.zip_sha256 == expected
    assert first.zip_path == first.task_root.parent / "1.zip"


async def test_zip_differs_after_one_character(service: BuildService, project: Path) -> None:
    shared = project / "functions" / "lib" / "shared.ts"
    first = await service.build(handler_a(project), 1)

    shared.write_text(shared.read_text().replace("hello", "hellO"))
    second = await service.build(handler_a(project), 2)

    assert zip_bytes(first) != zip_bytes(second)
    assert first.zip_sha256 != second.zip_sha256


async def test_zip_ignores_mtime(service: BuildService, project: Path) -> None:
    function = python_function(project, "h1", "h1.handler")
    first = await service.build(function, 1)

    later = time.time() + 3600
    for path in (project / "python").iterdir():
        os.utime(path, (later, later))
    second = await service.build(function, 2)

    assert second.task_root is not None
    assert (second.task_root / "h1.py").stat().st_mtime == pytest.approx(later)
    assert zip_bytes(first) == zip_bytes(second)
    assert first.zip_sha256 == second.zip_sha256


async def test_zip_listing_fixed_metadata(service: BuildService, project: Path) -> None:
    code = project / "python"
    (code / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (code / "run.sh").chmod(0o750)
    (code / "private.txt").write_text("secret\n")
    (code / "private.txt").chmod(0o600)
    (code / "pkg").mkdir()
    (code / "pkg" / "__init__.py").write_text("")

    result = await service.build(python_function(project, "h1", "h1.handler"), 1)
    assert result.zip_path is not None

    listing = run_tool(sys.executable, "-m", "zipfile", "-l", str(result.zip_path))
    rows = listing.splitlines()[1:]
    assert rows, listing
    assert all("1980-01-01 00:00:00" in row for row in rows), listing

    modes = {}
    for line in run_tool("unzip", "-Z", str(result.zip_path)).splitlines():
        fields = line.split()
        if len(fields) >= 9 and fields[0][0] in "-dl":
            modes[fields[-1]] = fields[0]
    assert modes["run.sh"] == "-rwxr-xr-x"
    assert modes["private.txt"] == "-rw-r--r--"
    assert modes["h1.py"] == "-rw-r--r--"
    assert modes["pkg/__init__.py"] == "-rw-r--r--"
    assert not any(name.endswith("/") for name in modes)
    with zipfile.ZipFile(result.zip_path) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert all(info.extra == b"" for info in archive.infolist())


# Python requirements


async def test_requirements_installed_once(service: BuildService, project: Path) -> None:
    function = requirements_function(project)
    requirements = project / "python_requirements" / "requirements.txt"

    first = await service.build(function, 1)

    assert first.ok, first.error
    assert first.task_root is not None
    assert requirements in first.inputs
    assert call_python_handler(first.task_root) == "1.16.0"
    with zipfile.ZipFile(first.zip_path or "") as archive:
        assert "six.py" in archive.namelist()
        assert "app.py" in archive.namelist()
    [cache] = (project / ".devd" / "pip-cache").iterdir()
    assert cache.name.startswith("python3.12-x86_64-")
    assert (first.task_root / "six.py").samefile(cache / "six.py")

    # A file that only the cache has shows that the second build used it without pip.
    (cache / "cache_marker.txt").write_text("from the cache\n")
    second = await service.build(function, 2)

    assert second.ok, second.error
    assert second.task_root is not None
    assert (second.task_root / "cache_marker.txt").is_file()
    logger.info(
        "build with a pip install %.0f ms, with the cached install %.0f ms",
        first.duration_ms,
        second.duration_ms,
    )

    requirements.write_text("six==1.16.0\n# changed\n")
    third = await service.build(function, 3)

    assert third.ok, third.error
    assert third.task_root is not None
    assert not (third.task_root / "cache_marker.txt").exists()
    assert len(list((project / ".devd" / "pip-cache").iterdir())) == 2


async def test_requirements_failure_keeps_previous(service: BuildService, project: Path) -> None:
    function = requirements_function(project)
    requirements = project / "python_requirements" / "requirements.txt"
    requirements.unlink()
    first = await service.build(function, 1)
    assert first.ok, first.error
    assert first.task_root is not None
    before = sorted(path.name for path in first.task_root.iterdir())

    requirements.write_text("./no-such-dir\n")
    second = await service.build(function, 2)

    assert not second.ok
    assert second.task_root is None
    assert second.zip_path is None
    assert second.error is not None
    assert f"pip install -r {requirements} failed with exit code 1" in second.error
    assert "./no-such-dir" in second.error
    assert requirements in second.inputs
    assert project / "python_requirements" / "app.py" in second.inputs
    assert sorted(path.name for path in first.task_root.iterdir()) == before
    function_dir = first.task_root.parent
    assert sorted(path.name for path in function_dir.iterdir()) == ["1", "1.zip"]
    assert list((project / ".devd" / "pip-cache").iterdir()) == []


# External Node packages


async def test_external_package_copied(project: Path, tmp_path: Path) -> None:
    shutil.copytree(project / "fixture_modules", project / "node_modules")
    service = BuildService(
        project,
        project / ".devd",
        esbuild_search_paths=[esbuild_dir()],
        node_externals={"ext": ["tiny-greet"]},
    )
    try:
        result = await service.build(
            node_function(project, "ext", "functions/ext/handler.main", "functions/ext"), 1
        )
    finally:
        await service.close()

    assert result.ok, result.error
    assert result.task_root is not None
    bundle = result.task_root / "functions" / "ext" / "handler.mjs"
    assert "tiny-greet says hello" not in bundle.read_text()
    modules = result.task_root / "node_modules"
    assert sorted(path.name for path in modules.iterdir()) == ["tiny-case", "tiny-greet"]
    assert project / "functions" / "ext" / "package.json" in result.inputs

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(result.zip_path or "") as archive:
        archive.extractall(unpacked)
    body = call_esm_handler(unpacked / "functions" / "ext" / "handler.mjs")
    assert body == {"statusCode": 200, "body": "tiny-greet says hello to EXT"}


async def test_unmarked_package_bundled(service: BuildService, project: Path) -> None:
    shutil.copytree(project / "fixture_modules", project / "node_modules")

    result = await service.build(
        node_function(project, "ext", "functions/ext/handler.main", "functions/ext"), 1
    )

    assert result.ok, result.error
    assert result.task_root is not None
    bundle = result.task_root / "functions" / "ext" / "handler.mjs"
    assert "tiny-greet says hello" in bundle.read_text()
    assert not (result.task_root / "node_modules").exists()


async def test_external_package_not_installed(project: Path) -> None:
    service = BuildService(
        project,
        project / ".devd",
        esbuild_search_paths=[esbuild_dir()],
        node_externals=["tiny-greet"],
    )
    try:
        result = await service.build(
            node_function(project, "ext", "functions/ext/handler.main", "functions/ext"), 1
        )
    finally:
        await service.close()

    manifest = project / "functions" / "ext" / "package.json"
    assert not result.ok
    assert result.error == (
        f'package "tiny-greet" (a dependency in {manifest}) is not installed in any '
        f"node_modules from {project / 'functions' / 'ext'} upwards: "
        f"run `npm install` in {manifest.parent}"
    )
    assert manifest in result.inputs
    assert project / "functions" / "ext" / "handler.ts" in result.inputs


# User build commands


def copy_command(**changes: object) -> UserCommand:
    values: dict[str, object] = {
        "pattern": "scripted*",
        "command": "mkdir -p out/src && cp src/handler.js out/src/handler.js "
        "&& echo run >> runs.log",
        "cwd": Path("scripted"),
        "output_dir": Path("scripted/out"),
        "inputs": ("scripted/**/*.js",),
    }
    values.update(changes)
    return UserCommand(**values)  # type: ignore[arg-type]


async def command_service(
    project: Path, commands: Sequence[UserCommand], concurrency: int | None = None
) -> BuildService:
    return BuildService(
        project,
        project / ".devd",
        esbuild_search_paths=[esbuild_dir()],
        user_commands=commands,
        concurrency=concurrency,
    )


async def test_user_command_output_built(project: Path) -> None:
    service = await command_service(project, [copy_command()])
    try:
        result = await service.build(scripted_function(project, "scripted"), 1)
    finally:
        await service.close()

    assert result.ok, result.error
    assert result.task_root is not None
    assert result.handler == "src/handler.main"
    assert result.inputs == {project / "scripted" / "src" / "handler.js"}
    with zipfile.ZipFile(result.zip_path or "") as archive:
        assert archive.namelist() == ["src/handler.js"]
    script = "require(process.argv[1]).main({}).then((value) => console.log(value.body));"
    completed = run_node("-e", script, str(result.task_root / "src" / "handler.js"))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "built by a script"


async def test_user_command_failure_message(project: Path) -> None:
    failing = copy_command(command="echo 'handler.ts:3:7: broken build' >&2; exit 2")
    service = await command_service(project, [failing])
    try:
        result = await service.build(scripted_function(project, "scripted"), 1)
    finally:
        await service.close()

    assert not result.ok
    assert result.task_root is None
    assert result.error == (
        f"build command `{failing.command}` (in {project / 'scripted'}) exited with code 2:\n"
        "handler.ts:3:7: broken build"
    )
    assert result.inputs == {project / "scripted" / "src" / "handler.js"}


async def test_user_command_timeout_stops_group(project: Path) -> None:
    slow = copy_command(command="echo $$ > pid.txt; sleep 30 & sleep 30", timeout=0.5)
    service = await command_service(project, [slow])
    try:
        result = await service.build(scripted_function(project, "scripted"), 1)
    finally:
        await service.close()

    assert not result.ok
    assert result.error is not None
    assert "did not finish within 0.5 s and was stopped" in result.error
    pgid = int((project / "scripted" / "pid.txt").read_text())
    assert live_group_members(pgid) == []


async def test_shared_command_runs_once(project: Path) -> None:
    service = await command_service(project, [copy_command()])
    runs = project / "scripted" / "runs.log"
    try:
        results = await asyncio.gather(
            service.build(scripted_function(project, "scripted-one"), 1),
            service.build(scripted_function(project, "scripted-two"), 1),
        )
        assert [result.error for result in results] == [None, None]
        assert runs.read_text().splitlines() == ["run"]

        again = await service.build(scripted_function(project, "scripted-one"), 2)
        assert again.ok, again.error
        assert runs.read_text().splitlines() == ["run", "run"]
    finally:
        await service.close()


async def build_logged_commands(project: Path, concurrency: int) -> list[str]:
    """Build three functions whose commands log their start and end; return the log."""
    log = project / "order.log"
    commands = [
        copy_command(
            pattern=f"scripted-{index}",
            command=f"echo start >> {log}; sleep 0.3; {copy_command().command}; echo end >> {log}",
        )
        for index in range(3)
    ]
    service = await command_service(project, commands, concurrency=concurrency)
    try:
        functions = [scripted_function(project, f"scripted-{index}") for index in range(3)]
        results = await asyncio.gather(*(service.build(function, 1) for function in functions))
    finally:
        await service.close()
    assert [result.error for result in results] == [None, None, None]
    return log.read_text().splitlines()


async def test_concurrency_one_serializes(project: Path) -> None:
    assert await build_logged_commands(project, 1) == ["start", "end"] * 3


async def test_concurrency_three_overlaps(project: Path) -> None:
    assert (await build_logged_commands(project, 3))[:3] == ["start"] * 3


# One-shot builds


async def test_build_all_reports_each(project: Path) -> None:
    settings = Settings(project_root=project, infra_dir=project)
    functions = [
        handler_a(project),
        python_function(project, "h1", "h1.handler"),
        node_function(project, "gone", "functions/gone/handler.main", "functions/gone"),
    ]

    first = await build_all(
        settings, functions, concurrency=2, esbuild_search_paths=[esbuild_dir()]
    )
    second = await build_all(
        settings, functions, concurrency=2, esbuild_search_paths=[esbuild_dir()]
    )

    assert [result.function for result in first] == [function.address for function in functions]
    assert [result.ok for result in first] == [True, True, False]
    assert [result.generation for result in first] == [1, 1, 1]
    assert [result.generation for result in second] == [2, 2, 1]
    assert service_pids(project) == []
    lines = [format_build_line(result, function, 5) for result, function in zip(second, functions)]
    assert lines[0].startswith("a      ok  #2  ")
    assert lines[0].endswith(f"  sha256 {second[0].zip_sha256}")
    assert lines[2] == (
        "gone   FAILED  aws_lambda_function.gone: source file for handler "
        '"functions/gone/handler.main" not found. Tried:'
    )
