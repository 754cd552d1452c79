"""API Gateway behaviour that local emulators often get wrong, checked against the values AWS
documents, on real `devd up` processes with real Node workers.

Each project below is Terraform written for one group of cases, with one echo function that
returns the event it received, or a response shape named by the `shape` query parameter.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.conftest import REPO, RunningDevd, start_devd, stop_devd

ECHO_HANDLER = """
const SHAPES = {
  "object-body": { statusCode: 200, body: { a: 1 } },
  array: [1, 2],
  "no-status": { body: "x" },
  message: { message: "hi" },
  string: "Hello",
  created: { statusCode: 201, headers: { "content-type": "text/plain" }, body: "made" },
  cookies: { statusCode: 200, cookies: ["a=1; Path=/", "b=2"], body: "ok" },
  multi: {
    statusCode: 200,
    headers: { "Set-Cookie": "single=1", "X-Both": "h", "X-Single": "s" },
    multiValueHeaders: { "Set-Cookie": ["a=1", "b=2"], "X-Both": ["m1", "m2"] },
    body: "ok",
  },
};

export const handler = async (event, context) => {
  const query = event.queryStringParameters || {};
  if (query.shape === "huge") {
    return { statusCode: 200, body: "A".repeat(7 * 1024 * 1024) };
  }
  if (query.shape) {
    return SHAPES[query.shape];
  }
  return {
    statusCode: 200,
    headers: {
      "content-type": "application/json",
      "Access-Control-Allow-Origin": "https://function.example",
      "Access-Control-Allow-Methods": "DELETE",
    },
    body: JSON.stringify({ event, awsRequestId: context.awsRequestId }),
  };
};
"""

FUNCTION = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

data "archive_file" "echo" {
  type        = "zip"
  source_dir  = "${path.module}/../functions/echo"
  output_path = "${path.module}/echo.zip"
}

resource "aws_lambda_function" "echo" {
  function_name = "fidelity-echo"
  role          = "arn:aws:iam::123456789012:role/lambda"
  runtime       = "nodejs20.x"
  handler       = "index.handler"
  filename      = data.archive_file.echo.output_path
}
"""

CORS = """
  cors_configuration {
    allow_origins     = ["https://app.example"]
    allow_methods     = ["GET", "POST"]
    allow_headers     = ["content-type", "x-api-key"]
    expose_headers    = ["x-request-id"]
    max_age           = 300
    allow_credentials = true
  }
"""

REST_API = """
resource "aws_api_gateway_rest_api" "api" {
  name = "fidelity-rest"
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.echo.function_name
  function_version = "$LATEST"
}

resource "aws_api_gateway_resource" "proxy" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "{proxy+}"
}

resource "aws_api_gateway_resource" "users" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "users"
}

resource "aws_api_gateway_resource" "user" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.users.id
  path_part   = "{id}"
}

resource "aws_api_gateway_resource" "orders" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_resource.user.id
  path_part   = "orders"
}

resource "aws_api_gateway_resource" "mock" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "mock"
}

resource "aws_api_gateway_resource" "passthrough" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = "passthrough"
}

resource "aws_api_gateway_integration" "proxy" {
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_resource.proxy.id
  http_method             = "ANY"
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.echo.invoke_arn
}

# An integration that invokes an alias still runs the aliased function.
resource "aws_api_gateway_integration" "user" {
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_resource.user.id
  http_method             = "GET"
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_alias.live.invoke_arn
}

# An integration URI that names a version through the function's qualified ARN.
resource "aws_api_gateway_integration" "orders" {
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_resource.orders.id
  http_method             = "GET"
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${aws_lambda_function.echo.qualified_arn}/invocations"
}

resource "aws_api_gateway_integration" "mock" {
  rest_api_id = aws_api_gateway_rest_api.api.id
  resource_id = aws_api_gateway_resource.mock.id
  http_method = "GET"
  type        = "MOCK"
}

resource "aws_api_gateway_integration" "passthrough" {
  rest_api_id             = aws_api_gateway_rest_api.api.id
  resource_id             = aws_api_gateway_resource.passthrough.id
  http_method             = "GET"
  type                    = "HTTP_PROXY"
  integration_http_method = "GET"
  uri                     = "https://backend.invalid/passthrough"
}

resource "aws_api_gateway_deployment" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id
}

resource "aws_api_gateway_stage" "dev" {
  rest_api_id   = aws_api_gateway_rest_api.api.id
  deployment_id = aws_api_gateway_deployment.api.id
  stage_name    = "dev"
}
"""


