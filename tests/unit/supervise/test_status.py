"""The one-line descriptions of process statuses that the views show."""

from __future__ import annotations

from devd.supervise.status import ProcessState, ProcessStatus, describe_status


def test_crash_loop_shows_next_attempt() -> None:
    status = ProcessStatus(
        "web", ProcessState.BACKOFF, last_exit_code=1, next_attempt_at=108.0, consecutive_failures=4
    )

    assert describe_status(status, now=100.2) == "crash loop (exit status 1), next attempt in 8 s"


def test_first_exit_is_not_crash_loop() -> None:
    status = ProcessStatus(
        "web", ProcessState.BACKOFF, last_exit_code=-9, next_attempt_at=101.0, consecutive_failures=1
    )

    assert describe_status(status, now=100.0) == "signal SIGKILL, next attempt in 1 s"


def test_past_attempt_time_shows_zero() -> None:
    status = ProcessStatus("web", ProcessState.BACKOFF, last_exit_code=1, next_attempt_at=50.0)

    assert status.seconds_to_next_attempt(60.0) == 0.0
    assert describe_status(status, now=60.0) == "exit status 1, next attempt in 0 s"


def test_running_and_failed_descriptions() -> None:
    running = ProcessStatus("web", ProcessState.RUNNING, pid=42)
    failed = ProcessStatus("web", ProcessState.FAILED, detail="program 'sam' not found")

    assert describe_status(running, now=0.0) == "running, pid 42"
    assert describe_status(failed, now=0.0) == "failed: program 'sam' not found"
    assert describe_status(ProcessStatus("web", ProcessState.STOPPED), now=0.0) == "stopped"


def test_next_attempt_only_in_backoff() -> None:
    status = ProcessStatus("web", ProcessState.RUNNING, pid=7, next_attempt_at=10.0)

    assert status.seconds_to_next_attempt(0.0) is None
