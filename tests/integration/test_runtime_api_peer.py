"""Requests without the secret path segment to a real RuntimeApiServer on 127.0.0.1.

The test process plays the runtime process by passing its own pid to `set_runtime_pid`, or an
outsider by passing the pid of a `sleep` child that has no connection.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import AsyncIterator

import pytest

from devd.runtime import peer_process
from devd.runtime.runtime_api import RuntimeApiServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the peer lookup reads Linux's /proc")

# A reply for a request id that is not in flight: the router returns 400, and a rejected
# connection gets 404 before routing.
UNPREFIXED_REPLY = b"POST /2018-06-01/runtime/invocation/none/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"


@pytest.fixture
async def server() -> AsyncIterator[RuntimeApiServer]:
    api = RuntimeApiServer()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the runtime pid of every `identify_peer` call."""
    calls: list[int] = []
    real = peer_process.identify_peer

    def counting(peer, server, runtime_pid):
        calls.append(runtime_pid)
        return real(peer, server, runtime_pid)

    monkeypatch.setattr(peer_process, "identify_peer", counting)
    return calls


async def connect(server: RuntimeApiServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = server.address.partition("/")[0].partition(":")
    return await asyncio.open_connection(host, int(port))


async def status_of(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one request and return the status of its response, reading the whole response."""
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    return int(head.split(b" ")[1])


async def test_runtime_connection_routed_once_checked(server: RuntimeApiServer, lookups: list[int]) -> None:
    server.set_runtime_pid(os.getpid())
    reader, writer = await connect(server)

    first = await status_of(reader, writer, UNPREFIXED_REPLY)
    second = await status_of(reader, writer, UNPREFIXED_REPLY)
    writer.close()

    assert first == 400
    assert second == 400
    assert lookups == [os.getpid()]


async def test_outsider_connection_rejected_once_checked(server: RuntimeApiServer, lookups: list[int]) -> None:
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        server.set_runtime_pid(other.pid)
        reader, writer = await connect(server)

        first = await status_of(reader, writer, UNPREFIXED_REPLY)
        second = await status_of(reader, writer, UNPREFIXED_REPLY)
        writer.close()
    finally:
        other.kill()
        other.wait()

    assert first == 404
    assert second == 404
    assert lookups == [other.pid]


async def test_check_waits_for_runtime_pid(server: RuntimeApiServer, lookups: list[int]) -> None:
    reader, writer = await connect(server)
    writer.write(UNPREFIXED_REPLY)
    await asyncio.sleep(0.2)

    assert lookups == []
    server.set_runtime_pid(os.getpid())
    status = await status_of(reader, writer, b"")
    writer.close()

    assert status == 400
    assert lookups == [os.getpid()]


async def test_prefixed_path_needs_no_check(server: RuntimeApiServer, lookups: list[int]) -> None:
    secret = server.address.partition("/")[2]
    reader, writer = await connect(server)

    status = await status_of(reader, writer, UNPREFIXED_REPLY.replace(b"POST /", f"POST /{secret}/".encode()))
    writer.close()

    assert status == 400
    assert lookups == []


async def test_other_path_rejected_without_check(server: RuntimeApiServer, lookups: list[int]) -> None:
    server.set_runtime_pid(os.getpid())
    reader, writer = await connect(server)

    status = await status_of(reader, writer, b"GET /2015-03-31/functions HTTP/1.1\r\n\r\n")
    writer.close()

    assert status == 404
    assert lookups == []
