"""Lambda proxy events built from an HTTP request, in the shapes API Gateway sends.

REST APIs send the v1 proxy event. HTTP APIs send payload format 1.0 (the v1 event with
`version: "1.0"`) or 2.0, as the route's integration chooses. The builders are pure, so the
caller passes the clock, the request id and the account id.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from devd.inventory import ApiKind, Route
from devd.runtime.routing import DEFAULT_ROUTE_PATH, RouteMatch

DEFAULT_STAGE = "$default"

_TEXT_TYPES = frozenset(
    {"application/json", "application/xml", "application/x-www-form-urlencoded"}
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NULL_IDENTITY_FIELDS = (
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
)


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the gateway received it.

    `path` is percent-encoded as sent and has no query string. `raw_query` is the text after
    "?", as sent. `headers` keeps names as sent, in order, with repeats.
    """

    method: str
    path: str
    raw_query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


def build_event(
    request: HttpRequest,
    match: RouteMatch,
    *,
    request_id: str,
    now: float,
    account_id: str,
) -> dict[str, Any]:
    """Build the event for the route's API kind and payload version.

    `now` is the request time in seconds since the epoch. `request_id` is the API Gateway
    request id that the event's requestContext carries.
    """
    route = match.route
    if route.api is ApiKind.HTTP and route.payload_version == "2.0":
        return build_v2_event(request, match, request_id=request_id, now=now, account_id=account_id)
    return build_v1_event(request, match, request_id=request_id, now=now, account_id=account_id)


def build_v1_event(
    request: HttpRequest,
    match: RouteMatch,
    *,
    request_id: str,
    now: float,
    account_id: str,
) -> dict[str, Any]:
    """Build a REST proxy event, or an HTTP API payload 1.0 event for an HTTP route."""
    route = match.route
    headers, multi_headers = _v1_headers(request.headers)
    query, multi_query = _v1_query(request.raw_query)
    body, is_base64 = encode_body(request.headers, request.body)
    resource = match.path if route.path == DEFAULT_ROUTE_PATH else route.path
    domain = _domain_name(request.headers)

    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id(route.api_address),
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "extendedRequestId": request_id,
        "httpMethod": request.method,
        "identity": _identity(request),
        "path": _context_path(route, match.path),
        "protocol": request.protocol,
        "requestId": request_id,
        "requestTime": format_request_time(now),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": None,
        "resourcePath": resource,
        "stage": route.stage or DEFAULT_STAGE,
    }

    # NOTE: `path` here and `rawPath` in 2.0 keep the percent-encoding as sent. Whether AWS
    # decodes them has not been checked against a deployed API.
    event: dict[str, Any] = {
        "resource": resource,
        "path": match.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    }
    if route.api is ApiKind.HTTP:
        event = {"version": "1.0", **event}
    return event


def build_v2_event(
    request: HttpRequest,
    match: RouteMatch,
    *,
    request_id: str,
    now: float,
    account_id: str,
) -> dict[str, Any]:
    """Build an HTTP API payload 2.0 event."""
    route = match.route
    headers, cookies = _v2_headers(request.headers)
    query = _v2_query(request.raw_query)
    body, is_base64 = encode_body(request.headers, request.body)
    domain = _domain_name(request.headers)

    context = {
        "accountId": account_id,
        "apiId": api_id(route.api_address),
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": match.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.key,
        "stage": route.stage or DEFAULT_STAGE,
        "time": format_request_time(now),
        "timeEpoch": int(now * 1000),
    }

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": match.path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = context
    if match.path_parameters:
        event["pathParameters"] = match.path_parameters
    if request.body:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def encode_body(headers: tuple[tuple[str, str], ...], body: bytes) -> tuple[str | None, bool]:
    """Return the event's body field and isBase64Encoded flag for a request body.

    Text content types are sent as strings when the bytes are valid UTF-8. Any other body,
    and text that is not valid UTF-8, is sent base64-encoded.
    """
    if not body:
        return None, False

    content_type = _last_header(headers, "content-type")
    if content_type is None or is_text_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def is_text_type(content_type: str) -> bool:
    """Tell whether a Content-Type value names a text format that the event carries as is."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith("+json")
    )


@functools.lru_cache(maxsize=256)
def api_id(api_address: str) -> str:
    """Derive a stable 10-character API id from the API's Terraform address."""
    return hashlib.sha256(api_address.encode("utf-8")).hexdigest()[:10]


def format_request_time(now: float) -> str:
    """Format a time as API Gateway does in requestContext, such as "12/Mar/2020:19:03:58 +0000"."""
    return _format_second(int(now))


@functools.lru_cache(maxsize=4)
def _format_second(second: int) -> str:
    moment = time.gmtime(second)
    return (
        f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{moment.tm_year}:"
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d} +0000"
    )


def _context_path(route: Route, path: str) -> str:
    """Return requestContext.path, which carries the stage prefix for REST stages."""
    if route.api is ApiKind.REST and route.stage:
        return f"/{route.stage}{path}"
    return path


def _identity(request: HttpRequest) -> dict[str, Any]:
    identity: dict[str, Any] = {name: None for name in _NULL_IDENTITY_FIELDS}
    identity["sourceIp"] = request.source_ip
    identity["userAgent"] = _last_header(request.headers, "user-agent")
    return identity


def _domain_name(headers: tuple[tuple[str, str], ...]) -> str:
    return _last_header(headers, "host") or "localhost"


def _last_header(headers: tuple[tuple[str, str], ...], lower_name: str) -> str | None:
    found = None
    for name, value in headers:
        if name.lower() == lower_name:
            found = value
    return found


def _v1_headers(
    headers: tuple[tuple[str, str], ...],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Return headers with the last value per name, and every value per name."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _v2_headers(headers: tuple[tuple[str, str], ...]) -> tuple[dict[str, str], list[str]]:
    """Return lower-cased headers with repeats joined by ",", and the request's cookies.

    Cookie headers become the cookie list, split on "; ", and are left out of the headers.
    """
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.extend(part for part in value.split("; ") if part)
            continue
        joined[lower] = f"{joined[lower]},{value}" if lower in joined else value
    return joined, cookies


def _v1_query(raw_query: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True, errors="replace"):
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _v2_query(raw_query: str) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True, errors="replace"):
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined
