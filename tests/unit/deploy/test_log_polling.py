"""Polling FilterLogEvents: each event yielded once, and backing off while throttled."""

from __future__ import annotations

import asyncio

import pytest
from botocore.exceptions import ClientError

from devd.deploy import cloudlogs
from devd.deploy.cloudlogs import RemoteLogReader
from devd.inventory import Function

FUNCTION = Function("aws_lambda_function.f", "app-f", "python3.11", "app.handler", None, None)


class FakeLogs:
    """Returns scripted FilterLogEvents pages; a "throttle" entry raises ThrottlingException."""

    def __init__(self, script: list) -> None:
        self.script = script
        self.calls: list[dict] = []

    def filter_log_events(self, **arguments):
        self.calls.append(arguments)
        step = self.script.pop(0) if self.script else []
        if step == "throttle":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                              "FilterLogEvents")
        if step == "missing":
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no group"}},
                              "FilterLogEvents")
        return {"events": step}


def _event(event_id: str, timestamp: int, message: str) -> dict:
    return {"eventId": event_id, "timestamp": timestamp, "message": message, "logStreamName": "s"}


async def _collect(reader: RemoteLogReader, count: int) -> list[str]:
    texts = []
    async for record in reader.records():
        texts.append(record.text)
        if len(texts) == count:
            break
    return texts


async def test_poll_skips_seen_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudlogs, "POLL_SECONDS", 0.01)
    first = [_event("1", 1000, "one"), _event("2", 1000, "two")]
    client = FakeLogs([first, first + [_event("3", 1000, "three")], [_event("4", 2000, "four")]])
    reader = RemoteLogReader(client, FUNCTION, follow=True, since_ms=500, live_tail=False)

    texts = await asyncio.wait_for(_collect(reader, 4), 5)

    assert texts == ["one", "two", "three", "four"]
    assert client.calls[0]["startTime"] == 500
    assert client.calls[1]["startTime"] == 1000
    assert client.calls[0]["logGroupName"] == "/aws/lambda/app-f"


async def test_missing_group_said_once_then_events_follow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudlogs, "POLL_SECONDS", 0.01)
    client = FakeLogs(["missing", "missing", [_event("1", 1000, "hello")]])
    reader = RemoteLogReader(client, FUNCTION, follow=True, since_ms=500, live_tail=False)

    texts = await asyncio.wait_for(_collect(reader, 2), timeout=5)

    assert texts[0].startswith("log group /aws/lambda/app-f does not exist yet")
    assert texts[1].endswith("hello")
    assert len(client.calls) == 3


async def test_throttling_doubles_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudlogs, "POLL_SECONDS", 0.01)
    delays: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float) -> None:
        delays.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(cloudlogs.asyncio, "sleep", recording_sleep)
    client = FakeLogs([[], "throttle", "throttle", [_event("1", 1000, "after")]])
    reader = RemoteLogReader(client, FUNCTION, follow=True, since_ms=0, live_tail=False)

    texts = await asyncio.wait_for(_collect(reader, 1), 5)

    assert texts == ["after"]
    assert delays == [0.0, 0.01, 0.02, 0.04]


async def test_without_follow_reads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudlogs, "POLL_SECONDS", 0.01)
    client = FakeLogs(["throttle", [_event("1", 1000, "only")]])
    reader = RemoteLogReader(client, FUNCTION, follow=False, since_ms=0, live_tail=False)

    texts = [record.text async for record in reader.records()]

    assert texts == ["only"]
    assert len(client.calls) == 2


class FakeStream(list):
    """A live tail response stream: iterable, and closed when the reader is done."""

    closed = False

    def close(self) -> None:
        self.closed = True


async def test_live_tail_events_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudlogs, "POLL_SECONDS", 0.01)
    old = _event("1", 1000, "old")
    tailed = {"logStreamName": "s", "timestamp": 2000, "message": "tailed"}
    stream = FakeStream([{"sessionStart": {}},
                         {"sessionUpdate": {"sessionResults": [{k: v for k, v in old.items() if k != "eventId"},
                                                               tailed]}}])
    client = FakeLogs([[old], [old, _event("2", 2000, "tailed"), _event("3", 3000, "polled")]])
    client.describe_log_groups = lambda **_: {"logGroups": [
        {"logGroupName": "/aws/lambda/app-f", "arn": "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/app-f:*"}]}
    client.start_live_tail = lambda **arguments: {"responseStream": stream, "arguments": arguments}
    reader = RemoteLogReader(client, FUNCTION, follow=True, since_ms=0)

    texts = await asyncio.wait_for(_collect(reader, 3), 5)

    assert texts == ["old", "tailed", "polled"]
    assert stream.closed
