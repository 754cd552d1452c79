"""Small waiting primitives for the per-request path, where asyncio's general ones cost more."""

from __future__ import annotations

import asyncio
import random
from typing import Sequence

_random = random.Random()


async def first_done(futures: Sequence[asyncio.Future], timeout_s: float | None) -> None:
    """Wait until one of `futures` is done or `timeout_s` seconds have passed.

    Does what `asyncio.wait(..., return_when=FIRST_COMPLETED)` does for futures, without
    building sets and result tuples; the caller checks which future is done. Cancelling the
    caller leaves the futures alone.
    """
    if any(future.done() for future in futures):
        # One round of the loop, as asyncio.wait takes, so that output a worker wrote before
        # its result is read before the caller goes on.
        await asyncio.sleep(0)
        return

    waiter = asyncio.get_running_loop().create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    timer = None if timeout_s is None else asyncio.get_running_loop().call_later(timeout_s, wake)
    try:
        await waiter
    finally:
        if timer is not None:
            timer.cancel()
        for future in futures:
            future.remove_done_callback(wake)


def new_request_id() -> str:
    """Return a random version 4 UUID as text, the form of Lambda and API Gateway request ids.

    Request ids only need to be unique, so they come from `random` rather than `os.urandom`,
    which costs a system call on every request.
    """
    digits = f"{_random.getrandbits(128):032x}"
    variant = "89ab"[int(digits[16], 16) & 3]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:32]}"


def random_hex(length: int) -> str:
    """Return `length` random hexadecimal digits, for ids that need not be secret."""
    return f"{_random.getrandbits(length * 4):0{length}x}"
