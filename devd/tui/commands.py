"""The key actions of the main screen. `DevdApp` mixes these in; each long action runs in a
worker with a progress line, so the screen keeps drawing while it waits."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text

from devd.deploy.model import DeployPlan
from devd.engine.view import FunctionView
from devd.logs.records import RequestRecord
from devd.tui.inspector import RequestsScreen
from devd.tui.log_pane import LEVEL_FILTERS, LogFilter
from devd.tui.screens import ChoiceScreen, ConfirmScreen, HelpScreen, PromptScreen

if TYPE_CHECKING:
    from devd.tui.app import DevdApp

logger = logging.getLogger("devd.tui")

NOT_SET_UP = "Deploys are not set up for this project."


def plan_summary(plan: DeployPlan, name: str) -> Text:
    """Return the confirmation text of a plan of function `name`: its counts and every address
    with its action."""
    adds = plan.count("create") + plan.count("replace")
    destroys = plan.count("delete") + plan.count("replace")
    text = Text.assemble(
        "Plan for ", (name, "bold"), f" ({plan.function}): ",
        (f"{adds} to add", "green"), ", ", (f"{plan.count('update')} to change", "yellow"), ", ",
        (f"{destroys} to destroy", "red"), "\n\n",
    )
    for change in plan.changes:
        style = {"create": "green", "update": "yellow", "delete": "red", "replace": "red"}.get(change.action, "")
        text.append(f"  {change.action:<8}", style=style)
        text.append(f" {change.address}\n")
    if not plan.changes:
        text.append("  no changes\n", style="dim")
    text.append("\nApply this plan?")
    return text


def destroy_warning(plan: DeployPlan) -> Text:
    """Return the second question asked before a plan that deletes or replaces resources."""
    text = Text("This apply destroys these resources (a replace destroys, then creates):\n\n")
    for address in plan.destroys:
        text.append(f"  {address}\n", style="bold red")
    text.append("\nDestroy them and apply?")
    return text


class CommandsMixin:
    """Actions bound to keys and listed in the command palette."""

    def _selected(self: DevdApp) -> FunctionView | None:
        function = self.functions_table.selected_function()
        if function is None:
            self.notify("No function selected.", severity="warning")
        return function

    def _in_background(self: DevdApp, label: str, work: Callable[[], Awaitable[Any]], failure: str) -> None:
        """Run work in a worker with a progress line; show its error instead of ending the TUI."""

        async def run() -> None:
            token = self.activity.start(label)
            try:
                await work()
            except Exception as error:  # noqa: BLE001 - any failure is shown, and the TUI stays up
                logger.warning("%s: %s", failure, error)
                self.notify(f"{failure}: {error}", severity="error")
            finally:
                self.activity.finish(token)

        self.run_worker(run(), group="actions")

    async def action_rebuild(self: DevdApp) -> None:
        """Queue a rebuild of the function under the cursor."""
        function = self._selected()
        if function is None:
            return
        try:
            await self.daemon.rebuild(function.address)
        except Exception as error:
            # A failed request must not end the TUI, so it is logged and shown instead.
            logger.exception("rebuild of %s failed", function.address)
            self.notify(f"Rebuild of {function.name} failed: {error}", severity="error")
            return
        self.notify(f"Rebuild queued: {function.name}")

    def action_invoke(self: DevdApp) -> None:
        """Invoke the selected function with its saved event, or a sample one."""
        function = self._selected()
        if function is None:
            return

        async def invoke() -> None:
            event, origin = self.daemon.event_for(function.address)
            result = await self.daemon.invoke_function(function.address, event)
            outcome = "an error" if result.function_error else "a response"
            self.notify(f"{function.name} returned {outcome} to {origin}; t opens it")

        self._in_background(f"invoking {function.name}", invoke, f"Invoke of {function.name} failed")

    def action_deploy(self: DevdApp) -> None:
        """Plan a deploy of the selected function, confirm it (twice when it destroys), apply it."""
        function = self._selected()
        if function is None:
            return
        if not self.daemon.deploys.configured:
            self.notify(NOT_SET_UP, severity="warning")
            return
        self.run_worker(self._deploy_flow(function), group="deploy")

    async def _deploy_flow(self: DevdApp, function: FunctionView) -> None:
        deploys = self.daemon.deploys
        token = self.activity.start(f"planning a deploy of {function.name}")
        try:
            plan = await deploys.plan(function.address)
        except Exception as error:  # noqa: BLE001 - a Deployer may raise anything
            logger.warning("plan of %s failed: %s", function.address, error)
            self.notify(f"Plan of {function.name} failed: {error}", severity="error")
            return
        finally:
            self.activity.finish(token)

        confirmed = await self.push_screen_wait(ConfirmScreen(f"Deploy {function.name}", plan_summary(plan, function.name)))
        if confirmed and plan.destroys:
            confirmed = await self.push_screen_wait(ConfirmScreen("Destroy resources?", destroy_warning(plan)))
        if not confirmed:
            deploys.cancelled(function.address)
            self.notify(f"Deploy of {function.name} cancelled.")
            return

        token = self.activity.start(f"applying the plan of {function.name}")
        try:
            result = await deploys.apply(plan)
        except Exception as error:  # noqa: BLE001 - a Deployer may raise anything
            logger.warning("apply of %s failed: %s", function.address, error)
            self.notify(f"Apply of {function.name} failed: {error}", severity="error")
            return
        finally:
            self.activity.finish(token)
        self.notify(f"{function.name}: {result.summary}", severity="information" if result.ok else "error")

    def action_deploy_code(self: DevdApp) -> None:
        """Upload the selected function's local build to the deployed function."""
        function = self._selected()
        if function is None:
            return
        if not self.daemon.deploys.configured:
            self.notify(NOT_SET_UP, severity="warning")
            return

        async def upload() -> None:
            result = await self.daemon.deploys.deploy_code(function.address)
            self.notify(f"{function.name}: {result.summary}", severity="information" if result.ok else "error")

        self._in_background(f"uploading the code of {function.name}", upload, f"Code upload of {function.name} failed")

    def action_toggle_remote_logs(self: DevdApp) -> None:
        """Switch the log pane between local logs and the selected function's CloudWatch logs."""
        if self.log_pane.remote_function is not None:
            self.workers.cancel_group(self, "remote-logs")
            self.log_pane.show_remote(None)
            return
        function = self._selected()
        if function is None:
            return
        if not self.daemon.deploys.configured:
            self.notify(NOT_SET_UP, severity="warning")
            return
        self.log_pane.show_remote(function.name)
        self.run_worker(self._follow_remote_logs(function), group="remote-logs", exclusive=True)

    async def _follow_remote_logs(self: DevdApp, function: FunctionView) -> None:
        try:
            async for record in self.daemon.deploys.remote_logs(function.address):
                self.log_pane.add_entries([record], remote=True)
        except Exception as error:  # noqa: BLE001 - a Deployer may raise anything
            logger.warning("remote logs of %s failed: %s", function.address, error)
            self.notify(f"Remote logs of {function.name} failed: {error}", severity="error")

    def action_restart_workers(self: DevdApp) -> None:
        """Restart the selected function's workers."""
        function = self._selected()
        if function is None:
            return
        self._in_background(f"restarting the workers of {function.name}",
                            lambda: self.daemon.restart_workers(function.address),
                            f"Restart of {function.name}'s workers failed")

    def action_restart_process(self: DevdApp) -> None:
        """Restart a Procfile process (or sam local), asking which when there are several."""
        snapshot = self._latest_snapshot
        names = [status.name for status in snapshot.processes] if snapshot else []
        if not names:
            self.notify("No Procfile process or sam local runs.", severity="warning")
            return
        if len(names) == 1:
            self._restart_process(names[0])
            return
        self.push_screen(ChoiceScreen("Restart which process?", names), self._restart_process)

    def _restart_process(self: DevdApp, name: str | None) -> None:
        if name is None:
            return
        self._in_background(f"restarting {name}", lambda: self.daemon.restart_process(name),
                            f"Restart of {name} failed")

    def action_requests(self: DevdApp) -> None:
        """Open the request inspector."""
        self.push_screen(RequestsScreen(self.requests, self.replay_request, self.save_request_event))

    def replay_request(self: DevdApp, record: RequestRecord) -> None:
        """Send a request's event to its function again; the result shows as a new request."""
        address = self._address_of(record.function)
        if address is None or record.event is None:
            self.notify("This request has no event to replay (no function ran, or the event was too large).",
                        severity="warning")
            return
        event = record.event.encode()
        self._in_background(f"replaying {record.method} {record.path}",
                            lambda: self.daemon.invoke_function(address, event), "Replay failed")

    def save_request_event(self: DevdApp, record: RequestRecord) -> None:
        """Save a request's event as the invoke event of its function."""
        if record.function is None or record.event is None:
            self.notify("This request has no event to save.", severity="warning")
            return
        path = self.daemon.save_event(record.function, record.event.encode())
        self.notify(f"Saved; i now sends {path}")

    def _address_of(self: DevdApp, name: str | None) -> str | None:
        snapshot = self._latest_snapshot
        if name is None or snapshot is None:
            return None
        return next((f.address for f in snapshot.functions if f.name == name or f.address == name), None)

    def action_filter_text(self: DevdApp) -> None:
        """Ask for a text and show only the log lines that contain it; empty shows every line."""

        def apply(text: str | None) -> None:
            if text is not None:
                current = self.log_pane.filter
                self.log_pane.set_filter(LogFilter(current.function, text.strip(), current.level))

        self.push_screen(PromptScreen("Show log lines that contain (empty: all)", self.log_pane.filter.text), apply)

    def action_cycle_level(self: DevdApp) -> None:
        """Show every level, then warnings and errors, then errors only."""
        current = self.log_pane.filter
        level = LEVEL_FILTERS[(LEVEL_FILTERS.index(current.level) + 1) % len(LEVEL_FILTERS)]
        self.log_pane.set_filter(LogFilter(current.function, current.text, level))

    def action_toggle_filter(self: DevdApp) -> None:
        """Switch the log pane between every line and the lines of the function under the cursor."""
        if self.log_pane.function_filter is not None:
            self.log_pane.show_only(None)
            return
        function = self._selected()
        if function is not None:
            self.log_pane.show_only(function.name)

    def action_toggle_folding(self: DevdApp) -> None:
        """Fold or unfold multi-line errors such as stack traces."""
        self.log_pane.set_folded(not self.log_pane.folded)

    def action_follow_logs(self: DevdApp) -> None:
        """Scroll the log pane to the end and follow new lines again."""
        self.log_pane.follow()

    def action_clear_logs(self: DevdApp) -> None:
        """Clear the log pane and the records kept for filtering."""
        self.log_pane.clear_entries()

    def action_help(self: DevdApp) -> None:
        """Show every key and what it does."""
        self.push_screen(HelpScreen(self.keys))
