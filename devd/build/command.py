"""User build commands: a project's own build script in place of devd's esbuild or copy.

A `UserCommand` names the functions it builds with an fnmatch pattern. A build of such a
function runs the command, then copies the command's output directory into the generation
directory, where the handler string must name a file. Several functions often share one
command (`npm run build:dev` writes every handler into `.esbuild/`), so builds that request
the same command while it has not started yet share one run of it (see `CommandRunner`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import shutil
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence, TypeVar

from devd.build.locate import JAVASCRIPT_EXTENSIONS, PYTHON_EXTENSIONS, module_path, split_handler
from devd.build.process import ProcessOutcome, run_tool
from devd.errors import BuildError, ConfigError
from devd.inventory import Function

logger = logging.getLogger("devd.build")

DEFAULT_TIMEOUT_SECONDS = 300.0
SKIPPED_DIRECTORIES = frozenset({"node_modules", ".git"})

T = TypeVar("T")


@dataclass(frozen=True)
class UserCommand:
    """A build command of the project and the functions it builds."""

    pattern: str
    """fnmatch pattern matched against each function's name and Terraform address."""
    command: tuple[str, ...] | str
    """Program and arguments, or one string that `/bin/sh -c` runs."""
    cwd: Path
    """Directory the command runs in; a relative path is relative to the project root."""
    output_dir: Path
    """Directory the command writes, copied whole into the build; relative to the project root
    when relative."""
    inputs: tuple[str, ...] = ()
    """Glob patterns, relative to the project root, of the files the command reads. `**`
    matches any number of directories."""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    """Seconds after which the command's process group is stopped and the build fails."""

    def __post_init__(self) -> None:
        # Lists from a settings file become tuples, so that the command stays hashable.
        if not isinstance(self.command, str):
            object.__setattr__(self, "command", tuple(self.command))
        object.__setattr__(self, "inputs", tuple(self.inputs))

        if not self.command or (isinstance(self.command, str) and not self.command.strip()):
            raise ConfigError(
                f'build command for "{self.pattern}" is empty: set the command to run'
            )
        if self.timeout <= 0:
            raise ConfigError(
                f'build command for "{self.pattern}" has timeout {self.timeout}: use a positive '
                "number of seconds"
            )
        for pattern in self.inputs:
            if Path(pattern).is_absolute():
                raise ConfigError(
                    f'input pattern "{pattern}" of the build command for "{self.pattern}" is '
                    "absolute: write it relative to the project root"
                )

    @property
    def argv(self) -> list[str]:
        """Return the program and arguments to run."""
        if isinstance(self.command, str):
            return ["/bin/sh", "-c", self.command]
        return list(self.command)

    @property
    def display(self) -> str:
        """Return the command as a user would type it."""
        if isinstance(self.command, str):
            return self.command
        return shlex.join(self.command)

    def matches(self, function: Function) -> bool:
        """Return whether this command builds `function`."""
        return fnmatchcase(function.name, self.pattern) or fnmatchcase(
            function.address, self.pattern
        )

    def resolved(self, project_root: Path) -> UserCommand:
        """Return this command with absolute `cwd` and `output_dir`."""
        return replace(
            self,
            cwd=(project_root / self.cwd).resolve(),
            output_dir=(project_root / self.output_dir).resolve(),
        )


