"""The gateway's HTTP/1.1 server on a real socket: what a client sees on the wire."""

from __future__ import annotations

import asyncio
import json

import pytest

from devd.runtime import http_server
from devd.runtime.http_server import HttpServer, IncomingRequest
from devd.runtime.responses import HttpResponse


class Echo:
    """A handler that responds with what it read, and can hold a response until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.release.set()
        self.seen: list[IncomingRequest] = []

    async def __call__(self, request: IncomingRequest) -> HttpResponse:
        self.seen.append(request)
        if request.path == "/no-body":
            return HttpResponse(404, (("Content-Type", "application/json"),), b'{"message":"Not Found"}')
        body, size = await request.read_body(1000)
        await self.release.wait()
        if body is None:
            return HttpResponse(413, (("Content-Type", "application/json"),), f'{{"size":{size}}}'.encode())
        document = {"method": request.method, "path": request.path, "query": request.raw_query,
                    "body": body.decode(), "version": request.version, "remote": request.remote}
        return HttpResponse(200, (("Content-Type", "application/json"),), json.dumps(document).encode())


@pytest.fixture
async def served():
    handler = Echo()
    server = HttpServer(handler)
    listening = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    yield handler, server, port
    listening.close()
    await server.shutdown(1.0)
    await listening.wait_closed()


async def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    reply = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return reply


def responses(raw: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """Split a stream of responses with Content-Length into status line, headers and body."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        found.append((lines[0], headers, rest[:length]))
        raw = rest[length:]
    return found


async def test_pipelined_requests_answered_in_order(served):
    _, _, port = served
    data = (b"GET /a?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    found = responses(await exchange(port, data))

    assert [json.loads(body)["path"] for _, _, body in found] == ["/a", "/b", "/c"]
    assert json.loads(found[0][2])["query"] == "x=1"
    assert json.loads(found[1][2])["body"] == "hello"
    assert found[2][1]["connection"] == "close"
    assert all(status == "HTTP/1.1 200 OK" for status, _, _ in found)


async def test_keep_alive_connection_serves_many_requests(served):
    _, _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for number in range(3):
        writer.write(f"GET /n{number} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        assert json.loads(body)["path"] == f"/n{number}"
    writer.close()


async def test_chunked_body_is_joined(served):
    _, _, port = served
    data = (b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")

    [(_, _, body)] = responses(await exchange(port, data))

    assert json.loads(body)["body"] == "abcde"


async def test_head_gets_length_without_body(served):
    _, _, port = served

    raw = await exchange(port, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Length: " in head
    assert b"Content-Length: 0" not in head
    assert rest == b""


async def test_http_10_closes_unless_kept_alive(served):
    _, _, port = served

    closed = await exchange(port, b"GET /old HTTP/1.0\r\n\r\n")
    [(status, headers, body)] = responses(closed)

    assert status == "HTTP/1.1 200 OK"
    assert headers["connection"] == "close"
    assert json.loads(body)["version"] == "1.0"


async def test_request_line_and_header_details(served):
    handler, _, port = served
    data = (b"GET http://example.test/abs/%41?q=%20#frag HTTP/1.1\r\nHost: x\r\nX-Two: a\r\n"
            b"X-Two: b\r\nConnection: close\r\n\r\n")

    [(_, headers, body)] = responses(await exchange(port, data))

    document = json.loads(body)
    assert (document["path"], document["query"], document["remote"]) == ("/abs/%41", "q=%20", "127.0.0.1")
    assert handler.seen[0].headers[1:3] == (("X-Two", "a"), ("X-Two", "b"))
    assert headers["date"].endswith(" GMT")


async def test_invalid_request_gets_400_and_close(served, caplog):
    handler, _, port = served

    raw = await exchange(port, b"NOT A REQUEST\r\n\r\n")

    [(status, headers, body)] = responses(raw)
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["connection"] == "close"
    assert json.loads(body) == {"message": "Bad Request"}
    assert handler.seen == []
    assert "Rejected a request with 400 Bad Request: Invalid method encountered" in caplog.text


async def test_valid_request_answered_before_invalid_one(served):
    _, _, port = served

    raw = await exchange(port, b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nBROKEN\r\n\r\n")

    found = responses(raw)
    assert [status for status, _, _ in found] == ["HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"]


async def test_long_request_line_rejected(served, caplog):
    _, _, port = served
    target = b"/" + b"a" * (http_server.MAX_HEADER_BYTES + 1)

    raw = await exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")

    assert raw.startswith(b"HTTP/1.1 400 Bad Request")
    assert f"request line over {http_server.MAX_HEADER_BYTES} bytes" in caplog.text


async def test_body_over_limit_answers_and_closes(served):
    _, _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # The client keeps sending a chunked body. The server responds once it has more than
    # the limit, and closes instead of reading the rest.
    writer.write(b"POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    writer.write(b"7d0\r\n" + b"x" * 2000 + b"\r\n")

    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()

    [(status, headers, body)] = responses(raw)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert headers["connection"] == "close"
    assert json.loads(body)["size"] > 1000


async def test_declared_length_over_limit_needs_no_body(served):
    _, _, port = served

    raw = await exchange(port, b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")

    [(status, _, body)] = responses(raw)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(body) == {"size": 5000}


async def test_unread_body_closes_after_answer(served):
    _, _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /no-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")

    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()

    [(status, headers, _)] = responses(raw)
    assert status == "HTTP/1.1 404 Not Found"
    assert headers["connection"] == "close"


async def test_expect_continue_gets_interim_response(served):
    _, _, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")

    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.write(b"ok")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert head.startswith(b"HTTP/1.1 200 OK")


async def test_half_closed_client_still_gets_answer(served):
    handler, _, port = served
    handler.release.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /half HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
    writer.write_eof()
    await asyncio.sleep(0.1)  # the end of input arrives while the handler still runs

    handler.release.set()
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()

    [(status, _, body)] = responses(raw)
    assert status == "HTTP/1.1 200 OK"
    assert json.loads(body)["body"] == "ok"


async def test_shutdown_waits_for_running_request(served):
    handler, server, port = served
    handler.release.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    while not handler.seen:
        await asyncio.sleep(0.01)

    stopping = asyncio.ensure_future(server.shutdown(5.0))
    await asyncio.sleep(0.05)
    assert not stopping.done()
    handler.release.set()
    raw = await asyncio.wait_for(reader.read(), 5)
    await stopping

    [(status, headers, _)] = responses(raw)
    assert status == "HTTP/1.1 200 OK"
    assert headers["connection"] == "close"
    assert server.connections == set()


async def test_idle_connections_close_after_timeout(monkeypatch):
    monkeypatch.setattr(http_server, "IDLE_TIMEOUT_S", 0.3)
    server = HttpServer(Echo())
    listening = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")

        rest = await asyncio.wait_for(reader.read(), 5)  # returns when the server closes

        assert rest.endswith(b"}")
        writer.close()
    finally:
        listening.close()
        await server.shutdown(1.0)