def http_api(name: str, routes: list[tuple[str, str | None]], cors: bool = False) -> str:
    """Return Terraform for an HTTP API whose routes all invoke the echo function.

    Each route is (route key, payload_format_version), where None leaves the version unset.
    """
    parts = [
        f'resource "aws_apigatewayv2_api" "{name}" {{\n  name = "{name}"\n  protocol_type = "HTTP"\n'
        f"{CORS if cors else ''}}}\n",
        f'resource "aws_apigatewayv2_stage" "{name}" {{\n  api_id = aws_apigatewayv2_api.{name}.id\n'
        '  name = "$default"\n}\n',
    ]
    for index, (key, version) in enumerate(routes):
        version_line = f'  payload_format_version = "{version}"\n' if version else ""
        parts.append(
            f'resource "aws_apigatewayv2_integration" "{name}_{index}" {{\n'
            f"  api_id = aws_apigatewayv2_api.{name}.id\n"
            '  integration_type = "AWS_PROXY"\n'
            "  integration_uri = aws_lambda_function.echo.invoke_arn\n"
            f"{version_line}}}\n"
            f'resource "aws_apigatewayv2_route" "{name}_{index}" {{\n'
            f"  api_id = aws_apigatewayv2_api.{name}.id\n"
            f'  route_key = "{key}"\n'
            f'  target = "integrations/${{aws_apigatewayv2_integration.{name}_{index}.id}}"\n'
            "}\n"
        )
    return "\n".join(parts)


PROJECTS = {
    "http": http_api(
        "main",
        [
            ("GET /a/users/{id}", None),
            ("GET /b/users/{id}", "2.0"),
            ("GET /shapes1", "1.0"),
            ("GET /shapes2", "2.0"),
        ],
        cors=True,
    ),
    "rest": REST_API,
    "routing": http_api(
        "routing",
        [
            ("$default", "2.0"),
            ("ANY /{proxy+}", "2.0"),
            ("GET /pets/{proxy+}", "2.0"),
            ("GET /pets/dog/{id}", "2.0"),
            ("ANY /pets/dog/{id}", "2.0"),
            ("GET /pets/dog/1", "2.0"),
        ],
        cors=True,
    ),
    "zap": http_api("zap", [("POST /zap", "2.0"), ("OPTIONS /{proxy+}", "2.0")]),
}


@dataclass(frozen=True)
class Reply:
    """One HTTP response: status, headers with repeats, and the body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[-1] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)


def send(running: RunningDevd, method: str, path: str, headers: list[tuple[str, str]] = ()) -> Reply:
    """Send a request with headers that may repeat, which urllib's dict headers cannot."""
    import http.client

    host, port = running.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return Reply(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def echo(running: RunningDevd, method: str, path: str, headers: list[tuple[str, str]] = ()) -> dict:
    """Return the event and the Lambda request id that the echo function received."""
    reply = send(running, method, path, headers)
    assert reply.status == 200, reply.body
    return reply.json()


def make_project(root: Path, terraform: str) -> Path:
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "main.tf").write_text(FUNCTION + terraform)
    (root / "functions" / "echo").mkdir(parents=True)
    (root / "functions" / "echo" / "index.mjs").write_text(ECHO_HANDLER)
    (root / "devd.toml").write_text('infra = "infra"\n')
    (root / "package.json").write_text('{"private": true, "type": "module"}\n')
    (root / "node_modules").symlink_to(REPO / "node_modules")
    return root


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningDevd]]:
    started: dict[str, RunningDevd] = {}
    try:
        for name, terraform in PROJECTS.items():
            root = make_project(tmp_path_factory.mktemp(name) / "app", terraform)
            started[name] = start_devd(root)
        yield started
    finally:
        for running in started.values():
            stop_devd(running)


@pytest.fixture
def http(projects) -> RunningDevd:
    return projects["http"]


@pytest.fixture
def rest(projects) -> RunningDevd:
    return projects["rest"]


# Event shape


