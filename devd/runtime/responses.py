"""HTTP responses built from Lambda invocation results, and API Gateway's error responses.

REST APIs and HTTP API payload 1.0 require an object with an integer `statusCode`. Payload
2.0 also accepts any other JSON value and wraps it in a 200 response. A response that breaks
these rules gets API Gateway's error response plus a log message that names the fix.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from devd.inventory import ApiKind, Route
from devd.runtime.invoke import InvokeResult

MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit for a request body (10 MB)."""

MAX_RESPONSE_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda's payload limit for a synchronous invocation response (6 MB)."""

JSON_CONTENT_TYPE = "application/json"

_REST_ERROR_BODY = b'{"message": "Internal server error"}'
_HTTP_ERROR_BODY = b'{"message":"Internal Server Error"}'
_FIX_HINT = (
    'Return an object such as {"statusCode": 200, "headers": {}, "body": "..."}, '
    "with body as a string."
)
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NOT_SENT = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True)
class HttpResponse:
    """A response ready to send: status, headers in order with repeats, and body bytes."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class MappedResponse:
    """The response for one invocation, and a log message when the result was unusable."""

    response: HttpResponse
    log_message: str | None = None


class MalformedResponse(ValueError):
    """A Lambda result that API Gateway cannot turn into an HTTP response."""


def map_result(route: Route, result: InvokeResult) -> MappedResponse:
    """Map an invocation result to the response that the route's API kind would send.

    A function error gets no log message here, because the worker that ran the function
    already logged its error document with the stack.
    """
    if result.function_error is not None:
        return MappedResponse(error_response(route.api), None)

    size = len(result.payload)
    if size > MAX_RESPONSE_PAYLOAD_BYTES:
        message = (
            f"The function's response is {size} bytes, over the {MAX_RESPONSE_PAYLOAD_BYTES}-byte "
            "(6 MB) limit of Lambda for synchronous invocations, so API Gateway rejects it. "
            "Return a smaller body, or store large content elsewhere and return a link to it."
        )
        return MappedResponse(error_response(route.api), message)

    try:
        if route.api is ApiKind.HTTP and route.payload_version == "2.0":
            response = _map_v2(result.payload)
        else:
            response = _map_v1(result.payload)
    except MalformedResponse as error:
        message = f"Malformed Lambda proxy response: {error}"
        return MappedResponse(error_response(route.api), message)
    return MappedResponse(response)


def error_response(api: ApiKind) -> HttpResponse:
    """Return API Gateway's response to a failed integration: 502 for REST, 500 for HTTP APIs."""
    if api is ApiKind.REST:
        return _json_response(502, _REST_ERROR_BODY)
    return _json_response(500, _HTTP_ERROR_BODY)


def integration_timeout_response(api: ApiKind) -> HttpResponse:
    """Return API Gateway's response when the integration timed out.

    REST APIs respond 504 "Endpoint request timed out" and HTTP APIs 503 "Service Unavailable".
    """
    if api is ApiKind.REST:
        return _json_response(504, b'{"message": "Endpoint request timed out"}')
    return _json_response(503, b'{"message":"Service Unavailable"}')


def not_found_response(rest_only: bool) -> HttpResponse:
    """Return the response for a request that no route matches.

    REST APIs respond 403 "Missing Authentication Token" and HTTP APIs respond 404 "Not
    Found". A port that serves both kinds uses 404 unless every route on it is REST.
    """
    if rest_only:
        return _json_response(403, b'{"message":"Missing Authentication Token"}')
    return _json_response(404, b'{"message":"Not Found"}')


def request_too_large_response() -> HttpResponse:
    """Return the 413 response to a request body over MAX_REQUEST_BODY_BYTES."""
    return _json_response(413, b'{"message":"Request Entity Too Large"}')


def _json_response(status: int, body: bytes) -> HttpResponse:
    return HttpResponse(status, (("Content-Type", JSON_CONTENT_TYPE),), body)


def _map_v1(payload: bytes) -> HttpResponse:
    """Map a REST or payload 1.0 result, which must be an object with statusCode."""
    value = _parse(payload)
    if not isinstance(value, dict):
        raise MalformedResponse(
            f"the function returned a JSON {_json_kind(value)}, not an object. {_FIX_HINT}"
        )

    status = _status(value)
    headers = _headers(value.get("headers"), "headers")
    multi = _multi_value_headers(value.get("multiValueHeaders"))
    overridden = {name.lower() for name, _ in multi}
    merged = [(n, v) for n, v in headers if n.lower() not in overridden] + multi

    body = _body(value)
    return _finish(status, merged, body)


