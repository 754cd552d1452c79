"""Group a burst of file events into one change set: a quiet window, capped in length."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Coalescer:
    """Collects paths until no event came for `quiet` seconds, or `cap` seconds passed.

    Times are monotonic seconds passed in by the caller, so the logic is tested without
    sleeping.
    """

    quiet: float = 0.025
    cap: float = 0.5
    _paths: set[Path] = field(default_factory=set)
    _first: float | None = None
    _last: float | None = None

    def add(self, path: Path, now: float) -> None:
        """Record one changed path."""
        self._paths.add(path)
        if self._first is None:
            self._first = now
        self._last = now

    def deadline(self) -> float | None:
        """Return when the pending change set is due, or None when nothing is pending."""
        if self._first is None or self._last is None:
            return None
        return min(self._last + self.quiet, self._first + self.cap)

    def take(self, now: float) -> frozenset[Path]:
        """Return and clear the pending paths when they are due, else an empty set."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return frozenset()
        paths = frozenset(self._paths)
        self._paths.clear()
        self._first = self._last = None
        return paths
