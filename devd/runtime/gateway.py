"""The local API Gateway: HTTP servers that turn requests into Lambda invocations.

The pure modules do the work: routing selects the route, events builds the event, ports
groups the APIs by port, and responses maps the result back. This module reads the sockets,
calls `invoke`, and reports each request it responds to, and each problem, to the daemon
through callbacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Awaitable, Callable, Mapping, Sequence

from devd.errors import ConfigError
from devd.inventory import ApiKind, Function, Route
from devd.logs.records import Level, LogRecord, RequestRecord, inspect_text
from devd.runtime.cors import apply_cors, header_value, is_preflight, preflight_response
from devd.runtime.events import HttpRequest, build_event
from devd.runtime.http_io import with_request_id
from devd.runtime.http_server import MAX_HEADER_BYTES, IncomingRequest
from devd.runtime.invoke import InvokeResult
from devd.runtime.invoke_api import InvokeApi, record_for
from devd.runtime.invoke_names import INVOKE_PATH_PREFIX, invoke_path_name
from devd.runtime.limits import (
    IntegrationLimits,
    IntegrationTimeout,
    drop_abandoned,
    exposure_warning,
)
from devd.runtime.listener import Listener
from devd.runtime.ports import PortGroup, plan_ports, route_urls
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
from devd.runtime.waits import first_done, new_request_id

__all__ = ["Gateway", "IntegrationLimits", "MAX_HEADER_BYTES", "exposure_warning"]

logger = logging.getLogger("devd.runtime.gateway")

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]


class Gateway:
    """HTTP servers that serve every route of the inventory: one port, plus one per API that
    needs its own (see `devd.runtime.ports`)."""

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
        api_ports: Mapping[str, int] | None = None,
    ) -> None:
        """`integration_limits` None switches off the integration timeouts, for debugging.
        `api_ports` maps a Terraform API address to a port of its own."""
        self._invoke = invoke
        self._on_request = on_request
        self._on_log = on_log
        self._host = host
        self._port = port
        self._account_id = account_id
        self._api_ports = dict(api_ports or {})
        self._invoke_api = InvokeApi(invoke, on_log, region, account_id)
        self._limits = integration_limits
        self._abandoned: set[asyncio.Future[InvokeResult]] = set()
        main = PortGroup(port, frozenset(), main=True)
        self._listeners: dict[str, Listener] = {main.key: Listener(main, RouteTable.from_routes(()))}
        self._routes: tuple[Route, ...] = ()
        self._names: dict[str, str] = {}
        self._announced: dict[Route, str] = {}
        self._changes: set[asyncio.Task[None]] = set()
        self._running = False

    def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace the route tables. Requests already running finish on the old tables.

        APIs that need a port of their own get a new listener, started in the background.
        Raises ConfigError for an invalid route path, and keeps the old tables in that case.
        """
        groups = plan_ports(routes, self._port, self._api_ports)
        on_own = set().union(*(group.apis for group in groups if not group.main))
        tables = {
            group.key: RouteTable.from_routes(
                r for r in routes if (r.api_address not in on_own if group.main else r.api_address in group.apis)
            )
            for group in groups
        }

        self._routes = tuple(routes)
        for group in groups:
            listener = self._listeners.get(group.key)
            if listener is None:
                listener = self._listeners[group.key] = Listener(group, tables[group.key])
                if self._running:
                    self._in_background(self._start_listener(listener))
            listener.group = group
            listener.table = tables[group.key]
        for key in set(self._listeners) - {group.key for group in groups}:
            self._in_background(self._listeners.pop(key).close())
        if self._running:
            self._announce()

    def set_functions(self, functions: Sequence[Function]) -> None:
        """Replace the functions that Lambda's Invoke API can call by name."""
        self._invoke_api.set_functions(functions)
        self._names = {function.address: function.name for function in functions}

    async def start(self) -> None:
        """Listen on host:port, and on the ports of APIs that need their own.

        Raises ConfigError naming the address when the main port cannot be bound. A failure on
        another port is logged, and the APIs of that port are not served.
        """
        if self._running:
            return

        await self._main.start(self._host, self._handle, set())
        self._running = True
        logger.info("Gateway listening on %s", self.url)
        warning = exposure_warning(self._host)
        if warning is not None:
            logger.warning(warning)

        for listener in list(self._listeners.values()):
            if not listener.started:
                await self._start_listener(listener)
        self._announce()

    @property
    def url(self) -> str:
        """The base URL of the main port, with the port the system chose when it was 0."""
        return f"http://{self._host}:{self._main.port}"

    def route_urls(self) -> dict[Route, str]:
        """Return the local URL of every route, on the port that serves its API."""
        ports = {api: listener.port for listener in self._listeners.values() for api in listener.group.apis}
        for route in self._routes:
            ports.setdefault(route.api_address, self._main.port)
        return route_urls(self._routes, self._host, ports)

    async def close(self) -> None:
        """Stop listening and wait up to 5 seconds for requests that are running."""
        if not self._running:
            return

        self._running = False
        await asyncio.gather(*self._changes, return_exceptions=True)
        await asyncio.gather(*(listener.close() for listener in self._listeners.values()))
        await self._invoke_api.close()
        for invocation in list(self._abandoned):
            invocation.cancel()
        logger.info("Gateway on %s:%s stopped", self._host, self._port)

    @property
    def _main(self) -> Listener:
        return self._listeners["main"]

    async def _start_listener(self, listener: Listener) -> None:
        if self._listeners.get(listener.group.key) is not listener:
            return  # set_routes removed it before this task ran
        taken = {other.port for other in self._listeners.values() if other is not listener and other.started}
        try:
            await listener.start(self._host, self._handle, taken)
        except ConfigError as error:
            apis = ", ".join(sorted(listener.group.apis))
            self._log("devd", f"{error} The routes of {apis} are not served.", "")
            return
        if not listener.group.main:
            self._announce()

    def _in_background(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._changes.add(task)
        task.add_done_callback(self._changes.discard)

    def _announce(self) -> None:
        """Log the local URL of each route whose URL is new since the last announcement."""
        started = {api for listener in self._listeners.values() if listener.started for api in listener.group.apis}
        current = {
            route: url
            for route, url in self.route_urls().items()
            if route.api_address in started or self._main.started and route.api_address not in self._own_apis()
        }
        for route, url in current.items():
            if self._announced.get(route) == url:
                continue
            target = self._names.get(route.function, route.function) if route.function else "not emulated"
            text = f"{route.method} {url} -> {target}"
            self._on_log(LogRecord(source="devd", text=text, level=Level.INFO))
        self._announced = current

    def _own_apis(self) -> set[str]:
        return {api for listener in self._listeners.values() if not listener.group.main for api in listener.group.apis}

    async def _handle(self, request: IncomingRequest, listener: Listener) -> HttpResponse:
        """Respond to one request and report it to on_request exactly once.

        The record carries the Lambda request id when the function ran, so that it lines up
        with the function's log records, and the API Gateway request id otherwise.
        """
        started = time.perf_counter()
        gateway_request_id = new_request_id()
        table = listener.table
        method, path, headers = request.method, request.path, request.headers
        if method == "POST" and path.startswith(INVOKE_PATH_PREFIX):
            function_name = invoke_path_name(path)
            if function_name is not None:
                return await self._handle_invoke(request, function_name, gateway_request_id)

        match = table.match(method, path)
        if match is None and is_preflight(method, headers):
            requested = header_value(headers, "access-control-request-method") or ""
            cors = table.cors_for(requested, path)
            if cors is not None:
                response = preflight_response(cors, headers)
                self._record(method, path, response, started, None, gateway_request_id)
                return with_request_id(response, ApiKind.HTTP, gateway_request_id)

        if match is None:
            response = not_found_response(table.rest_only)
            self._record(method, path, response, started, None, gateway_request_id)
            api = ApiKind.REST if table.rest_only else None
            return with_request_id(response, api, gateway_request_id)

        body, _ = await request.read_body(MAX_REQUEST_BODY_BYTES)
        if body is None:
            response = request_too_large_response()
            self._record(method, path, response, started, match.route.function, gateway_request_id)
            return with_request_id(response, match.route.api, gateway_request_id)

        http_request = HttpRequest(
            method=method,
            path=path,
            raw_query=request.raw_query,
            headers=headers,
            body=body,
            source_ip=request.remote,
            protocol=f"HTTP/{request.version}",
        )
        response, lambda_request_id, exchange = await self._call(http_request, match, gateway_request_id)
        if match.route.cors is not None:
            response = apply_cors(response, match.route.cors, headers)
        self._record(method, path, response, started, match.route.function, lambda_request_id, exchange)
        return with_request_id(response, match.route.api, gateway_request_id)

    async def _handle_invoke(self, request: IncomingRequest, function_name: str, request_id: str) -> HttpResponse:
        """Serve one request of Lambda's Invoke API and report it to on_request."""
        started = time.perf_counter()
        reply = await self._invoke_api.handle(request, function_name, request_id)
        self._on_request(record_for(reply, request.path, started))
        return HttpResponse(reply.status, reply.headers, reply.body)

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
            result = await self._invoke_within_limit(route, event_bytes)
        except IntegrationTimeout as timeout:
            self._log(route.function, str(timeout), gateway_request_id)
            return integration_timeout_response(route.api), gateway_request_id, (event_bytes, None)
        except Exception as error:  # any failure of the daemon's invoke gets the AWS error status
            logger.warning("Invocation of %s failed: %r", route.function, error)
            self._log(route.function, f"Invocation failed: {error}", gateway_request_id)
            return error_response(route.api), gateway_request_id, (event_bytes, None)

        mapped = map_result(route, result)
        if mapped.log_message is not None:
            self._log(route.function, mapped.log_message, result.request_id)
        return mapped.response, result.request_id, (event_bytes, result.payload)

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
        await first_done((invocation,), seconds)
        if invocation.done():
            return invocation.result()

        self._abandoned.add(invocation)
        invocation.add_done_callback(drop_abandoned(self._abandoned))
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
