"""Shared pieces of the reliability suite: the `--soak` switch and a copy of the example.

The long runs (60 s of load per route, a 10-minute soak) run only with `--soak` on the command
line or `DEVD_SOAK=1` in the environment. Pass `--soak` together with a path under
`tests/reliability`, because pytest reads this file's options only for such paths.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import RunningDevd, copy_example, start_devd, stop_devd


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False,
                     help="run the 60 s load tests and the 10-minute soak (also DEVD_SOAK=1)")


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """Whether the long load and soak runs were requested."""
    return bool(request.config.getoption("--soak", default=False)) or os.environ.get("DEVD_SOAK") == "1"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "app")


@pytest.fixture
def devd(example: Path) -> Iterator[RunningDevd]:
    running = start_devd(example)
    yield running
    stop_devd(running)
