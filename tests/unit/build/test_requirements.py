"""Tests of the pure parts of requirements installs: cache keys, pip commands, messages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from devd.build.process import ProcessOutcome
from devd.build.requirements import (
    HostPython,
    RequirementsInstaller,
    cache_key,
    install_error,
    needs_wheel_platform,
    pip_install_command,
    runtime_python_version,
    wheel_platform,
)
from devd.errors import BuildError

LINUX_311 = HostPython(version="3.11", system="linux", architecture="x86_64")


@pytest.mark.parametrize(
    ("runtime", "version"), [("python3.9", "3.9"), ("python3.12", "3.12"), ("python3.13", "3.13")]
)
def test_runtime_python_version(runtime: str, version: str) -> None:
    assert runtime_python_version(runtime) == version


@pytest.mark.parametrize("runtime", ["python3", "nodejs20.x", "python3.12 "])
def test_runtime_without_version_rejected(runtime: str) -> None:
    with pytest.raises(BuildError, match='expected "pythonX.Y"'):
        runtime_python_version(runtime)


def test_wheel_platforms() -> None:
    assert wheel_platform("x86_64") == "manylinux2014_x86_64"
    assert wheel_platform("arm64") == "manylinux2014_aarch64"
    with pytest.raises(BuildError, match='use "x86_64" or "arm64"'):
        wheel_platform("aarch64")


@pytest.mark.parametrize(
    ("host", "version", "architecture", "expected"),
    [
        (LINUX_311, "3.11", "x86_64", False),
        (LINUX_311, "3.12", "x86_64", True),
        (LINUX_311, "3.11", "arm64", True),
        (HostPython("3.11", "darwin", "x86_64"), "3.11", "x86_64", True),
    ],
)
def test_needs_wheel_platform(
    host: HostPython, version: str, architecture: str, expected: bool
) -> None:
    assert needs_wheel_platform(host, version, architecture) is expected


def test_cache_key_parts() -> None:
    key = cache_key(b"six==1.16.0\n", "3.12", "arm64")

    assert key.startswith("python3.12-arm64-")
    assert len(key.rpartition("-")[2]) == 64
    assert key == cache_key(b"six==1.16.0\n", "3.12", "arm64")
    assert key != cache_key(b"six==1.16.0\n# note\n", "3.12", "arm64")
    assert key != cache_key(b"six==1.16.0\n", "3.11", "arm64")
    assert key != cache_key(b"six==1.16.0\n", "3.12", "x86_64")


def test_pip_command_for_host() -> None:
    command = pip_install_command(
        "/usr/bin/python3",
        Path("/p/requirements.txt"),
        Path("/cache/partial"),
        version="3.11",
        architecture="x86_64",
        runtime_wheels=False,
    )

    assert command == [
        "/usr/bin/python3",
        "-m",
        "pip",
        "install",
        "--target",
        "/cache/partial",
        "-r",
        "/p/requirements.txt",
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]


def test_pip_command_for_runtime_wheels() -> None:
    command = pip_install_command(
        "python",
        Path("/p/requirements.txt"),
        Path("/t"),
        version="3.12",
        architecture="arm64",
        runtime_wheels=True,
    )

    assert command[-7:] == [
        "--platform",
        "manylinux2014_aarch64",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
    ]


def test_install_error_names_wheels_and_output() -> None:
    outcome = ProcessOutcome(1, "ERROR: No matching distribution found for psycopg2==2.9.9")

    message = install_error(
        Path("/p/requirements.txt"), outcome, 600, "CPython 3.12 on manylinux2014_x86_64"
    )

    lines = message.splitlines()
    assert lines[0] == "pip install -r /p/requirements.txt failed with exit code 1."
    assert "pip accepted only wheels for CPython 3.12 on manylinux2014_x86_64" in lines[1]
    assert lines[-1] == "ERROR: No matching distribution found for psycopg2==2.9.9"


def test_install_error_after_timeout() -> None:
    message = install_error(Path("/r.txt"), ProcessOutcome(None, "", timed_out=True), 2.5, None)

    assert message == "pip install -r /r.txt did not finish within 2.5 s.\n(pip wrote no output)"


async def test_cached_install_skips_pip(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0\n")
    host = HostPython(f"{sys.version_info.major}.{sys.version_info.minor}", "linux", "x86_64")
    cached = tmp_path / "cache" / cache_key(requirements.read_bytes(), "3.12", "x86_64")
    cached.mkdir(parents=True)
    installer = RequirementsInstaller(tmp_path / "cache", python="/nonexistent/python", host=host)

    directory = await installer.install(requirements, "python3.12", "x86_64")

    assert directory == cached


async def test_failed_install_leaves_no_cache(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("./no-such-dir\n")
    installer = RequirementsInstaller(tmp_path / "cache", python=sys.executable, host=LINUX_311)

    with pytest.raises(BuildError) as raised:
        await installer.install(requirements, "python3.11", "x86_64")

    assert "failed with exit code 1" in str(raised.value)
    assert "no-such-dir" in str(raised.value)
    assert list((tmp_path / "cache").iterdir()) == []


async def test_missing_python_reported(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six\n")
    installer = RequirementsInstaller(
        tmp_path / "cache", python="/nonexistent/python", host=LINUX_311
    )

    with pytest.raises(BuildError, match="/nonexistent/python not found"):
        await installer.install(requirements, "python3.11", "x86_64")
