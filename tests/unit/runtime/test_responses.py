"""Mapping invocation results to HTTP responses, and API Gateway's error responses."""

from __future__ import annotations

import base64
import json

import pytest

from devd.inventory import ApiKind, Route
from devd.runtime.invoke import InvokeResult
from devd.runtime.responses import (
    MAX_RESPONSE_PAYLOAD_BYTES,
    HttpResponse,
    map_result,
    not_found_response,
    request_too_large_response,
)

REST = Route(ApiKind.REST, "aws_api_gateway_rest_api.main", "GET", "/a", "1.0", "f", "dev")
HTTP_V1 = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "GET", "/a", "1.0", "f")
HTTP_V2 = Route(ApiKind.HTTP, "aws_apigatewayv2_api.main", "GET", "/a", "2.0", "f")

REST_ERROR = (502, b'{"message": "Internal server error"}')
HTTP_ERROR = (500, b'{"message":"Internal Server Error"}')


def result(value: object) -> InvokeResult:
    return InvokeResult(request_id="req-1", payload=json.dumps(value).encode())


def header_values(response: HttpResponse, name: str) -> list[str]:
    return [value for key, value in response.headers if key.lower() == name.lower()]


def test_rest_object_response():
    value = {"statusCode": 201, "headers": {"X-Id": "7"}, "body": "created"}

    mapped = map_result(REST, result(value))

    assert mapped.log_message is None
    assert mapped.response.status == 201
    assert mapped.response.body == b"created"
    assert header_values(mapped.response, "X-Id") == ["7"]
    assert header_values(mapped.response, "Content-Type") == ["application/json"]


def test_given_content_type_is_kept():
    value = {"statusCode": 200, "headers": {"content-type": "text/html"}, "body": "<p>"}

    mapped = map_result(REST, result(value))

    assert header_values(mapped.response, "Content-Type") == ["text/html"]


MALFORMED_CASES = [
    pytest.param([1, 2], "not an object", id="array"),
    pytest.param("hello", "not an object", id="string"),
    pytest.param({"body": "x"}, "statusCode is missing", id="missing-status"),
    pytest.param({"statusCode": "200"}, "statusCode must be an integer", id="string-status"),
    pytest.param({"statusCode": True}, "statusCode must be an integer", id="boolean-status"),
    pytest.param({"statusCode": 42}, "from 200 to 599", id="status-out-of-range"),
    pytest.param({"statusCode": 200, "body": {"a": 1}}, "body must be a string", id="object-body"),
    pytest.param({"statusCode": 200, "body": 5}, "body must be a string", id="number-body"),
    pytest.param({"statusCode": 200, "headers": []}, "headers must be an object", id="headers"),
    pytest.param(
        {"statusCode": 200, "headers": {"X-A": {"b": 1}}}, "must be a string", id="header-value"
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"X-A": "a\r\nX-B: b"}}, "line break", id="header-split"
    ),
    pytest.param(
        {"statusCode": 200, "headers": {"Bad Name": "a"}}, "not a valid HTTP header name",
        id="header-name",
    ),
    pytest.param(
        {"statusCode": 200, "multiValueHeaders": {"X-A": "a"}}, "must be a list",
        id="multi-value-not-list",
    ),
    pytest.param(
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True}, "not valid base64",
        id="bad-base64",
    ),
    pytest.param(
        {"statusCode": 200, "body": "", "isBase64Encoded": "yes"}, "isBase64Encoded must be",
        id="base64-flag",
    ),
]


@pytest.mark.parametrize(("value", "expected_text"), MALFORMED_CASES)
def test_rest_malformed_response(value, expected_text):
    mapped = map_result(REST, result(value))

    assert (mapped.response.status, mapped.response.body) == REST_ERROR
    assert mapped.log_message is not None
    assert mapped.log_message.startswith("Malformed Lambda proxy response")
    assert expected_text in mapped.log_message


@pytest.mark.parametrize(("value", "expected_text"), MALFORMED_CASES)
def test_http_v1_malformed_response(value, expected_text):
    mapped = map_result(HTTP_V1, result(value))

    assert (mapped.response.status, mapped.response.body) == HTTP_ERROR
    assert expected_text in mapped.log_message


def test_malformed_message_says_how_to_fix():
    mapped = map_result(REST, result({"statusCode": 200, "body": {"a": 1}}))

    assert "JSON.stringify" in mapped.log_message
    assert "json.dumps" in mapped.log_message


def test_invalid_json_payload():
    mapped = map_result(REST, InvokeResult("req-1", b"not json"))

    assert (mapped.response.status, mapped.response.body) == REST_ERROR
    assert "not valid JSON" in mapped.log_message


def test_multi_value_headers_win_and_repeat():
    value = {
        "statusCode": 200,
        "headers": {"Set-Cookie": "lost=1", "X-Kept": "yes"},
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
        "body": "ok",
    }

    mapped = map_result(REST, result(value))

    assert header_values(mapped.response, "Set-Cookie") == ["a=1", "b=2"]
    assert header_values(mapped.response, "X-Kept") == ["yes"]