def find_command(function: Function, commands: Sequence[UserCommand]) -> UserCommand | None:
    """Return the first command whose pattern matches the function, or None."""
    for command in commands:
        if command.matches(function):
            return command
    return None


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Return a regular expression for a glob pattern over `/`-separated relative paths.

    `*` and `?` match within one path segment, `**/` matches zero or more directories, and
    `[...]` matches one character of a set, as in `pathlib` and most shells.
    """
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        elif pattern[index] == "[" and "]" in pattern[index + 2 :]:
            end = pattern.index("]", index + 2)
            parts.append(_character_class(pattern[index + 1 : end]))
            index = end + 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts) + r"\Z")


def _character_class(body: str) -> str:
    """Return the regular expression of a glob `[...]` set, where `!` negates it."""
    negated = body.startswith("!")
    if negated:
        body = body[1:]
    escaped = body.replace("\\", "\\\\").replace("[", "\\[")
    if escaped.startswith("^"):
        escaped = "\\" + escaped
    return f"[{'^' if negated else ''}{escaped}]"


def literal_prefix(pattern: str) -> str:
    """Return the leading directories of a glob pattern that contain no wildcard."""
    segments = pattern.split("/")[:-1]
    literal: list[str] = []
    for segment in segments:
        if any(character in segment for character in "*?["):
            break
        literal.append(segment)
    return "/".join(literal)


def input_files(
    project_root: Path, patterns: Sequence[str], excluded: Sequence[Path]
) -> frozenset[Path]:
    """Return the files under `project_root` that match any of the glob patterns.

    Directories named node_modules or .git and the `excluded` directories (devd's state
    directory, the command's output) are not searched, so a build never counts its own
    output as its input.
    """
    found: set[Path] = set()
    skipped = {path.resolve() for path in excluded}
    for pattern in patterns:
        regex = glob_regex(pattern.removeprefix("./"))
        start = project_root / literal_prefix(pattern.removeprefix("./"))
        for root, directories, files in os.walk(start):
            directories[:] = [
                name
                for name in sorted(directories)
                if name not in SKIPPED_DIRECTORIES and Path(root, name).resolve() not in skipped
            ]
            for name in files:
                path = Path(root, name)
                if regex.match(path.relative_to(project_root).as_posix()):
                    found.add(path)
    return frozenset(found)


def command_error(command: UserCommand, outcome: ProcessOutcome) -> str:
    """Return the message of a failed command run, ending with its last output lines."""
    if outcome.timed_out:
        what = f"did not finish within {command.timeout:g} s and was stopped"
    else:
        what = f"exited with code {outcome.returncode}"
    output = outcome.output_tail or "(the command wrote no output)"
    return f"build command `{command.display}` (in {command.cwd}) {what}:\n{output}"


def handler_candidates(function: Function, output_dir: Path) -> list[Path]:
    """Return the files in a command's output that may hold the function's handler."""
    language = function.language
    if language not in ("node", "python"):
        raise BuildError(
            f"{function.address}: runtime {function.runtime!r} is not supported: "
            "devd builds nodejs* and python* runtimes"
        )
    module, _export = split_handler(function.handler)
    relative = module_path(module, language)
    extensions = PYTHON_EXTENSIONS if language == "python" else JAVASCRIPT_EXTENSIONS
    return [output_dir / f"{relative}{extension}" for extension in extensions]


def copy_command_output(
    command: UserCommand, function: Function, write_dir: Path, excluded: Path
) -> None:
    """Copy the command's output directory into `write_dir`, which must not exist yet.

    Raises BuildError when the output directory or the handler's file in it is missing.
    """
    output_dir = command.output_dir
    if not output_dir.is_dir():
        raise BuildError(
            f"build command `{command.display}` finished, but its output directory "
            f"{output_dir} does not exist: fix the output directory or the command"
        )
    candidates = handler_candidates(function, output_dir)
    if not any(candidate.is_file() for candidate in candidates):
        tried = "\n".join(f"  {candidate}" for candidate in candidates)
        raise BuildError(
            f"{function.address}: build command `{command.display}` wrote no file for handler "
            f'"{function.handler}". Tried:\n{tried}\nFix `handler` or the command\'s output.'
        )

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {name for name in names if Path(directory, name) == excluded}

    shutil.copytree(output_dir, write_dir, ignore=ignore, ignore_dangling_symlinks=True)


@dataclass
class _Batch:
    """Builds waiting for one run of a command, each with the step it takes after the run."""

    waiters: list[tuple[Callable[[ProcessOutcome], Awaitable[Any]], asyncio.Future[Any]]]


class CommandRunner:
    """Runs user commands; builds that request a command before its run starts share the run.

    A run starts only after the previous run of the same command and the steps of its builds
    have finished, so a build never copies an output directory that a run is writing.
    """

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._locks: dict[UserCommand, asyncio.Lock] = {}
        self._pending: dict[UserCommand, _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(
        self, command: UserCommand, after_run: Callable[[ProcessOutcome], Awaitable[T]]
    ) -> T:
        """Run `command` (or join a run that has not started) and return `after_run(outcome)`.

        `after_run` runs before the next run of the command may start. Raises what
        `after_run` raises, or ToolchainMissing when the command's program is not found.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        batch = self._pending.get(command)
        if batch is None:
            batch = _Batch([])
            self._pending[command] = batch
            task = asyncio.create_task(
                self._execute(command, batch), name=f"build command {command.display}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        batch.waiters.append((after_run, future))
        return await future

    async def _execute(self, command: UserCommand, batch: _Batch) -> None:
        lock = self._locks.setdefault(command, asyncio.Lock())
        async with lock:
            if self._pending.get(command) is batch:
                del self._pending[command]
            waiters = [(step, future) for step, future in batch.waiters if not future.done()]
            try:
                if waiters:
                    await self._serve(command, waiters)
            finally:
                # Waiters are left here when `close` cancelled this task.
                for _step, future in waiters:
                    if not future.done():
                        future.set_exception(BuildError("the build service is closed"))

    async def _serve(
        self,
        command: UserCommand,
        waiters: list[tuple[Callable[[ProcessOutcome], Awaitable[Any]], asyncio.Future[Any]]],
    ) -> None:
        try:
            outcome = await self._run_command(command, len(waiters))
        except BuildError as error:
            for _step, future in waiters:
                if not future.done():
                    future.set_exception(error)
            return

        results = await asyncio.gather(
            *(step(outcome) for step, _future in waiters), return_exceptions=True
        )
        for (_step, future), result in zip(waiters, results):
            if future.done():
                continue
            if isinstance(result, asyncio.CancelledError):
                future.cancel()
            elif isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _run_command(self, command: UserCommand, builds: int) -> ProcessOutcome:
        async with self._slots:
            logger.info(
                "running build command `%s` in %s for %d build(s)",
                command.display,
                command.cwd,
                builds,
            )
            outcome = await run_tool(command.argv, cwd=command.cwd, timeout=command.timeout)
        if not outcome.ok:
            logger.warning("%s", command_error(command, outcome))
        return outcome

    async def close(self) -> None:
        """Stop runs in progress and their process groups; their builds fail."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
