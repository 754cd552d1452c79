"""CORS for HTTP APIs with a `cors_configuration`, as API Gateway applies it.

The gateway responds to a preflight request itself unless a route matches OPTIONS (an OPTIONS or
ANY route, or $default). On other responses the configured CORS headers replace any
`Access-Control-*` headers that the function returned. REST APIs have no such configuration,
so their OPTIONS requests go to routes like any other method.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from devd.inventory import Cors
from devd.runtime.responses import HttpResponse

_PREFIX = "access-control-"


def is_preflight(method: str, headers: tuple[tuple[str, str], ...]) -> bool:
    """Tell whether a request is a CORS preflight: OPTIONS with Origin and a requested method."""
    if method.upper() != "OPTIONS":
        return False
    names = {name.lower() for name, _ in headers}
    return "origin" in names and "access-control-request-method" in names


def header_value(headers: tuple[tuple[str, str], ...], lower_name: str) -> str | None:
    """Return the last value of a request header, or None when it is absent."""
    found = None
    for name, value in headers:
        if name.lower() == lower_name:
            found = value
    return found


def preflight_response(cors: Cors, headers: tuple[tuple[str, str], ...]) -> HttpResponse:
    """Return the 204 response to a preflight, with CORS headers when the origin is allowed."""
    origin = header_value(headers, "origin") or ""
    allowed_origin = _allowed_origin(cors, origin)
    if allowed_origin is None:
        return HttpResponse(204, (), b"")

    requested_method = header_value(headers, "access-control-request-method") or ""
    requested_headers = header_value(headers, "access-control-request-headers") or ""
    methods = requested_method if "*" in cors.allow_methods else ",".join(cors.allow_methods)
    allowed_headers = requested_headers if "*" in cors.allow_headers else ",".join(cors.allow_headers)

    result = [("Access-Control-Allow-Origin", allowed_origin)]
    if methods:
        result.append(("Access-Control-Allow-Methods", methods))
    if allowed_headers:
        result.append(("Access-Control-Allow-Headers", allowed_headers))
    if cors.max_age is not None:
        result.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        result.append(("Access-Control-Allow-Credentials", "true"))
    return HttpResponse(204, tuple(result), b"")


def apply_cors(response: HttpResponse, cors: Cors, headers: tuple[tuple[str, str], ...]) -> HttpResponse:
    """Replace the function's CORS headers with the configured ones for the request's origin."""
    sent = [(name, value) for name, value in response.headers if not name.lower().startswith(_PREFIX)]
    origin = header_value(headers, "origin")
    allowed_origin = _allowed_origin(cors, origin) if origin else None
    if allowed_origin is not None:
        sent.append(("Access-Control-Allow-Origin", allowed_origin))
        if cors.allow_credentials:
            sent.append(("Access-Control-Allow-Credentials", "true"))
        if cors.expose_headers:
            sent.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    return HttpResponse(response.status, tuple(sent), response.body)


def _allowed_origin(cors: Cors, origin: str) -> str | None:
    """Return the Access-Control-Allow-Origin value for an origin, or None when it is not allowed.

    An entry with "*" inside, such as "https://*.example.com", matches like a shell pattern.
    """
    if not origin:
        return None
    if "*" in cors.allow_origins:
        return "*"
    for allowed in cors.allow_origins:
        if allowed.lower() == origin.lower() or ("*" in allowed and fnmatchcase(origin, allowed)):
            return origin
    return None