def test_payload_version_defaults_to_1(http: RunningDevd) -> None:
    event = echo(http, "GET", "/a/users/42?x=1")["event"]

    assert event["version"] == "1.0"
    assert event["httpMethod"] == "GET"
    assert event["path"] == "/a/users/42"
    assert event["resource"] == "/a/users/{id}"
    assert event["pathParameters"] == {"id": "42"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1"]}
    assert "multiValueHeaders" in event
    assert event["requestContext"]["stage"] == "$default"
    assert "rawPath" not in event
    assert "routeKey" not in event


def test_payload_version_2_shape(http: RunningDevd) -> None:
    event = echo(http, "GET", "/b/users/42?x=1")["event"]

    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /b/users/{id}"
    assert event["rawPath"] == "/b/users/42"
    assert event["rawQueryString"] == "x=1"
    assert event["pathParameters"] == {"id": "42"}
    assert not [key for key in event if key.startswith("multiValue")]


def test_v2_headers_lowercased_and_joined(http: RunningDevd) -> None:
    headers = [("X-Trace", "a"), ("X-Trace", "b"), ("X-Mixed-Case", "v")]
    event = echo(http, "GET", "/b/users/1", headers)["event"]

    assert event["headers"]["x-trace"] == "a,b"
    assert event["headers"]["x-mixed-case"] == "v"
    assert all(name == name.lower() for name in event["headers"])


def test_v1_headers_keep_spelling(http: RunningDevd, rest: RunningDevd) -> None:
    headers = [("X-Trace", "a"), ("X-Trace", "b")]
    for running, path in ((http, "/a/users/1"), (rest, "/dev/anything")):
        event = echo(running, "GET", path, headers)["event"]

        assert event["headers"]["X-Trace"] == "b", path
        assert event["multiValueHeaders"]["X-Trace"] == ["a", "b"], path
        assert "x-trace" not in event["headers"], path


def test_v2_cookies_list(http: RunningDevd) -> None:
    with_cookie = echo(http, "GET", "/b/users/1", [("Cookie", "session=abc; theme=dark")])["event"]
    without = echo(http, "GET", "/b/users/1")["event"]

    assert with_cookie["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in with_cookie["headers"]
    assert "cookies" not in without


def test_v1_keeps_cookie_header(http: RunningDevd, rest: RunningDevd) -> None:
    for running, path in ((http, "/a/users/1"), (rest, "/dev/anything")):
        event = echo(running, "GET", path, [("Cookie", "session=abc; theme=dark")])["event"]

        assert event["headers"]["Cookie"] == "session=abc; theme=dark", path
        assert "cookies" not in event, path


def test_rest_greedy_resource_with_stage(rest: RunningDevd) -> None:
    with_stage = echo(rest, "POST", "/dev/hello/world?name=me")["event"]
    without_stage = echo(rest, "POST", "/hello/world?name=me")["event"]

    for event in (with_stage, without_stage):
        assert event["resource"] == "/{proxy+}"
        assert event["path"] == "/hello/world"
        assert event["pathParameters"] == {"proxy": "hello/world"}
        assert event["requestContext"]["resourcePath"] == "/{proxy+}"
        assert event["requestContext"]["stage"] == "dev"
        assert event["requestContext"]["path"] == "/dev/hello/world"
        assert event["queryStringParameters"] == {"name": "me"}


def test_request_ids_and_times(http: RunningDevd, rest: RunningDevd) -> None:
    time_format = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")
    now_ms = time.time() * 1000
    v2 = [echo(http, "GET", "/b/users/1") for _ in range(3)]
    v1 = [echo(rest, "GET", "/dev/anything") for _ in range(3)]

    gateway_ids = {reply["event"]["requestContext"]["requestId"] for reply in v1 + v2}
    lambda_ids = {reply["awsRequestId"] for reply in v1 + v2}
    assert len(gateway_ids) == 6
    assert len(lambda_ids) == 6

    for reply in v2:
        context = reply["event"]["requestContext"]
        assert isinstance(context["timeEpoch"], int)
        assert abs(context["timeEpoch"] - now_ms) < 60_000
        assert time_format.match(context["time"])
        assert context["http"]["sourceIp"] == "127.0.0.1"
    for reply in v1:
        context = reply["event"]["requestContext"]
        assert isinstance(context["requestTimeEpoch"], int)
        assert abs(context["requestTimeEpoch"] - now_ms) < 60_000
        assert time_format.match(context["requestTime"])
        assert context["identity"]["sourceIp"] == "127.0.0.1"


# Routing


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
        ("POST", "/pets/dog/1", "ANY /pets/dog/{id}", {"id": "1"}),
        ("DELETE", "/pets/dog/2", "ANY /pets/dog/{id}", {"id": "2"}),
        ("GET", "/", "$default", None),
    ],
)
def test_most_specific_route_wins(projects, method, path, route_key, parameters) -> None:
    event = echo(projects["routing"], method, path)["event"]

    assert event["routeKey"] == route_key
    assert event.get("pathParameters") == parameters


