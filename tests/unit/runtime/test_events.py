"""Event shapes for REST, HTTP API payload 1.0 and payload 2.0."""

from __future__ import annotations

import base64

from devd.inventory import ApiKind, Route
from devd.runtime.events import (
    HttpRequest,
    build_event,
    encode_body,
    format_request_time,
)
from devd.runtime.routing import match_route

NOW = 1583348638.390
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
ACCOUNT_ID = "123456789012"


def request(
    method: str,
    path: str,
    raw_query: str = "",
    headers: tuple[tuple[str, str], ...] = (("Host", "127.0.0.1:3000"),),
    body: bytes = b"",
) -> HttpRequest:
    return HttpRequest(method, path, raw_query, headers, body, "127.0.0.1")


def event_for(routes: list[Route], http_request: HttpRequest) -> dict:
    match = match_route(routes, http_request.method, http_request.path)
    assert match is not None
    return build_event(http_request, match, request_id=REQUEST_ID, now=NOW, account_id=ACCOUNT_ID)


REST_PROXY = Route(
    api=ApiKind.REST,
    api_address="aws_api_gateway_rest_api.main",
    method="ANY",
    path="/{proxy+}",
    payload_version="1.0",
    function="aws_lambda_function.hello",
    stage="dev",
)


def http_users_route(payload_version: str) -> Route:
    return Route(
        api=ApiKind.HTTP,
        api_address="aws_apigatewayv2_api.main",
        method="GET",
        path="/a/users/{id}",
        payload_version=payload_version,
        function="aws_lambda_function.users",
    )


def test_rest_greedy_event_with_stage():
    event = event_for([REST_PROXY], request("POST", "/dev/hello/world", "name=me"))

    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/hello/world"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"proxy": "hello/world"}
    assert event["queryStringParameters"] == {"name": "me"}
    assert event["multiValueQueryStringParameters"] == {"name": ["me"]}
    assert event["stageVariables"] is None
    assert "version" not in event
    context = event["requestContext"]
    assert context["resourcePath"] == "/{proxy+}"
    assert context["stage"] == "dev"
    assert context["path"] == "/dev/hello/world"
    assert context["httpMethod"] == "POST"
    assert context["requestId"] == REQUEST_ID
    assert context["requestTimeEpoch"] == 1583348638390
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["accountId"] == ACCOUNT_ID
    assert context["protocol"] == "HTTP/1.1"
    assert len(context["apiId"]) == 10


def test_rest_event_same_without_stage():
    with_stage = event_for([REST_PROXY], request("POST", "/dev/hello/world", "name=me"))
    without_stage = event_for([REST_PROXY], request("POST", "/hello/world", "name=me"))

    assert without_stage == with_stage


def test_rest_event_nulls_when_empty():
    event = event_for([REST_PROXY], request("GET", "/dev/x", headers=()))

    assert event["headers"] is None
    assert event["multiValueHeaders"] is None
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_rest_event_without_path_parameters():
    route = Route(ApiKind.REST, "aws_api_gateway_rest_api.main", "GET", "/hello", "1.0", "f", "dev")

    event = event_for([route], request("GET", "/dev/hello"))

    assert event["pathParameters"] is None


def test_v1_headers_last_value_wins():
    headers = (("X-Trace", "a"), ("X-Trace", "b"), ("Accept", "*/*"))

    event = event_for([REST_PROXY], request("GET", "/dev/x", headers=headers))

    assert event["headers"] == {"X-Trace": "b", "Accept": "*/*"}
    assert event["multiValueHeaders"] == {"X-Trace": ["a", "b"], "Accept": ["*/*"]}


def test_v1_repeated_query_parameters():
    event = event_for([REST_PROXY], request("GET", "/dev/x", "tag=a&tag=b&q=hello+world"))

    assert event["queryStringParameters"] == {"tag": "b", "q": "hello world"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "q": ["hello world"]}


def test_http_payload_1_event():
    event = event_for([http_users_route("1.0")], request("GET", "/a/users/42", "x=1"))

    assert event["version"] == "1.0"
    assert event["resource"] == "/a/users/{id}"
    assert event["path"] == "/a/users/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1"]}
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["path"] == "/a/users/42"
    assert event["requestContext"]["resourcePath"] == "/a/users/{id}"
    assert "routeKey" not in event


