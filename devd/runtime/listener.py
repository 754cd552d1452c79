"""One listening socket of the gateway: an HTTP server on one port with its route table."""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Awaitable, Callable

from devd.errors import ConfigError
from devd.runtime.http_server import HttpServer, IncomingRequest
from devd.runtime.ports import PortGroup, url_host
from devd.runtime.responses import HttpResponse
from devd.runtime.routing import RouteTable

logger = logging.getLogger("devd.runtime.gateway")

_SHUTDOWN_TIMEOUT_SECONDS = 5.0
_NEXT_PORT_ATTEMPTS = 20
"""Ports tried after a planned port that is in use, for APIs without a configured port."""

Handler = Callable[[IncomingRequest, "Listener"], Awaitable[HttpResponse]]


class Listener:
    """Serves the routes of one port group. `table` may be replaced while it runs."""

    def __init__(self, group: PortGroup, table: RouteTable) -> None:
        self.group = group
        self.table = table
        self._server: asyncio.AbstractServer | None = None
        self._http_server: HttpServer | None = None
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
        http_server = HttpServer(lambda request: handler(request, self))
        self._closed = False
        loop = asyncio.get_running_loop()
        failure: tuple[int, OSError] | None = None
        for port in self._candidate_ports(taken):
            try:
                self._server = await loop.create_server(http_server, host, port)
            except OSError as error:
                failure = (port, error)
                continue
            self._http_server = http_server
            if self._closed:
                # close() ran while the socket was being bound, so nothing may listen now.
                await self.close()
            return

        assert failure is not None
        raise ConfigError(_bind_error_message(host, *failure))

    async def close(self) -> None:
        """Stop listening and wait up to 5 seconds for requests that are running."""
        self._closed = True
        server, http_server = self._server, self._http_server
        self._server = self._http_server = None
        if server is None or http_server is None:
            return

        server.close()
        await http_server.shutdown(_SHUTDOWN_TIMEOUT_SECONDS)
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
