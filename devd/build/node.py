"""The client of the esbuild service, a Node process that keeps one esbuild context per function.

`NodeBuilder` starts `esbuild_service.mjs` once, in its own process group, and exchanges JSON
lines with it. Builds of different functions may be in flight at the same time; the service
runs the requests of one key in order.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from devd.errors import BuildError, ToolchainMissing
from devd.supervise.process_group import die_with_parent, stop_process_group

logger = logging.getLogger("devd.build")

SERVICE_SCRIPT = Path(__file__).with_name("esbuild_service.mjs")

# A response lists every input file of a bundle on one line, so lines may be long.
_LINE_LIMIT_BYTES = 64 * 1024 * 1024
_STDERR_TAIL_LINES = 20


class ServiceExited(BuildError):
    """The esbuild service exited before it answered a request."""


@dataclass(frozen=True)
class NodeBuildOutput:
    """One response of the esbuild service to a build request."""

    ok: bool
    inputs: tuple[str, ...]
    """Absolute paths of every file esbuild read, `node_modules` included."""
    outputs: tuple[str, ...]
    """Absolute paths of the files written under the request's write directory."""
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


class NodeBuilder:
    """A running `esbuild_service.mjs` process and the requests in flight to it."""

    def __init__(
        self,
        search_paths: Sequence[Path],
        *,
        node: str = "node",
        start_timeout: float = 30.0,
        request_timeout: float = 120.0,
        stop_grace: float = 3.0,
    ) -> None:
        self._search_paths = [Path(path) for path in search_paths]
        self._node = node
        self._start_timeout = start_timeout
        self._request_timeout = request_timeout
        self._stop_grace = stop_grace
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stderr_reader: asyncio.Task[None] | None = None
        self._stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._closing = False

    @property
    def running(self) -> bool:
        """Whether the service process is up and its responses are being read."""
        return (
            self._process is not None
            and self._process.returncode is None
            and self._reader is not None
            and not self._reader.done()
        )

    @property
    def pid(self) -> int | None:
        """The service's process id, which is also its process group id."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the service and wait until it has loaded esbuild.

        Raises ToolchainMissing when node or esbuild is not found, and BuildError when the
        service exits or does not report within the start timeout.
        """
        if self._process is not None:
            await self._stop_process()
        self._closing = False
        self._stderr_tail.clear()
        self._process = await self._spawn()
        self._stderr_reader = asyncio.create_task(self._read_stderr(self._process))

        hello = await self._read_hello(self._process)
        if not hello.get("ready"):
            await self._stop_process()
            raise ToolchainMissing(str(hello.get("error", "esbuild service failed to start")))

        self._reader = asyncio.create_task(self._read_responses(self._process))
        logger.info(
            "esbuild service started: pid %d, esbuild %s at %s",
            self._process.pid,
            hello.get("version"),
            hello.get("esbuild"),
        )

    async def _spawn(self) -> asyncio.subprocess.Process:
        arguments = [str(SERVICE_SCRIPT), *(str(path) for path in self._search_paths)]
        try:
            return await asyncio.create_subprocess_exec(
                self._node,
                *arguments,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=die_with_parent,
                limit=_LINE_LIMIT_BYTES,
            )
        except FileNotFoundError as error:
            raise ToolchainMissing(
                f"node not found: {self._node}: install Node.js 20 or later "
                "or put `node` on PATH"
            ) from error
        except PermissionError as error:
            raise ToolchainMissing(
                f"node at {self._node} is not executable: check the path and its permissions"
            ) from error

    async def _read_hello(self, process: asyncio.subprocess.Process) -> dict[str, Any]:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), self._start_timeout)
        except TimeoutError:
            await self._stop_process()
            raise BuildError(
                f"esbuild service did not report within {self._start_timeout:.0f} s of starting"
            ) from None

        try:
            hello = json.loads(line) if line else None
        except json.JSONDecodeError:
            hello = None
        if not isinstance(hello, dict):
            await self._stop_process()
            raise BuildError(
                f"esbuild service exited while starting (exit code {process.returncode}, "
                f"node {self._node}): {self._stderr_text() or 'no output'}"
            )
        return hello

    async def build(self, key: str, options: dict[str, object], write_dir: Path) -> NodeBuildOutput:
        """Build `key` with these esbuild options, writing its output files under `write_dir`."""
        response = await self._request(
            {"op": "build", "key": key, "options": options, "writeDir": str(write_dir)}
        )
        return NodeBuildOutput(
            ok=bool(response.get("ok")),
            inputs=tuple(response.get("inputs", ())),
            outputs=tuple(response.get("outputs", ())),
            errors=tuple(response.get("errors", ())),
            warnings=tuple(response.get("warnings", ())),
        )

    async def dispose(self, key: str) -> None:
        """Free the esbuild context of `key`, if the service has one."""
        await self._request({"op": "dispose", "key": key})

    async def _request(self, payload: dict[str, object]) -> dict[str, Any]:
        process = self._process
        if not self.running or process is None or process.stdin is None:
            raise ServiceExited("esbuild service is not running")

        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = json.dumps({"id": request_id, **payload}) + "\n"
        try:
            process.stdin.write(line.encode())
            await process.stdin.drain()
            return await asyncio.wait_for(future, self._request_timeout)
        except (BrokenPipeError, ConnectionResetError) as error:
            raise ServiceExited(
                f"esbuild service closed its input: {self._stderr_text() or 'no output'}"
            ) from error
        except TimeoutError:
            raise BuildError(
                f"esbuild service did not answer {payload['op']} of {payload['key']} "
                f"within {self._request_timeout:.0f} s"
            ) from None
        finally:
            self._pending.pop(request_id, None)

    async def _read_responses(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            try:
                response = json.loads(line)
            except json.JSONDecodeError:
                logger.warning("esbuild service wrote a line that is not JSON: %r", line[:200])
                continue
            future = self._pending.get(response.get("id"))
            if future is not None and not future.done():
                future.set_result(response)

        returncode = await process.wait()
        if not self._closing:
            logger.error(
                "esbuild service exited unexpectedly (exit code %s): %s",
                returncode,
                self._stderr_text() or "no output",
            )
        self._fail_pending(
            ServiceExited(
                f"esbuild service exited (exit code {returncode}): "
                f"{self._stderr_text() or 'no output'}"
            )
        )

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self._stderr_tail.append(text)
            logger.warning("esbuild service: %s", text)

    def _stderr_text(self) -> str:
        return "\n".join(self._stderr_tail)

    def _fail_pending(self, error: BuildError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        """Stop the service and its process group; return when every process is gone."""
        self._closing = True
        process = self._process
        if process is None:
            return

        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), self._stop_grace)
        except TimeoutError:
            logger.warning(
                "esbuild service (pid %d) did not exit after its input closed: stopping it",
                process.pid,
            )
        await self._stop_process()
        logger.info("esbuild service stopped: pid %d", process.pid)

    async def _stop_process(self) -> None:
        process = self._process
        if process is None:
            return
        await stop_process_group(process.pid, asyncio.ensure_future(process.wait()), self._stop_grace)

        tasks = [task for task in (self._reader, self._stderr_reader) if task is not None]
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):
                logger.error("reading the esbuild service's output failed: %s", outcome)
        self._process = None
        self._reader = None
        self._stderr_reader = None
        self._fail_pending(BuildError("esbuild service stopped"))
