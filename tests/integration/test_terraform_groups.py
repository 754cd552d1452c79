"""terraform runs in a process group that devd's group guard takes down with devd.

terraform starts each provider as a child process, which terraform's parent-death signal does
not reach. A stand-in `terraform` script starts a `sleep` child the same way, so these tests
need no Terraform. A parent process runs devd's code and is killed with SIGKILL, as pytest or
devd may be, and the `sleep` must not outlive it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devd.deploy.runner import TerraformRunner
from devd.supervise.process_group import die_with_parent
from devd.terraform import terraform_cli
from tests.integration.test_supervise import is_running

STAND_IN_TERRAFORM = """#!/bin/sh
# Stand-in for terraform: start a child as terraform starts a provider, and write its pid.
sleep 300 >/dev/null 2>&1 &
echo $! >> "$CHILD_PIDS"
trap 'echo "interrupted $1"; exit 3' INT
case "$1" in
  show) echo '{}' ;;
  *) [ -n "$STAND_IN_WAIT" ] && wait ;;
esac
exit 0
"""

PLAN_IN_PARENT = """
import asyncio, os, sys
from pathlib import Path
from devd.terraform import terraform_cli
asyncio.run(terraform_cli.plan_json(Path(sys.argv[1]), (), (), dict(os.environ)))
"""

APPLY_IN_PARENT = """
import asyncio, os, sys
from pathlib import Path
from devd.deploy.runner import TerraformRunner
asyncio.run(TerraformRunner(Path(sys.argv[1]), dict(os.environ), print).run(["apply"]))
"""


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Put the stand-in terraform first on PATH in an initialised root module; yield the environment.

    Teardown kills every provider stand-in that a failed test left running.
    """
    tools = tmp_path / "bin"
    tools.mkdir()
    script = tools / "terraform"
    script.write_text(STAND_IN_TERRAFORM)
    script.chmod(0o755)
    (tmp_path / "root" / ".terraform").mkdir(parents=True)
    environ = dict(os.environ, PATH=f"{tools}{os.pathsep}{os.environ['PATH']}", CHILD_PIDS=str(tmp_path / "pids"))
    yield environ
    for pid in _child_pids(environ):
        if is_running(pid):
            os.kill(pid, signal.SIGKILL)


def _child_pids(environ: dict[str, str]) -> list[int]:
    path = Path(environ["CHILD_PIDS"])
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _wait_for_child(environ: dict[str, str], parent: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while not _child_pids(environ):
        assert parent.poll() is None, f"the parent exited with status {parent.returncode} before terraform started"
        assert time.monotonic() < deadline, "the stand-in terraform did not start within 30 s"
        time.sleep(0.02)
    return _child_pids(environ)[0]


def _wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not is_running(pid)


@pytest.mark.parametrize("script", [PLAN_IN_PARENT, APPLY_IN_PARENT], ids=["ls-exact-plan", "deploy-runner"])
def test_killed_parent_stops_provider(tmp_path: Path, stand_in: dict[str, str], script: str) -> None:
    environ = dict(stand_in, STAND_IN_WAIT="1")
    parent = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "root")], env=environ,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
                              preexec_fn=die_with_parent)
    try:
        provider = _wait_for_child(environ, parent)

        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()

        assert _wait_until_gone(provider, 5.0), f"the provider stand-in {provider} outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()


async def test_finished_plan_leaves_no_provider(tmp_path: Path, stand_in: dict[str, str]) -> None:
    plan = await terraform_cli.plan_json(tmp_path / "root", (), (), stand_in)

    assert plan == {}
    pids = _child_pids(stand_in)
    assert len(pids) == 2  # one for `plan`, one for `show -json`
    for pid in pids:
        assert _wait_until_gone(pid, 5.0), f"the provider stand-in {pid} outlived terraform"


async def test_interrupt_reaches_guarded_terraform(tmp_path: Path, stand_in: dict[str, str]) -> None:
    lines: list[str] = []
    runner = TerraformRunner(tmp_path / "root", dict(stand_in, STAND_IN_WAIT="1"),
                             lambda record: lines.append(record.text))
    run = asyncio.ensure_future(runner.run(["apply"]))
    deadline = time.monotonic() + 30
    while not _child_pids(stand_in):
        assert time.monotonic() < deadline, "the stand-in terraform did not start within 30 s"
        await asyncio.sleep(0.02)

    assert runner.interrupt() is True
    outcome = await asyncio.wait_for(run, 30)

    assert outcome.interrupted is True
    assert outcome.returncode == 3
    assert "interrupted apply" in lines
    assert _wait_until_gone(_child_pids(stand_in)[0], 5.0)
