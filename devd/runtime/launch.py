"""Starting runtime processes: their command lines, process groups and function ARNs.

Node and Python functions run devd's bootstrap for their language. A custom runtime
(`provided.al2023`, `provided.al2`, `provided`) runs the executable named `bootstrap` at the
root of its build, as Lambda runs it, and that executable speaks the Runtime API itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path
from typing import Mapping, Sequence

from devd.errors import RuntimeStartError
from devd.inventory import Function
from devd.runtime.environment import BOOTSTRAP_DIR
from devd.runtime.output import OutputProtocol
from devd.supervise.process_group import die_with_parent

CUSTOM_BOOTSTRAP = "bootstrap"
"""The executable that Lambda runs at the root of a custom runtime's code."""


def is_custom_runtime(runtime: str | None) -> bool:
    """Return whether a runtime identifier names an OS-only runtime, such as "provided.al2023"."""
    return bool(runtime) and (runtime == "provided" or runtime.startswith("provided."))


def bootstrap_command(
    function: Function, interpreter: str, task_root: Path | None = None, extra_args: Sequence[str] = ()
) -> list[str]:
    """Return the command line that starts a worker process for the function.

    Node and Python functions get devd's bootstrap, run by `interpreter` with `extra_args`
    before the script (such as `--inspect=…`). A custom runtime gets `task_root/bootstrap`.
    Raises RuntimeStartError for a runtime that devd cannot run, and for a custom runtime
    whose task root has no executable `bootstrap`.
    """
    if is_custom_runtime(function.runtime):
        return [str(custom_bootstrap(function, task_root))]
    if function.language not in ("node", "python"):
        raise RuntimeStartError(
            f"{function.name}: runtime {function.runtime} is not supported locally. devd runs "
            "nodejs*, python* and provided* (custom runtime) functions."
        )
    return runtime_command(function.language, interpreter, extra_args)


def custom_bootstrap(function: Function, task_root: Path | None) -> Path:
    """Return the `bootstrap` executable of a custom runtime's task root.

    Raises RuntimeStartError when it is missing or not executable. Without a task root (a pool
    checks the runtime before it has one) the path is only formed, not checked.
    """
    if task_root is None:
        return Path(CUSTOM_BOOTSTRAP)
    path = task_root / CUSTOM_BOOTSTRAP
    if not path.is_file():
        raise RuntimeStartError(
            f"{function.name}: runtime {function.runtime} needs an executable named {CUSTOM_BOOTSTRAP!r} at "
            f"the root of its code, and {path} does not exist. Build it (for Go: GOOS=linux go build -o "
            f"{CUSTOM_BOOTSTRAP}) into the directory that Terraform packages."
        )
    if not os.access(path, os.X_OK):
        raise RuntimeStartError(f"{function.name}: {path} is not executable. Run `chmod +x {path}`.")
    return path


def runtime_command(language: str, interpreter: str, extra_args: Sequence[str] = ()) -> list[str]:
    """Return the command line that runs devd's bootstrap for "node" or "python".

    Raises RuntimeStartError for another language.
    """
    if language == "node":
        return [interpreter, *extra_args, str(BOOTSTRAP_DIR / "node.mjs")]
    if language == "python":
        return [interpreter, "-u", *extra_args, str(BOOTSTRAP_DIR / "python_bootstrap.py")]
    raise RuntimeStartError(f"devd has no bootstrap for {language!r} runtimes: it runs node and python.")


async def spawn_runtime(
    command: list[str], *, cwd: Path, env: Mapping[str, str], protocol: OutputProtocol
) -> asyncio.SubprocessTransport:
    """Start a runtime process in a process group of its own, which the kernel kills with devd.

    Its stdout and stderr go to `protocol`. Raises OSError when the process cannot start.
    """
    loop = asyncio.get_running_loop()
    transport, _ = await loop.subprocess_exec(
        lambda: protocol,
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    return transport


def function_arn(region: str, account_id: str, function_name: str) -> str:
    """Return the unqualified ARN of a Lambda function."""
    return f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"


async def wait_for_free_port(port: int, timeout_s: float) -> None:
    """Wait until nothing listens on 127.0.0.1:`port`, for at most `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                pass
        await asyncio.sleep(0.05)
