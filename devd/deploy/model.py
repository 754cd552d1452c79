"""Values that deploys produce, and the interface that views and the daemon call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

from devd.errors import DevdError
from devd.logs.records import LogRecord


class DeployState(str, Enum):
    """State of a function's latest deploy."""

    IDLE = "idle"
    QUEUED = "queued"
    PLANNING = "planning"
    AWAITING_CONFIRMATION = "awaiting confirmation"
    APPLYING = "applying"
    UPLOADING = "uploading"
    DEPLOYED = "deployed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Drift(str, Enum):
    """The comparison of the deployed code with local builds."""

    UNKNOWN = "unknown"
    UP_TO_DATE = "up to date"
    LOCAL_CHANGES = "local changes not deployed"
    FOREIGN = "deployed code no local build produced"
    NOT_DEPLOYED = "not deployed"


@dataclass(frozen=True)
class ResourceChange:
    """One resource in a plan: its address and Terraform's action (create, update, delete, replace)."""

    address: str
    action: str


@dataclass(frozen=True)
class DeployPlan:
    """A saved `terraform plan -target=...` for one function, ready to apply as shown."""

    function: str
    targets: tuple[str, ...]
    plan_file: Path
    changes: tuple[ResourceChange, ...]

    def count(self, action: str) -> int:
        """Return how many resources the plan would change with this action."""
        return sum(1 for change in self.changes if change.action == action)

    @property
    def destroys(self) -> tuple[str, ...]:
        """Addresses that the plan deletes or replaces."""
        return tuple(c.address for c in self.changes if c.action in ("delete", "replace"))


@dataclass(frozen=True)
class DeployResult:
    """The end of one deploy: whether it landed, a one-line summary, and the new code hash."""

    function: str
    ok: bool
    summary: str
    code_sha256: str | None = None


@dataclass(frozen=True)
class DeployStatus:
    """A function's deploy state and drift, as views show them; `function` is its address."""

    function: str
    state: DeployState = DeployState.IDLE
    drift: Drift = Drift.UNKNOWN
    summary: str = ""


class Deployer(Protocol):
    """The interface that the daemon, the TUI and the command line call to deploy and to read cloud logs.

    Functions are named by their Terraform address. Progress and Terraform's output arrive as
    LogRecords with source "deploy", and state changes arrive as DeployStatus values.
    """

    async def plan(self, function: str) -> DeployPlan:
        """Build the function, run `terraform plan -target=... -out=FILE`, and return the plan."""
        ...

    async def apply(self, plan: DeployPlan) -> DeployResult:
        """Run `terraform apply FILE` for a plan returned by `plan`."""
        ...

    async def deploy_code(self, function: str) -> DeployResult:
        """Upload the local build with UpdateFunctionCode, skipping it when the hash matches."""
        ...

    async def cancel(self, function: str) -> bool:
        """Stop a queued or running deploy of the function; return whether one was stopped."""
        ...

    def remote_logs(self, function: str) -> AsyncIterator[LogRecord]:
        """Yield the deployed function's CloudWatch log events as they arrive."""
        ...

    async def drift(self, function: str) -> Drift:
        """Compare the deployed code hash with the hashes of local builds."""
        ...


class DeployError(DevdError):
    """A deploy that could not run or did not land: a failed build, plan, apply or upload."""


class DeployCancelled(DeployError):
    """A deploy stopped by `cancel` before it finished."""