def test_greedy_options_route_and_404(projects) -> None:
    zap = projects["zap"]
    options = echo(zap, "OPTIONS", "/zap")["event"]
    get = send(zap, "GET", "/zap")

    assert options["routeKey"] == "OPTIONS /{proxy+}"
    assert options["pathParameters"] == {"proxy": "zap"}
    assert get.status == 404
    assert get.json() == {"message": "Not Found"}


# CORS

PREFLIGHT = [
    ("Origin", "https://app.example"),
    ("Access-Control-Request-Method", "POST"),
    ("Access-Control-Request-Headers", "content-type"),
]


def test_cors_preflight_answered_by_gateway(http: RunningDevd) -> None:
    start = http.mark()
    reply = send(http, "OPTIONS", "/b/users/1", PREFLIGHT)

    assert reply.status == 204
    assert reply.header("Access-Control-Allow-Origin") == "https://app.example"
    assert reply.header("Access-Control-Allow-Methods") == "GET,POST"
    assert reply.header("Access-Control-Allow-Headers") == "content-type,x-api-key"
    assert reply.header("Access-Control-Max-Age") == "300"
    assert reply.header("Access-Control-Allow-Credentials") == "true"
    http.wait_for_line(r"OPTIONS /b/users/1 -> 204", start=start)
    assert not any("fidelity-echo" in line and "OPTIONS" in line for line in http.lines[start:])


def test_cors_preflight_other_origin(http: RunningDevd) -> None:
    reply = send(http, "OPTIONS", "/b/users/1", [("Origin", "https://evil.example"), *PREFLIGHT[1:]])

    assert reply.status == 204
    assert reply.header("Access-Control-Allow-Origin") is None


def test_cors_headers_replace_function_headers(http: RunningDevd) -> None:
    for path in ("/a/users/1", "/b/users/1"):
        reply = send(http, "GET", path, [("Origin", "https://app.example")])

        assert reply.status == 200, path
        assert reply.all("Access-Control-Allow-Origin") == ["https://app.example"], path
        assert reply.header("Access-Control-Allow-Methods") is None, path
        assert reply.header("Access-Control-Allow-Credentials") == "true", path
        assert reply.header("Access-Control-Expose-Headers") == "x-request-id", path


def test_cors_preflight_to_any_route(projects) -> None:
    event = echo(projects["routing"], "OPTIONS", "/pets/cat/1", PREFLIGHT)["event"]

    assert event["routeKey"] == "ANY /{proxy+}"
    assert event["requestContext"]["http"]["method"] == "OPTIONS"


def test_rest_answers_no_preflight(rest: RunningDevd) -> None:
    event = echo(rest, "OPTIONS", "/dev/anything", PREFLIGHT)["event"]

    assert event["httpMethod"] == "OPTIONS"
    assert event["resource"] == "/{proxy+}"


# Responses


@pytest.mark.parametrize(
    ("shape", "explanation"),
    [
        ("object-body", r"body must be a string, got a JSON object\. Serialize it first"),
        ("array", r"returned a JSON array, not an object\. Return an object such as"),
        ("no-status", r"statusCode is missing\. Return an object such as"),
    ],
)
def test_malformed_proxy_response(http: RunningDevd, rest: RunningDevd, shape: str, explanation: str) -> None:
    start_http, start_rest = http.mark(), rest.mark()
    rest_reply = send(rest, "GET", f"/dev/shapes?shape={shape}")
    http_reply = send(http, "GET", f"/shapes1?shape={shape}")

    assert rest_reply.status == 502
    assert rest_reply.body == b'{"message": "Internal server error"}'
    assert http_reply.status == 500
    assert http_reply.body == b'{"message":"Internal Server Error"}'
    rest.wait_for_line(r"Malformed Lambda proxy response: .*" + explanation, start=start_rest)
    http.wait_for_line(r"Malformed Lambda proxy response: .*" + explanation, start=start_http)


