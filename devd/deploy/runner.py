"""Run terraform commands for deploys: one at a time per directory, output streamed as LogRecords.

Each command runs in its own process group under the group guard (`group_guard.py`), so that
terraform and the provider processes it starts die with devd. `interrupt` sends SIGINT to the
group, which makes Terraform stop at a safe point and release its state lock.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from devd.errors import TerraformError
from devd.logs.masking import mask_secrets
from devd.logs.records import Level, LogRecord
from devd.supervise.group_guard import guarded_command
from devd.supervise.process_group import (
    die_with_parent,
    signal_group,
    stop_process_group,
)

logger = logging.getLogger("devd.deploy")

SOURCE = "deploy"
INTERRUPT_GRACE = 60.0
"""Seconds Terraform gets after SIGINT to stop its providers and release the state lock,
before SIGTERM and then SIGKILL."""
STOP_GRACE = 5.0
LINE_LIMIT = 1024 * 1024
"""Bytes of one streamed output line, above asyncio's 64 KiB default for long diagnostics."""


@dataclass(frozen=True)
class CommandOutcome:
    """The end of one terraform command: exit status, captured standard output, and whether it was interrupted."""

    returncode: int
    stdout: str = ""
    interrupted: bool = False


class TerraformRunner:
    """Runs terraform in one root module directory, one command at a time."""

    def __init__(self, root_dir: Path, environ: Mapping[str, str], emit: Callable[[LogRecord], None],
                 terraform: str = "terraform") -> None:
        self.root_dir = root_dir
        self.environ = dict(environ)
        self.emit = emit
        self.terraform = terraform
        self._process: asyncio.subprocess.Process | None = None
        self._interrupted = False

    @property
    def running(self) -> bool:
        """Whether a terraform command is running now."""
        return self._process is not None and self._process.returncode is None

    async def run(self, args: list[str], *, capture: bool = False) -> CommandOutcome:
        """Run `terraform ARGS`, streaming its lines, or capturing stdout when `capture` is set.

        Raises TerraformError when terraform is not installed. When the caller is cancelled,
        Terraform gets SIGINT and time to release its lock before the group is stopped.
        """
        executable = shutil.which(self.terraform, path=self.environ.get("PATH"))
        if executable is None:
            raise TerraformError(f"{self.terraform} not found on PATH: install Terraform 1.5 or newer")
        environment = dict(self.environ, TF_IN_AUTOMATION="1", TF_INPUT="0")
        self._interrupted = False
        self._process = await asyncio.create_subprocess_exec(
            *guarded_command([executable, *args]), cwd=self.root_dir, env=environment,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, preexec_fn=die_with_parent, limit=LINE_LIMIT)
        process = self._process
        logger.info("started terraform %s in %s (pid %d)", args[0], self.root_dir, process.pid)
        try:
            stdout, _ = await asyncio.gather(self._read(process.stdout, Level.INFO, capture),
                                             self._read(process.stderr, Level.ERROR, False))
            returncode = await process.wait()
        except asyncio.CancelledError:
            await self._stop(process)
            raise
        finally:
            self._process = None
        # terraform stops its providers before it exits, so this kills only those it left running.
        signal_group(process.pid, signal.SIGKILL)
        logger.info("terraform %s exited with status %d", args[0], returncode)
        return CommandOutcome(returncode, stdout, self._interrupted)

    async def _read(self, stream: asyncio.StreamReader | None, level: Level, capture: bool) -> str:
        if stream is None:
            return ""
        if capture:
            # `terraform show -json` prints one line that may exceed any line limit.
            return (await stream.read()).decode(errors="replace")
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if text.strip():
                self.emit(LogRecord(SOURCE, mask_secrets(text), level))
        return ""

    def interrupt(self) -> bool:
        """Send SIGINT to the running command's process group; return whether one was running."""
        process = self._process
        if process is None or process.returncode is not None:
            return False
        self._interrupted = True
        logger.info("sending SIGINT to terraform (process group %d)", process.pid)
        return signal_group(process.pid, signal.SIGINT)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """Stop a command whose caller went away: SIGINT first, so the state lock is released."""
        signal_group(process.pid, signal.SIGINT)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), INTERRUPT_GRACE)
        except TimeoutError:
            logger.warning("terraform (process group %d) still runs %.0f s after SIGINT: stopping it",
                           process.pid, INTERRUPT_GRACE)
        exited = asyncio.ensure_future(process.wait())
        await stop_process_group(process.pid, exited, STOP_GRACE)
