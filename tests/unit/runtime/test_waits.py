"""Waiting for the first of several futures, and request ids."""

from __future__ import annotations

import asyncio
import uuid

from devd.runtime.waits import first_done, new_request_id, random_hex


async def test_returns_when_one_future_is_done():
    loop = asyncio.get_running_loop()
    slow, fast = loop.create_future(), loop.create_future()
    loop.call_later(0.01, fast.set_result, 1)

    await asyncio.wait_for(first_done((slow, fast), 10), 5)

    assert fast.done()
    assert not slow.done()


async def test_returns_after_timeout_and_leaves_futures_pending():
    never = asyncio.get_running_loop().create_future()

    await first_done((never,), 0.01)

    assert not never.done()
    never.set_result(None)  # no callback of the finished wait is left on it


async def test_cancelling_the_wait_leaves_the_futures_alone():
    never = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(first_done((never,), None))
    await asyncio.sleep(0)

    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)

    assert waiting.cancelled()
    assert not never.done()


def test_request_ids_are_distinct_version_4_uuids():
    ids = {new_request_id() for _ in range(2000)}

    assert len(ids) == 2000
    for text in list(ids)[:200]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_random_hex_has_the_length_asked_for():
    assert all(len(random_hex(40)) == 40 for _ in range(200))
    assert int(random_hex(40), 16) >= 0
