"""Bad input from the user: each gets an error that names the value and the fix, and devd keeps
serving whatever does not depend on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import start_devd, stop_devd


def test_malformed_procfile_line(example: Path) -> None:
    (example / "Procfile").write_text("web python3 -m http.server\n")
    running = start_devd(example, procfile=True)
    try:
        line = running.wait_for_line(r"Procfile:1: invalid line")

        assert "'web python3 -m http.server'" in line
        assert "Add the name and a colon before the command" in line
        assert running.get("/items/1")[0] == 200
        assert running.process.poll() is None
    finally:
        assert stop_devd(running) == 0


@pytest.mark.parametrize(("setting", "shown", "fix"), [
    ('port = "3000"', "port must be an integer, got '3000'", "port = 3000"),
    ('var_files = "infra/vars/dev.tfvars"', "var_files must be a list, got 'infra/vars/dev.tfvars'",
     'var_files = ["infra/vars/dev.tfvars"]'),
    ("procfile = 1", "procfile must be true or false, got 1", "procfile = false"),
    ("infra = 7", "infra must be a string, got 7", 'infra = "infra"'),
    ("[build]\nconcurrency = \"four\"", "build.concurrency must be a whole number of 1 or more, got 'four'", ""),
], ids=["port", "var-files", "procfile", "infra", "concurrency"])
@pytest.mark.parametrize("command", ["ls", "up"])
def test_wrong_type_in_devd_toml(example: Path, command: str, setting: str, shown: str, fix: str) -> None:
    (example / "devd.toml").write_text(setting + "\n")

    arguments = ["--port", "0", "--no-tui"] if command == "up" else []

    result = subprocess.run([sys.executable, "-m", "devd", "-C", str(example), command, *arguments],
                            check=False, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"devd.toml: {shown}" in result.stderr
    assert fix in result.stderr


def test_handler_outside_code_directory(example: Path) -> None:
    http_api = example / "infra/http_api.tf"
    http_api.write_text(http_api.read_text().replace('"index.handler"', '"../../../etc/passwd.handler"'))
    running = start_devd(example)
    try:
        line = running.wait_for_line(r"status: build FAILED")
        detail = "\n".join(running.lines)
        status, _ = running.get("/status")

        assert '"../../../etc/passwd.handler"' in detail, line
        assert "points outside the function's code directory" in detail
        assert 'such as "src/handler.main"' in detail
        assert "Tried:" not in detail
        assert status == 500, "an HTTP API answers 500 when its integration fails"
        assert running.get("/items/1")[0] == 200
        assert running.get("/hello")[0] == 200
    finally:
        assert stop_devd(running) == 0
