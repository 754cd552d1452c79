"""Run the processes of a project's Procfile, each as a ManagedProcess.

A project without a Procfile has nothing to run, which is not an error. `.env` beside the
Procfile is optional.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from devd.errors import ConfigError
from devd.supervise.backoff import Backoff
from devd.supervise.managed import DEFAULT_GRACE_S, LogSink, ManagedProcess, StatusSink
from devd.supervise.procfile import (
    DOTENV_NAME,
    PROCFILE_NAME,
    ProcessSpec,
    parse_dotenv,
    parse_procfile,
    plan_processes,
    port_base,
)
from devd.supervise.status import ProcessStatus

logger = logging.getLogger("devd.supervise")


def read_optional_text(path: Path) -> str | None:
    """Return a file's text, or None when it does not exist.

    Raises ConfigError when the file exists but cannot be read as UTF-8 text.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}. Fix its permissions or encoding.") from error


class ProcfileRunner:
    """The processes of `PROJECT/Procfile`, started together and stopped together.

    `port_base` sets the first `$PORT` (default: PORT from `.env`, else 5000). `base_env`
    is the environment that `.env` values and PORT are added to (default: devd's own).
    `backoff` creates the restart policy for each process.
    """

    def __init__(
        self,
        project_root: Path,
        on_log: LogSink,
        on_status: StatusSink | None = None,
        *,
        port_base: int | None = None,
        grace: float = DEFAULT_GRACE_S,
        base_env: Mapping[str, str] | None = None,
        backoff: Callable[[], Backoff] = Backoff,
        procfile_name: str = PROCFILE_NAME,
        dotenv_name: str = DOTENV_NAME,
    ) -> None:
        self.project_root = project_root
        self.procfile = project_root / procfile_name
        self.dotenv = project_root / dotenv_name
        self._on_log = on_log
        self._on_status = on_status
        self._port_base = port_base
        self._grace = grace
        self._base_env = base_env
        self._backoff = backoff
        self._processes: dict[str, ManagedProcess] = {}
        self._running = False

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the processes, in Procfile order."""
        return tuple(self._processes)

    def plan(self) -> tuple[ProcessSpec, ...]:
        """Read the Procfile and `.env` and return what each process would run.

        Raises ConfigError for a malformed Procfile or `.env`, naming the file and line.
        """
        procfile_text = read_optional_text(self.procfile)
        if procfile_text is None:
            return ()

        entries = parse_procfile(procfile_text, str(self.procfile))
        dotenv_text = read_optional_text(self.dotenv)
        dotenv = parse_dotenv(dotenv_text, str(self.dotenv)) if dotenv_text is not None else {}

        base_env = os.environ if self._base_env is None else self._base_env
        base_port = port_base(self._port_base, dotenv, str(self.dotenv))
        return plan_processes(entries, dotenv, base_env, base_port, str(Path(sys.executable).parent))

    async def start(self) -> None:
        """Start every process of the Procfile; do nothing when there is no Procfile.

        Raises ConfigError for a malformed Procfile or `.env`, before any process starts. A
        process that cannot start is in FAILED state and does not stop the others.
        """
        if self._running:
            return

        specs = self.plan()
        self._processes = {}
        self._running = True
        if not specs:
            logger.debug("no processes to run: %s does not exist or lists none", self.procfile)
            return

        for spec in specs:
            self._processes[spec.name] = ManagedProcess(
                spec.name,
                spec.argv,
                on_log=self._on_log,
                on_status=self._on_status,
                cwd=self.project_root,
                env=spec.env,
                grace=self._grace,
                backoff=self._backoff(),
            )
            logger.info("Procfile process %s gets PORT=%d", spec.name, spec.port)

        await asyncio.gather(*(process.start() for process in self._processes.values()))

    async def stop(self) -> None:
        """Stop every process in parallel; return when all their process groups have exited.

        The processes keep their STOPPED status in `statuses()` until the next `start()`.
        """
        self._running = False
        results = await asyncio.gather(
            *(process.stop() for process in self._processes.values()), return_exceptions=True
        )

        errors = [result for result in results if isinstance(result, BaseException)]
        for error in errors[1:]:
            logger.error("stopping a Procfile process failed: %r", error)
        if errors:
            raise errors[0]

    async def restart(self, name: str) -> None:
        """Stop one process and start it again at once, forgetting its backoff.

        Raises ConfigError when no process has that name.
        """
        process = self._processes.get(name)
        if process is None:
            known = ", ".join(self._processes) or "none"
            raise ConfigError(
                f"no Procfile process is named {name!r} (running: {known}). Use one of those names."
            )
        await process.restart()

    def statuses(self) -> tuple[ProcessStatus, ...]:
        """Return a snapshot of each process, in Procfile order."""
        return tuple(process.status() for process in self._processes.values())
