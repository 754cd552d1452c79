"""The command-line side of the control channel: a blocking client for one running daemon."""

from __future__ import annotations

import errno
import itertools
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from devd.control.protocol import (
    MAX_LINE_BYTES,
    ControlError,
    Reply,
    Request,
    check_socket_path,
    decode_reply,
    encode,
    socket_path,
)

CONNECT_TIMEOUT_SECONDS = 2.0
"""How long connecting may take before the daemon counts as not running."""


class ControlClient:
    """One connection to a daemon's control socket. Use it as a context manager."""

    def __init__(self, connection: socket.socket, path: Path) -> None:
        self.path = path
        self._socket = connection
        self._file = connection.makefile("rb")
        self._ids = itertools.count(1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._file.close()
        self._socket.close()

    def call(self, action: str, timeout: float | None = 600.0, **args: Any) -> Any:
        """Send a request and return its result; raise ControlError with the daemon's error.

        `timeout` is in seconds for each read, None to wait as long as the daemon takes.
        """
        for _ in self.stream(action, timeout=timeout, **args):
            pass
        return self._last_result

    def stream(self, action: str, timeout: float | None = None, **args: Any) -> Iterator[Any]:
        """Send a request and yield its stream events; the final result goes to `_last_result`."""
        request_id = next(self._ids)
        self._socket.settimeout(timeout)
        self._socket.sendall(encode(Request(request_id, action, args)))
        while True:
            reply = self._read_reply()
            if reply.id not in (request_id, 0):
                raise ControlError(f"the daemon sent a response to request {reply.id}, expected {request_id}")
            if reply.is_event:
                yield reply.event
                continue
            if not reply.ok:
                raise ControlError(reply.error or "the daemon sent no error message")
            self._last_result = reply.result
            return

    def _read_reply(self) -> Reply:
        try:
            line = self._file.readline(MAX_LINE_BYTES + 1)
        except TimeoutError:
            raise ControlError(f"the daemon on {self.path} did not respond in time") from None
        if not line:
            raise ControlError(f"the daemon on {self.path} closed the connection (it may have stopped)")
        return decode_reply(line)


def connect(state_dir: Path) -> ControlClient | None:
    """Connect to the daemon of the project whose `.devd/` is state_dir, or return None when no
    daemon listens there (no socket, or a stale one)."""
    path = socket_path(state_dir)
    if not path.exists():
        return None
    check_socket_path(path)

    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(CONNECT_TIMEOUT_SECONDS)
    try:
        connection.connect(str(path))
    except OSError as error:
        connection.close()
        if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return None
        raise ControlError(f"cannot connect to the daemon on {path}: {error}") from None
    return ControlClient(connection, path)
