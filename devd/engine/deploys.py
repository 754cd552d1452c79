"""The daemon's side of deploys: calls a Deployer, tracks each function's deploy state, and logs
what happened, so that the TUI keys and control actions share one path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from devd.deploy.model import (
    Deployer,
    DeployPlan,
    DeployResult,
    DeployState,
    DeployStatus,
    Drift,
)
from devd.errors import DevdError
from devd.logs.records import Level, LogRecord

log = logging.getLogger("devd.engine")

SOURCE = "deploy"
"""Source name of deploy log lines, as the Deployer protocol uses it."""


class DeploysNotConfigured(DevdError):
    """A deploy was requested while the daemon has no Deployer."""

    def __init__(self) -> None:
        super().__init__("deploys are not set up for this project; start devd with a deployer to use d, D and l")


class Deploys:
    """Deploy calls for one daemon, with a DeployStatus per function address."""

    def __init__(self, deployer: Deployer | None, publish: Callable[[LogRecord], None],
                 changed: Callable[[], None]) -> None:
        self.deployer = deployer
        self._publish = publish
        self._changed = changed
        self.statuses: dict[str, DeployStatus] = {}
        self.check_drift = False
        """Flag that makes builds trigger a drift check, set when AWS credentials or an endpoint are configured."""
        self._checks: dict[str, asyncio.Task] = {}

    @property
    def configured(self) -> bool:
        """True when a Deployer is set."""
        return self.deployer is not None

    def attach(self, deployer: Deployer) -> None:
        """Use this deployer for the keys and control actions from now on."""
        self.deployer = deployer

    def check_later(self, address: str) -> None:
        """Check the function's drift in the background, once at a time per function."""
        if not self.check_drift or self.deployer is None or address in self._checks:
            return
        task = asyncio.ensure_future(self.refresh_drift(address))
        self._checks[address] = task
        task.add_done_callback(lambda _: self._checks.pop(address, None))

    def close(self) -> None:
        """Cancel drift checks that are still running."""
        for task in list(self._checks.values()):
            task.cancel()

    async def refresh_drift(self, address: str) -> None:
        """Ask the deployer how the deployed code compares with the local build, and record it.

        A failure (no credentials, no network) leaves the drift unknown and is logged at debug
        level only, since it runs after every build whether the user deploys or not.
        """
        if self.deployer is None:
            return
        try:
            drift = await self.deployer.drift(address)
        except Exception as error:  # any AWS or Terraform failure only means "unknown"
            log.debug("drift check of %s failed: %s", address, error)
            return
        previous = self.statuses.get(address, DeployStatus(address))
        self.set_status(DeployStatus(address, previous.state, drift, previous.summary))

    def set_status(self, status: DeployStatus) -> None:
        """Record a function's deploy state; deployers call this as their state changes."""
        self.statuses[status.function] = status
        self._changed()

    def state_text(self, address: str) -> str:
        """Return the deploy state as the functions table shows it, "" when deploys are off."""
        if self.deployer is None:
            return ""
        status = self.statuses.get(address)
        if status is None:
            return DeployState.IDLE.value
        if status.drift is Drift.UNKNOWN:
            return status.state.value
        return f"{status.state.value}, {status.drift.value}"

    async def plan(self, address: str) -> DeployPlan:
        """Plan a deploy of the function; the state stays "awaiting confirmation" until apply or cancel."""
        deployer = self._require()
        self._set(address, DeployState.PLANNING)
        try:
            plan = await deployer.plan(address)
        except Exception as error:
            self._fail(address, "plan", error)
            raise
        self._set(address, DeployState.AWAITING_CONFIRMATION)
        return plan

    async def apply(self, plan: DeployPlan) -> DeployResult:
        """Apply a plan that the user confirmed."""
        deployer = self._require()
        self._set(plan.function, DeployState.APPLYING)
        return await self._finish(plan.function, "apply", deployer.apply(plan))

    async def deploy_code(self, address: str) -> DeployResult:
        """Upload the function's local build to the deployed function."""
        deployer = self._require()
        self._set(address, DeployState.UPLOADING)
        return await self._finish(address, "code upload", deployer.deploy_code(address))

    def cancelled(self, address: str) -> None:
        """Record that the user declined a plan."""
        self._set(address, DeployState.CANCELLED)
        self._publish(LogRecord(SOURCE, f"deploy of {address} cancelled before apply"))

    def remote_logs(self, address: str) -> AsyncIterator[LogRecord]:
        """Return the deployed function's CloudWatch log events."""
        return self._require().remote_logs(address)

    async def _finish(self, address: str, step: str, running) -> DeployResult:
        try:
            result: DeployResult = await running
        except Exception as error:
            self._fail(address, step, error)
            raise
        state = DeployState.DEPLOYED if result.ok else DeployState.FAILED
        self._set(address, state, result.summary)
        self._publish(LogRecord(SOURCE, f"{step} of {address}: {result.summary}",
                                Level.INFO if result.ok else Level.ERROR))
        return result

    def _require(self) -> Deployer:
        if self.deployer is None:
            raise DeploysNotConfigured()
        return self.deployer

    def _set(self, address: str, state: DeployState, summary: str = "") -> None:
        previous = self.statuses.get(address, DeployStatus(address))
        self.set_status(DeployStatus(address, state, previous.drift, summary or previous.summary))

    def _fail(self, address: str, step: str, error: Exception) -> None:
        log.warning("deploy %s of %s failed: %s", step, address, error)
        self._set(address, DeployState.FAILED, str(error))
        self._publish(LogRecord(SOURCE, f"{step} of {address} failed: {error}", Level.ERROR))
