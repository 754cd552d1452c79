"""Lambda's Invoke API on the gateway's port, so AWS SDKs and `devd invoke` can call functions.

RequestResponse returns the function's payload (200), with `X-Amz-Function-Error: Unhandled`
and the error document when the function failed. Event returns 202 at once and runs the
function in the background. DryRun only checks that the function exists (204).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

from devd.inventory import Function
from devd.runtime.http_server import IncomingRequest
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.runtime.invoke import InvokeResult
from devd.runtime.invoke_names import (
    LATEST,
    ApiError,
    InvocationType,
    check_payload,
    function_arn,
    function_not_found,
    parse_function_identifier,
    parse_invocation_type,
    payload_too_large,
)

logger = logging.getLogger("devd.runtime.invoke_api")

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]

MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's request payload limit for RequestResponse invocations (6 MB)."""

MAX_EVENT_PAYLOAD_BYTES = 1024 * 1024
"""Lambda's request payload limit for Event invocations (1 MB since October 2025, 256 KB before)."""


@dataclass(frozen=True)
class InvokeReply:
    """The Invoke API's reply: status, headers, body, and the ids to record."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    function: str | None
    request_id: str


class InvokeApi:
    """Serves `POST /2015-03-31/functions/{FunctionName}/invocations` for the current functions."""

    def __init__(
        self,
        invoke: Invoke,
        on_log: Callable[[LogRecord], None],
        region: str,
        account_id: str,
    ) -> None:
        self._invoke = invoke
        self._on_log = on_log
        self._region = region
        self._account_id = account_id
        self._functions: dict[str, Function] = {}
        self._background: set[asyncio.Task[None]] = set()

    def set_functions(self, functions: Sequence[Function]) -> None:
        """Replace the functions that the API can invoke, looked up by `function_name`."""
        self._functions = {function.name: function for function in functions}

    async def close(self) -> None:
        """Cancel Event invocations that are still running and wait for them to end."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def handle(
        self, request: IncomingRequest, function_name: str, request_id: str
    ) -> InvokeReply:
        """Handle one Invoke request. `request_id` is used when the function does not run."""
        invocation_type = parse_invocation_type(request.header("X-Amz-Invocation-Type"))
        if isinstance(invocation_type, ApiError):
            return _error_reply(invocation_type, None, request_id)

        found = self._find(function_name, request.query_value("Qualifier"))
        if isinstance(found, ApiError):
            return _error_reply(found, None, request_id)

        limit = (
            MAX_EVENT_PAYLOAD_BYTES
            if invocation_type is InvocationType.EVENT
            else MAX_SYNC_PAYLOAD_BYTES
        )
        payload, size = await request.read_body(limit)
        if payload is None:
            error = payload_too_large(size, limit, invocation_type)
            return _error_reply(error, found.address, request_id)

        invalid = check_payload(payload)
        if invalid is not None:
            return _error_reply(invalid, found.address, request_id)

        event = payload or b"{}"
        if invocation_type is InvocationType.DRY_RUN:
            return InvokeReply(204, _common_headers(request_id), b"", found.address, request_id)
        if invocation_type is InvocationType.EVENT:
            self._start_background(found, event, request_id)
            return InvokeReply(202, _common_headers(request_id), b"", found.address, request_id)
        return await self._request_response(found, event, request_id)

    def _find(self, text: str, qualifier: str | None) -> Function | ApiError:
        identifier = parse_function_identifier(text, qualifier)
        if isinstance(identifier, ApiError):
            return identifier

        function = self._functions.get(identifier.name)
        # NOTE: versions and aliases are not emulated, so only $LATEST (or no qualifier) runs.
        if function is None or identifier.qualifier not in (None, LATEST):
            arn = function_arn(self._region, self._account_id, identifier.name, identifier.qualifier)
            return function_not_found(arn)
        return function

    async def _request_response(
        self, function: Function, event: bytes, request_id: str
    ) -> InvokeReply:
        try:
            result = await self._invoke(function.address, event)
        except Exception as error:  # a failure of the daemon's invoke is the service's error
            logger.warning("Invocation of %s failed: %r", function.address, error)
            self._log(function.name, f"Invocation failed: {error}", request_id)
            failure = ApiError(500, "ServiceException", f"The invocation failed: {error}")
            return _error_reply(failure, function.address, request_id)

        # NOTE: X-Amz-Log-Type: Tail is ignored and X-Amz-Log-Result is never sent, because the
        # worker log records of one invocation are not collected in one place yet.
        headers = _common_headers(result.request_id or request_id)
        if result.function_error is not None:
            headers += (("X-Amz-Function-Error", result.function_error),)
        return InvokeReply(
            200, headers, result.payload, function.address, result.request_id or request_id
        )

    def _start_background(self, function: Function, event: bytes, request_id: str) -> None:
        task = asyncio.ensure_future(self._run_event(function, event, request_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run_event(self, function: Function, event: bytes, request_id: str) -> None:
        """Run an Event invocation. Its result is dropped, as Lambda drops it without a destination."""
        started = time.perf_counter()
        try:
            result = await self._invoke(function.address, event)
        except Exception as error:  # logged, because no caller waits for this result
            logger.warning("Event invocation of %s failed: %r", function.address, error)
            self._log(function.name, f"Event invocation failed: {error}", request_id)
            return

        # NOTE: Lambda retries a failed Event invocation twice; devd runs it once.
        if result.function_error is not None:
            self._log(
                function.name,
                f"Event invocation {result.request_id} ended with a function error "
                f"({result.function_error}) after {(time.perf_counter() - started) * 1000:.0f} ms",
                result.request_id,
            )

    def _log(self, source: str, text: str, request_id: str) -> None:
        self._on_log(LogRecord(source=source, text=text, level=Level.ERROR, request_id=request_id))


def record_for(reply: InvokeReply, path: str, started: float) -> RequestRecord:
    """Return the request record that the gateway reports for an Invoke request."""
    duration_ms = (time.perf_counter() - started) * 1000
    return RequestRecord("POST", path, reply.status, duration_ms, reply.function, reply.request_id)


def _common_headers(request_id: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("X-Amz-Executed-Version", LATEST),
    )


def _error_reply(error: ApiError, function: str | None, request_id: str) -> InvokeReply:
    headers = (
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", error.error_type),
    )
    return InvokeReply(error.status, headers, error.body(), function, request_id)