def test_http_payload_1_named_stage():
    route = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "GET", "/a", "1.0", "f", "prod")

    event = event_for([route], request("GET", "/prod/a"))

    assert event["requestContext"]["stage"] == "prod"
    assert event["resource"] == "/a"
    assert event["path"] == "/prod/a"


def test_http_payload_2_event():
    event = event_for([http_users_route("2.0")], request("GET", "/a/users/42", "x=1"))

    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /a/users/{id}"
    assert event["rawPath"] == "/a/users/42"
    assert event["rawQueryString"] == "x=1"
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["headers"] == {"host": "127.0.0.1:3000"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert "cookies" not in event
    assert "multiValueHeaders" not in event
    assert "resource" not in event
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/a/users/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "",
    }
    assert context["routeKey"] == "GET /a/users/{id}"
    assert context["stage"] == "$default"
    assert context["requestId"] == REQUEST_ID
    assert context["time"] == "04/Mar/2020:19:03:58 +0000"
    assert context["timeEpoch"] == 1583348638390
    assert context["accountId"] == ACCOUNT_ID
    assert context["domainName"] == "127.0.0.1:3000"


def test_v2_absent_fields_when_empty():
    route = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "GET", "/a", "2.0", "f")

    event = event_for([route], request("GET", "/a"))

    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert event["rawQueryString"] == ""


def test_v2_repeated_headers_joined():
    headers = (("X-Trace", "a"), ("X-Trace", "b"), ("User-Agent", "curl/8.0"))

    event = event_for([http_users_route("2.0")], request("GET", "/a/users/1", headers=headers))

    assert event["headers"] == {"x-trace": "a,b", "user-agent": "curl/8.0"}
    assert event["requestContext"]["http"]["userAgent"] == "curl/8.0"


def test_v2_cookies():
    headers = (("Cookie", "session=abc; theme=dark"), ("Accept", "*/*"))

    event = event_for([http_users_route("2.0")], request("GET", "/a/users/1", headers=headers))

    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"] == {"accept": "*/*"}


def test_v2_query_kept_raw_and_joined():
    event = event_for(
        [http_users_route("2.0")], request("GET", "/a/users/1", "tag=a&tag=b&q=x%20y")
    )

    assert event["rawQueryString"] == "tag=a&tag=b&q=x%20y"
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}


def test_v2_default_route_key():
    route = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "ANY", "$default", "2.0", "f")

    event = event_for([route], request("DELETE", "/any/thing"))

    assert event["routeKey"] == "$default"
    assert event["requestContext"]["routeKey"] == "$default"
    assert event["rawPath"] == "/any/thing"


def test_v1_default_route_resource_is_path():
    route = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "ANY", "$default", "1.0", "f")

    event = event_for([route], request("GET", "/any/thing"))

    assert event["resource"] == "/any/thing"
    assert event["pathParameters"] is None


def test_binary_body_base64():
    route = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "POST", "/upload", "2.0", "f")
    body = bytes(range(256))
    headers = (("Content-Type", "application/octet-stream"),)

    event = event_for([route], request("POST", "/upload", headers=headers, body=body))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_json_body_as_text():
    headers = (("Content-Type", "application/json; charset=utf-8"),)

    event = event_for([REST_PROXY], request("POST", "/dev/x", headers=headers, body=b'{"a":1}'))

    assert event["body"] == '{"a":1}'
    assert event["isBase64Encoded"] is False


def test_body_encoding_table():
    cases = [
        ("text/plain", "héllo".encode(), ("héllo", False)),
        ("text/html; charset=utf-8", b"<p>", ("<p>", False)),
        ("application/xml", b"<a/>", ("<a/>", False)),
        ("application/x-www-form-urlencoded", b"a=1", ("a=1", False)),
        ("application/vnd.api+json", b"{}", ("{}", False)),
        ("image/png", b"\x89PNG", (base64.b64encode(b"\x89PNG").decode(), True)),
        ("text/plain", b"\xff\xfe", (base64.b64encode(b"\xff\xfe").decode(), True)),
        (None, b"plain text", ("plain text", False)),
        (None, b"\xff", ("/w==", True)),
    ]
    for content_type, body, expected in cases:
        headers = (("Content-Type", content_type),) if content_type else ()

        assert encode_body(headers, body) == expected, content_type


def test_request_time_format():
    assert format_request_time(0) == "01/Jan/1970:00:00:00 +0000"
    assert format_request_time(1584039838) == "12/Mar/2020:19:03:58 +0000"
