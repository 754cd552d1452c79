"""The restart policy of a supervised process: exponential backoff, reset by a steady run.

The policy only does arithmetic on the times it is given, so tests drive it without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devd.errors import ConfigError

_MAX_EXPONENT = 64
"""Cap on the exponent, so that a long crash loop cannot overflow `factor ** failures`."""


@dataclass
class Backoff:
    """Delays between restarts: `base`, then `base * factor`, `base * factor**2` ... up to `maximum`.

    A process that ran for at least `steady_after` seconds before it exited counts as having
    run steadily, so its next restart waits `base` again. All values are seconds, and all
    times come from one clock chosen by the caller.
    """

    base: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    steady_after: float = 10.0
    _failures: int = field(default=0, init=False)
    _started_at: float | None = field(default=None, init=False)
    _next_attempt_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.base <= 0:
            raise ConfigError(f"backoff base delay {self.base} s is invalid: use a delay above 0 s.")
        if self.factor < 1:
            raise ConfigError(f"backoff factor {self.factor} is invalid: use a factor of 1 or more.")
        if self.maximum < self.base:
            raise ConfigError(
                f"backoff maximum {self.maximum} s is below the base delay {self.base} s: "
                "raise the maximum or lower the base."
            )

    @property
    def failures(self) -> int:
        """Number of exits since the last steady run or reset."""
        return self._failures

    @property
    def next_attempt_at(self) -> float | None:
        """Time of the next allowed start, or None before the first exit and after a reset."""
        return self._next_attempt_at

    def record_start(self, now: float) -> None:
        """Record that the process started at `now`."""
        self._started_at = now

    def record_exit(self, now: float) -> float:
        """Record that the process exited at `now`, and return the delay before its next start."""
        ran_for = now - self._started_at if self._started_at is not None else 0.0
        if ran_for >= self.steady_after:
            self._failures = 0

        delay = min(self.maximum, self.base * self.factor ** min(self._failures, _MAX_EXPONENT))
        self._failures += 1
        self._started_at = None
        self._next_attempt_at = now + delay
        return delay

    def next_delay(self, now: float) -> float:
        """Return the seconds from `now` until the next start is allowed; 0 when it is already."""
        if self._next_attempt_at is None:
            return 0.0
        return max(0.0, self._next_attempt_at - now)

    def reset(self) -> None:
        """Forget past exits, as after a manual restart: the next start may happen at once."""
        self._failures = 0
        self._started_at = None
        self._next_attempt_at = None