def test_scalar_header_values_become_text():
    value = {"statusCode": 200, "headers": {"X-Count": 3, "X-Flag": False, "X-None": None}}

    mapped = map_result(REST, result(value))

    assert header_values(mapped.response, "X-Count") == ["3"]
    assert header_values(mapped.response, "X-Flag") == ["false"]
    assert header_values(mapped.response, "X-None") == []


def test_server_headers_dropped():
    value = {"statusCode": 200, "headers": {"Content-Length": "999", "Connection": "close"}}

    mapped = map_result(REST, result(value))

    assert header_values(mapped.response, "Content-Length") == []
    assert header_values(mapped.response, "Connection") == []


def test_missing_body_is_empty():
    mapped = map_result(HTTP_V1, result({"statusCode": 204}))

    assert mapped.response.status == 204
    assert mapped.response.body == b""


def test_base64_body_decoded():
    raw = bytes(range(256))
    value = {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
    }

    for route in (REST, HTTP_V1, HTTP_V2):
        mapped = map_result(route, result(value))

        assert mapped.response.body == raw, route.payload_version
        assert header_values(mapped.response, "Content-Type") == ["image/png"]


def test_base64_body_with_line_breaks():
    value = {"statusCode": 200, "body": "aGVs\nbG8=\n", "isBase64Encoded": True}

    assert map_result(REST, result(value)).response.body == b"hello"


def test_v2_wraps_object():
    mapped = map_result(HTTP_V2, result({"message": "hi"}))

    assert mapped.log_message is None
    assert mapped.response.status == 200
    assert json.loads(mapped.response.body) == {"message": "hi"}
    assert header_values(mapped.response, "Content-Type") == ["application/json"]


def test_v2_wraps_string():
    mapped = map_result(HTTP_V2, result("Hello"))

    assert mapped.response.status == 200
    assert mapped.response.body == b"Hello"


def test_v2_wraps_array():
    mapped = map_result(HTTP_V2, result([1, 2]))

    assert mapped.response.status == 200
    assert json.loads(mapped.response.body) == [1, 2]


def test_v2_status_code_used_as_given():
    value = {"statusCode": 418, "headers": {"X-Tea": "yes"}, "body": "teapot"}

    mapped = map_result(HTTP_V2, result(value))

    assert mapped.response.status == 418
    assert mapped.response.body == b"teapot"
    assert header_values(mapped.response, "X-Tea") == ["yes"]


def test_v2_cookies_become_set_cookie_lines():
    value = {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": "ok"}

    mapped = map_result(HTTP_V2, result(value))

    assert header_values(mapped.response, "Set-Cookie") == ["a=1; Path=/", "b=2"]


def test_v2_malformed_with_status_code():
    for value in (
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": "ok"},
        {"statusCode": 200, "cookies": "a=1"},
    ):
        mapped = map_result(HTTP_V2, result(value))

        assert (mapped.response.status, mapped.response.body) == HTTP_ERROR, value
        assert mapped.log_message.startswith("Malformed Lambda proxy response"), value


def test_function_error_statuses():
    payload = json.dumps({"errorType": "TypeError", "errorMessage": "boom"}).encode()
    failed = InvokeResult("req-1", payload, function_error="Unhandled")

    rest = map_result(REST, failed)
    http_v1 = map_result(HTTP_V1, failed)
    http_v2 = map_result(HTTP_V2, failed)

    assert (rest.response.status, rest.response.body) == REST_ERROR
    assert (http_v1.response.status, http_v1.response.body) == HTTP_ERROR
    assert (http_v2.response.status, http_v2.response.body) == HTTP_ERROR
    assert rest.log_message is None


def test_function_error_even_with_valid_response():
    failed = InvokeResult("req-1", json.dumps({"statusCode": 200}).encode(), "Unhandled")

    assert map_result(HTTP_V2, failed).response.status == 500


def test_oversized_payload():
    body = "x" * MAX_RESPONSE_PAYLOAD_BYTES
    payload = json.dumps({"statusCode": 200, "body": body}).encode()

    rest = map_result(REST, InvokeResult("req-1", payload))
    http = map_result(HTTP_V2, InvokeResult("req-1", payload))

    assert rest.response.status == 502
    assert http.response.status == 500
    assert "6 MB" in rest.log_message


def test_not_found_responses():
    assert not_found_response(rest_only=False) == HttpResponse(
        404, (("Content-Type", "application/json"),), b'{"message":"Not Found"}'
    )
    assert not_found_response(rest_only=True) == HttpResponse(
        403,
        (("Content-Type", "application/json"),),
        b'{"message":"Missing Authentication Token"}',
    )


def test_request_too_large_response():
    assert request_too_large_response().status == 413
