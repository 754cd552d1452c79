"""The Runtime API's HTTP/1.1 protocol, fed bytes through a recording transport."""

from __future__ import annotations

import asyncio

import pytest

from devd.runtime.runtime_http import (
    HttpRequest,
    HttpResponse,
    RuntimeHttpProtocol,
    parse_chunked,
)


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.extend(data)

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


def connect(handler, limit: int = 100) -> tuple[RuntimeHttpProtocol, RecordingTransport, list[HttpRequest]]:
    received: list[HttpRequest] = []

    def record(request: HttpRequest, connection: RuntimeHttpProtocol):
        received.append(request)
        return handler(request)

    protocol = RuntimeHttpProtocol(record, limit, set())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport, received


def accepted(request: HttpRequest) -> HttpResponse:
    return HttpResponse(202, b'{"status":"OK"}')


def test_keep_alive_requests_in_one_packet() -> None:
    protocol, transport, received = connect(accepted)

    protocol.data_received(
        b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    )

    assert [(r.method, r.path, r.body) for r in received] == [("POST", "/a", b"hello"), ("GET", "/b", b"")]
    assert transport.written.count(b"HTTP/1.1 202 Accepted\r\n") == 2
    assert not transport.closed


def test_body_split_across_packets() -> None:
    protocol, _, received = connect(accepted)

    protocol.data_received(b"POST /a HTTP/1.1\r\nContent-Le")
    protocol.data_received(b"ngth: 4\r\n\r\nab")
    assert received == []
    protocol.data_received(b"cd")

    assert received[0].body == b"abcd"


def test_chunked_body_decoded() -> None:
    protocol, _, received = connect(accepted)

    protocol.data_received(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n")

    assert received[0].body == b"abcde"


def test_body_over_limit_dropped_then_answered() -> None:
    protocol, transport, received = connect(lambda request: HttpResponse(413 if request.body_too_large else 202), 10)

    protocol.data_received(b"POST /a HTTP/1.1\r\nContent-Length: 25\r\n\r\n" + b"x" * 12)
    assert received == []
    protocol.data_received(b"y" * 13 + b"GET /next HTTP/1.1\r\n\r\n")

    assert [r.body_too_large for r in received] == [True, False]
    assert transport.written.startswith(b"HTTP/1.1 413 ")


def test_chunked_body_over_limit_rejected() -> None:
    protocol, transport, _ = connect(accepted, 4)

    protocol.data_received(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n")

    assert transport.written.startswith(b"HTTP/1.1 413 ")
    assert transport.closed


@pytest.mark.parametrize("head", [b"NONSENSE\r\n\r\n", b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
                                  b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"])
def test_malformed_request_gets_400_and_close(head: bytes) -> None:
    protocol, transport, received = connect(accepted)

    protocol.data_received(head)

    assert received == []
    assert transport.written.startswith(b"HTTP/1.1 400 ")
    assert transport.closed


def test_connection_close_honoured() -> None:
    protocol, transport, _ = connect(accepted)

    protocol.data_received(b"GET /a HTTP/1.1\r\nConnection: close\r\n\r\n")

    assert b"Connection: close\r\n" in transport.written
    assert transport.closed


async def test_long_poll_answers_when_ready() -> None:
    ready: asyncio.Future[HttpResponse] = asyncio.get_running_loop().create_future()

    async def wait(request: HttpRequest) -> HttpResponse:
        return await ready

    protocol, transport, received = connect(lambda request: wait(request) if request.path == "/next" else accepted(request))
    protocol.data_received(b"GET /next HTTP/1.1\r\n\r\nPOST /later HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    await asyncio.sleep(0)
    assert [r.path for r in received] == ["/next"]

    ready.set_result(HttpResponse(200, b"event", (("Lambda-Runtime-Aws-Request-Id", "r1"),)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    assert [r.path for r in received] == ["/next", "/later"]
    assert b"Lambda-Runtime-Aws-Request-Id: r1\r\n" in transport.written
    assert transport.written.index(b"event") < transport.written.index(b"202 Accepted")



class WriteCountingTransport(RecordingTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)


def connect_with_long_poll(post_status: int) -> tuple[RuntimeHttpProtocol, WriteCountingTransport, asyncio.Future]:
    ready: asyncio.Future[HttpResponse] = asyncio.get_running_loop().create_future()

    async def wait() -> HttpResponse:
        return await ready

    def handle(request: HttpRequest, connection: RuntimeHttpProtocol):
        return wait() if request.path == "/next" else HttpResponse(post_status, b"{}")

    protocol = RuntimeHttpProtocol(handle, 100, set())
    transport = WriteCountingTransport()
    protocol.connection_made(transport)
    return protocol, transport, ready


async def test_pipelined_post_answered_with_next_event() -> None:
    protocol, transport, ready = connect_with_long_poll(202)

    protocol.data_received(b"POST /response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
                           b"GET /next HTTP/1.1\r\n\r\n")
    await asyncio.sleep(0)
    assert transport.written == b""

    ready.set_result(HttpResponse(200, b"event"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)

    assert transport.writes == 1
    assert transport.written.startswith(b"HTTP/1.1 202 Accepted\r\n")
    assert transport.written.endswith(b"event")


async def test_pipelined_post_error_sent_at_once() -> None:
    protocol, transport, _ = connect_with_long_poll(400)

    protocol.data_received(b"POST /response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
                           b"GET /next HTTP/1.1\r\n\r\n")
    await asyncio.sleep(0)

    assert transport.written.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert not transport.closed


async def test_post_without_pipelining_answered_at_once() -> None:
    protocol, transport, _ = connect_with_long_poll(202)

    protocol.data_received(b"POST /response HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")

    assert transport.writes == 1
    assert transport.written.startswith(b"HTTP/1.1 202 Accepted\r\n")

def test_parse_chunked_incomplete() -> None:
    assert parse_chunked(bytearray(b"3\r\nab"), 0, 100) is None
