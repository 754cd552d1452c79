"""The local API Gateway: an aiohttp server that turns requests into Lambda invocations.

The pure modules do the work: routing selects the route, events builds the event, and
responses maps the result back. This module reads the socket, calls `invoke`, and reports
each request it responds to, and each problem, to the daemon through callbacks.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

from aiohttp import web
from multidict import CIMultiDict

from devd.errors import ConfigError
from devd.inventory import ApiKind, Function, Route
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.runtime.cors import apply_cors, header_value, is_preflight, preflight_response
from devd.runtime.events import HttpRequest, build_event
from devd.runtime.invoke import InvokeResult
from devd.runtime.invoke_api import InvokeApi, record_for
from devd.runtime.invoke_names import INVOKE_PATH_PREFIX, invoke_path_name
from devd.runtime.responses import (
    MAX_REQUEST_BODY_BYTES,
    HttpResponse,
    error_response,
    integration_timeout_response,
    map_result,
    not_found_response,
    request_too_large_response,
)
from devd.runtime.routing import RouteMatch, RouteTable

logger = logging.getLogger("devd.runtime.gateway")

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]

_SHUTDOWN_TIMEOUT_SECONDS = 5.0

MAX_HEADER_BYTES = 10240
"""API Gateway's quota for the request line and header values (10240 bytes).

aiohttp applies it per line and per header, and rejects a longer one with 400 before routing.
"""


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


class IntegrationTimeout(Exception):
    """The function did not respond within API Gateway's integration timeout."""


