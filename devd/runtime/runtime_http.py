"""The HTTP/1.1 transport of a worker's Runtime API: one asyncio protocol per connection.

A Runtime API connection carries two requests per invocation (the long poll for the event and
the post of the result), so its cost adds to every request that the gateway serves. With
aiohttp's web server each of them made a task, a request object, a router lookup and a
response object, about a third of devd's CPU time per invocation (measured with
cProfile on a pool of Node workers, 2 cores). This protocol parses the small
requests that runtimes send in place, responds to those that need no waiting from
`data_received`, and starts a task only for a long poll.

It reads bodies with `Content-Length` or `Transfer-Encoding: chunked`, keeps connections
alive unless the client sends `Connection: close` or speaks HTTP/1.0, and responds to one
request at a time per connection, in order.

Responses to pipelined requests go out in one write. devd's bootstraps send the post of a
result and the next `GET /invocation/next` together. The 202 of the post then waits for the
long poll's event, so an invocation costs one socket write less on each side. A client
that waits for each response before it sends the next request gets each one at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Awaitable, Callable, Union

logger = logging.getLogger("devd.runtime.runtime_api")

MAX_HEAD_BYTES = 64 * 1024
"""Size of a request line and headers at most; a longer head gets 431 and the connection closes."""

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            413: "Payload Too Large", 431: "Request Header Fields Too Large", 500: "Internal Server Error"}


@dataclass(frozen=True)
class HttpRequest:
    """One parsed request. `headers` has lower-case names. `body_too_large` is true when the body
    was longer than the protocol's limit, and `body` is then empty."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    body_too_large: bool = False


@dataclass(frozen=True)
class HttpResponse:
    """A response to write: status, extra headers, and a body sent with `Content-Length`."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"

    def encode(self, keep_alive: bool) -> bytes:
        """Serialize the status line, headers and body."""
        lines = [f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Unknown')}",
                 f"Content-Type: {self.content_type}", f"Content-Length: {len(self.body)}"]
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


Handler = Callable[[HttpRequest, "RuntimeHttpProtocol"], Union[HttpResponse, Awaitable[HttpResponse]]]
"""Called with each request and its connection. Returns a response, or an awaitable of one."""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Head:
    method: str
    path: str
    headers: dict[str, str]
    keep_alive: bool
    body_start: int
    chunked: bool
    length: int
    """The Content-Length, 0 for a chunked body."""


def parse_head(buffer: bytearray) -> _Head | None:
    """Parse the request line and headers at the start of `buffer`, or return None while they
    are incomplete. Raises _BadRequest for a malformed or oversized head."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise _BadRequest(431, "the request head is longer than 64 KB")
        return None

    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, f"invalid request line {lines[0][:100]!r}")
    method, target, version = parts

    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _BadRequest(400, f"invalid header line {line[:100]!r}")
        headers[name.strip().lower()] = value.strip()

    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" and (version != "HTTP/1.0" or connection == "keep-alive")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = 0 if chunked else _content_length(headers)
    return _Head(method, target.partition("?")[0], headers, keep_alive, end + 4, chunked, length)


def _content_length(headers: dict[str, str]) -> int:
    try:
        length = int(headers.get("content-length", "0") or 0)
    except ValueError:
        raise _BadRequest(400, "invalid Content-Length") from None
    if length < 0:
        raise _BadRequest(400, "invalid Content-Length")
    return length


def parse_chunked(buffer: bytearray, start: int, limit: int) -> tuple[bytes, int] | None:
    """Decode a chunked body that starts at `start`, and return it with the index after it, or
    None while it is incomplete. Raises _BadRequest for a malformed body or one over `limit`."""
    chunks: list[bytes] = []
    size = 0
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        try:
            chunk_size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        except ValueError:
            raise _BadRequest(400, "invalid chunk size") from None
        data_start = line_end + 2
        if chunk_size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            if buffer[data_start:data_start + 2] == b"\r\n":
                return b"".join(chunks), data_start + 2
            if trailer_end < 0:
                return None
            return b"".join(chunks), trailer_end + 4
        if len(buffer) < data_start + chunk_size + 2:
            return None
        size += chunk_size
        if size > limit:
            raise _BadRequest(413, f"the chunked body is longer than {limit} bytes")
        chunks.append(bytes(buffer[data_start:data_start + chunk_size]))
        position = data_start + chunk_size + 2


