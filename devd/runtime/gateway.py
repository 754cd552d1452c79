"""The local API Gateway: an aiohttp server that turns requests into Lambda invocations.

The pure modules do the work: routing selects the route, events builds the event, and
responses maps the result back. This module reads the socket, calls `invoke`, and reports
each request it responds to, and each problem, to the daemon through callbacks.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import time
import uuid
from typing import Awaitable, Callable, Sequence

from aiohttp import web
from multidict import CIMultiDict

from devd.errors import ConfigError
from devd.inventory import ApiKind, Route
from devd.logs.records import Level, LogRecord, RequestRecord, inspect_text
from devd.runtime.events import HttpRequest, build_event
from devd.runtime.invoke import InvokeResult
from devd.runtime.responses import (
    MAX_REQUEST_BODY_BYTES,
    HttpResponse,
    error_response,
    map_result,
    not_found_response,
    request_too_large_response,
)
from devd.runtime.routing import RouteMatch, RouteTable

logger = logging.getLogger("devd.runtime.gateway")

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]

_SHUTDOWN_TIMEOUT_SECONDS = 5.0
_READ_CHUNK_BYTES = 64 * 1024


class Gateway:
    """An HTTP server on one port that serves every route of the inventory."""

    def __init__(
        self,
        invoke: Invoke,
        on_request: Callable[[RequestRecord], None],
        on_log: Callable[[LogRecord], None],
        host: str = "127.0.0.1",
        port: int = 3000,
        account_id: str = "123456789012",
    ) -> None:
        self._invoke = invoke
        self._on_request = on_request
        self._on_log = on_log
        self._host = host
        self._port = port
        self._account_id = account_id
        self._table = RouteTable.from_routes(())
        self._web_server: web.Server | None = None
        self._server: asyncio.AbstractServer | None = None

    def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace the route table. Requests already running finish on the old table.

        Raises ConfigError for an invalid route path, and keeps the old table in that case.
        """
        self._table = RouteTable.from_routes(routes)

    async def start(self) -> None:
        """Listen on host:port. Raises ConfigError naming the address when binding fails."""
        if self._server is not None:
            return

        loop = asyncio.get_running_loop()
        # API Gateway passes compressed request bodies through as they are, so aiohttp must not
        # decompress them. With no lingering time, a connection whose body was left unread
        # (an unknown path, a body over the size limit) closes right after the response.
        web_server = web.Server(
            self._handle, access_log=None, auto_decompress=False, lingering_time=0
        )
        try:
            self._server = await loop.create_server(web_server, self._host, self._port)
        except OSError as error:
            raise ConfigError(_bind_error_message(self._host, self._port, error)) from error

        self._web_server = web_server
        logger.info("Gateway listening on %s", self.url)

    @property
    def url(self) -> str:
        """The base URL, with the port the system chose when the gateway was created with 0."""
        port = self._port
        if self._server is not None and self._server.sockets:
            port = self._server.sockets[0].getsockname()[1]
        return f"http://{self._host}:{port}"

    async def close(self) -> None:
        """Stop listening and wait up to 5 seconds for requests that are running."""
        server, web_server = self._server, self._web_server
        self._server = self._web_server = None
        if server is None or web_server is None:
            return

        server.close()
        await web_server.shutdown(_SHUTDOWN_TIMEOUT_SECONDS)
        await server.wait_closed()
        logger.info("Gateway on %s:%s stopped", self._host, self._port)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Respond to one request and report it to on_request exactly once.

        The record carries the Lambda request id when the function ran, so that it lines up
        with the function's log records, and the API Gateway request id otherwise.
        """
        started = time.perf_counter()
        gateway_request_id = str(uuid.uuid4())
        table = self._table
        path, raw_query = _split_target(request)

        match = table.match(request.method, path)
        if match is None:
            response = not_found_response(table.rest_only)
            self._record(request.method, path, response, started, None, gateway_request_id)
            api = ApiKind.REST if table.rest_only else None
            return _to_web(response, api, gateway_request_id)

        body = await _read_body(request)
        if body is None:
            response = request_too_large_response()
            function = match.route.function
            self._record(request.method, path, response, started, function, gateway_request_id)
            web_response = _to_web(response, match.route.api, gateway_request_id)
            web_response.force_close()
            return web_response

        http_request = HttpRequest(
            method=request.method,
            path=path,
            raw_query=raw_query,
            headers=_headers(request),
            body=body,
            source_ip=request.remote or "127.0.0.1",
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        response, lambda_request_id, exchange = await self._call(http_request, match, gateway_request_id)
        self._record(
            request.method, path, response, started, match.route.function, lambda_request_id, exchange
        )
        return _to_web(response, match.route.api, gateway_request_id)

    async def _call(
        self, request: HttpRequest, match: RouteMatch, gateway_request_id: str
    ) -> tuple[HttpResponse, str, tuple[bytes | None, bytes | None]]:
        """Invoke the route's function. Returns the response, the request id to record, and the
        event and handler payload for the request inspector."""
        route = match.route
        if route.function is None:
            self._log(
                "devd",
                f"Route {route.key!r} of {route.api_address} has an integration that devd does "
                "not emulate (only Lambda proxy integrations run locally).",
                gateway_request_id,
            )
            return error_response(route.api), gateway_request_id, (None, None)

        event = build_event(
            request,
            match,
            request_id=gateway_request_id,
            now=time.time(),
            account_id=self._account_id,
        )
        event_bytes = json.dumps(event, separators=(",", ":")).encode("utf-8")

        try:
            result = await self._invoke(route.function, event_bytes)
        except Exception as error:  # any failure of the daemon's invoke gets the AWS error status
            logger.warning("Invocation of %s failed: %r", route.function, error)
            self._log(route.function, f"Invocation failed: {error}", gateway_request_id)
            return error_response(route.api), gateway_request_id, (event_bytes, None)

        mapped = map_result(route, result)
        if mapped.log_message is not None:
            self._log(route.function, mapped.log_message, result.request_id)
        return mapped.response, result.request_id, (event_bytes, result.payload)

    def _record(
        self,
        method: str,
        path: str,
        response: HttpResponse,
        started: float,
        function: str | None,
        request_id: str,
        exchange: tuple[bytes | None, bytes | None] = (None, None),
    ) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        event, payload = exchange
        self._on_request(
            RequestRecord(method, path, response.status, duration_ms, function, request_id,
                          event=inspect_text(event), response=inspect_text(payload))
        )

    def _log(self, source: str, text: str, request_id: str) -> None:
        self._on_log(LogRecord(source=source, text=text, level=Level.ERROR, request_id=request_id))


def _bind_error_message(host: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return (
            f"Cannot listen on {host}:{port} because the address is already in use. "
            "Stop the process that uses it, or choose another port with --port."
        )
    return (
        f"Cannot listen on {host}:{port}: {error.strerror or error}. "
        "Choose another port with --port."
    )


def _split_target(request: web.BaseRequest) -> tuple[str, str]:
    """Return the path as sent (percent-encoded) and the raw query string."""
    target = request.raw_path
    if not target.startswith("/"):
        url = request.rel_url
        return _clean_text(url.raw_path), _clean_text(url.raw_query_string)

    target = target.split("#", 1)[0]
    path, _, raw_query = target.partition("?")
    return _clean_text(path), _clean_text(raw_query)


def _clean_text(text: str) -> str:
    """Replace bytes that were not valid UTF-8 with U+FFFD.

    aiohttp's pure-Python parser keeps such bytes as lone surrogates. Its C parser rejects
    them in the request line with 400 before the handler runs.
    """
    if text.isascii():
        return text
    try:
        raw = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", errors="replace")
    return raw.decode("utf-8", errors="replace")


def _headers(request: web.BaseRequest) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name.decode("latin-1"), value.decode("utf-8", errors="replace"))
        for name, value in request.raw_headers
    )


async def _read_body(request: web.BaseRequest) -> bytes | None:
    """Read the request body, or return None when it is over MAX_REQUEST_BODY_BYTES."""
    declared = request.content_length
    if declared is not None and declared > MAX_REQUEST_BODY_BYTES:
        return None

    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(_READ_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_REQUEST_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _to_web(response: HttpResponse, api: ApiKind | None, request_id: str) -> web.Response:
    """Build the aiohttp response, with the request id header that the API kind sends."""
    headers = CIMultiDict(response.headers)
    if api is ApiKind.REST:
        headers.add("x-amzn-RequestId", request_id)
    else:
        headers.add("apigw-requestid", request_id)
    return web.Response(status=response.status, body=response.body, headers=headers)
