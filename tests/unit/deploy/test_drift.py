"""Classifying deployed code against local builds, and the history of build hashes."""

from __future__ import annotations

from pathlib import Path

from devd.deploy.drift import HISTORY_LIMIT, BuildHistory, classify
from devd.deploy.model import Drift


def test_classify_cases() -> None:
    assert classify(None, False, "new", ["old"]) == Drift.NOT_DEPLOYED
    assert classify("new", True, "new", ["old", "new"]) == Drift.UP_TO_DATE
    assert classify("old", True, "new", ["old", "new"]) == Drift.LOCAL_CHANGES
    assert classify("other", True, "new", ["old", "new"]) == Drift.FOREIGN
    assert classify("other", True, None, []) == Drift.UNKNOWN
    assert classify("old", True, None, ["old"]) == Drift.LOCAL_CHANGES


def test_history_keeps_newest(tmp_path: Path) -> None:
    history = BuildHistory(tmp_path / "deploy" / "builds.json")
    for number in range(HISTORY_LIMIT + 5):
        history.record("module.f", f"hash{number}")
    history.record("module.f", "hash7")

    hashes = history.hashes("module.f")

    assert len(hashes) == HISTORY_LIMIT
    assert hashes[-1] == "hash7"
    assert "hash0" not in hashes
    assert history.hashes("module.g") == []


def test_unreadable_history_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "builds.json"
    path.write_text("{not json")

    assert BuildHistory(path).hashes("module.f") == []
