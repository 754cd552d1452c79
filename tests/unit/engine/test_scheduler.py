"""The build scheduler: bounded concurrency, urgent builds first, and no lost changes."""

from __future__ import annotations

import asyncio

from devd.engine.scheduler import BuildScheduler


class Recorder:
    """A build function that records its calls and waits until released."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.running = 0
        self.max_running = 0
        self.release = asyncio.Event()

    async def build(self, address: str) -> None:
        self.started.append(address)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        await self.release.wait()
        self.running -= 1


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_concurrency_is_bounded() -> None:
    recorder = Recorder()
    scheduler = BuildScheduler(recorder.build, concurrency=2)
    for index in range(10):
        scheduler.request(f"f{index}")
    await settle()

    assert recorder.started == ["f0", "f1"]
    recorder.release.set()
    await settle()
    assert len(recorder.started) == 10
    assert recorder.max_running == 2
    await scheduler.close()


async def test_urgent_request_jumps_queue() -> None:
    recorder = Recorder()
    scheduler = BuildScheduler(recorder.build, concurrency=1)
    for index in range(5):
        scheduler.request(f"f{index}")
    await settle()
    scheduler.request("f4", urgent=True)
    recorder.release.set()
    await settle()

    assert recorder.started[:2] == ["f0", "f4"]
    assert recorder.started.count("f4") == 1
    await scheduler.close()


async def test_change_during_build_builds_again_once() -> None:
    recorder = Recorder()
    scheduler = BuildScheduler(recorder.build, concurrency=1)
    scheduler.request("f")
    await settle()
    scheduler.request("f")
    scheduler.request("f")
    scheduler.request("f", urgent=True)
    recorder.release.set()
    await settle()

    assert recorder.started == ["f", "f"]
    await scheduler.close()


async def test_forget_drops_queued_build() -> None:
    recorder = Recorder()
    scheduler = BuildScheduler(recorder.build, concurrency=1)
    scheduler.request("a")
    scheduler.request("b")
    await settle()
    scheduler.forget("b")
    recorder.release.set()
    await settle()

    assert recorder.started == ["a"]
    assert not scheduler.pending("b")
    await scheduler.close()
