"""Shared pieces of the reliability suite: the `--soak` switch and process-group measurements.

The long runs (60 s of load per route, a 10-minute soak) run only with `--soak` on the command
line or `DEVD_SOAK=1` in the environment. Pass `--soak` together with a path under
`tests/reliability`, because pytest reads this file's options only for such paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.integration.conftest import RunningDevd, copy_example, start_devd, stop_devd


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False,
                     help="run the 60 s load tests and the 10-minute soak (also DEVD_SOAK=1)")


def soak_enabled(config: pytest.Config) -> bool:
    """Return whether the long load and soak runs were requested."""
    return bool(config.getoption("--soak", default=False)) or os.environ.get("DEVD_SOAK") == "1"


@dataclass(frozen=True)
class TreeSample:
    """Resident memory and open file descriptors of devd and its descendants at one moment.

    Each worker, build service and Procfile process leads a process group of its own, so the
    tree under devd's pid is measured rather than devd's process group alone.
    """

    daemon_rss: int
    """Resident set size of the devd process itself, in bytes."""
    worker_rss: int
    """Summed resident set size of every descendant of devd, in bytes."""
    daemon_fds: int
    worker_fds: int
    members: int


def sample_tree(pid: int) -> TreeSample:
    """Measure the process pid and every live descendant of it."""
    root = psutil.Process(pid)
    daemon_rss = root.memory_info().rss
    daemon_fds = root.num_fds()
    worker_rss = worker_fds = members = 0
    for child in root.children(recursive=True):
        try:
            worker_rss += child.memory_info().rss
            worker_fds += child.num_fds()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        members += 1
    return TreeSample(daemon_rss, worker_rss, daemon_fds, worker_fds, members)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "app")


@pytest.fixture
def devd(example: Path) -> Iterator[RunningDevd]:
    running = start_devd(example)
    yield running
    stop_devd(running)
