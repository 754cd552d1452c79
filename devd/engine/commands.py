"""Commands that views and the control socket send to a running daemon: build and wait, invoke
outside the gateway, saved events, and restarts. `Daemon` inherits them; they use its state."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from devd.engine.sample_events import event_for, save_event
from devd.errors import DevdError, RuntimeStartError
from devd.logs.records import LogRecord, RequestRecord, inspect_text
from devd.runtime.invoke import InvokeResult

if TYPE_CHECKING:
    from devd.build.result import BuildResult
    from devd.engine.daemon import Daemon


class DaemonCommands:
    """The command methods of `Daemon`, kept apart so the daemon module stays about its state."""

    async def build_and_wait(self: Daemon, address: str) -> BuildResult:
        """Queue a build of the function and return its result once it finishes.

        Raises DevdError when the function is unknown or leaves the inventory meanwhile.
        """
        function = self.inventory.function(address)
        if function is None:
            raise DevdError(f"no function {address} in the inventory")
        if not function.runnable:
            raise DevdError(f"{function.name} is a container image function; devd does not build it")
        generation = self.states[address].generation + 1 if address in self.states else 1
        waiter = self._build_waiters.wait(address, generation)
        self._request_build(address)
        return await waiter

    async def invoke_function(self: Daemon, address: str, event: bytes) -> InvokeResult:
        """Invoke a function outside the gateway (the TUI's invoke and replay keys) and publish
        the exchange as a request record with method INVOKE, so the inspector shows it."""
        function = self.inventory.function(address)
        if function is None:
            raise DevdError(f"no function {address} in the inventory")
        started = time.perf_counter()
        result = await self.invoke(address, event)
        duration_ms = (time.perf_counter() - started) * 1000
        status = 200 if result.function_error is None else 502
        self.request_stats.add(function.name, duration_ms)
        self.publish(RequestRecord("INVOKE", function.name, status, duration_ms, function.name,
                                   result.request_id or None, event=inspect_text(event),
                                   response=inspect_text(result.payload)))
        return result

    def event_for(self: Daemon, address: str) -> tuple[bytes, str]:
        """Return the saved or sample event to invoke a function with, and where it came from."""
        return event_for(self.inventory, self.settings.state_dir, address)

    def save_event(self: Daemon, function_name: str, event: bytes) -> Path:
        """Save an event as the one the invoke key sends to this function; return its path."""
        return save_event(self.settings.state_dir, function_name, event)

    async def restart_workers(self: Daemon, address: str) -> None:
        """Replace the function's workers with fresh ones on the same build.

        Raises DevdError when the function has no successful build or its workers cannot start.
        """
        function = self.inventory.function(address)
        result = self._results.get(address)
        if function is None or result is None:
            raise DevdError(f"cannot restart the workers of {address}: it has no successful build")
        try:
            pool = self._new_pool(function, result)
        except RuntimeStartError as error:
            raise DevdError(f"cannot restart the workers of {function.name}: {error}") from error
        self._swap_pool(address, pool)
        self.publish(LogRecord(function.name, f"workers restarted on build #{result.generation}"))
        self._publish_snapshot()

    async def restart_process(self: Daemon, name: str) -> None:
        """Restart a Procfile process by name, or `sam local` when name is "sam"."""
        if self.procfile is not None and name in self.procfile.names:
            await self.procfile.restart(name)
            return
        if name == "sam" and self.sam.process is not None:
            await self.sam.process.restart()
            return
        raise DevdError(f"no process named {name!r}; processes: {', '.join(self._processes) or 'none'}")
