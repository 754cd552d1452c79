"""`TerraformDeployer`: deploy one function with a targeted Terraform plan and apply, or upload its code.

A deploy builds the function first, so the zip that the `[packages]` table maps is the one
Terraform hashes. Terraform commands run one at a time for the root module; a deploy that
waits for another is QUEUED. Progress and Terraform's output arrive through `on_log`, states
through `on_status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

from devd.build import layout
from devd.build.oneshot import build_all
from devd.build.result import BuildResult
from devd.config import Settings
from devd.deploy.aws import aws_client, terraform_environ
from devd.deploy.cloudlogs import RemoteLogReader
from devd.deploy.code_upload import upload_code
from devd.deploy.drift import BuildHistory, classify, local_hashes
from devd.deploy.model import (
    DeployCancelled,
    DeployError,
    DeployPlan,
    DeployResult,
    DeployState,
    DeployStatus,
    Drift,
)
from devd.deploy.planfile import plan_changes, summary_line
from devd.deploy.resolve import companions, find_function
from devd.deploy.runner import SOURCE, TerraformRunner
from devd.deploy.targets import extra_targets, function_targets, target_arguments
from devd.errors import TerraformError
from devd.inventory import Function, Inventory, match_functions
from devd.logs.records import Level, LogRecord

logger = logging.getLogger("devd.deploy")


def _ignore(_value: object) -> None:
    return None


class TerraformDeployer:
    """Implements `Deployer` for a project whose functions Terraform deploys."""

    def __init__(self, settings: Settings, *, on_status: Callable[[DeployStatus], None] = _ignore,
                 on_log: Callable[[LogRecord], None] = _ignore, terraform: str = "terraform") -> None:
        self.settings = settings
        self.on_status = on_status
        self.on_log = on_log
        self.environ = terraform_environ(settings)
        self.runner = TerraformRunner(settings.infra_dir, self.environ, on_log, terraform)
        self.history = BuildHistory(settings.state_dir / "deploy" / "builds.json")
        self._lock = asyncio.Lock()
        self._holder: str | None = None
        self._waiting: dict[str, asyncio.Event] = {}
        self._cancelled: set[str] = set()
        self._active: set[str] = set()
        """Functions with a plan, apply or upload in progress, which `cancel` may stop."""
        self._built: dict[str, BuildResult] = {}
        self.inventory_source: Callable[[], Inventory] | None = None
        """Returns the running daemon's current inventory; None makes `find` read Terraform."""

    def find(self, function: str) -> Function:
        """Return the function with this Terraform address or function name; raise ConfigError otherwise."""
        if self.inventory_source is not None:
            matches = match_functions(self.inventory_source().functions, function)
            if len(matches) == 1:
                return matches[0]
        return find_function(self.settings, function)

    def _status(self, function: str, state: DeployState, summary: str = "", drift: Drift = Drift.UNKNOWN) -> None:
        self.on_status(DeployStatus(function, state, drift, summary))

    def _log(self, text: str, level: Level = Level.INFO) -> None:
        self.on_log(LogRecord(SOURCE, text, level))

    async def plan(self, function: str) -> DeployPlan:
        """Build the function, run `terraform plan -target=... -out=FILE`, and return the plan."""
        target = self.find(function)
        self._start(target.address)
        try:
            build = await self._build(target)
            async with self._exclusive(target.address):
                self._status(target.address, DeployState.PLANNING)
                plan = await self._plan_locked(target)
        except DeployCancelled:
            self._status(target.address, DeployState.CANCELLED, "cancelled")
            raise
        except Exception as error:
            self._status(target.address, DeployState.FAILED, str(error).splitlines()[0] if str(error) else "")
            raise
        finally:
            self._active.discard(target.address)
        self._built[target.address] = build
        self._status(target.address, DeployState.AWAITING_CONFIRMATION, summary_line(plan.changes))
        return plan

    def _start(self, address: str) -> None:
        self._cancelled.discard(address)
        self._active.add(address)

    async def _build(self, function: Function) -> BuildResult:
        self._log(f"building {function.name}")
        [result] = await build_all(self.settings, [function], build_settings=self.settings.build)
        if not result.ok or result.zip_sha256 is None:
            raise DeployError(f"build of {function.name} failed, so nothing was deployed:\n{result.error}")
        self.history.record(function.address, result.zip_sha256)
        if function.package is None:
            self._log(f"{function.name} has no entry in the [packages] table of devd.toml, so Terraform packages "
                      "its own zip, which may differ from devd's build", Level.WARNING)
        if function.address in self._cancelled:
            raise DeployCancelled(f"the deploy of {function.name} was cancelled")
        return result

    async def _plan_locked(self, function: Function) -> DeployPlan:
        if function.address in self._cancelled:
            raise DeployCancelled(f"the deploy of {function.name} was cancelled")
        root = self.settings.infra_dir
        if not (root / ".terraform").is_dir():
            await self._terraform(function, ["init", "-input=false", "-no-color"], "init")

        extra = extra_targets(self.settings.deploy.extra_targets, function.address, function.name)
        targets = function_targets(function.address, function.name, companions(self.settings), extra)
        plan_file = self.settings.state_dir / "deploy" / f"{layout.function_dir_name(function)}.tfplan"
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        options = [f"-var-file={path}" for path in self.settings.var_files]
        options += [f"-var={name}={value}" for name, value in self.settings.variables]
        self._log(f"planning {function.name} with targets {', '.join(targets)}")
        await self._terraform(function, ["plan", "-input=false", "-no-color", f"-out={plan_file}",
                                         *target_arguments(targets), *options], "plan")

        outcome = await self.runner.run(["show", "-json", "-no-color", str(plan_file)], capture=True)
        if outcome.returncode != 0:
            raise TerraformError(f"`terraform show -json {plan_file}` failed with status {outcome.returncode}")
        try:
            document = json.loads(outcome.stdout)
        except ValueError as error:
            raise TerraformError(f"`terraform show -json` printed invalid JSON ({error})") from None
        return DeployPlan(function.address, targets, plan_file, plan_changes(document))

    async def _terraform(self, function: Function, args: list[str], name: str) -> None:
        if function.address in self._cancelled:
            raise DeployCancelled(f"the deploy of {function.name} was cancelled before `terraform {name}`")
        outcome = await self.runner.run(args)
        if outcome.interrupted or function.address in self._cancelled:
            raise DeployCancelled(f"`terraform {name}` of {function.name} was cancelled")
        if outcome.returncode != 0:
            raise DeployError(f"`terraform {name}` for {function.name} failed with status {outcome.returncode}; "
                              "its output is above")

    async def apply(self, plan: DeployPlan) -> DeployResult:
        """Run `terraform apply PLAN` for a plan returned by `plan`, and delete the plan file."""
        function = self.find(plan.function)
        self._start(function.address)
        try:
            async with self._exclusive(function.address):
                self._status(function.address, DeployState.APPLYING, summary_line(plan.changes))
                await self._terraform(function, ["apply", "-input=false", "-no-color", str(plan.plan_file)], "apply")
        except DeployCancelled:
            self._status(function.address, DeployState.CANCELLED, "cancelled")
            return DeployResult(function.address, False, "cancelled")
        except DeployError as error:
            self._status(function.address, DeployState.FAILED, str(error))
            return DeployResult(function.address, False, str(error))
        finally:
            self._active.discard(function.address)
            plan.plan_file.unlink(missing_ok=True)

        build = self._built.pop(function.address, None)
        summary = f"applied: {summary_line(plan.changes)}"
        # Terraform deployed the zip this build wrote only when a packages entry maps it.
        drift = Drift.UP_TO_DATE if build is not None and function.package is not None else Drift.UNKNOWN
        self._status(function.address, DeployState.DEPLOYED, summary, drift)
        return DeployResult(function.address, True, summary, build.zip_sha256 if build else None)

    async def deploy_code(self, function: str) -> DeployResult:
        """Upload the local build with UpdateFunctionCode, skipping it when the hash matches."""
        target = self.find(function)
        self._start(target.address)
        try:
            build = await self._build(target)
            self._status(target.address, DeployState.UPLOADING)
            client = aws_client("lambda", self.environ, self.settings.region)
            result = await upload_code(client, target, build, self._log)
        except DeployCancelled:
            self._status(target.address, DeployState.CANCELLED, "cancelled")
            return DeployResult(target.address, False, "cancelled")
        except DeployError as error:
            self._status(target.address, DeployState.FAILED, str(error))
            return DeployResult(target.address, False, str(error))
        finally:
            self._active.discard(target.address)
        self._status(target.address, DeployState.DEPLOYED, result.summary, Drift.UP_TO_DATE)
        return result

    async def cancel(self, function: str) -> bool:
        """Stop a queued or running deploy of the function; return whether one was stopped."""
        address = self.find(function).address
        waiting = self._waiting.get(address)
        if waiting is not None:
            waiting.set()
            return True
        if address not in self._active:
            return False
        # A deploy that is building, or between two Terraform commands, stops at its next
        # check; a running command gets SIGINT now.
        self._cancelled.add(address)
        if self._holder == address:
            self.runner.interrupt()
        return True

    @contextlib.asynccontextmanager
    async def _exclusive(self, address: str) -> AsyncIterator[None]:
        """Hold the root module's Terraform lock, QUEUED while another deploy holds it."""
        if self._lock.locked():
            self._status(address, DeployState.QUEUED)
        cancelled = asyncio.Event()
        self._waiting[address] = cancelled
        acquire = asyncio.ensure_future(self._lock.acquire())
        stop = asyncio.ensure_future(cancelled.wait())
        try:
            await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiting.pop(address, None)
            stop.cancel()
            acquired = acquire.done() and not acquire.cancelled()
            if not acquire.done():
                acquire.cancel()
            # Cancelled while queued, or while the caller's task was being cancelled.
            if acquired and cancelled.is_set():
                self._lock.release()
        if not acquired or cancelled.is_set():
            raise DeployCancelled(f"the queued deploy of {address} was cancelled")
        self._holder = address
        try:
            yield
        finally:
            self._holder = None
            self._lock.release()

    async def drift(self, address: str) -> Drift:
        """Compare the deployed `CodeSha256` with the local builds of a function."""
        from botocore.exceptions import ClientError

        function = await asyncio.to_thread(self.find, address)
        client = aws_client("lambda", self.environ, self.settings.region)
        try:
            configuration = await asyncio.to_thread(client.get_function_configuration, FunctionName=function.name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return Drift.NOT_DEPLOYED
            raise DeployError(f"reading {function.name} from Lambda failed: {error}") from None
        current, known = await asyncio.to_thread(local_hashes, function, self.settings.state_dir, self.history)
        return classify(configuration.get("CodeSha256"), True, current, known)

    def remote_logs(self, function: str, *, follow: bool = True, since_ms: int | None = None) -> AsyncIterator[LogRecord]:
        """Yield the deployed function's CloudWatch log events: those since `since_ms`
        (default: the last 10 minutes), then, when following, new ones as they arrive."""
        target = self.find(function)
        client = aws_client("logs", self.environ, self.settings.region)
        start = since_ms if since_ms is not None else int((time.time() - 600) * 1000)
        return RemoteLogReader(client, target, follow=follow, since_ms=start).records()
