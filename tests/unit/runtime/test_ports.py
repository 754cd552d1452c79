"""Port groups for APIs whose routes collide, and the local URL of each route."""

from __future__ import annotations

from devd.inventory import ApiKind, Route
from devd.runtime.ports import plan_ports, predicted_ports, route_path, route_urls

FIRST = "aws_apigatewayv2_api.a"
SECOND = "aws_apigatewayv2_api.b"
THIRD = "aws_api_gateway_rest_api.c"


def route(api: str, method: str, path: str, stage: str | None = "$default") -> Route:
    kind = ApiKind.REST if "rest_api" in api else ApiKind.HTTP
    return Route(kind, api, method, path, "2.0", "aws_lambda_function.f", stage)


def test_distinct_routes_share_main_port() -> None:
    routes = [route(FIRST, "GET", "/a"), route(SECOND, "GET", "/b")]

    assert predicted_ports(routes, 3000, {}) == {FIRST: 3000, SECOND: 3000}


def test_later_api_gets_next_port() -> None:
    # Addresses sort as aws_api_gateway_rest_api.c, aws_apigatewayv2_api.a, aws_apigatewayv2_api.b.
    routes = [route(SECOND, "GET", "/items"), route(FIRST, "GET", "/items"), route(THIRD, "GET", "/items", "dev")]

    ports = predicted_ports(routes, 3000, {})

    assert ports == {THIRD: 3000, FIRST: 3001, SECOND: 3002}


def test_configured_port_wins() -> None:
    routes = [route(FIRST, "GET", "/items"), route(SECOND, "GET", "/items"), route(THIRD, "GET", "/other", "dev")]

    ports = predicted_ports(routes, 3000, {SECOND: 3001, THIRD: 4000})

    assert ports == {FIRST: 3000, SECOND: 3001, THIRD: 4000}


def test_next_port_skips_configured() -> None:
    third = "aws_apigatewayv2_api.z"
    routes = [route(FIRST, "GET", "/x"), route(SECOND, "GET", "/x"), route(third, "GET", "/x")]

    ports = predicted_ports(routes, 3000, {SECOND: 3001})

    assert ports == {FIRST: 3000, SECOND: 3001, third: 3002}


def test_default_routes_collide() -> None:
    routes = [route(FIRST, "ANY", "$default"), route(SECOND, "ANY", "$default")]

    groups = plan_ports(routes, 0, {})

    assert groups[0].main
    assert groups[0].apis == {FIRST}
    assert groups[1].apis == {SECOND}
    assert groups[1].port == 0


def test_rest_stage_prefix_collides() -> None:
    rest = route(THIRD, "GET", "/items", "dev")
    http = route(FIRST, "GET", "/dev/items")

    assert predicted_ports([http, rest], 3000, {}) == {THIRD: 3000, FIRST: 3001}
    assert predicted_ports([route(FIRST, "GET", "/elsewhere"), rest], 3000, {}) == {THIRD: 3000, FIRST: 3000}


def test_route_paths_and_urls() -> None:
    staged = route(FIRST, "GET", "/items/{id}", "beta")
    default = route(SECOND, "ANY", "$default")
    rest = route(THIRD, "POST", "/items", "dev")

    assert route_path(staged) == "/beta/items/{id}"
    assert route_path(default) == "/"
    assert route_path(rest) == "/items"
    urls = route_urls([staged, rest], "0.0.0.0", {FIRST: 3000, THIRD: 3001})
    assert urls == {staged: "http://127.0.0.1:3000/beta/items/{id}", rest: "http://127.0.0.1:3001/items"}
