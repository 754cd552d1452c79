"""The daemon side of the control channel: a Unix socket in `.devd/` and a dispatch table.

Other parts add actions with `ActionTable.add`: an action name maps to a coroutine that
returns a JSON-ready result, or to an async iterator whose items are sent as stream events.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devd.control.protocol import (
    MAX_LINE_BYTES,
    ControlError,
    Reply,
    Request,
    check_socket_path,
    decode_request,
    encode,
)
from devd.errors import DevdError

log = logging.getLogger("devd.control")

UnaryHandler = Callable[[dict[str, Any]], Awaitable[Any]]
StreamHandler = Callable[[dict[str, Any]], AsyncIterator[Any]]


@dataclass(frozen=True)
class Action:
    """One entry of the dispatch table: a coroutine function, or an async iterator function when
    `stream` is true."""

    handler: UnaryHandler | StreamHandler
    stream: bool = False
    summary: str = ""


class ActionTable:
    """The actions a running daemon offers over the control socket, by name."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def add(self, name: str, handler: UnaryHandler | StreamHandler, *, stream: bool = False,
            summary: str = "") -> None:
        """Offer `handler` under `name`, replacing an earlier action of that name."""
        self._actions[name] = Action(handler, stream, summary)

    def get(self, name: str) -> Action:
        """Return the action of this name; raise ControlError naming the known ones."""
        action = self._actions.get(name)
        if action is None:
            known = ", ".join(sorted(self._actions)) or "none"
            raise ControlError(f"unknown action {name!r}; this daemon offers: {known}")
        return action

    def names(self) -> tuple[str, ...]:
        """Return the action names in sorted order."""
        return tuple(sorted(self._actions))


class ControlServer:
    """Listen on a Unix socket that only the daemon's user may use, and respond to requests."""

    def __init__(self, path: Path, actions: ActionTable) -> None:
        self.path = path
        self.actions = actions
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind the socket with mode 0600, replacing a stale one left by a killed daemon.

        Raises ControlError when another daemon listens on the socket, or when the path is
        something other than a socket.
        """
        check_socket_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_socket(self.path)
        self._server = await asyncio.start_unix_server(self._on_connection, path=str(self.path),
                                                       limit=MAX_LINE_BYTES)
        # NOTE: between bind and chmod the socket has the umask's mode; the peer uid check in
        # _on_connection covers that window.
        os.chmod(self.path, 0o600)
        log.info("control socket listening on %s", self.path)

    async def close(self) -> None:
        """Stop listening, end open connections and remove the socket file."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        log.info("control socket %s closed", self.path)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            if not _same_user(writer):
                log.warning("rejected a control connection from another user")
                return
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                writer.write(encode(Reply(0, ok=False, error=f"message longer than {MAX_LINE_BYTES} bytes")))
                await writer.drain()
                return
            if not line:
                return
            try:
                request = decode_request(line)
            except ControlError as error:
                writer.write(encode(Reply(0, ok=False, error=str(error))))
                await writer.drain()
                continue
            await self._dispatch(request, writer)

    async def _dispatch(self, request: Request, writer: asyncio.StreamWriter) -> None:
        try:
            action = self.actions.get(request.action)
            if action.stream:
                result = await _send_stream(request, action, writer)
            else:
                result = await action.handler(request.args)
            reply = Reply(request.id, result=result)
        except DevdError as error:
            reply = Reply(request.id, ok=False, error=str(error))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as error:
            log.exception("control action %s failed", request.action)
            reply = Reply(request.id, ok=False, error=f"{request.action} failed in the daemon: {error!r}")
        writer.write(encode(reply))
        await writer.drain()


async def _send_stream(request: Request, action: Action, writer: asyncio.StreamWriter) -> None:
    events = action.handler(request.args)
    assert isinstance(events, AsyncIterator)
    try:
        async for event in events:
            writer.write(encode(Reply(request.id, event=event, is_event=True)))
            await writer.drain()
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def _same_user(writer: asyncio.StreamWriter) -> bool:
    connection = writer.get_extra_info("socket")
    if connection is None or not hasattr(socket, "SO_PEERCRED"):
        return True
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", credentials)
    return uid == os.getuid()


def remove_stale_socket(path: Path) -> None:
    """Remove a socket file that no process listens on; raise ControlError when one does.

    A daemon killed with SIGKILL leaves its socket file behind, and connecting to it fails
    with ECONNREFUSED. A file that is not a socket is left alone.
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlError(f"{path} exists and is not a socket; remove it so devd can listen there")

    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError as error:
        if error.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise ControlError(f"cannot check the control socket {path}: {error}") from None
        log.info("removing the stale control socket %s", path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    finally:
        probe.close()
    raise ControlError(f"another devd is already running for this project (it listens on {path}); "
                       "stop it first, or run this one on a copy of the project")
