"""CORS preflight responses and the CORS headers of normal responses, for HTTP APIs."""

from __future__ import annotations

from devd.inventory import ApiKind, Cors, Route
from devd.runtime.cors import apply_cors, is_preflight, preflight_response
from devd.runtime.responses import HttpResponse
from devd.runtime.routing import RouteTable

CONFIGURED = Cors(
    allow_origins=("https://app.example", "https://*.preview.example"),
    allow_methods=("GET", "PUT"),
    allow_headers=("content-type",),
    expose_headers=("x-total", "x-page"),
    max_age=600,
    allow_credentials=True,
)
PREFLIGHT = (("Origin", "https://app.example"), ("Access-Control-Request-Method", "PUT"))


def headers_of(response: HttpResponse) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers}


def test_preflight_detection() -> None:
    assert is_preflight("OPTIONS", PREFLIGHT)
    assert not is_preflight("OPTIONS", (("Origin", "https://app.example"),))
    assert not is_preflight("GET", PREFLIGHT)


def test_preflight_allowed_origin() -> None:
    response = preflight_response(CONFIGURED, PREFLIGHT)
    headers = headers_of(response)

    assert response.status == 204
    assert response.body == b""
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,PUT"
    assert headers["access-control-allow-headers"] == "content-type"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-allow-credentials"] == "true"


def test_preflight_wildcard_origin_pattern() -> None:
    request = (("Origin", "https://pr-7.preview.example"), PREFLIGHT[1])

    headers = headers_of(preflight_response(CONFIGURED, request))

    assert headers["access-control-allow-origin"] == "https://pr-7.preview.example"


def test_preflight_star_echoes_request() -> None:
    cors = Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))
    request = (*PREFLIGHT, ("Access-Control-Request-Headers", "x-one,x-two"))

    headers = headers_of(preflight_response(cors, request))

    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "PUT"
    assert headers["access-control-allow-headers"] == "x-one,x-two"
    assert "access-control-max-age" not in headers
    assert "access-control-allow-credentials" not in headers


def test_preflight_unknown_origin_has_no_headers() -> None:
    request = (("Origin", "https://other.example"), PREFLIGHT[1])

    response = preflight_response(CONFIGURED, request)

    assert response.status == 204
    assert response.headers == ()


def test_configured_headers_replace_function_headers() -> None:
    returned = HttpResponse(
        200,
        (("Content-Type", "text/plain"), ("Access-Control-Allow-Origin", "*"), ("access-control-max-age", "1")),
        b"ok",
    )

    response = apply_cors(returned, CONFIGURED, (("Origin", "https://app.example"),))

    assert response.headers == (
        ("Content-Type", "text/plain"),
        ("Access-Control-Allow-Origin", "https://app.example"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Expose-Headers", "x-total,x-page"),
    )
    assert response.body == b"ok"


def test_function_headers_removed_without_origin() -> None:
    returned = HttpResponse(200, (("Access-Control-Allow-Origin", "*"),), b"")

    assert apply_cors(returned, CONFIGURED, ()).headers == ()


def test_cors_for_path_of_rest_route_is_none() -> None:
    http = Route(ApiKind.HTTP, "aws_apigatewayv2_api.a", "GET", "/h", "2.0", "f", "$default", CONFIGURED)
    rest = Route(ApiKind.REST, "aws_api_gateway_rest_api.r", "GET", "/r", "1.0", "f", "dev")
    table = RouteTable.from_routes([http, rest])

    assert table.cors_for("GET", "/h") == CONFIGURED
    assert table.cors_for("GET", "/r") is None
    assert table.cors_for("GET", "/elsewhere") == CONFIGURED
    assert RouteTable.from_routes([rest]).cors_for("GET", "/elsewhere") is None