class RuntimeHttpProtocol(asyncio.Protocol):
    """One connection of a runtime. `handler` returns a response, or an awaitable of one for a
    long poll. Bodies longer than `body_limit` bytes are read and dropped, and the handler
    receives the request with `body_too_large` set.

    `peer_trusted` is for the handler: whether it found the process that opened the connection
    to be the runtime's, or None until it decides. The protocol only keeps the value.
    """

    def __init__(self, handler: Handler, body_limit: int, connections: set[RuntimeHttpProtocol]) -> None:
        self._handler = handler
        self._body_limit = body_limit
        self._connections = connections
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._head: _Head | None = None
        self._dropping = 0
        self._task: asyncio.Future[HttpResponse] | None = None
        self._keep_alive = True
        self._unsent: list[bytes] = []
        """Encoded responses that wait to go out with the next write."""
        self._unsent_error = False
        self.peer_trusted: bool | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._transport = None
        if self._task is not None:
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer.extend(data)
        if self._task is None:
            self._process()

    def socket_addresses(self) -> tuple[tuple[str, int], tuple[str, int]] | None:
        """Return the (host, port) of the peer and of this server's end, or None when the
        connection is closed or is not a TCP connection."""
        if self._transport is None:
            return None
        peer = self._transport.get_extra_info("peername")
        local = self._transport.get_extra_info("sockname")
        if not isinstance(peer, tuple) or not isinstance(local, tuple):
            return None
        return (peer[0], peer[1]), (local[0], local[1])

    def close(self) -> None:
        """Cancel a waiting long poll and close the connection."""
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.close()

    def _process(self) -> None:
        """Respond to every complete request in the buffer, then send the responses in one write.

        When a long poll stops the loop, successful responses to the requests before it wait
        for the poll's response, because the client sent the poll without waiting for them.
        An error response goes out at once, so that the client learns of it before the poll
        ends.
        """
        while self._transport is not None and self._task is None:
            try:
                request = self._next_request()
            except _BadRequest as error:
                logger.debug("closing a Runtime API connection after a bad request: %s", error)
                self._write(HttpResponse(error.status, f'{{"errorMessage": "{error}"}}'.encode()), keep_alive=False)
                return
            if request is None:
                break
            self._dispatch(request)

        if self._task is None or self._unsent_error:
            self._flush()

    def _next_request(self) -> HttpRequest | None:
        if self._head is None:
            self._head = parse_head(self._buffer)
            if self._head is None:
                return None
            del self._buffer[: self._head.body_start]
            length = self._head.length
            self._dropping = length if length > self._body_limit else 0
        head = self._head

        if head.chunked:
            parsed = parse_chunked(self._buffer, 0, self._body_limit)
            if parsed is None:
                return None
            body, consumed = parsed
            return self._complete(head, body, consumed, too_large=False)

        if self._dropping:
            # A body over the limit is dropped as it arrives instead of being held.
            dropped = min(len(self._buffer), self._dropping)
            del self._buffer[:dropped]
            self._dropping -= dropped
            if self._dropping:
                return None
            return self._complete(head, b"", 0, too_large=True)

        length = head.length
        if len(self._buffer) < length:
            return None
        return self._complete(head, bytes(self._buffer[:length]), length, too_large=False)

    def _complete(self, head: _Head, body: bytes, consumed: int, too_large: bool) -> HttpRequest:
        del self._buffer[:consumed]
        self._head = None
        self._dropping = 0
        self._keep_alive = head.keep_alive
        return HttpRequest(head.method, head.path, head.headers, body, too_large)

    def _dispatch(self, request: HttpRequest) -> None:
        result = self._handler(request, self)
        if isinstance(result, HttpResponse):
            self._write(result, self._keep_alive)
            return
        self._task = asyncio.ensure_future(result)
        self._task.add_done_callback(self._on_awaited)

    def _on_awaited(self, task: asyncio.Future[HttpResponse]) -> None:
        self._task = None
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error("the Runtime API failed on a request: %r", error, exc_info=error)
            self._write(HttpResponse(500, b'{"errorMessage": "internal error"}'), keep_alive=False)
            return
        self._write(task.result(), self._keep_alive)
        self._flush()
        self._process()

    def _write(self, response: HttpResponse, keep_alive: bool) -> None:
        """Queue a response for `_flush`, or write it with the queued ones and close when the
        connection ends after it."""
        if self._transport is None:
            return
        self._unsent.append(response.encode(keep_alive))
        self._unsent_error = self._unsent_error or response.status >= 400
        if not keep_alive:
            self._flush()
            self._transport.close()
            self._transport = None

    def _flush(self) -> None:
        if self._transport is not None and self._unsent:
            self._transport.write(b"".join(self._unsent))
        self._unsent = []
        self._unsent_error = False
