"""Immutable snapshots of the engine's state, which the TUI and the console render."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from devd.supervise.status import ProcessStatus


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
