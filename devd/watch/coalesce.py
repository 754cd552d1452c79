"""Group a burst of file events into one change set: a quiet window, capped in length."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Coalescer:
    """Collects paths until no event came for `quiet` seconds, or the burst grew too long.

    A burst that keeps touching the same paths (a log file written without pause) is cut after
    `cap` seconds. A storm, a burst of at least `storm_paths` distinct paths such as a
    `git checkout`, waits for `storm_quiet` seconds without events and is kept whole for up to
    `storm_cap` seconds while it adds new paths. So each function rebuilds once after a storm,
    not once per slice of it, even when the writer pauses briefly. Times are monotonic seconds
    passed in by the caller, so the logic is tested without sleeping.
    """

    quiet: float = 0.025
    cap: float = 0.5
    storm_paths: int = 50
    storm_quiet: float = 0.25
    storm_cap: float = 5.0
    _paths: set[Path] = field(default_factory=set)
    _first: float | None = None
    _last: float | None = None
    _last_new: float | None = None

    def add(self, path: Path, now: float) -> None:
        """Record one changed path."""
        if path not in self._paths:
            self._paths.add(path)
            self._last_new = now
        if self._first is None:
            self._first = now
        self._last = now

    def deadline(self) -> float | None:
        """Return when the pending change set is due, or None when nothing is pending."""
        if self._first is None or self._last is None or self._last_new is None:
            return None
        quiet = self.storm_quiet if len(self._paths) >= self.storm_paths else self.quiet
        cap = max(self._first + self.cap, min(self._last_new + quiet, self._first + self.storm_cap))
        return min(self._last + quiet, cap)

    def take(self, now: float) -> frozenset[Path]:
        """Return and clear the pending paths when they are due, else an empty set."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return frozenset()
        paths = frozenset(self._paths)
        self._paths.clear()
        self._first = self._last = self._last_new = None
        return paths
