"""The watchdog adapter: file events from an observer thread, coalesced on the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from devd.watch.coalesce import Coalescer
from devd.watch.filters import IGNORED_DIRECTORIES, is_relevant

log = logging.getLogger("devd.watch")


class _Forward(FileSystemEventHandler):
    """Pass relevant paths from the observer thread to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: "asyncio.Queue[Path]") -> None:
        self.loop = loop
        self.queue = queue

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for raw in paths:
            if raw:
                path = Path(raw if isinstance(raw, str) else raw.decode())
                if is_relevant(path):
                    self.loop.call_soon_threadsafe(self.queue.put_nowait, path)


class Watcher:
    """Watches a set of directories and calls `on_change` with each coalesced set of paths."""

    def __init__(self, on_change: Callable[[frozenset[Path]], Awaitable[None]],
                 quiet: float = Coalescer.quiet, cap: float = Coalescer.cap) -> None:
        self.on_change = on_change
        self.coalescer = Coalescer(quiet, cap)
        self._queue: asyncio.Queue[Path] = asyncio.Queue()
        self._observer: BaseObserver | None = None
        self._watches: dict[tuple[Path, bool], ObservedWatch] = {}
        self._roots: set[tuple[Path, bool]] = set()
        self._missing: set[tuple[Path, bool]] = set()
        self._sentinels: dict[Path, ObservedWatch] = {}
        """Non-recursive watches on the nearest existing parent of each missing root, so that
        devd notices when the root is created again."""
        self._task: asyncio.Task[None] | None = None
        self._handler: _Forward | None = None
        self.polling = False

    async def start(self, roots: Iterable[tuple[Path, bool]]) -> None:
        """Start the observer thread and watch the given (directory, recursive) pairs."""
        loop = asyncio.get_running_loop()
        self._handler = _Forward(loop, self._queue)
        self._observer = Observer()
        self._observer.start()
        self.update(roots)
        self._task = asyncio.create_task(self._drain(), name="devd-watch")

    def update(self, roots: Iterable[tuple[Path, bool]]) -> None:
        """Watch exactly these directories from now on.

        A directory that does not exist yet, or is deleted later (by a branch switch, say), is
        watched from its nearest existing parent until it appears again.
        """
        assert self._observer is not None and self._handler is not None
        self._roots = {(path.resolve(), recursive) for path, recursive in roots}
        self._missing &= self._roots
        self._sync_roots()

    def _sync_roots(self) -> list[Path]:
        """Match the watches to the directories on disk; return the files of roots that came back.

        A watch whose directory was deleted is dead (inotify drops it), so it is removed, and a
        root that came back is watched anew. Files written into a root before its new watch
        started raised no event, so the caller treats every file of such a root as changed.
        """
        present = {key for key in self._roots if key[0].is_dir()}
        for key in set(self._watches) - present:
            self._observer.unschedule(self._watches.pop(key))
        revived = [key for key in self._missing if key in present]
        for key in present - set(self._watches):
            self._schedule(key)
        self._missing = self._roots - present
        self._watch_parents({_nearest_existing(key[0]) for key in self._missing})

        if revived:
            log.info("watching %s again", ", ".join(str(key[0]) for key in revived))
        return [path for key in revived for path in _files_under(key[0], key[1])]

    def _watch_parents(self, parents: set[Path]) -> None:
        assert self._observer is not None and self._handler is not None
        for parent in set(self._sentinels) - parents:
            self._observer.unschedule(self._sentinels.pop(parent))
        for parent in parents - set(self._sentinels):
            try:
                self._sentinels[parent] = self._observer.schedule(self._handler, str(parent), recursive=False)
            except OSError as error:
                log.warning("cannot watch %s for a deleted directory to come back: %s", parent, error)

    def _schedule(self, key: tuple[Path, bool]) -> None:
        assert self._observer is not None and self._handler is not None
        try:
            self._watches[key] = self._observer.schedule(self._handler, str(key[0]), recursive=key[1])
        except OSError as error:
            if self.polling:
                raise
            log.warning("cannot watch %s (%s); falling back to polling every second, raise "
                        "fs.inotify.max_user_watches to avoid it", key[0], error)
            self._switch_to_polling()
            self._schedule(key)

    def _switch_to_polling(self) -> None:
        assert self._observer is not None
        keys = list(self._watches)
        self._observer.stop()
        self._observer = PollingObserver(timeout=1.0)
        self._observer.start()
        self._watches.clear()
        self._sentinels.clear()
        self.polling = True
        for key in keys:
            self._schedule(key)

    async def _drain(self) -> None:
        while True:
            deadline = self.coalescer.deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancellation
            # that close() sends when an event arrives at the same moment.
            try:
                async with asyncio.timeout(timeout):
                    path = await self._queue.get()
                self.coalescer.add(path, time.monotonic())
            except TimeoutError:
                pass
            paths = self.coalescer.take(time.monotonic())
            if paths:
                revived = self._sync_roots()
                await self._deliver(paths | frozenset(revived))

    async def _deliver(self, paths: frozenset[Path]) -> None:
        try:
            await self.on_change(paths)
        except Exception:
            log.exception("handling changes to %d files failed", len(paths))

    async def close(self) -> None:
        """Stop the observer thread and the drain task."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._observer is not None:
            self._observer.stop()
            await asyncio.to_thread(self._observer.join, 2.0)


def _nearest_existing(path: Path) -> Path:
    for parent in path.parents:
        if parent.is_dir():
            return parent
    return Path(path.anchor or "/")


def _files_under(directory: Path, recursive: bool) -> list[Path]:
    """Return the relevant files in directory (and its subdirectories when recursive)."""
    found = []
    for current, subdirectories, names in os.walk(directory):
        subdirectories[:] = [name for name in subdirectories if recursive and name not in IGNORED_DIRECTORIES]
        found.extend(path for path in (Path(current, name) for name in names) if is_relevant(path))
    return found
