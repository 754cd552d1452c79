"""`sam local start-api` as a supervised process, and the check for a container engine it needs.

SAM runs each function in a Docker (or Finch) container, so it serves requests only when an
engine responds, which `container_engine_available` checks. When SAM starts, it prints one
"Mounting FUNCTION at URL [METHODS]" line per function and path, and `parse_mounts` turns
those lines into routes.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from devd.logs.records import Level, LogRecord
from devd.sam.secrets import env_vars_path
from devd.supervise.backoff import Backoff
from devd.supervise.managed import DEFAULT_GRACE_S, LogSink, ManagedProcess, StatusSink
from devd.supervise.process_group import die_with_parent, signal_group
from devd.supervise.status import ProcessState, ProcessStatus

logger = logging.getLogger("devd.supervise")

PROCESS_NAME = "sam"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
ENGINE_PROBE_TIMEOUT_S = 3.0

_MOUNT = re.compile(r"Mounting (\S+) at (https?://\S+) \[([^\]]*)\]")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class MountedRoute:
    """One method and path that `sam local start-api` serves, and the function behind it."""

    function: str
    method: str
    path: str


def sam_command(
    template: Path,
    host: str = DEFAULT_HOST,
    port: int = 3000,
    extra_args: Sequence[str] = (),
    sam: str = "sam",
) -> list[str]:
    """Return the argv of `sam local start-api` for `template`, listening on `host`:`port`.

    The secret environment values withheld from the template are passed with `--env-vars` when
    their file exists beside it. `extra_args` follow as separate arguments; no shell parses them.
    """
    command = [sam, "local", "start-api", "-t", str(template), "--host", host, "--port", str(port)]
    env_vars = env_vars_path(template)
    if env_vars.is_file():
        command += ["--env-vars", str(env_vars)]
    return [*command, *extra_args]


def parse_mounts(line: str) -> tuple[MountedRoute, ...]:
    """Return the routes of one "Mounting FUNCTION at http://HOST:PORT/PATH [GET, POST]" line.

    Returns one route per method, and none for any other line. Colour codes are ignored.
    """
    match = _MOUNT.search(_ANSI_ESCAPE.sub("", line))
    if match is None:
        return ()

    function, url, methods = match.groups()
    path = urlsplit(url).path or "/"
    return tuple(
        MountedRoute(function, method.strip().upper(), path)
        for method in methods.split(",")
        if method.strip()
    )


def docker_host(env: Mapping[str, str]) -> str:
    """Return the Docker endpoint that the docker client uses: DOCKER_HOST or the default socket."""
    return env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def container_engine_available(
    env: Mapping[str, str] | None = None, timeout: float = ENGINE_PROBE_TIMEOUT_S
) -> tuple[bool, str]:
    """Check whether a Docker or Finch engine responds; return the result and the reason.

    Runs `docker info`, then `finch info`, for each client that is installed. Without either
    client, it sends `GET /_ping` to the Unix socket that DOCKER_HOST names. Blocks for up to
    `timeout` seconds per probe, so call it in a thread from async code.
    """
    env = os.environ if env is None else env
    endpoint = docker_host(env)

    for client in ("docker", "finch"):
        executable = shutil.which(client, path=env.get("PATH", os.defpath))
        if executable is not None and _run_probe([executable, "info"], env, timeout):
            return True, f"the {client} engine responds to `{client} info`"

    if _ping_unix_socket(endpoint, timeout):
        return True, f"a Docker engine responds at {endpoint}"

    # NOTE: `docker info` follows the current docker context, but this reason names only
    # DOCKER_HOST or the default socket.
    return False, f"no Docker or Finch engine responds at {endpoint}, so devd serves the functions natively"


def _run_probe(argv: list[str], env: Mapping[str, str], timeout: float) -> bool:
    """Run a probe command in its own process group; return whether it exited with status 0."""
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(env),
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    except OSError as error:
        logger.info("cannot run %s: %s", argv, error)
        return False

    try:
        return process.wait(timeout) == 0
    except subprocess.TimeoutExpired:
        logger.info("%s did not finish within %.1f s", argv, timeout)
        signal_group(process.pid, signal.SIGKILL)
        process.wait()
        return False


def _ping_unix_socket(endpoint: str, timeout: float) -> bool:
    """Send the Docker API's `GET /_ping` to a unix:// endpoint; return whether it replied 200."""
    if not endpoint.startswith("unix://"):
        return False

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(endpoint[len("unix://") :])
            connection.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = connection.recv(64)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and reply[9:12] == b"200"


class SamLocal:
    """A supervised `sam local start-api` and the routes it reported mounting.

    The routes are those of the current run: they are cleared when the process starts again,
    and `on_routes` receives the whole list after each "Mounting" line.
    """

    def __init__(
        self,
        template: Path,
        *,
        on_log: LogSink,
        on_status: StatusSink | None = None,
        on_routes: Callable[[tuple[MountedRoute, ...]], None] | None = None,
        project_root: Path | None = None,
        host: str = DEFAULT_HOST,
        port: int = 3000,
        extra_args: Sequence[str] = (),
        sam: str = "sam",
        env: Mapping[str, str] | None = None,
        grace: float = DEFAULT_GRACE_S,
        backoff: Backoff | None = None,
    ) -> None:
        self._on_log = on_log
        self._on_status = on_status
        self._on_routes = on_routes
        self._routes: list[MountedRoute] = []
        self.process = ManagedProcess(
            PROCESS_NAME,
            sam_command(template, host, port, extra_args, sam),
            on_log=self._read_line,
            on_status=self._status_changed,
            cwd=project_root,
            env=env,
            grace=grace,
            backoff=backoff,
        )

    def routes(self) -> tuple[MountedRoute, ...]:
        """Return the routes that the current run of SAM reported."""
        return tuple(self._routes)

    def status(self) -> ProcessStatus:
        """Return a snapshot of the SAM process."""
        return self.process.status()

    async def start(self) -> None:
        """Start SAM; see `ManagedProcess.start`."""
        await self.process.start()

    async def stop(self) -> None:
        """Stop SAM and every container client process in its group."""
        await self.process.stop()

    async def restart(self) -> None:
        """Stop SAM and start it again at once."""
        await self.process.restart()

    def _read_line(self, record: LogRecord) -> None:
        mounted = parse_mounts(record.text)
        if mounted:
            # SAM logs to stderr, which would make these lines warnings.
            record = replace(record, level=Level.INFO)
            self._routes.extend(mounted)
            if self._on_routes is not None:
                self._on_routes(tuple(self._routes))
        self._on_log(record)

    def _status_changed(self, status: ProcessStatus) -> None:
        if status.state is ProcessState.STARTING and self._routes:
            self._routes = []
            if self._on_routes is not None:
                self._on_routes(())
        if self._on_status is not None:
            self._on_status(status)
