"""The `[workers]` table of devd.toml and `devd up --debug`: how pools and workers run.

    [workers]
    pass_env = ["AWS_PROFILE"]   # host variables that workers inherit; default: none
    max_concurrency = 4          # workers per function at most; default 10
    idle_timeout = 300           # seconds before an idle worker beyond the first stops
    account_id = "123456789012"  # the account in invokedFunctionArn

A function's Terraform `reserved_concurrent_executions`, when it is known, caps its pool
further. `--debug NAME` marks functions whose single worker runs under a debugger with its
timeouts lifted (see `DebugPlan`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from devd.errors import ConfigError, RuntimeStartError
from devd.inventory import Function, match_functions
from devd.runtime.launch import is_custom_runtime

DEFAULT_MAX_CONCURRENCY = 10
DEFAULT_IDLE_TIMEOUT_S = 300.0
DEFAULT_ACCOUNT_ID = "123456789012"

NODE_INSPECTOR_PORT = 9229
"""The first port of the Node inspector, the port that editors attach to by default."""

DEBUGPY_PORT = 5678
"""The first port that debugpy listens on, the port of VS Code's Python attach example."""

if TYPE_CHECKING:
    from devd.config import Settings

NODE_DEBUG_TERMINAL_VARIABLES = ("NODE_OPTIONS", "VSCODE_INSPECTOR_OPTIONS")
"""Host variables that Node workers always inherit, so that a debugger started from the
terminal (VS Code's JavaScript Debug Terminal sets both) reaches them."""

_WORKER_KEYS = ("account_id", "idle_timeout", "max_concurrency", "pass_env")


@dataclass(frozen=True)
class WorkerSettings:
    """Settings of the worker pools, from the `[workers]` table."""

    pass_env: tuple[str, ...] = ()
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    account_id: str = DEFAULT_ACCOUNT_ID


def parse_worker_settings(table: Mapping[str, Any], source: str = "devd.toml") -> WorkerSettings:
    """Return the settings of a `[workers]` table; raise ConfigError naming the invalid value."""
    unknown = sorted(set(table) - set(_WORKER_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown setting workers.{unknown[0]}; known: {', '.join(_WORKER_KEYS)}")

    pass_env = table.get("pass_env", [])
    if not isinstance(pass_env, list) or not all(isinstance(name, str) and name for name in pass_env):
        raise ConfigError(f"{source}: workers.pass_env must be a list of variable names, got {pass_env!r}")

    max_concurrency = table.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
    if type(max_concurrency) is not int or max_concurrency < 1:
        raise ConfigError(
            f"{source}: workers.max_concurrency must be a whole number of 1 or more, got {max_concurrency!r}"
        )

    idle_timeout = table.get("idle_timeout", DEFAULT_IDLE_TIMEOUT_S)
    if isinstance(idle_timeout, bool) or not isinstance(idle_timeout, (int, float)) or idle_timeout <= 0:
        raise ConfigError(f"{source}: workers.idle_timeout must be a number of seconds above 0, got {idle_timeout!r}")

    account_id = table.get("account_id", DEFAULT_ACCOUNT_ID)
    if not isinstance(account_id, str) or len(account_id) != 12 or not account_id.isdigit():
        raise ConfigError(f"{source}: workers.account_id must be 12 digits in quotes, got {account_id!r}")

    return WorkerSettings(tuple(pass_env), max_concurrency, float(idle_timeout), account_id)


@dataclass(frozen=True)
class Debugger:
    """The debugger of one function's worker: its kind, port and interpreter options."""

    kind: str
    """"node" (the Node inspector) or "debugpy"."""
    port: int
    interpreter_args: tuple[str, ...]

    def attach_hint(self) -> str:
        """Describe how to attach, for the log."""
        if self.kind == "node":
            return (
                f"Node inspector on 127.0.0.1:{self.port}: attach your editor to port {self.port} "
                f"(VS Code: a \"node\" attach configuration), or open chrome://inspect"
            )
        return (
            f"debugpy on 127.0.0.1:{self.port}: attach your editor to port {self.port} "
            f"(VS Code: a \"debugpy\" attach configuration)"
        )


@dataclass(frozen=True)
class DebugPlan:
    """The functions that `--debug` names, and the debugger port each one got.

    A pattern matches a function's name or Terraform address (fnmatch). Node functions get
    the inspector ports from 9229 up and Python functions debugpy ports from 5678 up, in the
    order in which their pools ask. A function keeps its port across rebuilds.
    """

    patterns: tuple[str, ...] = ()
    _ports: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def matches(self, function: Function) -> bool:
        """Return whether `--debug` names the function."""
        return any(_names(pattern, function) for pattern in self.patterns)

    def unmatched(self, functions: Sequence[Function]) -> list[str]:
        """Return the patterns that name none of these functions."""
        return [p for p in self.patterns if not any(_names(p, f) for f in functions)]

    def debugger_for(self, function: Function) -> Debugger | None:
        """Return the debugger of a function that `--debug` names, else None.

        Raises RuntimeStartError for a named function whose runtime devd cannot debug (a
        custom runtime, whose bootstrap is the user's own executable).
        """
        if not self.matches(function):
            return None
        if function.language not in ("node", "python") or is_custom_runtime(function.runtime):
            raise RuntimeStartError(
                f"--debug {function.name}: devd attaches debuggers to nodejs* and python* functions only, "
                f"and {function.name} runs {function.runtime}. Start a debugger inside its bootstrap instead."
            )

        port = self._ports.get(function.address)
        if port is None:
            base = NODE_INSPECTOR_PORT if function.language == "node" else DEBUGPY_PORT
            used_ports = set(self._ports.values())
            port = base
            while port in used_ports:
                port += 1
            self._ports[function.address] = port

        if function.language == "node":
            return Debugger("node", port, (f"--inspect=127.0.0.1:{port}",))
        # Without frozen modules off, CPython 3.11+ and debugpy warn that breakpoints may be missed.
        return Debugger("debugpy", port, ("-Xfrozen_modules=off", "-m", "debugpy", "--listen", f"127.0.0.1:{port}"))


def pool_options(settings: Settings, function: Function) -> dict[str, Any]:
    """Return the keyword arguments of `FunctionPool` that the daemon's settings give a function.

    Raises RuntimeStartError when `--debug` names a function that devd cannot debug.
    """
    workers = settings.workers
    passthrough = list(workers.pass_env)
    if function.language == "node":
        # An editor's JavaScript debug terminal sets these, so that every Node process it
        # starts attaches to the editor's debugger.
        passthrough += [name for name in NODE_DEBUG_TERMINAL_VARIABLES if name not in passthrough]
    return {
        "region": settings.region,
        "account_id": workers.account_id,
        "node": settings.node,
        "max_workers": workers.max_concurrency,
        "passthrough": tuple(passthrough),
        "host_env": settings.environ or None,
        "idle_timeout_s": workers.idle_timeout_s,
        "debugger": settings.debug.debugger_for(function),
    }


def _names(pattern: str, function: Function) -> bool:
    """Whether a `--debug` pattern names the function: a glob on its name or address, or a short
    name as `match_functions` takes it."""
    if fnmatch.fnmatchcase(function.name, pattern) or fnmatch.fnmatchcase(function.address, pattern):
        return True
    return bool(match_functions((function,), pattern))

