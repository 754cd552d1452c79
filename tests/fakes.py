"""A fake DaemonHandle for tests of the views, driven by the updates that a test pushes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devd.deploy.model import Deployer
from devd.engine.deploys import Deploys
from devd.engine.handle import Update
from devd.engine.view import Snapshot
from devd.errors import DevdError
from devd.runtime.invoke import InvokeResult


class FakeDaemon:
    """A DaemonHandle whose updates come from `push()`, and which records what the views call."""

    def __init__(self, snapshot: Snapshot, deployer: Deployer | None = None, state_dir: Path | None = None) -> None:
        self.current = snapshot
        self.queues: list[asyncio.Queue[Update | None]] = []
        self.rebuilds: list[str] = []
        self.invocations: list[tuple[str, bytes]] = []
        self.worker_restarts: list[str] = []
        self.process_restarts: list[str] = []
        self.saved_events: dict[str, bytes] = {}
        self.state_dir = state_dir or Path("/nonexistent/.devd")
        self.stopped = False
        self.deploys = Deploys(deployer, self.push, lambda: None)

    def snapshot(self) -> Snapshot:
        return self.current

    def subscribe(self) -> asyncio.Queue[Update | None]:
        queue: asyncio.Queue[Update | None] = asyncio.Queue()
        self.queues.append(queue)
        return queue

    def push(self, update: Update) -> None:
        """Send an update to every subscriber. A snapshot also replaces the current one."""
        if isinstance(update, Snapshot):
            self.current = update

        for queue in self.queues:
            queue.put_nowait(update)

    async def rebuild(self, address: str) -> None:
        self.rebuilds.append(address)

    async def invoke_function(self, address: str, event: bytes) -> InvokeResult:
        self.invocations.append((address, event))
        return InvokeResult("fake-request", b'{"statusCode": 200}')

    def event_for(self, address: str) -> tuple[bytes, str]:
        name = next(f.name for f in self.current.functions if f.address == address)
        if name in self.saved_events:
            return self.saved_events[name], f"saved event of {name}"
        return b'{"sample": true}', "a sample event"

    def save_event(self, function_name: str, event: bytes) -> Path:
        self.saved_events[function_name] = event
        return self.state_dir / "events" / f"{function_name}.json"

    async def restart_workers(self, address: str) -> None:
        self.worker_restarts.append(address)

    async def restart_process(self, name: str) -> None:
        if name not in {status.name for status in self.current.processes}:
            raise DevdError(f"no process named {name!r}")
        self.process_restarts.append(name)

    async def stop(self) -> None:
        """Mark the daemon stopped and send the `None` sentinel to every subscriber."""
        self.stopped = True

        for queue in self.queues:
            queue.put_nowait(None)