def _map_v2(payload: bytes) -> HttpResponse:
    """Map a payload 2.0 result. A value without statusCode becomes a 200 JSON response."""
    value = _parse(payload)
    if isinstance(value, str):
        return _finish(200, [], value.encode("utf-8"))
    if not isinstance(value, dict) or "statusCode" not in value:
        return _finish(200, [], payload.strip())

    status = _status(value)
    headers = _headers(value.get("headers"), "headers")
    cookies = value.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResponse(
                'cookies must be a list of strings, such as ["session=abc; HttpOnly"].'
            )
        headers += [("Set-Cookie", _checked_value("Set-Cookie", cookie)) for cookie in cookies]

    body = _body(value)
    return _finish(status, headers, body)


def _finish(status: int, headers: list[tuple[str, str]], body: bytes) -> HttpResponse:
    """Drop headers that the server sets itself and add the default Content-Type."""
    sendable = [(name, value) for name, value in headers if name.lower() not in _NOT_SENT]
    if not any(name.lower() == "content-type" for name, _ in sendable):
        sendable.insert(0, ("Content-Type", JSON_CONTENT_TYPE))
    if status in _NO_BODY_STATUSES:
        body = b""
    return HttpResponse(status, tuple(sendable), body)


def _parse(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        preview = payload[:80].decode("utf-8", errors="replace")
        raise MalformedResponse(
            f"the function's response is not valid JSON (it starts with {preview!r}). {_FIX_HINT}"
        ) from None


def _status(value: dict[str, Any]) -> int:
    if "statusCode" not in value:
        raise MalformedResponse(f"statusCode is missing. {_FIX_HINT}")

    status = value["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int):
        raise MalformedResponse(
            f"statusCode must be an integer such as 200, got {json.dumps(status)}."
        )
    if not 200 <= status <= 599:
        raise MalformedResponse(f"statusCode must be from 200 to 599, got {status}.")
    return status


def _body(value: dict[str, Any]) -> bytes:
    body = value.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(
            f"body must be a string, got a JSON {_json_kind(body)}. Serialize it first, "
            "with JSON.stringify(body) in Node.js or json.dumps(body) in Python."
        )

    is_base64 = value.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise MalformedResponse(
            f"isBase64Encoded must be true or false, got {json.dumps(is_base64)}."
        )
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedResponse(
            "isBase64Encoded is true but body is not valid base64. Encode the bytes with "
            "Buffer.toString('base64') in Node.js or base64.b64encode in Python."
        ) from None


def _headers(headers: Any, field_name: str) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise MalformedResponse(
            f'{field_name} must be an object such as {{"Content-Type": "text/plain"}}, '
            f"got a JSON {_json_kind(headers)}."
        )

    pairs = []
    for name, value in headers.items():
        if value is None:
            continue
        pairs.append((_checked_name(name), _checked_value(name, _scalar(name, value))))
    return pairs


def _multi_value_headers(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise MalformedResponse(
            'multiValueHeaders must be an object such as {"Set-Cookie": ["a=1", "b=2"]}, '
            f"got a JSON {_json_kind(headers)}."
        )

    pairs = []
    for name, values in headers.items():
        if values is None:
            continue
        if not isinstance(values, list):
            raise MalformedResponse(
                f"multiValueHeaders[{name!r}] must be a list of strings, "
                f"got a JSON {_json_kind(values)}."
            )
        checked_name = _checked_name(name)
        for value in values:
            pairs.append((checked_name, _checked_value(name, _scalar(name, value))))
    return pairs


def _scalar(name: str, value: Any) -> str:
    """Convert a header value to text, writing numbers and booleans as JSON does."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    raise MalformedResponse(
        f"the value of header {name!r} must be a string, got a JSON {_json_kind(value)}."
    )


def _checked_name(name: str) -> str:
    if not _TOKEN.match(name):
        raise MalformedResponse(f"header name {name!r} is not a valid HTTP header name.")
    return name


def _checked_value(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise MalformedResponse(f"the value of header {name!r} contains a line break.")
    return value


def _json_kind(value: Any) -> str:
    """Name the JSON type of a decoded value, as a JavaScript developer would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
