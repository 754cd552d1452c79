"""One listening socket of the gateway: an aiohttp server on one port with its route table."""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Awaitable, Callable

from aiohttp import web

from devd.errors import ConfigError
from devd.runtime.ports import PortGroup, url_host
from devd.runtime.routing import RouteTable

logger = logging.getLogger("devd.runtime.gateway")

MAX_HEADER_BYTES = 10240
"""API Gateway's quota for the request line and header values (10240 bytes).

aiohttp applies it per line and per header, and rejects a longer one with 400 before routing.
"""

_SHUTDOWN_TIMEOUT_SECONDS = 5.0
_NEXT_PORT_ATTEMPTS = 20
"""Ports tried after a planned port that is in use, for APIs without a configured port."""


class _OneLineErrors(logging.Filter):
    """Turn aiohttp's tracebacks for requests it could not parse into one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            # The text after the first colon quotes request bytes, which may hold a secret.
            reason = str(getattr(error, "message", "") or error).split(":", 1)[0].strip()
            record.msg = "Rejected a request that is not valid HTTP (%s): %s"
            record.args = (type(error).__name__, reason or "no details")
            record.exc_info = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_parser_logger = logging.getLogger("devd.runtime.gateway.http")
_parser_logger.addFilter(_OneLineErrors())

Handler = Callable[[web.BaseRequest, "Listener"], Awaitable[web.StreamResponse]]


class Listener:
    """Serves the routes of one port group. `table` may be replaced while it runs."""

    def __init__(self, group: PortGroup, table: RouteTable) -> None:
        self.group = group
        self.table = table
        self._server: asyncio.AbstractServer | None = None
        self._web_server: web.Server | None = None
        self._closed = False

    @property
    def port(self) -> int:
        """The bound port, or the planned one before the listener starts."""
        if self._server is not None and self._server.sockets:
            return self._server.sockets[0].getsockname()[1]
        return self.group.port

    @property
    def started(self) -> bool:
        """True while the listener accepts connections."""
        return self._server is not None

    def url(self, host: str) -> str:
        """Return the base URL of this listener on `host`."""
        return f"http://{url_host(host)}:{self.port}"

    async def start(self, host: str, handler: Handler, taken: set[int]) -> None:
        """Listen on the group's port, or on a later free one when the port was not configured.

        `taken` contains the ports of the other listeners, which are skipped. Raises ConfigError
        naming the address when no port could be bound.
        """
        web_server = web.Server(
            lambda request: handler(request, self),
            access_log=None,
            # API Gateway passes compressed request bodies through as they are.
            auto_decompress=False,
            # A connection whose body was left unread closes right after the response.
            lingering_time=0,
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
            logger=_parser_logger,
        )
        self._closed = False
        loop = asyncio.get_running_loop()
        failure: tuple[int, OSError] | None = None
        for port in self._candidate_ports(taken):
            try:
                self._server = await loop.create_server(web_server, host, port)
            except OSError as error:
                failure = (port, error)
                continue
            self._web_server = web_server
            if self._closed:
                # close() ran while the socket was being bound, so nothing may listen now.
                await self.close()
            return

        assert failure is not None
        raise ConfigError(_bind_error_message(host, *failure))

    async def close(self) -> None:
        """Stop listening and wait up to 5 seconds for requests that are running."""
        self._closed = True
        server, web_server = self._server, self._web_server
        self._server = self._web_server = None
        if server is None or web_server is None:
            return

        server.close()
        await web_server.shutdown(_SHUTDOWN_TIMEOUT_SECONDS)
        await server.wait_closed()

    def _candidate_ports(self, taken: set[int]) -> list[int]:
        first = self.group.port
        if first == 0 or self.group.main or self.group.configured:
            return [first]
        ports = [port for port in range(first, first + _NEXT_PORT_ATTEMPTS) if port not in taken]
        return [port for port in ports if port <= 65535] or [first]


def _bind_error_message(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"Cannot listen on {host}:{port} because the address is already in use. "
            "Stop the process that uses it, or choose another port with --port "
            "(or in [ports] of devd.toml for an API with a port of its own)."
        )
    return (
        f"Cannot listen on {host}:{port}: {error.strerror or error}. "
        "Choose another port with --port."
    )