def test_response_over_6_mb_rejected(http: RunningDevd, rest: RunningDevd) -> None:
    start_rest = rest.mark()
    rest_reply = send(rest, "GET", "/dev/shapes?shape=huge")
    http_reply = send(http, "GET", "/shapes2?shape=huge")

    assert rest_reply.status == 502
    assert rest_reply.json() == {"message": "Internal server error"}
    assert http_reply.status == 500
    assert http_reply.json() == {"message": "Internal Server Error"}
    rest.wait_for_line(r"Function\.ResponseSizeTooLarge: .*6291556 bytes", start=start_rest)


def test_v2_wraps_values_without_status(http: RunningDevd) -> None:
    message = send(http, "GET", "/shapes2?shape=message")
    text = send(http, "GET", "/shapes2?shape=string")
    created = send(http, "GET", "/shapes2?shape=created")

    assert message.status == 200
    assert message.header("Content-Type") == "application/json"
    assert message.json() == {"message": "hi"}
    assert text.status == 200
    assert text.body == b"Hello"
    assert created.status == 201
    assert created.header("Content-Type") == "text/plain"
    assert created.body == b"made"


def test_several_cookies_separate_lines(http: RunningDevd, rest: RunningDevd) -> None:
    v2 = send(http, "GET", "/shapes2?shape=cookies")
    v1 = send(http, "GET", "/shapes1?shape=multi")
    rest_reply = send(rest, "GET", "/dev/shapes?shape=multi")

    assert v2.all("Set-Cookie") == ["a=1; Path=/", "b=2"]
    for reply in (v1, rest_reply):
        assert reply.all("Set-Cookie") == ["a=1", "b=2"]
        assert reply.all("X-Both") == ["m1", "m2"]
        assert reply.all("X-Single") == ["s"]


# REST resource trees


def test_rest_tree_alias_and_version(rest: RunningDevd) -> None:
    user = echo(rest, "GET", "/dev/users/7")["event"]
    orders = echo(rest, "GET", "/users/7/orders")["event"]

    assert user["resource"] == "/users/{id}"
    assert user["pathParameters"] == {"id": "7"}
    assert orders["resource"] == "/users/{id}/orders"
    assert orders["path"] == "/users/7/orders"


def test_mock_and_http_not_emulated(rest: RunningDevd) -> None:
    start = rest.mark()
    for path in ("/dev/mock", "/dev/passthrough"):
        reply = send(rest, "GET", path)

        assert reply.status == 502, path
        assert reply.json() == {"message": "Internal server error"}, path
    rest.wait_for_line(r"GET /mock.*not emulate", start=start)
    rest.wait_for_line(r"GET /passthrough.*not emulate", start=start)

    after = urllib.request.urlopen(rest.url + "/dev/anything", timeout=30)
    assert after.status == 200


def test_devd_ls_lists_not_emulated(rest: RunningDevd) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "devd", "-C", str(rest.project), "ls", "--json"],
        capture_output=True, text=True, timeout=60,
    )
    routes = {(r["method"], r["path"]): r for r in json.loads(result.stdout)["routes"]}

    assert routes[("GET", "/mock")]["function"] is None
    assert routes[("GET", "/passthrough")]["function"] is None
    assert routes[("GET", "/users/{id}")]["function"] == "aws_lambda_function.echo"
    assert routes[("GET", "/users/{id}/orders")]["function"] == "aws_lambda_function.echo"
    assert routes[("ANY", "/{proxy+}")]["stage"] == "dev"


def test_unknown_rest_path_403(rest: RunningDevd) -> None:
    try:
        urllib.request.urlopen(rest.url + "/dev", timeout=30)
    except urllib.error.HTTPError as error:
        assert error.code == 403
        assert json.loads(error.read()) == {"message": "Missing Authentication Token"}
    else:
        pytest.fail("GET /dev answered 2xx, expected 403 Missing Authentication Token")