@dataclass(frozen=True)
class IntegrationLimits:
    """API Gateway's integration timeouts in seconds: 29 s for REST APIs, 30 s for HTTP APIs."""

    rest_seconds: float = 29.0
    http_seconds: float = 30.0

    def seconds(self, api: ApiKind) -> float:
        """Return the timeout of one API kind."""
        return self.rest_seconds if api is ApiKind.REST else self.http_seconds
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
        region: str = "us-east-1",
        integration_limits: IntegrationLimits | None = IntegrationLimits(),
    ) -> None:
        """`integration_limits` None switches off the integration timeouts, for debugging."""
        self._invoke = invoke
        self._on_request = on_request
        self._on_log = on_log
        self._host = host
        self._port = port
        self._account_id = account_id
        self._table = RouteTable.from_routes(())
        self._invoke_api = InvokeApi(invoke, on_log, region, account_id)
        self._limits = integration_limits
        self._abandoned: set[asyncio.Future[InvokeResult]] = set()
        self._web_server: web.Server | None = None
        self._server: asyncio.AbstractServer | None = None

    def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace the route table. Requests already running finish on the old table.

        Raises ConfigError for an invalid route path, and keeps the old table in that case.
        """
        self._table = RouteTable.from_routes(routes)

    def set_functions(self, functions: Sequence[Function]) -> None:
        """Replace the functions that Lambda's Invoke API on this port can call by name."""
        self._invoke_api.set_functions(functions)

    async def start(self) -> None:
        """Listen on host:port. Raises ConfigError naming the address when binding fails."""
        if self._server is not None:
            return

        loop = asyncio.get_running_loop()
        # API Gateway passes compressed request bodies through as they are, so aiohttp must not
        # decompress them. With no lingering time, a connection whose body was left unread
        # (an unknown path, a body over the size limit) closes right after the response.
        web_server = web.Server(
            self._handle,
            access_log=None,
            auto_decompress=False,
            lingering_time=0,
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
            logger=_parser_logger,
        )
        try:
            self._server = await loop.create_server(web_server, self._host, self._port)
        except OSError as error:
            raise ConfigError(_bind_error_message(self._host, self._port, error)) from error

        self._web_server = web_server
        logger.info("Gateway listening on %s", self.url)
        warning = exposure_warning(self._host)
        if warning is not None:
            logger.warning(warning)

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
        await self._invoke_api.close()
        for invocation in list(self._abandoned):
            invocation.cancel()
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
        if request.method == "POST" and path.startswith(INVOKE_PATH_PREFIX):
            function_name = invoke_path_name(path)
            if function_name is not None:
                return await self._handle_invoke(request, path, function_name, gateway_request_id)

        headers = _headers(request)
        match = table.match(request.method, path)
        if match is None and is_preflight(request.method, headers):
            requested = header_value(headers, "access-control-request-method") or ""
            cors = table.cors_for(requested, path)
            if cors is not None:
                response = preflight_response(cors, headers)
                self._record(request.method, path, response, started, None, gateway_request_id)
                return _to_web(response, ApiKind.HTTP, gateway_request_id)

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
            headers=headers,
            body=body,
            source_ip=request.remote or "127.0.0.1",
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        response, lambda_request_id = await self._call(http_request, match, gateway_request_id)
        if match.route.cors is not None:
            response = apply_cors(response, match.route.cors, headers)
        self._record(
            request.method, path, response, started, match.route.function, lambda_request_id
        )
        return _to_web(response, match.route.api, gateway_request_id)

    async def _handle_invoke(
        self, request: web.BaseRequest, path: str, function_name: str, request_id: str
    ) -> web.StreamResponse:
        """Serve one request of Lambda's Invoke API and report it to on_request."""
        started = time.perf_counter()
        reply = await self._invoke_api.handle(request, function_name, request_id)
        self._on_request(record_for(reply, path, started))
        response = web.Response(status=reply.status, body=reply.body, headers=CIMultiDict(reply.headers))
        if reply.status == 413:
            response.force_close()
        return response

    async def _call(
        self, request: HttpRequest, match: RouteMatch, gateway_request_id: str
    ) -> tuple[HttpResponse, str]:
        """Invoke the route's function. Returns the response and the request id to record."""
        route = match.route
        if route.function is None:
            self._log(
                "devd",
                f"Route {route.key!r} of {route.api_address} has an integration that devd does "
                "not emulate (only Lambda proxy integrations run locally).",
                gateway_request_id,
            )
            return error_response(route.api), gateway_request_id

        event = build_event(
            request,
            match,
            request_id=gateway_request_id,
            now=time.time(),
            account_id=self._account_id,
        )
        event_bytes = json.dumps(event, separators=(",", ":")).encode("utf-8")

        try:
            result = await self._invoke_within_limit(route, event_bytes)
        except IntegrationTimeout as timeout:
            self._log(route.function, str(timeout), gateway_request_id)
            return integration_timeout_response(route.api), gateway_request_id
        except Exception as error:  # any failure of the daemon's invoke gets the AWS error status
            logger.warning("Invocation of %s failed: %r", route.function, error)
            self._log(route.function, f"Invocation failed: {error}", gateway_request_id)
            return error_response(route.api), gateway_request_id

        mapped = map_result(route, result)
        if mapped.log_message is not None:
            self._log(route.function, mapped.log_message, result.request_id)
        return mapped.response, result.request_id

    async def _invoke_within_limit(self, route: Route, event_bytes: bytes) -> InvokeResult:
        """Invoke the route's function, giving up after the API kind's integration timeout.

        The invocation goes on after a timeout, as it does on AWS, and its result is dropped.
        Raises IntegrationTimeout.
        """
        assert route.function is not None
        invocation = asyncio.ensure_future(self._invoke(route.function, event_bytes))
        if self._limits is None:
            return await invocation

        seconds = self._limits.seconds(route.api)
        done, _ = await asyncio.wait({invocation}, timeout=seconds)
        if invocation in done:
            return invocation.result()

        self._abandoned.add(invocation)
        invocation.add_done_callback(_drop_abandoned(self._abandoned))
        raise IntegrationTimeout(
            f"The integration timed out after {seconds:g} seconds, API Gateway's limit for "
            f"{'REST' if route.api is ApiKind.REST else 'HTTP'} APIs, so the client got "
            f"{integration_timeout_response(route.api).status}. The function keeps running."
        )

    def _record(
        self,
        method: str,
        path: str,
        response: HttpResponse,
        started: float,
        function: str | None,
        request_id: str,
    ) -> None:
        duration_ms = (time.perf_counter() - started) * 1000
        self._on_request(
            RequestRecord(method, path, response.status, duration_ms, function, request_id)
        )

    def _log(self, source: str, text: str, request_id: str) -> None:
        self._on_log(LogRecord(source=source, text=text, level=Level.ERROR, request_id=request_id))


def exposure_warning(host: str) -> str | None:
    """Return a warning when `host` accepts connections from other machines, else None.

    A host name other than localhost counts as reachable, because it may resolve to any address.
    """
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"The gateway listens on {host}, so other machines on the network can call every "
        "function through it. Use --host 127.0.0.1 unless you need that."
    )


def _drop_abandoned(abandoned: set[asyncio.Future[InvokeResult]]) -> Callable[[asyncio.Future[InvokeResult]], None]:
    """Return a callback that removes a timed-out invocation from the set and logs its failure."""

    def drop(invocation: asyncio.Future[InvokeResult]) -> None:
        abandoned.discard(invocation)
        if not invocation.cancelled() and invocation.exception() is not None:
            logger.warning("Invocation after an integration timeout failed: %r", invocation.exception())

    return drop


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
