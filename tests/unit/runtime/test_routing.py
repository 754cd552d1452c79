"""Route selection: precedence, path parameters, methods and REST stages."""

from __future__ import annotations

import itertools

import pytest

from devd.errors import ConfigError
from devd.inventory import ApiKind, Route
from devd.runtime.routing import RouteTable, match_route


def http_route(key: str, function: str | None = None) -> Route:
    method, _, path = key.partition(" ")
    if key == "$default":
        method, path = "ANY", "$default"
    return Route(
        api=ApiKind.HTTP,
        api_address="aws_apigatewayv2_api.main",
        method=method,
        path=path,
        payload_version="2.0",
        function=function or f"aws_lambda_function.{key}",
    )


def rest_route(method: str, path: str, stage: str | None = "dev") -> Route:
    return Route(
        api=ApiKind.REST,
        api_address="aws_api_gateway_rest_api.main",
        method=method,
        path=path,
        payload_version="1.0",
        function="aws_lambda_function.rest",
        stage=stage,
    )


PRECEDENCE_ROUTES = [
    http_route("$default"),
    http_route("ANY /{proxy+}"),
    http_route("GET /pets/{proxy+}"),
    http_route("GET /pets/dog/{id}"),
    http_route("GET /pets/dog/1"),
]


@pytest.mark.parametrize(
    ("method", "path", "expected_key", "expected_parameters"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", {}),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
        ("POST", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
        ("GET", "/", "$default", {}),
    ],
)
def test_precedence_table(method, path, expected_key, expected_parameters):
    match = match_route(PRECEDENCE_ROUTES, method, path)

    assert match is not None
    assert match.route.key == expected_key
    assert match.path_parameters == expected_parameters


def test_declaration_order_never_matters():
    for order in itertools.permutations(PRECEDENCE_ROUTES):
        table = RouteTable.from_routes(order)

        assert table.match("GET", "/pets/dog/1").route.key == "GET /pets/dog/1"
        assert table.match("GET", "/pets/dog/2").route.key == "GET /pets/dog/{id}"
        assert table.match("GET", "/pets/cat/1").route.key == "GET /pets/{proxy+}"
        assert table.match("POST", "/test/5").route.key == "ANY /{proxy+}"


@pytest.mark.parametrize(
    ("method", "path", "expected_key"),
    [
        ("OPTIONS", "/zap", "OPTIONS /{proxy+}"),
        ("POST", "/zap", "POST /zap"),
        ("GET", "/zap", None),
    ],
)
def test_greedy_method_route(method, path, expected_key):
    routes = [http_route("POST /zap"), http_route("OPTIONS /{proxy+}")]

    match = match_route(routes, method, path)

    assert (match.route.key if match else None) == expected_key


def test_specific_method_beats_any_on_same_path():
    routes = [http_route("ANY /items/{id}"), http_route("GET /items/{id}")]

    assert match_route(routes, "GET", "/items/7").route.key == "GET /items/{id}"
    assert match_route(routes, "DELETE", "/items/7").route.key == "ANY /items/{id}"


def test_literal_segment_beats_parameter():
    routes = [http_route("GET /users/{id}"), http_route("GET /users/me")]

    assert match_route(routes, "GET", "/users/me").route.key == "GET /users/me"
    assert match_route(routes, "GET", "/users/you").path_parameters == {"id": "you"}


def test_longer_greedy_prefix_wins():
    routes = [http_route("GET /{proxy+}"), http_route("GET /files/{path+}")]

    match = match_route(routes, "GET", "/files/a/b.txt")

    assert match.route.key == "GET /files/{path+}"
    assert match.path_parameters == {"path": "a/b.txt"}


def test_greedy_needs_one_segment():
    routes = [http_route("GET /pets/{proxy+}")]

    assert match_route(routes, "GET", "/pets") is None
    assert match_route(routes, "GET", "/pets/") is None
    assert match_route(routes, "GET", "/pets/x").path_parameters == {"proxy": "x"}


def test_parameter_needs_one_segment():
    routes = [http_route("GET /items/{id}")]

    assert match_route(routes, "GET", "/items/") is None
    assert match_route(routes, "GET", "/items/1/2") is None


def test_path_parameters_decoded_once():
    routes = [http_route("GET /files/{name}"), http_route("GET /raw/{proxy+}")]

    assert match_route(routes, "GET", "/files/a%20b").path_parameters == {"name": "a b"}
    assert match_route(routes, "GET", "/files/a%2Fb").path_parameters == {"name": "a/b"}
    assert match_route(routes, "GET", "/files/100%2525").path_parameters == {"name": "100%25"}
    assert match_route(routes, "GET", "/raw/x%20y/z").path_parameters == {"proxy": "x y/z"}


def test_invalid_utf8_escape_is_replaced():
    routes = [http_route("GET /files/{name}")]

    match = match_route(routes, "GET", "/files/%FF")

    assert match.path_parameters == {"name": "\ufffd"}


def test_trailing_slash_matches():
    routes = [http_route("GET /hello")]

    assert match_route(routes, "GET", "/hello/").route.key == "GET /hello"


def test_root_route():
    routes = [http_route("GET /"), http_route("GET /{proxy+}")]

    assert match_route(routes, "GET", "/").route.key == "GET /"
    assert match_route(routes, "GET", "/a").route.key == "GET /{proxy+}"


def test_no_routes_matches_nothing():
    assert match_route([], "GET", "/") is None


def test_rest_stage_prefix_is_stripped():
    routes = [rest_route("POST", "/{proxy+}")]

    match = match_route(routes, "POST", "/dev/hello/world")

    assert match.path == "/hello/world"
    assert match.path_parameters == {"proxy": "hello/world"}


def test_rest_route_served_without_stage():
    routes = [rest_route("POST", "/{proxy+}")]

    match = match_route(routes, "POST", "/hello/world")

    assert match.path == "/hello/world"
    assert match.path_parameters == {"proxy": "hello/world"}


def test_rest_stage_root():
    routes = [rest_route("GET", "/")]

    assert match_route(routes, "GET", "/dev").path == "/"
    assert match_route(routes, "GET", "/dev/").path == "/"
    assert match_route(routes, "GET", "/").path == "/"


def test_stage_prefix_needs_rest_stage():
    routes = [rest_route("GET", "/hello", stage=None), http_route("GET /hello")]

    assert match_route(routes, "GET", "/dev/hello") is None


def test_stage_falls_back_to_full_path():
    routes = [rest_route("GET", "/items"), http_route("GET /dev/{name}")]

    match = match_route(routes, "GET", "/dev/other")

    assert match.route.key == "GET /dev/{name}"
    assert match.path == "/dev/other"


def test_rest_only_table():
    rest = [rest_route("GET", "/a")]
    mixed = [rest_route("GET", "/a"), http_route("GET /b")]

    assert RouteTable.from_routes(rest).rest_only is True
    assert RouteTable.from_routes(mixed).rest_only is False
    assert RouteTable.from_routes([]).rest_only is False


def test_misplaced_greedy_variable_raises():
    with pytest.raises(ConfigError, match=r"\{proxy\+\} must be the last segment"):
        RouteTable.from_routes([http_route("GET /{proxy+}/edit")])


def test_method_case_is_ignored():
    routes = [http_route("GET /a")]

    assert match_route(routes, "get", "/a").route.key == "GET /a"


def test_rest_stage_root_not_greedy_parameter():
    routes = [rest_route("ANY", "/{proxy+}")]

    assert match_route(routes, "GET", "/dev") is None
    assert match_route(routes, "GET", "/dev/x").path_parameters == {"proxy": "x"}
    assert match_route(routes, "GET", "/other").path_parameters == {"proxy": "other"}


def test_http_named_stage_needs_prefix():
    staged = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "GET", "/items/{id}", "2.0", "f", "beta")

    match = match_route([staged], "GET", "/beta/items/3")

    assert match.route == staged
    assert match.path == "/beta/items/3"
    assert match.path_parameters == {"id": "3"}
    assert match_route([staged], "GET", "/items/3") is None


def test_http_named_stage_default_route():
    staged = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "ANY", "$default", "2.0", "f", "beta")

    assert match_route([staged], "GET", "/beta/anything").route == staged
    assert match_route([staged], "GET", "/anything") is None


def test_http_default_stage_has_no_prefix():
    route = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "GET", "/items", "2.0", "f", "$default")

    assert match_route([route], "GET", "/items").path == "/items"
