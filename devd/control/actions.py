"""The daemon's own control actions: status, build and logs.

`add_daemon_actions` fills the dispatch table at start. Commands written elsewhere add theirs
the same way, for example `daemon.actions.add("deploy", deploy_action)`, where
`deploy_action(args: dict) -> Awaitable[JSON value]` runs inside the daemon's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from devd.control.documents import record_document, status_document
from devd.control.protocol import ControlError
from devd.engine.view import Snapshot
from devd.inventory import match_functions
from devd.logs.records import LogRecord, RequestRecord

if TYPE_CHECKING:
    from devd.build.result import BuildResult
    from devd.control.server import ActionTable
    from devd.engine.daemon import Daemon

SOURCE = "control"
"""Source name of the log lines that tell the views what a control request started."""


def add_daemon_actions(daemon: Daemon, table: ActionTable) -> None:
    """Add the status, build, logs and actions actions of this daemon to the table."""

    async def status(_: dict[str, Any]) -> dict[str, Any]:
        return status_document(daemon.snapshot())

    async def build(args: dict[str, Any]) -> list[dict[str, Any]]:
        addresses = resolve_functions(daemon, _names(args.get("functions", [])), runnable_only=True)
        names = ", ".join(daemon.inventory.function(a).name for a in addresses)  # type: ignore[union-attr]
        daemon.publish(LogRecord(SOURCE, f"devd build {names}: requested from the command line"))
        results = await asyncio.gather(*(daemon.build_and_wait(address) for address in addresses))
        return [build_document(daemon, result) for result in results]

    def logs(args: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        function = args.get("function")
        if function is not None:
            address = resolve_functions(daemon, [str(function)], runnable_only=False)[0]
            function = daemon.inventory.function(address).name  # type: ignore[union-attr]
        if args.get("follow"):
            daemon.publish(LogRecord(SOURCE, f"devd logs {function or ''} --follow: attached".replace("  ", " ")))
        return stream_records(daemon, function, bool(args.get("follow")))

    async def actions(_: dict[str, Any]) -> list[str]:
        return list(table.names())

    table.add("status", status, summary="functions, builds, workers, URL and processes")
    table.add("build", build, summary="build functions and wait for the results")
    table.add("logs", logs, stream=True, summary="log and request records, optionally followed")
    table.add("actions", actions, summary="the names of every action")


def _names(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ControlError(f"invalid functions {value!r}: send a list of function names")
    return value


def resolve_functions(daemon: Daemon, names: list[str], runnable_only: bool) -> list[str]:
    """Return the addresses of functions given by name or address; every function for an empty
    list. Raise ControlError naming the unknown ones and the known names."""
    functions = [f for f in daemon.inventory.functions if f.runnable or not runnable_only]
    if not names:
        return [f.address for f in functions]
    addresses = []
    for name in names:
        matches = match_functions(functions, name)
        if len(matches) != 1:
            known = ", ".join(f.name for f in functions) or "none"
            problem = f"several functions match {name}" if matches else f"no function named {name}"
            raise ControlError(f"{problem}; functions: {known}")
        addresses.append(matches[0].address)
    return addresses


def build_document(daemon: Daemon, result: BuildResult) -> dict[str, Any]:
    """Return one build result as the `build` action sends it."""
    function = daemon.inventory.function(result.function)
    return {"name": function.name if function else result.function, "address": result.function, "ok": result.ok,
            "generation": result.generation, "duration_ms": result.duration_ms, "zip_sha256": result.zip_sha256,
            "error": result.error}


async def stream_records(daemon: Daemon, function: str | None, follow: bool) -> AsyncIterator[dict[str, Any]]:
    """Yield the kept records of one function (or all), then, when following, every new one
    until the daemon stops."""
    queue = daemon.subscribe()
    try:
        while follow or not queue.empty():
            update = await queue.get()
            if update is None:
                return
            if isinstance(update, Snapshot) or not _belongs(update, function):
                continue
            yield record_document(update)
    finally:
        daemon.unsubscribe(queue)


def _belongs(record: LogRecord | RequestRecord, function: str | None) -> bool:
    if function is None:
        return True
    if isinstance(record, RequestRecord):
        return record.function == function
    return record.source == function
