"""The daemon: owns the inventory, builds, worker pools, the gateway and the watcher.

Decisions come from `devd.engine.plan`; this module performs them. Every change of state is
published to subscribers as a new Snapshot, and every log line as a LogRecord.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from devd.build.service import BuildResult, BuildService
from devd.config import Settings
from devd.control.protocol import ControlError, socket_path
from devd.control.server import ActionTable, ControlServer
from devd.deploy.model import Deployer
from devd.engine.aws_target import aws_target
from devd.engine.builds import DaemonBuilds, FunctionState
from devd.engine.commands import DaemonCommands
from devd.engine.deploys import Deploys
from devd.engine.plan import (
    diff_inventory,
    keeps_last_good,
    plan_changes,
    watch_roots,
)
from devd.engine.sam_mode import SamMode
from devd.engine.scheduler import BuildScheduler
from devd.engine.view import BuildState, FunctionView, RequestStats, Snapshot
from devd.engine.waiters import BuildWaiters
from devd.errors import ConfigError, DevdError
from devd.inventory import Function, Inventory, Problem
from devd.logs.masking import KNOWN_SECRETS, mask_secrets
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.runtime.gateway import Gateway, IntegrationLimits
from devd.runtime.invoke import InvokeResult
from devd.runtime.pool import FunctionPool
from devd.runtime.spares import SpareWorkers
from devd.supervise.procfile_runner import ProcfileRunner
from devd.supervise.status import ProcessStatus
from devd.terraform.discover import discover
from devd.terraform.files import FileCache
from devd.terraform.loader import TerraformOptions
from devd.watch.observer import Watcher

log = logging.getLogger("devd.engine")

BACKLOG = 1000
"""Records kept for views that subscribe later, such as the first screen of the TUI."""


class Daemon(DaemonBuilds, DaemonCommands):
    """A running `devd up`: implements the DaemonHandle protocol that the views use."""

    def __init__(self, settings: Settings, deployer: Deployer | None = None) -> None:
        self.settings = settings
        KNOWN_SECRETS.remember(settings.environ)
        self.deploys = Deploys(deployer, self.publish, self._publish_snapshot)
        """Deploys for the TUI's d, D and l keys; its deployer is None when deploys are not set up."""
        self.inventory = Inventory()
        self.states: dict[str, FunctionState] = {}
        self.pools: dict[str, FunctionPool] = {}
        self.spares = SpareWorkers(self.publish)
        self.builder = BuildService(settings.project_root, settings.state_dir, node=settings.node,
                                    node_externals=settings.build.node_externals,
                                    user_commands=settings.build.user_commands,
                                    concurrency=settings.build.concurrency)
        self.gateway = self._new_gateway(settings.port)
        self.watcher = Watcher(self._on_files_changed)
        self.procfile = ProcfileRunner(settings.project_root, self.publish, self._on_process_status) \
            if settings.procfile else None
        self._processes: dict[str, ProcessStatus] = {}
        self.sam = SamMode(settings, self.publish, self._on_process_status)
        self._results: dict[str, BuildResult] = {}
        self._cache = FileCache()
        self._subscribers: list[asyncio.Queue] = []
        self._backlog: deque[LogRecord | RequestRecord] = deque(maxlen=BACKLOG)
        self._scheduler: BuildScheduler | None = None
        self._ready: dict[str, asyncio.Event] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()
        self._reported_syntax: set[Problem] = set()
        self._stopped = asyncio.Event()
        self._stopping = False
        self._watching = False
        self._reloading = False
        self.request_stats = RequestStats()
        self._build_waiters: BuildWaiters[BuildResult] = BuildWaiters()
        self.actions = ActionTable()
        """The control socket's dispatch table; other parts add actions such as deploy and invoke."""
        self.control = ControlServer(socket_path(settings.state_dir), self.actions)
        self.aim_deploys(settings.environ)

    def aim_deploys(self, environ: Mapping[str, str]) -> None:
        """Take the AWS profile, region and endpoint that the header shows from the environment
        that deploys use (the process's, plus the project's .env)."""
        self._aws_profile, self._aws_region = aws_target(environ)
        self._aws_endpoint = environ.get("AWS_ENDPOINT_URL")

    def _new_gateway(self, port: int) -> Gateway:
        """Make the gateway; a debug session lifts API Gateway's integration time limits."""
        settings = self.settings
        limits = None if settings.debug.patterns else IntegrationLimits()
        return Gateway(self.invoke, self._on_request, self._on_gateway_log, host=settings.host, port=port,
                       account_id=settings.workers.account_id, region=settings.region,
                       integration_limits=limits, api_ports=settings.api_ports)

    async def start(self) -> None:
        """Read Terraform, start serving, build every function and start watching."""
        await self._start_control()
        self._scheduler = BuildScheduler(self._build_once)
        inventory = await self._discover()
        unmatched = self.settings.debug.unmatched(inventory.functions)
        if unmatched:
            known = ", ".join(f.name for f in inventory.functions) or "none"
            raise ConfigError(f"--debug {', '.join(unmatched)} names no function; functions: {known}")
        if await self.sam.serves():
            self.gateway = self._new_gateway(0)
        await self.gateway.start()
        self._info(f"serving {self.gateway.url} from {self.settings.infra_dir}")
        self._apply_inventory(inventory, first=True)
        await self._start_procfile()
        if self.settings.watch:
            await self.watcher.start(self._watch_roots())
            self._watching = True
        self._publish_snapshot()

    async def _start_control(self) -> None:
        from devd.control.actions import add_daemon_actions
        from devd.control.deploy_actions import add_deploy_actions

        add_daemon_actions(self, self.actions)
        add_deploy_actions(self, self.actions)
        try:
            await self.control.start()
        except ControlError as error:
            # A second daemon would share the build directories and the socket of the first.
            raise ConfigError(str(error)) from None
        except OSError as error:
            self._info(f"{error}; devd status, build and logs cannot reach this daemon", Level.ERROR)

    async def _start_procfile(self) -> None:
        if self.procfile is None:
            return
        try:
            await self.procfile.start()
        except ConfigError as error:
            self._info(f"{error}; Procfile processes are not started", Level.ERROR)

    def _on_process_status(self, status: ProcessStatus) -> None:
        self._processes[status.name] = status
        self._publish_snapshot()

    @property
    def stopped(self) -> bool:
        """Return True once `stop()` has finished."""
        return self._stopped.is_set()

    async def wait_stopped(self) -> None:
        """Return once `stop()` has finished."""
        await self._stopped.wait()

    # DaemonHandle

    def snapshot(self) -> Snapshot:
        routes_by_function: dict[str, list[str]] = {}
        for route in self.inventory.routes:
            if route.function:
                routes_by_function.setdefault(route.function, []).append(route.key)
        views = tuple(self._view(f, routes_by_function.get(f.address, [])) for f in self.inventory.functions)
        problems = tuple(str(problem) for problem in self.inventory.problems)
        url = self.gateway.url if self.gateway else ""
        return Snapshot(url, str(self.settings.infra_dir), views, problems, self._watching,
                        tuple(self._processes.values()), backend=self._backend(),
                        var_files=tuple(str(path) for path in self.settings.var_files),
                        aws_profile=self._aws_profile, aws_region=self._aws_region,
                        aws_endpoint=self._aws_endpoint,
                        reloading=self._reloading, deploys_configured=self.deploys.configured,
                        project=str(self.settings.project_root))

    def _backend(self) -> str:
        return "sam" if self.sam.process is not None else "native"

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.append(queue)
        queue.put_nowait(self.snapshot())
        for record in self._backlog:
            queue.put_nowait(record)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Stop sending updates to a queue from `subscribe`."""
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def rebuild(self, address: str) -> None:
        if self.inventory.function(address) is None:
            self._info(f"cannot rebuild {address}: no such function in the inventory", Level.WARNING)
            return
        self._request_build(address)

    async def stop(self) -> None:
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        self._info("stopping")
        await self.control.close()
        self.deploys.close()
        self._build_waiters.cancel_all(DevdError("devd stopped before the build finished"))
        await self.watcher.close()
        await self.gateway.close()
        if self._scheduler is not None:
            await self._scheduler.close()
        pools = list(self.pools.values())
        self.pools.clear()
        procfile = self.procfile.stop() if self.procfile else asyncio.sleep(0)
        await asyncio.gather(procfile, self.sam.stop(), *(pool.close() for pool in pools), *self._closing,
                             return_exceptions=True)
        await self.spares.close()
        await self.builder.close()
        self._stopped.set()
        for queue in self._subscribers:
            queue.put_nowait(None)

    # Requests from the gateway

    async def invoke(self, address: str, event: bytes) -> InvokeResult:
        """Invoke a function with an event; wait for its first build when it has none yet."""
        pool = self.pools.get(address)
        if pool is None:
            ready = self._ready.setdefault(address, asyncio.Event())
            if self.states.get(address, FunctionState()).build_state in (BuildState.PENDING, BuildState.BUILDING):
                self._request_build(address, urgent=True)
                await ready.wait()
            pool = self.pools.get(address)
        if pool is None:
            result = _not_built(address, self.states.get(address, FunctionState()).error)
            function = self.inventory.function(address)
            self.publish(LogRecord(function.name if function else address,
                                   json.loads(result.payload)["errorMessage"], Level.ERROR))
            return result
        return await pool.invoke(event)

    def _on_gateway_log(self, record: LogRecord) -> None:
        function = self.inventory.function(record.source)
        self.publish(replace(record, source=function.name) if function else record)

    def _on_request(self, record: RequestRecord) -> None:
        function = self.inventory.function(record.function) if record.function else None
        self.request_stats.add(function.name if function else None, record.duration_ms)
        if function is not None:
            # Built directly: dataclasses.replace costs several times more, once per request.
            record = RequestRecord(method=record.method, path=record.path, status=record.status,
                                   duration_ms=record.duration_ms, function=function.name,
                                   request_id=record.request_id, time=record.time, event=record.event,
                                   response=record.response)
        self.publish(record)

    # Publishing

    def publish(self, record: LogRecord | RequestRecord) -> None:
        """Send a record to every subscriber, with secrets masked."""
        if isinstance(record, LogRecord) and not record.secret_free:
            masked = mask_secrets(record.text)
            if masked != record.text:
                record = replace(record, text=masked)
        self._backlog.append(record)
        for queue in self._subscribers:
            queue.put_nowait(record)

    def _publish_snapshot(self) -> None:
        snapshot = self.snapshot()
        for queue in self._subscribers:
            queue.put_nowait(snapshot)

    def _info(self, text: str, level: Level = Level.INFO) -> None:
        log.log(logging.WARNING if level == Level.WARNING else logging.INFO, text)
        self.publish(LogRecord("devd", text, level))

    # Inventory

    async def _discover(self) -> Inventory:
        options = TerraformOptions(self.settings.infra_dir, self.settings.var_files, self.settings.variables,
                                   self.settings.environ)
        return await asyncio.to_thread(discover, options, self.settings.project_root, self._cache)

    async def _reload_inventory(self) -> None:
        async with self._reload_lock:
            started = time.perf_counter()
            self._reloading = True
            self._publish_snapshot()
            try:
                inventory = await self._discover()
            finally:
                self._reloading = False
            if keeps_last_good(inventory):
                broken = {problem for problem in inventory.problems if problem.syntax}
                for problem in sorted(broken - self._reported_syntax, key=str):
                    self._info(f"{problem}; still serving the last good configuration", Level.ERROR)
                self._reported_syntax = broken
                return
            self._reported_syntax = set()
            self._info(f"re-read Terraform in {(time.perf_counter() - started) * 1000:.0f} ms")
            self._apply_inventory(inventory, first=False)

    def _apply_inventory(self, inventory: Inventory, first: bool) -> None:
        diff = diff_inventory(self.inventory, inventory)
        old_problems = set(self.inventory.problems)
        self.inventory = inventory
        for function in inventory.functions:
            KNOWN_SECRETS.remember(function.environment)
        for problem in inventory.problems:
            if first or problem not in old_problems:
                self._info(str(problem), Level.WARNING)
        for address in diff.removed:
            self._forget(address)
        self.gateway.set_functions(inventory.functions)
        try:
            self.gateway.set_routes(inventory.routes)
        except ConfigError as error:
            self._info(f"{error}; the previous routes keep serving", Level.ERROR)
        for address in sorted(diff.added | diff.changed):
            if not first:
                self._info(f"{'found' if address in diff.added else 'changed'} {address}")
            self._request_build(address)
        if diff.routes_changed and not first:
            self._info(f"routes: {', '.join(r.key for r in inventory.routes) or 'none'}")
        if self._watching:
            self.watcher.update(self._watch_roots())
        self._publish_snapshot()

    def _forget(self, address: str) -> None:
        self._info(f"removed {address}")
        self.states.pop(address, None)
        self._results.pop(address, None)
        self._build_waiters.cancel(address, DevdError(f"{address} left the inventory before its build finished"))
        if self._scheduler is not None:
            self._scheduler.forget(address)
        pool = self.pools.pop(address, None)
        if pool is not None:
            self._close_later(pool)
        self._close_later_coro(self.builder.forget(address))

    # Watching

    async def _on_files_changed(self, paths: frozenset[Path]) -> None:
        facts = {address: state.facts for address, state in self.states.items()}
        outputs = [command.output_dir for command in self.settings.build.user_commands]
        plan = plan_changes(paths, self.settings.infra_dir, self.settings.var_files, self.inventory.functions,
                            facts, ignored=outputs)
        if plan.reload_inventory:
            await self._reload_inventory()
        for address in sorted(plan.rebuild):
            self._request_build(address)

    def _watch_roots(self) -> set[tuple[Path, bool]]:
        facts = {address: state.facts for address, state in self.states.items()}
        return watch_roots(self.settings.infra_dir, self.settings.var_files, self.inventory.functions, facts)

    def _view(self, function: Function, routes: list[str]) -> FunctionView:
        state = self.states.get(function.address, FunctionState())
        pool = self.pools.get(function.address)
        stats = pool.stats if pool is not None else None
        requests = self.request_stats
        return FunctionView(function.address, function.name, function.runtime or "image", tuple(routes), state.build_state,
                            state.generation, state.last_build_ms, state.last_built_at, state.error,
                            workers=stats.workers if stats else 0, busy=stats.busy if stats else 0,
                            requests=requests.count(function.name), p50_ms=requests.p50(function.name),
                            recent_ms=requests.recent(function.name), deploy=self.deploys.state_text(function.address))


def _not_built(address: str, error: str | None) -> InvokeResult:
    message = f"{address} has no successful build" + (f": {error}" if error else "")
    document = {"errorType": "Runtime.BuildFailed", "errorMessage": message, "stackTrace": []}
    return InvokeResult("", json.dumps(document).encode(), "Unhandled")
