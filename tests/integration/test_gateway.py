"""The gateway as a real HTTP server on 127.0.0.1, with a fake invoke function."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field

import aiohttp
import pytest

from devd.errors import ConfigError
from devd.inventory import ApiKind, Cors, Route
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.runtime.gateway import Gateway, IntegrationLimits
from devd.runtime.invoke import InvokeResult

HTTP_API = "aws_apigatewayv2_api.main"
REST_API = "aws_api_gateway_rest_api.main"
ECHO = "aws_lambda_function.echo"
COOKIES = "aws_lambda_function.cookies"
MALFORMED = "aws_lambda_function.malformed"
CRASH = "aws_lambda_function.crash"
RAISES = "aws_lambda_function.raises"
SLOW = "aws_lambda_function.slow"


def http_route(method: str, path: str, function: str | None, version: str = "2.0") -> Route:
    return Route(ApiKind.HTTP, HTTP_API, method, path, version, function)


ROUTES = [
    http_route("GET", "/items/{id}", ECHO),
    http_route("POST", "/upload", ECHO),
    http_route("GET", "/cookies", COOKIES),
    http_route("GET", "/malformed", MALFORMED, version="1.0"),
    http_route("GET", "/crash", CRASH),
    http_route("GET", "/raises", RAISES),
    http_route("GET", "/slow", SLOW),
    http_route("GET", "/queue", None),
    Route(ApiKind.REST, REST_API, "ANY", "/rest/{name}", "1.0", ECHO, stage="dev"),
]


@dataclass
class FakeLambda:
    """An invoke function that echoes the event back, with a few special functions."""

    events: list[dict] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: int = 0

    async def __call__(self, function: str, event_bytes: bytes) -> InvokeResult:
        self.calls += 1
        request_id = f"lambda-{self.calls}"
        event = json.loads(event_bytes)
        self.events.append(event)

        if function == COOKIES:
            value = {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": "ok"}
        elif function == MALFORMED:
            value = {"statusCode": 200, "body": {"not": "a string"}}
        elif function == CRASH:
            error = {"errorType": "Error", "errorMessage": "boom"}
            return InvokeResult(request_id, json.dumps(error).encode(), "Unhandled")
        elif function == RAISES:
            raise RuntimeError("worker is gone")
        elif function == SLOW:
            await self.release.wait()
            value = {"statusCode": 200, "body": "slow"}
        else:
            value = {
                "statusCode": 200,
                "headers": {"Content-Type": "application/json"},
                "multiValueHeaders": {"Set-Cookie": ["x=1", "y=2"]},
                "body": json.dumps(event),
            }
        return InvokeResult(request_id, json.dumps(value).encode())


@dataclass
class Running:
    gateway: Gateway
    fake: FakeLambda
    requests: list[RequestRecord]
    logs: list[LogRecord]
    session: aiohttp.ClientSession
    announced: list[LogRecord] = field(default_factory=list)


@pytest.fixture
async def running():
    fake = FakeLambda()
    requests: list[RequestRecord] = []
    logs: list[LogRecord] = []
    announced: list[LogRecord] = []

    def on_log(record: LogRecord) -> None:
        (announced if record.level is Level.INFO else logs).append(record)

    gateway = Gateway(fake, requests.append, on_log, port=0)
    gateway.set_routes(ROUTES)
    await gateway.start()
    async with aiohttp.ClientSession(base_url=gateway.url) as session:
        yield Running(gateway, fake, requests, logs, session, announced)
    await gateway.close()


async def test_url_has_real_port(running):
    assert running.gateway.url.startswith("http://127.0.0.1:")
    assert not running.gateway.url.endswith(":0")


async def test_v2_request_reaches_function(running):
    async with running.session.get("/items/42?x=1&x=2", headers={"X-Trace": "t1"}) as response:
        status = response.status
        event = await response.json()

    assert status == 200
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["headers"]["x-trace"] == "t1"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event == running.fake.events[0]


async def test_request_record(running):
    async with running.session.get("/items/42") as response:
        await response.read()

    assert len(running.requests) == 1
    record = running.requests[0]
    assert record.method == "GET"
    assert record.path == "/items/42"
    assert record.status == 200
    assert record.function == ECHO
    assert record.request_id == "lambda-1"
    assert record.duration_ms > 0


async def test_multi_value_set_cookie_lines(running):
    async with running.session.get("/dev/rest/x") as response:
        assert response.headers.getall("Set-Cookie") == ["x=1", "y=2"]


async def test_v2_ignores_multi_value_headers(running):
    async with running.session.get("/items/1") as response:
        assert "Set-Cookie" not in response.headers


async def test_v2_cookies_set_cookie_lines(running):
    async with running.session.get("/cookies") as response:
        assert response.status == 200
        assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2"]
        assert await response.text() == "ok"


async def test_request_cookies_in_event(running):
    headers = {"Cookie": "session=abc; theme=dark"}
    async with running.session.get("/items/1", headers=headers) as response:
        event = await response.json()

    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]


async def test_rest_stage_request(running):
    async with running.session.post("/dev/rest/bob?name=me", data=b"hi") as response:
        status = response.status
        request_id_header = response.headers.get("x-amzn-RequestId")
        event = await response.json()

    assert status == 200
    assert request_id_header == event["requestContext"]["requestId"]
    assert event["resource"] == "/rest/{name}"
    assert event["path"] == "/rest/bob"
    assert event["pathParameters"] == {"name": "bob"}
    assert event["queryStringParameters"] == {"name": "me"}
    assert event["requestContext"]["stage"] == "dev"
    assert event["requestContext"]["path"] == "/dev/rest/bob"
    assert event["httpMethod"] == "POST"


async def test_unknown_path_not_found(running):
    async with running.session.get("/nowhere") as response:
        status = response.status
        body = await response.json()

    assert status == 404
    assert body == {"message": "Not Found"}
    assert running.requests[0].status == 404
    assert running.requests[0].function is None
    assert running.fake.calls == 0


async def test_rest_only_port_returns_403(running):
    running.gateway.set_routes([ROUTES[-1]])

    async with running.session.get("/nowhere") as response:
        status = response.status
        body = await response.json()

    assert status == 403
    assert body == {"message": "Missing Authentication Token"}


async def test_binary_body_round_trip(running):
    raw = bytes(range(256))
    headers = {"Content-Type": "application/octet-stream"}
    async with running.session.post("/upload", data=raw, headers=headers) as response:
        event = await response.json()

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


async def test_invalid_utf8_body_and_path(running):
    headers = {"Content-Type": "text/plain"}
    async with running.session.post("/upload", data=b"\xff\xfe", headers=headers) as response:
        event = await response.json()

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"

    url = aiohttp.client.URL(running.gateway.url + "/items/%FF", encoded=True)
    async with running.session.get(url) as response:
        status = response.status
        event = await response.json()

    assert status == 200
    assert event["pathParameters"] == {"id": "\ufffd"}
    assert event["rawPath"] == "/items/%FF"


async def test_raw_non_utf8_request_line(running):
    port = int(running.gateway.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /items/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    reply = await reader.read()
    writer.close()
    await writer.wait_closed()

    assert reply.split(b" ", 2)[1] == b"400"
    async with running.session.get("/items/still-up") as response:
        assert response.status == 200


async def test_malformed_response_logged(running):
    async with running.session.get("/malformed") as response:
        status = response.status
        body = await response.json()

    assert status == 500
    assert body == {"message": "Internal Server Error"}
    assert len(running.logs) == 1
    log = running.logs[0]
    assert log.source == MALFORMED
    assert log.level is Level.ERROR
    assert log.request_id == "lambda-1"
    assert "body must be a string" in log.text
    assert running.requests[0].status == 500


async def test_function_error_returns_500(running):
    async with running.session.get("/crash") as response:
        status = response.status
        body = await response.json()

    assert status == 500
    assert body == {"message": "Internal Server Error"}
    assert "boom" not in json.dumps(body)
    assert running.logs == []


async def test_invoke_exception_returns_500(running):
    async with running.session.get("/raises") as response:
        status = response.status

    assert status == 500
    assert running.logs[0].source == RAISES
    assert "worker is gone" in running.logs[0].text
    assert running.requests[0].status == 500


async def test_not_emulated_integration(running):
    async with running.session.get("/queue") as response:
        status = response.status

    assert status == 500
    assert "not emulate" in running.logs[0].text
    assert running.fake.calls == 0
    assert running.requests[0].function is None


async def test_request_body_too_large(running):
    body = b"x" * (10 * 1024 * 1024 + 1)
    async with running.session.post("/upload", data=body) as response:
        status = response.status

    assert status == 413
    assert running.fake.calls == 0
    assert running.requests[0].status == 413


async def test_set_routes_adds_and_removes(running):
    running.gateway.set_routes([http_route("GET", "/fresh", ECHO)])

    async with running.session.get("/fresh") as response:
        fresh_status = response.status
    async with running.session.get("/items/1") as response:
        removed_status = response.status

    assert fresh_status == 200
    assert removed_status == 404


async def test_in_flight_request_keeps_old_routes(running):
    pending = asyncio.ensure_future(running.session.get("/slow"))
    while running.fake.calls == 0:
        await asyncio.sleep(0.01)

    running.gateway.set_routes([])
    running.fake.release.set()
    response = await pending

    assert response.status == 200
    assert await response.text() == "slow"
    response.release()


async def test_port_in_use(running):
    port = int(running.gateway.url.rsplit(":", 1)[1])
    second = Gateway(FakeLambda(), lambda record: None, lambda record: None, port=port)

    with pytest.raises(ConfigError) as raised:
        await second.start()

    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "--port" in str(raised.value)


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/slow", 503, {"message": "Service Unavailable"}),
        ("/rest/slow", 504, {"message": "Endpoint request timed out"}),
    ],
)
async def test_integration_timeout(path, status, body):
    fake = FakeLambda()
    logs: list[LogRecord] = []
    limits = IntegrationLimits(rest_seconds=0.2, http_seconds=0.2)
    gateway = Gateway(fake, lambda record: None, logs.append, port=0, integration_limits=limits)
    gateway.set_routes([*ROUTES, Route(ApiKind.REST, REST_API, "GET", "/rest/slow", "1.0", SLOW, "dev")])
    await gateway.start()
    try:
        async with aiohttp.ClientSession(base_url=gateway.url) as session:
            async with session.get(path) as response:
                assert response.status == status
                assert await response.json() == body
    finally:
        fake.release.set()
        await gateway.close()

    errors = [record for record in logs if record.level is Level.ERROR]
    assert "timed out after 0.2 seconds" in errors[0].text


async def test_integration_limits_switched_off():
    fake = FakeLambda()
    gateway = Gateway(fake, lambda record: None, lambda record: None, port=0, integration_limits=None)
    gateway.set_routes(ROUTES)
    await gateway.start()
    try:
        async with aiohttp.ClientSession(base_url=gateway.url) as session:
            pending = asyncio.ensure_future(session.get("/slow"))
            await asyncio.sleep(0.5)
            assert not pending.done()

            fake.release.set()
            response = await pending
            assert response.status == 200
            assert await response.text() == "slow"
            response.release()
    finally:
        await gateway.close()


async def test_cors_preflight_on_http_route():
    cors = Cors(allow_origins=("https://app.example",), allow_methods=("GET",))
    fake = FakeLambda()
    gateway = Gateway(fake, lambda record: None, lambda record: None, port=0)
    gateway.set_routes([Route(ApiKind.HTTP, HTTP_API, "GET", "/items/{id}", "2.0", ECHO, "$default", cors)])
    await gateway.start()
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    try:
        async with aiohttp.ClientSession(base_url=gateway.url) as session:
            async with session.options("/items/1", headers=preflight) as response:
                assert response.status == 204
                assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
                assert response.headers["Access-Control-Allow-Methods"] == "GET"
    finally:
        await gateway.close()

    assert fake.calls == 0


async def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return response


async def test_oversized_header_rejected(running, caplog):
    big = b"GET /items/1 HTTP/1.1\r\nHost: x\r\nAuthorization: " + b"s" * 11000 + b"\r\nConnection: close\r\n\r\n"

    response = await raw_request(running.gateway.url, big)

    assert response.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request")
    assert running.fake.calls == 0
    assert "Rejected a request with 400 Bad Request: header Authorization over 10240 bytes" in caplog.text
    assert "sss" not in caplog.text
    async with running.session.get("/items/2") as after:
        assert after.status == 200


async def test_header_under_quota_accepted(running):
    async with running.session.get("/items/1", headers={"X-Big": "a" * 10000}) as response:
        event = await response.json()

    assert response.status == 200
    assert event["headers"]["x-big"] == "a" * 10000


async def test_path_traversal_segments(running):
    encoded = await raw_request(running.gateway.url, b"GET /items/..%2F..%2Fetc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    dotted = await raw_request(running.gateway.url, b"GET /x/../items/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    assert encoded.startswith(b"HTTP/1.1 200")
    assert running.fake.events[0]["pathParameters"] == {"id": "../../etc"}
    assert running.fake.events[0]["rawPath"] == "/items/..%2F..%2Fetc"
    assert dotted.startswith(b"HTTP/1.1 404")
    assert running.fake.calls == 1


async def test_route_urls_announced(running):
    base = running.gateway.url
    texts = [record.text for record in running.announced]

    assert f"GET {base}/items/{{id}} -> {ECHO}" in texts
    assert f"GET {base}/queue -> not emulated" in texts
    assert f"ANY {base}/rest/{{name}} -> {ECHO}" in texts
    assert len(texts) == len(ROUTES)

    running.gateway.set_routes([*ROUTES, http_route("GET", "/fresh", ECHO)])
    assert [record.text for record in running.announced[len(texts):]] == [f"GET {base}/fresh -> {ECHO}"]


async def test_colliding_api_gets_own_port():
    other_api = "aws_apigatewayv2_api.other"
    fake = FakeLambda()
    gateway = Gateway(fake, lambda record: None, lambda record: None, port=0)
    first = http_route("GET", "/items/{id}", ECHO)
    second = Route(ApiKind.HTTP, other_api, "GET", "/items/{id}", "2.0", COOKIES)
    gateway.set_routes([first, second])
    await gateway.start()
    try:
        urls = gateway.route_urls()
        assert urls[first].startswith(gateway.url)
        assert not urls[second].startswith(gateway.url)

        async with aiohttp.ClientSession() as session:
            async with session.get(urls[first].replace("{id}", "1")) as response:
                assert (await response.json())["routeKey"] == "GET /items/{id}"
            async with session.get(urls[second].replace("{id}", "1")) as response:
                assert await response.text() == "ok"
                assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2"]

        gateway.set_routes([first])
        await asyncio.sleep(0.1)
        assert set(gateway.route_urls()) == {first}
    finally:
        await gateway.close()
