"""The restart backoff policy, driven by explicit times instead of sleeping."""

from __future__ import annotations

import pytest

from devd.errors import ConfigError
from devd.supervise.backoff import Backoff


def crash_at_once(backoff: Backoff, now: float) -> float:
    """Record a run that starts and exits at `now`; return the delay before the next start."""
    backoff.record_start(now)
    return backoff.record_exit(now)


def test_delays_double_up_to_maximum() -> None:
    backoff = Backoff(base=1.0, factor=2.0, maximum=60.0)

    delays = [crash_at_once(backoff, float(now)) for now in range(9)]

    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_next_delay_counts_down_from_exit() -> None:
    backoff = Backoff(base=1.0)
    crash_at_once(backoff, 100.0)
    crash_at_once(backoff, 101.0)

    assert backoff.next_attempt_at == 103.0
    assert backoff.next_delay(101.0) == 2.0
    assert backoff.next_delay(102.5) == 0.5
    assert backoff.next_delay(110.0) == 0.0


def test_next_delay_is_zero_before_first_exit() -> None:
    backoff = Backoff()

    assert backoff.next_delay(5.0) == 0.0
    assert backoff.next_attempt_at is None


def test_steady_run_resets_delay() -> None:
    backoff = Backoff(base=1.0, steady_after=10.0)
    for now in range(4):
        crash_at_once(backoff, float(now))
    assert backoff.failures == 4

    backoff.record_start(100.0)
    delay = backoff.record_exit(110.0)

    assert delay == 1.0
    assert backoff.failures == 1


def test_short_run_keeps_growing() -> None:
    backoff = Backoff(base=1.0, steady_after=10.0)
    crash_at_once(backoff, 0.0)

    backoff.record_start(5.0)
    delay = backoff.record_exit(14.9)

    assert delay == 2.0


def test_long_crash_loop_stays_at_maximum() -> None:
    backoff = Backoff(base=1.0, maximum=60.0)

    for now in range(2000):
        delay = crash_at_once(backoff, float(now))

    assert delay == 60.0


def test_reset_allows_immediate_start() -> None:
    backoff = Backoff(base=1.0)
    for now in range(3):
        crash_at_once(backoff, float(now))

    backoff.reset()

    assert backoff.next_delay(2.0) == 0.0
    assert backoff.failures == 0
    assert crash_at_once(backoff, 3.0) == 1.0


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"base": 0.0}, "base delay 0.0"),
        ({"factor": 0.5}, "factor 0.5"),
        ({"base": 2.0, "maximum": 1.0}, "maximum 1.0"),
    ],
)
def test_invalid_settings_raise(values: dict[str, float], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Backoff(**values)
