"""Read a deployed function's CloudWatch Logs: live tail where the endpoint supports it, else polling.

`StartLiveTail` streams new events as they arrive. When the endpoint does not support it (the
call or its stream fails) or the session ends, the reader polls `FilterLogEvents` about once
a second. It skips events it has already yielded and backs off while the service throttles.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from devd.inventory import Function
from devd.logs.masking import mask_secrets
from devd.logs.records import Level, LogRecord

logger = logging.getLogger("devd.deploy")

POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
SEEN_LIMIT = 10_000
"""Event keys remembered for deduplication; older ones are forgotten first."""
_REPORT_FIELDS = re.compile(r"(Duration|Billed Duration|Memory Size|Max Memory Used|Init Duration): ([\d.]+) (ms|MB)")
_REQUEST_ID = re.compile(r"RequestId: ([0-9a-fA-F-]+)")


def log_group_of(function: Function) -> str:
    """Return the function's log group: its `logging_config` group, else `/aws/lambda/NAME`.

    A matching `aws_cloudwatch_log_group` has the default name, so it needs no lookup.
    """
    return function.log_group or f"/aws/lambda/{function.name}"


def format_event(message: str, source: str, timestamp_ms: int | None = None) -> LogRecord:
    """Return one log event as a LogRecord, with Lambda's START, END and REPORT lines shortened.

    `REPORT RequestId: ID  Duration: 12.3 ms  ...  Max Memory Used: 70 MB` becomes
    `REPORT ID 12.3 ms, 70/128 MB` (and `init N ms` on a cold start).
    """
    text = message.rstrip("\n")
    stamp = timestamp_ms / 1000 if timestamp_ms is not None else time.time()
    request = _REQUEST_ID.search(text)
    request_id = request.group(1) if request else None
    if text.startswith(("START RequestId:", "END RequestId:")) and request_id:
        return LogRecord(source, f"{text.split(' ', 1)[0]} {request_id}", Level.DEBUG, request_id, stamp)
    if text.startswith("REPORT RequestId:") and request_id:
        return LogRecord(source, _compact_report(text, request_id), Level.INFO, request_id, stamp)
    level = Level.ERROR if "ERROR" in text[:80] else Level.INFO
    return LogRecord(source, mask_secrets(text), level, request_id, stamp)


def _compact_report(text: str, request_id: str) -> str:
    fields = {name: value for name, value, _unit in _REPORT_FIELDS.findall(text)}
    parts = [f"REPORT {request_id}"]
    if "Duration" in fields:
        parts.append(f"{fields['Duration']} ms")
    if "Max Memory Used" in fields and "Memory Size" in fields:
        parts.append(f"{fields['Max Memory Used']}/{fields['Memory Size']} MB")
    if "Init Duration" in fields:
        parts.append(f"init {fields['Init Duration']} ms")
    return parts[0] + " " + ", ".join(parts[1:]) if len(parts) > 1 else parts[0]


@dataclass
class _Seen:
    """Keys of yielded events, bounded: the newest SEEN_LIMIT are kept."""

    order: deque
    keys: set

    def add(self, key: tuple) -> bool:
        """Remember a key; return False when it was seen before."""
        if key in self.keys:
            return False
        self.keys.add(key)
        self.order.append(key)
        if len(self.order) > SEEN_LIMIT:
            self.keys.discard(self.order.popleft())
        return True


def _content_key(event: dict[str, Any]) -> tuple:
    return ("event", event.get("logStreamName"), event.get("timestamp"), event.get("message"))


class RemoteLogReader:
    """Yields one function's CloudWatch log events as LogRecords, from `since_ms` on."""

    def __init__(self, client: Any, function: Function, *, follow: bool, since_ms: int,
                 live_tail: bool = True) -> None:
        self.client = client
        self.function = function
        self.group = log_group_of(function)
        self.follow = follow
        self.since_ms = since_ms
        self.live_tail = live_tail
        self._seen = _Seen(deque(), set())
        self._tailed = _Seen(deque(), set())
        """Content keys of events that a live tail session yielded."""
        self._group_missing: bool | None = None
        """Flag set when the last poll found no log group; None before the first poll."""

    async def records(self) -> AsyncIterator[LogRecord]:
        """Yield past events from `since_ms`, then, when following, new ones until cancelled."""
        delay = 0.0
        tailed = False
        while True:
            await asyncio.sleep(delay)
            try:
                async for record in self._poll_once():
                    yield record
            except _Throttled:
                delay = min(max(delay, POLL_SECONDS) * 2, MAX_BACKOFF_SECONDS)
                logger.warning("CloudWatch Logs throttled FilterLogEvents on %s: next poll in %.1f s", self.group, delay)
                continue

            delay = POLL_SECONDS
            if not self.follow:
                return
            if self.live_tail and not tailed:
                tailed = True
                async for record in self._live_tail():
                    yield record

    async def _poll_once(self) -> AsyncIterator[LogRecord]:
        was_missing = self._group_missing
        events = await asyncio.to_thread(self._filter_events)
        if self._group_missing and not was_missing:
            yield LogRecord(self.function.name, f"log group {self.group} does not exist yet; it appears when the "
                            "deployed function first runs in AWS" + (", so devd keeps polling" if self.follow else ""),
                            Level.WARNING)
        for event in events:
            if self._first_sight(event):
                # Events of one millisecond may arrive in separate polls, so the next poll
                # starts at the newest timestamp seen and deduplication drops repeats.
                self.since_ms = max(self.since_ms, int(event.get("timestamp", 0)))
                yield format_event(event.get("message", ""), self.function.name, event.get("timestamp"))

    def _first_sight(self, event: dict[str, Any]) -> bool:
        """Remember a polled event; return False when it was yielded before.

        FilterLogEvents gives each event an id, and live tail results have none. So a polled
        event is also remembered by content, for a live tail session to skip, and a polled
        event whose content a live tail session yielded is skipped.
        """
        content = _content_key(event)
        if not event.get("eventId"):
            return self._seen.add(content)
        new = self._seen.add(("id", event["eventId"]))
        self._seen.add(content)
        return new and content not in self._tailed.keys

    def _filter_events(self) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        events: list[dict[str, Any]] = []
        token = None
        try:
            for _page in range(100):
                arguments = {"logGroupName": self.group, "startTime": self.since_ms}
                if token:
                    arguments["nextToken"] = token
                response = self.client.filter_log_events(**arguments)
                events += response.get("events", [])
                token = response.get("nextToken")
                if not token:
                    break
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("ThrottlingException", "TooManyRequestsException"):
                raise _Throttled() from error
            if code == "ResourceNotFoundException":
                self._group_missing = True
                return []
            raise
        self._group_missing = False
        return sorted(events, key=lambda event: (event.get("timestamp", 0), event.get("eventId", "")))

    async def _live_tail(self) -> AsyncIterator[LogRecord]:
        """Yield events of a live tail session; return when the endpoint lacks it or the session ends."""
        # NOTE: tested only against moto 5.2, whose session sends one update and ends. A
        # session of AWS itself, which lasts up to three hours, is untested.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            arn = await asyncio.to_thread(self._group_arn)
            response = await asyncio.to_thread(self.client.start_live_tail, logGroupIdentifiers=[arn])
            stream = response["responseStream"]
            try:
                events = iter(stream)
                while (item := await asyncio.to_thread(next, events, None)) is not None:
                    for event in item.get("sessionUpdate", {}).get("sessionResults", []):
                        content = _content_key(event)
                        self._tailed.add(content)
                        if self._seen.add(content):
                            self.since_ms = max(self.since_ms, int(event.get("timestamp", 0)))
                            yield format_event(event.get("message", ""), self.function.name, event.get("timestamp"))
            finally:
                # Closing the connection ends a thread blocked in next(), so cancelling
                # the reader does not wait for the next update of a quiet session.
                stream.close()
        except (ClientError, BotoCoreError, KeyError, TypeError) as error:
            logger.info("live tail of %s is not available (%s): polling FilterLogEvents every %.0f s",
                        self.group, error, POLL_SECONDS)
            return
        logger.info("live tail session of %s ended: polling FilterLogEvents every %.0f s", self.group, POLL_SECONDS)

    def _group_arn(self) -> str:
        groups = self.client.describe_log_groups(logGroupNamePrefix=self.group).get("logGroups", [])
        for group in groups:
            if group.get("logGroupName") == self.group and group.get("arn"):
                return group["arn"].removesuffix(":*")
        raise KeyError(f"log group {self.group} not found")


class _Throttled(Exception):
    """FilterLogEvents was throttled."""
