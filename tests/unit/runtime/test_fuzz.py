"""Property tests: routing, event building and response mapping on generated input.

Each property states what must hold for any request or result a client or function could
send, including paths with escapes, dot segments and invalid UTF-8.
"""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from devd.inventory import ApiKind, Route
from devd.runtime.events import HttpRequest, build_event
from devd.runtime.invoke import InvokeResult
from devd.runtime.responses import map_result
from devd.runtime.routing import RouteTable

HTTP_API = "aws_apigatewayv2_api.main"
REST_API = "aws_api_gateway_rest_api.main"
METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "ANY")

literal = st.text(alphabet="abcxyz019-_.", min_size=1, max_size=6)
parameter = st.sampled_from(["{id}", "{name}", "{part}"])
segment = st.one_of(literal, parameter)


@st.composite
def route_paths(draw) -> str:
    segments = draw(st.lists(segment, max_size=4))
    names_seen: set[str] = set()
    unique = []
    for part in segments:
        if part.startswith("{"):
            if part in names_seen:
                continue
            names_seen.add(part)
        unique.append(part)
    if draw(st.booleans()):
        unique.append("{proxy+}")
    return "/" + "/".join(unique)


@st.composite
def routes(draw) -> Route:
    api = draw(st.sampled_from([ApiKind.HTTP, ApiKind.REST]))
    path = draw(st.one_of(route_paths(), st.just("$default"))) if api is ApiKind.HTTP else draw(route_paths())
    method = "ANY" if path == "$default" else draw(st.sampled_from(METHODS))
    if api is ApiKind.REST:
        return Route(api, REST_API, method, path, "1.0", "aws_lambda_function.f", "dev")
    version = draw(st.sampled_from(["1.0", "2.0"]))
    return Route(api, HTTP_API, method, path, version, "aws_lambda_function.f", "$default")


request_segment = st.one_of(
    literal,
    st.sampled_from(["..", ".", "%2F", "a%2Fb", "%ff", "%", "%e2%82", "dev", "{id}", ""]),
    st.text(max_size=5).map(lambda text: quote(text, safe="")),
)
request_paths = st.lists(request_segment, max_size=6).map(lambda parts: "/" + "/".join(parts))
header_names = st.text(alphabet="abcdefXYZ-", min_size=1, max_size=12)
header_values = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(routes(), max_size=8, unique_by=lambda r: (r.api, r.method, r.path)),
       st.sampled_from(METHODS[:-1]), request_paths)
def test_routing_total_and_order_free(route_list, method, path) -> None:
    shuffled = list(route_list)
    random.Random(0).shuffle(shuffled)

    first = RouteTable.from_routes(route_list).match(method, path)
    second = RouteTable.from_routes(shuffled).match(method, path)

    assert first == second
    if first is not None:
        assert all(value for value in first.path_parameters.values())
        assert first.path.startswith("/")
        if first.route.api is ApiKind.REST:
            assert first.path in (path, path.removeprefix("/dev") or "/")
        else:
            assert first.path == path


@settings(max_examples=200, deadline=None)
@given(st.lists(literal, min_size=1, max_size=4))
def test_literal_route_matches_itself(parts) -> None:
    path = "/" + "/".join(parts)
    exact = Route(ApiKind.HTTP, HTTP_API, "GET", path, "2.0", "aws_lambda_function.exact")
    greedy = Route(ApiKind.HTTP, HTTP_API, "ANY", "/{proxy+}", "2.0", "aws_lambda_function.any")

    found = RouteTable.from_routes([greedy, exact]).match("GET", path)

    assert found is not None
    assert found.route == exact
    assert found.path_parameters == {}


@settings(max_examples=300, deadline=None)
@given(
    routes(),
    st.sampled_from(METHODS[:-1]),
    request_paths,
    st.text(alphabet="ab=&%;+x1", max_size=20),
    st.lists(st.tuples(header_names, header_values), max_size=6),
    st.binary(max_size=64),
    st.sampled_from([None, "application/json", "text/plain", "image/png"]),
)
def test_event_always_valid_json(route, method, path, query, headers, body, content_type) -> None:
    table = RouteTable.from_routes([route, Route(ApiKind.HTTP, HTTP_API, "ANY", "$default", "2.0", "f")])
    match = table.match(method, path)
    assert match is not None
    all_headers = tuple(headers) + ((("Content-Type", content_type),) if content_type else ())
    request = HttpRequest(method, match.path, query, all_headers, body, "127.0.0.1")

    event = build_event(request, match, request_id="r", now=1_700_000_000.5, account_id="123456789012")
    decoded = json.loads(json.dumps(event))

    sent = decoded.get("body")
    if body:
        restored = base64.b64decode(sent) if decoded["isBase64Encoded"] else sent.encode("utf-8")
        assert restored == body
    else:
        assert sent is None
    if decoded.get("version") == "2.0":
        assert all(name == name.lower() for name in decoded["headers"])
        assert "cookie" not in decoded["headers"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
response_objects = st.fixed_dictionaries(
    {},
    optional={
        "statusCode": st.one_of(st.integers(100, 700), st.text(max_size=3), st.none()),
        "headers": st.one_of(st.dictionaries(header_names, st.one_of(header_values, st.integers())), json_values),
        "multiValueHeaders": st.one_of(st.dictionaries(header_names, st.lists(header_values, max_size=3)),
                                       json_values),
        "cookies": st.one_of(st.lists(header_values, max_size=3), json_values),
        "body": st.one_of(st.text(max_size=20), json_values),
        "isBase64Encoded": st.one_of(st.booleans(), json_values),
    },
)


@settings(max_examples=400, deadline=None)
@given(routes(), st.one_of(response_objects, json_values))
def test_response_mapping_total(route, value) -> None:
    result = InvokeResult("id", json.dumps(value).encode("utf-8"))

    mapped = map_result(route, result)

    response = mapped.response
    assert 200 <= response.status <= 599
    for name, header_value in response.headers:
        assert "\r" not in header_value
        assert "\n" not in header_value
    if mapped.log_message is not None:
        assert response.status in (500, 502)
        assert "Malformed Lambda proxy response" in mapped.log_message
