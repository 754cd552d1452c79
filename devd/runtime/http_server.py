"""The gateway's HTTP/1.1 server: an asyncio protocol around httptools' parser (llhttp).

aiohttp's server made a task, a request object, a stream reader and a response writer for
every request, which was about a fifth of devd's time per request under load. This server
parses in place, starts one task per request, and writes each response with one call.

A request goes to the handler as soon as its head is read, so the handler can respond (404,
413) without reading the body. Pipelined requests wait their turn. A connection whose last
request body was not read to the end closes after the response.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import deque
from typing import Awaitable, Callable
from urllib.parse import parse_qsl

import httptools

from devd.runtime.http_io import encode_response, split_target
from devd.runtime.responses import MAX_REQUEST_BODY_BYTES, HttpResponse

logger = logging.getLogger("devd.runtime.gateway")

MAX_HEADER_BYTES = 10240
"""API Gateway's quota for the request line and header values (10240 bytes). The server
applies it to the request line and to each header, and rejects a longer one with 400."""

MAX_HEADERS_TOTAL_BYTES = 64 * 1024
"""A cap on the whole head, so a client cannot make the server keep unlimited headers."""

IDLE_TIMEOUT_S = 75.0
"""Keep-alive connections that send nothing for this long are closed."""

_MAX_QUEUED = 16
"""Pipelined requests read ahead before the server stops reading a connection."""

_BAD_REQUEST = HttpResponse(400, (("Content-Type", "application/json"),), b'{"message":"Bad Request"}')
_SERVER_ERROR = HttpResponse(
    500, (("Content-Type", "application/json"),), b'{"message":"Internal Server Error"}'
)


class ClientDisconnected(ConnectionError):
    """The client closed the connection before the request body was read."""


class IncomingRequest:
    """One request as the server read it: the head, and a body that may still be arriving."""

    __slots__ = ("method", "path", "raw_query", "headers", "version", "remote", "keep_alive",
                 "complete", "_declared", "_chunks", "_size", "_waiter", "_aborted", "_send_continue")

    def __init__(self, method: str, target: bytes, headers: list[tuple[str, str]], version: str,
                 remote: str, keep_alive: bool, send_continue: Callable[[], None] | None) -> None:
        self.method = method
        self.path, self.raw_query = split_target(target)
        self.headers = tuple(headers)
        self.version = version
        self.remote = remote
        self.keep_alive = keep_alive
        self.complete = False
        self._declared = _content_length(headers)
        self._chunks: list[bytes] = []
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._aborted = False
        self._send_continue = send_continue

    def header(self, name: str) -> str | None:
        """Return the first value of a header, by case-insensitive name."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    def query_value(self, name: str) -> str | None:
        """Return the first decoded value of a query string parameter."""
        return next((value for key, value in parse_qsl(self.raw_query, keep_blank_values=True) if key == name), None)

    async def read_body(self, limit: int) -> tuple[bytes | None, int]:
        """Wait for the whole body and return it with its size, or None and the size seen once
        it is over `limit`. Raises ClientDisconnected when the client goes away first."""
        if self._declared is not None and self._declared > limit:
            return None, self._declared
        if self._send_continue is not None:
            self._send_continue()
            self._send_continue = None

        while not self.complete and self._size <= limit:
            if self._aborted:
                raise ClientDisconnected("the client closed the connection before sending the whole body")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        if self._size > limit:
            return None, self._size
        return b"".join(self._chunks), self._size

    def add_body(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= MAX_REQUEST_BODY_BYTES:
            self._chunks.append(chunk)
        self._wake()

    def finish(self, aborted: bool = False) -> None:
        self.complete = self.complete or not aborted
        self._aborted = aborted
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length" and value.strip().isdigit():
            return int(value)
    return None


Handler = Callable[[IncomingRequest], Awaitable[HttpResponse]]


class HttpServer:
    """A factory of connection protocols for `loop.create_server`, which also stops them all."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections: set[Connection] = set()
        self._sweep: asyncio.TimerHandle | None = None

    def __call__(self) -> Connection:
        if self._sweep is None:
            self._sweep = asyncio.get_running_loop().call_later(IDLE_TIMEOUT_S / 3, self._close_idle)
        return Connection(self)

    async def shutdown(self, timeout_s: float) -> None:
        """Close idle connections now, and the others after their current response, waiting up
        to `timeout_s` seconds. Then abort what is left."""
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for connection in list(self.connections):
            connection.close_when_idle()

        running = {connection.task for connection in self.connections if connection.task is not None}
        if running:
            await asyncio.wait(running, timeout=timeout_s)
        for connection in list(self.connections):
            connection.abort()

    def _close_idle(self) -> None:
        oldest = time.monotonic() - IDLE_TIMEOUT_S
        for connection in list(self.connections):
            if connection.task is None and connection.last_active < oldest:
                connection.close_when_idle()
        self._sweep = asyncio.get_running_loop().call_later(IDLE_TIMEOUT_S / 3, self._close_idle)


class Connection(asyncio.Protocol):
    """One client connection: parses its requests and responds to them in order."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._remote = "127.0.0.1"
        self._target = bytearray()
        self._headers: list[tuple[str, str]] = []
        self._head_bytes = 0
        self._parsing: IncomingRequest | None = None
        self._queue: deque[IncomingRequest] = deque()
        self.task: asyncio.Task[None] | None = None
        self.last_active = time.monotonic()
        self._no_more_requests = False
        """Set after an invalid request, an upgrade request, end of input or shutdown."""
        self._rejection: str | None = None
        self._reading_paused = False
        self._writable: asyncio.Future[None] | None = None

    # Transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._server.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self._remote = peer[0]

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        for request in self._queue:
            request.finish(aborted=True)
        self.resume_writing()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self._no_more_requests:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._no_more_requests = True  # no other protocol is served: close after the response
        except httptools.HttpParserError as error:
            self._reject(self._rejection or str(error) or type(error).__name__)

    def eof_received(self) -> bool:
        # Half-closed: respond to what was read, then close.
        self._no_more_requests = True
        return self.task is not None

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # Parser events

    def on_message_begin(self) -> None:
        self._target.clear()
        self._headers = []
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._target += url
        if len(self._target) > MAX_HEADER_BYTES:
            self._fail(f"request line over {MAX_HEADER_BYTES} bytes, API Gateway's limit")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value)
        if len(value) > MAX_HEADER_BYTES:
            self._fail(f"header {name.decode('latin-1')} over {MAX_HEADER_BYTES} bytes, API Gateway's limit")
        if self._head_bytes > MAX_HEADERS_TOTAL_BYTES:
            self._fail(f"headers over {MAX_HEADERS_TOTAL_BYTES} bytes in all")
        self._headers.append((name.decode("latin-1"), value.decode("utf-8", errors="replace")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        version = parser.get_http_version()
        request = IncomingRequest(
            parser.get_method().decode("ascii", errors="replace"),
            bytes(self._target),
            self._headers,
            version,
            self._remote,
            parser.should_keep_alive(),
            self._continue_sender(version),
        )
        self._parsing = request
        self._queue.append(request)
        if self.task is None:
            self._start_next()
        elif len(self._queue) > _MAX_QUEUED and self._transport is not None:
            self._transport.pause_reading()
            self._reading_paused = True

    def on_body(self, body: bytes) -> None:
        if self._parsing is not None:
            self._parsing.add_body(body)

    def on_message_complete(self) -> None:
        if self._parsing is not None:
            self._parsing.finish()
            self._parsing = None

    # Serving

    def close_when_idle(self) -> None:
        """Read no more requests, and close once the current response is written."""
        self._no_more_requests = True
        if self.task is None and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection and cancel the request being served."""
        if self.task is not None:
            self.task.cancel()
        if self._transport is not None:
            self._transport.abort()

    def _start_next(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._serve(self._queue[0]))

    async def _serve(self, request: IncomingRequest) -> None:
        try:
            response: HttpResponse | None = await self._server.handler(request)
        except ClientDisconnected:
            response = None
        except Exception:
            logger.exception("The gateway failed on %s %s", request.method, request.path)
            response = _SERVER_ERROR

        self._queue.popleft()
        self._write(request, response)
        if self._writable is not None:
            await self._writable  # the client reads slower than responses are written
        self._next()

    def _write(self, request: IncomingRequest, response: HttpResponse | None) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return

        last = not request.keep_alive or not request.complete or (self._no_more_requests and not self._queue)
        if response is not None:
            head_only = request.method == "HEAD"
            close = last and self._rejection is None
            transport.write(encode_response(response, head_only=head_only, close=close, http_10=request.version == "1.0"))
        if not last:
            return
        if self._rejection is not None:
            self._write_rejection()
        else:
            transport.close()

    def _next(self) -> None:
        self.task = None
        if self._transport is None or self._transport.is_closing():
            return
        if self._queue:
            self._start_next()
        if self._reading_paused and len(self._queue) <= 1:
            self._reading_paused = False
            self._transport.resume_reading()

    def _continue_sender(self, version: str) -> Callable[[], None] | None:
        expects = any(name.lower() == "expect" and value.lower() == "100-continue" for name, value in self._headers)
        if not expects or version != "1.1":
            return None
        return lambda: self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n") if self._transport else None

    def _fail(self, reason: str) -> None:
        self._rejection = reason
        raise ValueError(reason)  # stops the parser, which raises HttpParserCallbackError

    def _reject(self, reason: str) -> None:
        """Stop reading, then respond 400 and close once the earlier requests have responses."""
        logger.warning("Rejected a request with 400 Bad Request: %s", reason)
        self._rejection = reason
        self._no_more_requests = True
        if self._parsing is not None:
            self._parsing.finish(aborted=True)
            self._parsing = None
        if self.task is None:
            self._write_rejection()

    def _write_rejection(self) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(encode_response(_BAD_REQUEST, head_only=False, close=True, http_10=False))
        self._transport.close()
