"""Reading request targets and encoding responses for the gateway's server."""

from __future__ import annotations

import pytest

from devd.inventory import ApiKind
from devd.runtime.http_io import encode_response, split_target, with_request_id
from devd.runtime.responses import HttpResponse


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/items/1", ("/items/1", "")),
        (b"/items/%2F?a=1&b=%20#frag", ("/items/%2F", "a=1&b=%20")),
        (b"http://host:3000/p/q?x=y", ("/p/q", "x=y")),
        (b"http://host:3000", ("/", "")),
        (b"/caf\xc3\xa9/\xff", ("/caf\u00e9/\ufffd", "")),
        (b"*", ("*", "")),
    ],
)
def test_split_target(target, expected):
    assert split_target(target) == expected


def test_response_bytes_carry_length_date_and_body():
    response = HttpResponse(201, (("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")), b"made")

    raw = encode_response(response, head_only=False, close=False, http_10=False)

    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 201 Created"
    assert lines.count("Set-Cookie: a=1") == 1
    assert lines.count("Set-Cookie: b=2") == 1
    assert "Content-Length: 4" in lines
    assert any(line.startswith("Date: ") and line.endswith(" GMT") for line in lines)
    assert not any(line.startswith("Connection:") for line in lines)
    assert body == b"made"


def test_no_content_response_headers():
    raw = encode_response(HttpResponse(204, (), b""), head_only=False, close=True, http_10=False)

    assert b"Content-Length" not in raw
    assert b"Connection: close\r\n" in raw


def test_kept_http_10_connection_is_announced():
    raw = encode_response(HttpResponse(200, (), b"x"), head_only=False, close=False, http_10=True)

    assert b"Connection: keep-alive\r\n" in raw


def test_non_latin_header_values_are_sent_as_utf8():
    raw = encode_response(HttpResponse(200, (("X-Name", "\u00fc\u4e2d"),), b""), head_only=False, close=False, http_10=False)

    assert "X-Name: \u00fc\u4e2d".encode() in raw


def test_request_id_header_follows_api_kind():
    response = HttpResponse(200, (("Content-Type", "application/json"),), b"{}")

    assert with_request_id(response, ApiKind.REST, "r1").headers[-1] == ("x-amzn-RequestId", "r1")
    assert with_request_id(response, ApiKind.HTTP, "r2").headers[-1] == ("apigw-requestid", "r2")
    assert with_request_id(response, None, "r3").headers[-1] == ("apigw-requestid", "r3")
