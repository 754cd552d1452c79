"""`devd build`: one build of every function, reproducible zips, and a failing exit status."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def run_build(project: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devd", "-C", str(project), "build", *names],
                          capture_output=True, text=True, timeout=120)


def hashes(output: str) -> dict[str, str]:
    return dict(re.findall(r"^(\S+)\s+ok\s+#\d+\s+\d+ ms\s+sha256 (\S+)$", output, re.MULTILINE))


def test_build_all_is_reproducible(example: Path) -> None:
    first = run_build(example)
    second = run_build(example)

    assert first.returncode == 0, first.stdout + first.stderr
    assert len(hashes(first.stdout)) == 4
    assert hashes(first.stdout) == hashes(second.stdout)


def test_build_one_function(example: Path) -> None:
    result = run_build(example, "devd-example-dev-get-hello")

    assert result.returncode == 0
    assert list(hashes(result.stdout)) == ["devd-example-dev-get-hello"]


def test_failed_build_exits_1_with_location(example: Path) -> None:
    handler = example / "functions/hello/handler.ts"
    handler.write_text(handler.read_text() + "\nconst broken = ;\n")
    result = run_build(example)

    assert result.returncode == 1
    assert re.search(r"devd-example-dev-get-hello\s+FAILED\s+functions/hello/handler\.ts:\d+:\d+", result.stdout)
    assert len(hashes(result.stdout)) == 3
