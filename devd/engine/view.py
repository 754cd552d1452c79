"""Immutable snapshots of the engine's state, which the TUI, the console and `devd status` render."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum
from statistics import median

from devd.supervise.status import ProcessStatus

RECENT_LATENCIES = 30
"""Request durations kept per function for the median and the sparkline."""


class BuildState(str, Enum):
    """The state of a function's build."""

    PENDING = "pending"
    """Not built yet; a build is queued."""
    BUILDING = "building"
    """A build is running; the previous build, if any, keeps serving."""
    READY = "ready"
    """The latest build succeeded and serves requests."""
    FAILED = "failed"
    """The latest build failed; the last good build, if any, keeps serving."""
    NOT_RUNNABLE = "not runnable"
    """devd lists the function but cannot build or run it locally, such as a container image."""


@dataclass(frozen=True)
class FunctionView:
    """One row of the functions table."""

    address: str
    name: str
    runtime: str
    routes: tuple[str, ...]
    build_state: BuildState
    generation: int
    last_build_ms: float | None
    last_built_at: float | None
    error: str | None = None
    workers: int = 0
    """Live worker processes of the serving build."""
    busy: int = 0
    """Workers running an invocation now."""
    requests: int = 0
    """Requests the gateway served for this function since devd started."""
    p50_ms: float | None = None
    """Median duration of the last RECENT_LATENCIES requests, in milliseconds."""
    recent_ms: tuple[float, ...] = ()
    """Durations of the last requests, oldest first, in milliseconds."""
    deploy: str = ""
    """The deploy state as views show it, empty when deploys are not set up."""


@dataclass(frozen=True)
class Snapshot:
    """The whole state a view needs, replaced on every change."""

    url: str
    infra: str
    functions: tuple[FunctionView, ...]
    problems: tuple[str, ...] = ()
    watching: bool = False
    processes: tuple[ProcessStatus, ...] = ()
    """Side processes from the Procfile, in Procfile order."""
    backend: str = "native"
    var_files: tuple[str, ...] = ()
    aws_profile: str | None = None
    """The AWS profile a deploy would use (AWS_PROFILE, else None for the default chain)."""
    aws_region: str | None = None
    """The AWS region a deploy would use, from AWS_REGION, AWS_DEFAULT_REGION or ~/.aws/config."""
    aws_endpoint: str | None = None
    """AWS_ENDPOINT_URL when deploys go to a local stand-in such as moto, else None."""
    reloading: bool = False
    """True while devd re-reads the Terraform after a change."""
    deploys_configured: bool = False
    project: str = ""
    """The project root, which views use to shorten the paths they show."""


def waiting_reason(function: FunctionView, reloading: bool = False) -> str:
    """Return why a function does not serve its latest code yet, or "" when it does."""
    if reloading:
        return "Terraform reloading"
    if function.build_state is BuildState.PENDING:
        return "queued"
    if function.build_state is BuildState.BUILDING:
        return "building"
    if function.build_state is BuildState.FAILED and function.error and _names_missing_tool(function.error):
        return "toolchain missing"
    return ""


def _names_missing_tool(error: str) -> bool:
    # NOTE: a build reports a missing tool only in its message, so this matches the wording of
    # ToolchainMissing in devd.build.process and devd.build.node.
    first = error.splitlines()[0] if error else ""
    return " not found (running in " in first or " is not executable (running in " in first \
        or "esbuild service failed to start" in first


class RequestStats:
    """Request counts and recent durations per function name, fed by request records."""

    def __init__(self, keep: int = RECENT_LATENCIES) -> None:
        self._keep = keep
        self._counts: dict[str, int] = {}
        self._recent: dict[str, deque[float]] = {}

    def add(self, function: str | None, duration_ms: float) -> None:
        """Count one request of a function; requests that matched no function are ignored."""
        if function is None:
            return
        self._counts[function] = self._counts.get(function, 0) + 1
        self._recent.setdefault(function, deque(maxlen=self._keep)).append(duration_ms)

    def count(self, function: str) -> int:
        """Return how many requests the function served."""
        return self._counts.get(function, 0)

    def recent(self, function: str) -> tuple[float, ...]:
        """Return the function's latest durations, oldest first."""
        return tuple(self._recent.get(function, ()))

    def p50(self, function: str) -> float | None:
        """Return the median of the function's latest durations, or None before a request."""
        recent = self._recent.get(function)
        return median(recent) if recent else None
