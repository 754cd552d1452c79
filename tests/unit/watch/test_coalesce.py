"""Coalescing bursts of file events, and the filters for editor temp files."""

from __future__ import annotations

from pathlib import Path

import pytest

from devd.watch.coalesce import Coalescer
from devd.watch.filters import is_relevant


def test_quiet_window_groups_a_burst() -> None:
    coalescer = Coalescer(quiet=0.05, cap=0.5)
    for index in range(100):
        coalescer.add(Path(f"f{index % 10}.ts"), now=index * 0.001)

    assert coalescer.take(now=0.12) == frozenset()
    assert len(coalescer.take(now=0.15)) == 10
    assert coalescer.deadline() is None


def test_cap_flushes_a_never_ending_stream() -> None:
    coalescer = Coalescer(quiet=0.05, cap=0.5)
    now = 0.0
    while now < 0.49:
        coalescer.add(Path("a.ts"), now)
        now += 0.01

    assert coalescer.deadline() == pytest.approx(0.5)
    assert coalescer.take(now=0.5) == {Path("a.ts")}


@pytest.mark.parametrize(
    ("path", "relevant"),
    [
        ("functions/hello/handler.ts", True),
        ("infra/main.tf", True),
        ("functions/hello/handler.ts~", False),
        ("functions/hello/.handler.ts.swp", False),
        ("functions/hello/4913", False),
        ("functions/hello/.#handler.ts", False),
        ("node_modules/esbuild/lib/main.js", False),
        ("infra/.terraform/modules/modules.json", False),
        ("functions/items/__pycache__/model.cpython-311.pyc", False),
        (".devd/build/hello/1/handler.mjs", False),
    ],
)
def test_filter(path: str, relevant: bool) -> None:
    assert is_relevant(Path(path)) is relevant
