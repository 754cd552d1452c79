"""`devd up --no-tui` with a Procfile of misbehaving processes, stopped every way a user can.

tests/integration/test_supervise.py covers one supervised process at a time and test_up.py
covers devd without a Procfile. Here the real `devd up` runs a process that crash-loops, one
that ignores SIGTERM, and one that forks a grandchild into the background, all at once.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from tests.integration.conftest import RunningDevd, processes_under, start_devd

PROCFILE = """\
crasher: python3 -c "import sys; print('crasher up', flush=True); sys.exit(3)"
stubborn: python3 -c "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('stubborn up', flush=True); time.sleep(3600)"
forker: sh -c "sleep 3600 & echo forker up; wait"
"""

GRACE_SECONDS = 5.0
"""`DEFAULT_GRACE_S` of devd/supervise/managed.py: SIGKILL follows SIGTERM after it."""


def _start_with_procfile(example: Path) -> RunningDevd:
    (example / "Procfile").write_text(PROCFILE)
    running = start_devd(example, procfile=True)
    running.wait_for_line(r"stubborn: running, pid \d+")
    running.wait_for_line(r"forker up")
    running.wait_for_body("/items/1", "apple")
    return running


def _wait_all_gone(example: Path, running: RunningDevd, timeout: float) -> int:
    status = running.process.wait(timeout)
    deadline = time.monotonic() + 5
    while processes_under(example) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(example) == []
    return status


def test_crash_loop_backs_off_visibly(example: Path) -> None:
    running = _start_with_procfile(example)
    try:
        line = running.wait_for_line(r"crasher: crash loop \(exit status 3\), next attempt in 4 s", timeout=20)
        output = "\n".join(running.lines)
        delays = [int(delay) for delay in re.findall(r"crasher \| WARNING exited with exit status 3, next attempt "
                                                     r"in (\d+) s", output)]
        starts = output.count("crasher up")

        assert "crash loop" in line
        assert delays[:3] == [1, 2, 4]
        assert starts == len(delays), "a start without a logged exit, or the other way round"
        assert starts <= 4
        assert running.get("/items/1")[0] == 200
    finally:
        running.process.send_signal(signal.SIGTERM)
        _wait_all_gone(example, running, 20)


def test_sigterm_ignorer_gets_sigkill(example: Path) -> None:
    running = _start_with_procfile(example)
    started = time.monotonic()
    running.process.send_signal(signal.SIGTERM)

    status = _wait_all_gone(example, running, GRACE_SECONDS + 10)
    elapsed = time.monotonic() - started

    assert status == 0
    assert elapsed >= GRACE_SECONDS - 0.5, "stubborn was killed before its grace time ran out"
    assert elapsed < GRACE_SECONDS + 8
    assert any(re.search(r"did not stop within 5\.0 s of SIGTERM: sending SIGKILL", text) for text in running.lines)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "closed-terminal", "kill-9"])
def test_exit_leaves_no_orphans(example: Path, signum: signal.Signals) -> None:
    running = _start_with_procfile(example)
    assert len(processes_under(example)) >= 4

    running.process.send_signal(signum)

    status = _wait_all_gone(example, running, GRACE_SECONDS + 10)
    if signum is signal.SIGKILL:
        assert status == -signal.SIGKILL
    else:
        assert status == 0
