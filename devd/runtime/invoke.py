"""The value that one Lambda invocation produces, shared by the worker pool and the gateway."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one invocation, as the Lambda Runtime API reports it.

    `payload` is the handler's JSON response, or the error document as JSON when
    `function_error` is set. `function_error` is None on success and "Unhandled" for thrown
    errors, crashes and timeouts. `duration_ms` is the handler's run time in milliseconds.
    `error_type` is the `errorType` of the error document, such as "Sandbox.Timedout".
    """

    request_id: str
    payload: bytes
    function_error: str | None = None
    duration_ms: float = 0.0
    error_type: str | None = None
