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


def test_storm_of_new_paths_stays_whole() -> None:
    coalescer = Coalescer(quiet=0.025, cap=0.5, storm_cap=5.0)
    for index in range(1000):
        coalescer.add(Path(f"f{index:04d}.py"), now=index * 0.002)

    assert coalescer.take(now=1.0) == frozenset()
    assert coalescer.take(now=1.998 + 0.2) == frozenset()
    assert len(coalescer.take(now=1.998 + 0.25)) == 1000


def test_storm_survives_a_short_pause() -> None:
    coalescer = Coalescer(quiet=0.025, cap=0.5, storm_cap=5.0)
    for index in range(500):
        coalescer.add(Path(f"a{index:03d}.py"), now=index * 0.001)
    pause_end = 0.499 + 0.1
    for index in range(500):
        coalescer.add(Path(f"b{index:03d}.py"), now=pause_end + index * 0.001)

    assert coalescer.take(now=0.499 + 0.09) == frozenset()
    assert len(coalescer.take(now=pause_end + 0.499 + 0.25)) == 1000


def test_small_burst_keeps_short_quiet() -> None:
    coalescer = Coalescer(quiet=0.025, cap=0.5, storm_paths=50)
    coalescer.add(Path("handler.ts"), now=0.0)
    coalescer.add(Path(".handler.ts.tmp"), now=0.001)

    assert coalescer.deadline() == pytest.approx(0.026)


def test_storm_cap_flushes_endless_new_paths() -> None:
    coalescer = Coalescer(quiet=0.025, cap=0.5, storm_cap=5.0)
    now = 0.0
    index = 0
    while now < 6.0 and not coalescer.take(now):
        coalescer.add(Path(f"f{index}.py"), now)
        index += 1
        now += 0.01

    assert now == pytest.approx(5.01, abs=0.011)


def test_repeated_path_after_storm_uses_short_cap() -> None:
    coalescer = Coalescer(quiet=0.025, cap=0.5, storm_cap=5.0)
    coalescer.add(Path("a.py"), now=0.0)
    coalescer.add(Path("b.py"), now=0.01)
    now = 0.02
    while now < 0.6:
        coalescer.add(Path("a.py"), now)
        now += 0.01

    assert coalescer.deadline() == pytest.approx(0.5)


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
