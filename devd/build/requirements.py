"""Installs of a Python function's `requirements.txt`, cached by content, runtime and architecture.

`pip install --target` writes the packages into `<state_dir>/pip-cache/<key>/`, where the key
is made of the runtime's Python version, the architecture and the SHA-256 of the requirements
file's bytes. An install goes to a partial directory that is renamed to its key only when pip
succeeds, so a cache directory is always complete and is never installed again.

When the function's runtime differs from the Python that runs pip (another Python version,
another architecture, or a host that is not Linux), pip is asked for manylinux2014 wheels of
the runtime's Python version, so the build matches what Lambda runs. Packages that publish no
such wheel (source distributions only) then cannot be installed, and the build fails with
pip's message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from devd.build.process import ProcessOutcome, run_tool
from devd.errors import BuildError

logger = logging.getLogger("devd.build")

REQUIREMENTS_FILE = "requirements.txt"
PIP_TIMEOUT_SECONDS = 600.0
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_MACHINE_NAMES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_PYTHON_RUNTIME = re.compile(r"python(\d+\.\d+)")
_PARTIAL_PREFIX = ".partial-"


@dataclass(frozen=True)
class HostPython:
    """The Python that runs pip, and the system it runs on."""

    version: str
    """Major and minor version, such as "3.11"."""
    system: str
    """`platform.system()` in lower case, such as "linux" or "darwin"."""
    architecture: str
    """"x86_64" or "arm64", as Lambda names them, or the machine name when it is neither."""

    @classmethod
    def current(cls) -> HostPython:
        """Return the Python that runs devd."""
        machine = platform.machine().lower()
        return cls(
            version=f"{sys.version_info.major}.{sys.version_info.minor}",
            system=platform.system().lower(),
            architecture=_MACHINE_NAMES.get(machine, machine),
        )


def runtime_python_version(runtime: str) -> str:
    """Return the Python version of a Lambda runtime: "python3.12" gives "3.12"."""
    match = _PYTHON_RUNTIME.fullmatch(runtime)
    if match is None:
        raise BuildError(
            f'runtime "{runtime}" names no Python version: '
            'expected "pythonX.Y", such as "python3.12"'
        )
    return match.group(1)


def wheel_platform(architecture: str) -> str:
    """Return the pip platform tag of a Lambda architecture, such as "manylinux2014_x86_64"."""
    tag = WHEEL_PLATFORMS.get(architecture)
    if tag is None:
        raise BuildError(
            f'architecture "{architecture}" is not one Lambda runs: use "x86_64" or "arm64"'
        )
    return tag


def needs_wheel_platform(host: HostPython, version: str, architecture: str) -> bool:
    """Return whether pip must fetch wheels for the runtime rather than for `host`."""
    return host.version != version or host.architecture != architecture or host.system != "linux"


def cache_key(requirements: bytes, version: str, architecture: str) -> str:
    """Return the cache directory name of one install, such as "python3.12-x86_64-<sha256>"."""
    digest = hashlib.sha256(requirements).hexdigest()
    return f"python{version}-{architecture}-{digest}"


def pip_install_command(
    python: str,
    requirements_file: Path,
    target: Path,
    *,
    version: str,
    architecture: str,
    runtime_wheels: bool,
) -> list[str]:
    """Return the pip command that installs a requirements file into `target`.

    With `runtime_wheels`, pip accepts only wheels for Linux on `architecture` and CPython
    `version`, so it never builds a package for the host.
    """
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "-r",
        str(requirements_file),
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
    ]
    if runtime_wheels:
        command += [
            "--platform",
            wheel_platform(architecture),
            "--only-binary=:all:",
            "--python-version",
            version,
            "--implementation",
            "cp",
        ]
    return command


def install_error(
    requirements_file: Path, outcome: ProcessOutcome, timeout: float, wheels_for: str | None
) -> str:
    """Return the message of a failed install, ending with pip's last lines."""
    if outcome.timed_out:
        what = f"did not finish within {timeout:g} s"
    else:
        what = f"failed with exit code {outcome.returncode}"
    lines = [f"pip install -r {requirements_file} {what}."]
    if wheels_for is not None:
        lines.append(
            f"pip accepted only wheels for {wheels_for}, because the function's runtime differs "
            "from the Python that runs devd: a package without such a wheel cannot be installed "
            "this way, so pin a version that publishes one or run devd with the runtime's Python."
        )
    lines.append(outcome.output_tail or "(pip wrote no output)")
    return "\n".join(lines)


class RequirementsInstaller:
    """Installs requirements files into a cache under `cache_root`, once per key."""

    def __init__(
        self,
        cache_root: Path,
        *,
        python: str = sys.executable,
        host: HostPython | None = None,
        timeout: float = PIP_TIMEOUT_SECONDS,
    ) -> None:
        self._cache_root = cache_root
        self._python = python
        self._host = host if host is not None else HostPython.current()
        self._timeout = timeout
        self._locks: dict[str, asyncio.Lock] = {}

    async def install(self, requirements_file: Path, runtime: str, architecture: str) -> Path:
        """Return the directory with the installed requirements, installing them on first use.

        Raises BuildError with pip's last lines when the install fails or times out.
        """
        version = runtime_python_version(runtime)
        requirements = await asyncio.to_thread(requirements_file.read_bytes)
        key = cache_key(requirements, version, architecture)
        directory = self._cache_root / key

        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if directory.is_dir():
                logger.debug("requirements of %s found in %s", requirements_file, directory)
                return directory
            await self._install(requirements_file, directory, version, architecture)
        return directory

    async def _install(
        self, requirements_file: Path, directory: Path, version: str, architecture: str
    ) -> None:
        runtime_wheels = needs_wheel_platform(self._host, version, architecture)
        partial = self._cache_root / f"{_PARTIAL_PREFIX}{directory.name}-{os.getpid()}"
        await asyncio.to_thread(_prepare, self._cache_root, partial)
        command = pip_install_command(
            self._python,
            requirements_file,
            partial,
            version=version,
            architecture=architecture,
            runtime_wheels=runtime_wheels,
        )

        logger.info("installing %s into %s", requirements_file, directory)
        environment = {**os.environ, "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        outcome = await run_tool(
            command, cwd=requirements_file.parent, timeout=self._timeout, env=environment
        )
        if not outcome.ok:
            await asyncio.to_thread(shutil.rmtree, partial, True)
            wheels_for = None
            if runtime_wheels:
                wheels_for = f"CPython {version} on {wheel_platform(architecture)}"
            raise BuildError(install_error(requirements_file, outcome, self._timeout, wheels_for))

        await asyncio.to_thread(_finish, partial, directory)


def _prepare(cache_root: Path, partial: Path) -> None:
    cache_root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_installs(cache_root)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()


def _remove_abandoned_installs(cache_root: Path) -> None:
    """Delete the partial directories of installs whose devd process no longer runs."""
    for path in cache_root.glob(f"{_PARTIAL_PREFIX}*"):
        pid_text = path.name.rpartition("-")[2]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            logger.debug("deleting %s, left by a devd process that exited", path)
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            continue


def _finish(partial: Path, directory: Path) -> None:
    """Rename a finished install to its key, unless another devd process finished it first."""
    try:
        partial.rename(directory)
    except OSError:
        if not directory.is_dir():
            raise
        shutil.rmtree(partial, ignore_errors=True)
