"""Every key of the TUI under a headless Pilot, with a fake daemon and a recording Deployer."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rich.console import Console
from textual.widgets import Static

from devd.deploy.model import DeployState, ResourceChange
from devd.engine.view import BuildState
from devd.errors import ConfigError
from devd.logs.records import Level, LogRecord, RequestRecord
from devd.supervise.status import ProcessState, ProcessStatus
from devd.tui.activity import ActivityLine
from devd.tui.app import DevdApp
from devd.tui.inspector import RequestDetailScreen, RequestsScreen, pretty_json
from devd.tui.keys import resolve_keys
from devd.tui.log_pane import LogPane
from devd.tui.screens import ChoiceScreen, ConfirmScreen, HelpScreen, PromptScreen
from tests.fakes import FakeDaemon
from tests.unit.tui.deployer import RecordingDeployer
from tests.unit.tui.test_app import (
    HELLO,
    SCREEN_SIZE,
    START,
    pane_lines,
    table_rows,
    wait_until,
)

HELLO_ADDRESS = "aws_lambda_function.hello"

EVENT = json.dumps({"httpMethod": "GET", "path": "/hello",
                    "headers": {"Authorization": "Bearer s3cr3t-token"}, "body": '{"name": "pear"}'})

REQUEST = RequestRecord("GET", "/hello", 200, 12.5, "get-hello", "1a2b3c4d-0000", time=1_700_000_000.0,
                        event=EVENT, response='{"statusCode": 200, "body": "{\\"message\\": \\"hi\\"}"}')


def notifications(app: DevdApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def screen_text(app: DevdApp) -> str:
    """Return the plain text of every Static on the current screen, rendered 120 columns wide."""
    console = Console(width=120, record=True, file=io.StringIO())
    for widget in app.screen.query(Static):
        console.print(widget.content)
    return console.export_text()


async def test_deploy_without_deployer_says_so():
    app = DevdApp(FakeDaemon(START))
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        for key in ("d", "D", "l"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
        assert notifications(app).count("Deploys are not set up for this project.") == 3
        assert app.query_one(LogPane).remote_function is None


async def test_deploy_confirm_then_apply():
    deployer = RecordingDeployer()
    daemon = FakeDaemon(START, deployer)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = screen_text(app)
        assert "1 to add, 1 to change, 0 to destroy" in text
        assert "aws_lambda_function.hello" in text
        assert "aws_cloudwatch_log_group.hello" in text
        assert daemon.deploys.statuses[HELLO_ADDRESS].state is DeployState.AWAITING_CONFIRMATION

        await pilot.press("y")
        await wait_until(pilot, lambda: ("apply", HELLO_ADDRESS) in deployer.calls)
        await wait_until(pilot, lambda: daemon.deploys.statuses[HELLO_ADDRESS].state is DeployState.DEPLOYED)
        assert deployer.calls == [("plan", HELLO_ADDRESS), ("apply", HELLO_ADDRESS)]
        assert any("Apply complete" in message for message in notifications(app))


async def test_deploy_declined_does_not_apply():
    deployer = RecordingDeployer()
    daemon = FakeDaemon(START, deployer)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_until(pilot, lambda: daemon.deploys.statuses[HELLO_ADDRESS].state is DeployState.CANCELLED)
        assert deployer.calls == [("plan", HELLO_ADDRESS)]


async def test_destroy_asks_twice_naming_it():
    deployer = RecordingDeployer((ResourceChange("aws_lambda_function.hello", "replace"),
                                  ResourceChange("aws_iam_role.old", "delete")))
    daemon = FakeDaemon(START, deployer)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "1 to add, 0 to change, 2 to destroy" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: "Destroy them and apply?" in screen_text(app))
        second = screen_text(app)
        assert "aws_iam_role.old" in second
        assert "aws_lambda_function.hello" in second

        await pilot.press("n")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert ("apply", HELLO_ADDRESS) not in deployer.calls

        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: "Destroy them and apply?" in screen_text(app))
        await pilot.press("y")
        await wait_until(pilot, lambda: ("apply", HELLO_ADDRESS) in deployer.calls)


async def test_plan_shows_progress_line():
    deployer = RecordingDeployer(hold=True)
    app = DevdApp(FakeDaemon(START, deployer))
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("d")
        activity = app.query_one(ActivityLine)
        await wait_until(pilot, lambda: activity.display)
        assert activity.labels == ("planning a deploy of get-hello",)
        assert " s" in str(activity.render())

        deployer.release.set()
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert not activity.display


async def test_deploy_code_key():
    deployer = RecordingDeployer()
    daemon = FakeDaemon(START, deployer)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("down", "D")
        await wait_until(pilot, lambda: bool(deployer.calls))
        await wait_until(pilot, lambda: any("code updated" in m for m in notifications(app)))
        assert deployer.calls == [("deploy_code", "aws_lambda_function.orders")]
        assert daemon.deploys.statuses["aws_lambda_function.orders"].state is DeployState.DEPLOYED


async def test_remote_logs_toggle():
    deployer = RecordingDeployer()
    app = DevdApp(FakeDaemon(START, deployer))
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon = app.daemon
        assert isinstance(daemon, FakeDaemon)
        daemon.push(LogRecord("get-hello", "local line"))
        await wait_until(pilot, lambda: any("local line" in line for line in pane_lines(app)))

        await pilot.press("l")
        await wait_until(pilot, lambda: any("remote line" in line for line in pane_lines(app)))
        pane = app.query_one(LogPane)
        assert pane.border_title == "Remote logs: get-hello"
        assert not any("local line" in line for line in pane_lines(app))
        assert deployer.calls == [("remote_logs", HELLO_ADDRESS)]

        await pilot.press("l")
        await wait_until(pilot, lambda: any("local line" in line for line in pane_lines(app)))
        assert not any("remote line" in line for line in pane_lines(app))
        assert pane.border_title == "Logs: all functions"


async def test_invoke_uses_saved_event():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("i")
        await wait_until(pilot, lambda: len(daemon.invocations) == 1)
        assert daemon.invocations[0] == (HELLO_ADDRESS, b'{"sample": true}')
        await wait_until(pilot, lambda: any("a sample event" in m for m in notifications(app)))

        daemon.saved_events["get-hello"] = b'{"saved": 1}'
        await pilot.press("i")
        await wait_until(pilot, lambda: len(daemon.invocations) == 2)
        assert daemon.invocations[1] == (HELLO_ADDRESS, b'{"saved": 1}')


async def test_restart_workers_key():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("down", "r")
        await wait_until(pilot, lambda: bool(daemon.worker_restarts))
        assert daemon.worker_restarts == ["aws_lambda_function.orders"]


async def test_restart_process_key():
    moto_only = replace(START, processes=(ProcessStatus("moto", ProcessState.RUNNING),))
    daemon = FakeDaemon(moto_only)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: daemon.process_restarts == ["moto"])

        daemon.push(replace(moto_only, processes=(ProcessStatus("moto", ProcessState.RUNNING),
                                            ProcessStatus("sam", ProcessState.RUNNING))))
        await pilot.pause(0.2)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: daemon.process_restarts == ["moto", "sam"])


async def test_restart_process_without_processes():
    app = DevdApp(FakeDaemon(START))
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert "No Procfile process or sam local runs." in notifications(app)


async def test_text_filter_prompt():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(LogRecord("get-hello", "handler boom"))
        daemon.push(LogRecord("get-hello", "all fine"))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 2)

        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"BOOM", "enter")
        await wait_until(pilot, lambda: len(pane_lines(app)) == 1)
        assert "handler boom" in pane_lines(app)[0]
        assert "filter 'BOOM'" in str(app.query_one(LogPane).border_title)

        daemon.push(LogRecord("get-hello", "another boom"))
        daemon.push(LogRecord("get-hello", "quiet"))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 2)

        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+u", "enter")
        await wait_until(pilot, lambda: len(pane_lines(app)) == 4)


async def test_level_key_cycles():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(LogRecord("get-hello", "info line"))
        daemon.push(LogRecord("get-hello", "warning line", Level.WARNING))
        daemon.push(LogRecord("get-hello", "error line", Level.ERROR))
        daemon.push(RequestRecord("GET", "/hello", 404, 1.0, "get-hello"))
        daemon.push(RequestRecord("GET", "/hello", 502, 1.0, "get-hello"))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 5)

        await pilot.press("e")
        assert len(pane_lines(app)) == 4
        assert not any("info line" in line for line in pane_lines(app))

        await pilot.press("e")
        lines = pane_lines(app)
        assert len(lines) == 2
        assert "error line" in lines[0]
        assert "502" in lines[1]

        await pilot.press("e")
        assert len(pane_lines(app)) == 5


async def test_fold_key_unfolds_trace():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(LogRecord("get-hello", "TypeError: x is undefined\n    at main (handler.ts:3)\n    at run",
                              Level.ERROR))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 1)
        assert "[+2 lines, z unfolds]" in pane_lines(app)[0]

        await pilot.press("z")
        lines = pane_lines(app)
        assert len(lines) == 3
        assert "at main (handler.ts:3)" in lines[1]


async def test_scrolling_up_pauses_follow():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        for number in range(100):
            daemon.push(LogRecord("get-hello", f"line {number}"))
        pane = app.query_one(LogPane)
        await wait_until(pilot, lambda: len(pane_lines(app)) == 100)
        await pilot.pause(0.1)
        assert pane.is_vertical_scroll_end

        pane.scroll_home(animate=False)
        await pilot.pause()
        daemon.push(LogRecord("get-hello", "newer line"))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 101)
        await pilot.pause(0.1)
        assert pane.scroll_y == 0
        assert "paused" in str(pane.border_subtitle)

        await pilot.press("G")
        await pilot.pause(0.1)
        daemon.push(LogRecord("get-hello", "newest line"))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 102)
        await pilot.pause(0.1)
        assert pane.is_vertical_scroll_end
        assert "paused" not in str(pane.border_subtitle)


async def test_ring_buffer_counts_dropped():
    pane = LogPane(buffer_size=3)
    app = DevdApp(FakeDaemon(START))
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await app.mount(pane)
        pane.add_entries([LogRecord("x", f"line {n}") for n in range(5)])
        await pilot.pause()
        assert len(pane.buffer) == 3
        assert pane.dropped == 2
        assert "2 dropped" in str(pane.border_subtitle)


async def test_request_id_highlighted():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(LogRecord("get-hello", "with id", request_id="feedbeef-1234"))
        await wait_until(pilot, lambda: len(pane_lines(app)) == 1)
        styles = [segment.style for strip in app.query_one(LogPane).lines for segment in strip
                  if "feedbeef" in segment.text]
        assert styles
        assert styles[0].color is not None
        assert styles[0].color.name == "magenta"
        assert styles[0].bold


async def test_help_lists_configured_keys():
    app = DevdApp(FakeDaemon(START), {"rebuild": "x"})
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "rebuild the selected function" in text
        assert "x  " in text or "x " in text
        assert "open the request inspector" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_configured_key_replaces_default():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon, {"rebuild": "x"})
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert daemon.rebuilds == []
        await pilot.press("x")
        await pilot.pause()
        assert daemon.rebuilds == [HELLO_ADDRESS]


@pytest.mark.parametrize("keys, message", [
    ({"rebuild": "q"}, "rebuild and quit both use 'q'"),
    ({"launch": "x"}, "unknown action 'launch'"),
    ({"rebuild": ""}, "rebuild must be a key"),
])
def test_bad_keys_rejected(keys: dict[str, str], message: str):
    with pytest.raises(ConfigError, match=message):
        resolve_keys(keys)


async def test_palette_lists_every_action():
    app = DevdApp(FakeDaemon(START))
    async with app.run_test(size=SCREEN_SIZE):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for label in ("Rebuild (b)", "Invoke (i)", "Deploy (d)", "Code (D)", "Remote logs (l)",
                      "Restart workers (r)", "Restart process (s)", "Requests (t)", "Filter (/)", "Help (?)",
                      "Quit (q)"):
            assert label in titles


async def test_inspector_opens_replays_saves():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(REQUEST)
        daemon.push(RequestRecord("GET", "/nothing", 404, 0.5, None, time=1_700_000_001.0))
        await wait_until(pilot, lambda: len(app.requests) == 2)

        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, RequestsScreen))
        table = app.screen.query_one("DataTable")
        assert table.row_count == 2
        await pilot.press("up", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RequestDetailScreen))
        text = screen_text(app)
        assert "Bearer ****" in text
        assert "s3cr3t-token" not in text
        assert '"name": "pear"' in text
        assert '"message": "hi"' in text

        await pilot.press("p")
        await wait_until(pilot, lambda: len(daemon.invocations) == 1)
        assert daemon.invocations[0] == (HELLO_ADDRESS, EVENT.encode())

        await pilot.press("w")
        await pilot.pause()
        assert daemon.saved_events["get-hello"] == EVENT.encode()

        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, (RequestsScreen, RequestDetailScreen)))


async def test_inspector_lists_new_requests():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, RequestsScreen))
        daemon.push(REQUEST)
        await wait_until(pilot, lambda: app.screen.query_one("DataTable").row_count == 1)


async def test_replay_without_event_warns():
    daemon = FakeDaemon(START)
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        daemon.push(RequestRecord("GET", "/nothing", 404, 0.5, None))
        await wait_until(pilot, lambda: len(app.requests) == 1)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, RequestsScreen))
        await pilot.press("p")
        await pilot.pause()
        assert daemon.invocations == []
        assert any("no event to replay" in m for m in notifications(app))


def test_pretty_json_masks_and_expands():
    text = pretty_json(EVENT)
    assert '"Authorization": "Bearer ****"' in text
    assert '"name": "pear"' in text
    assert pretty_json("not json password=hunter2") == "not json password=****"
    assert "not kept" in pretty_json(None)


async def test_table_shows_workers_latency_deploy():
    deployer = RecordingDeployer()
    daemon = FakeDaemon(START, deployer)
    busy = replace(HELLO, workers=3, busy=1, requests=7, p50_ms=4.25, recent_ms=(1.0, 2.0, 8.0))
    pending = replace(HELLO, address="aws_lambda_function.new", name="new", build_state=BuildState.PENDING)
    daemon.push(replace(START, functions=(busy, pending)))
    app = DevdApp(daemon)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.pause()
        hello, new = table_rows(app)
        assert hello[5] == "2 idle 1 busy"
        assert hello[6] == "7"
        assert hello[7] == "4.2 ms ▁▂█"
        assert new[3] == "pending (queued)"

        daemon.push(replace(START, functions=(busy, pending), reloading=True))
        await wait_until(pilot, lambda: "(Terraform reloading)" in table_rows(app)[1][3])


async def test_header_shows_target_and_backend():
    snapshot = replace(START, backend="sam", var_files=("infra/vars/dev.tfvars",), aws_profile="dev",
                       aws_region="eu-west-1")
    app = DevdApp(FakeDaemon(snapshot))
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.pause()
        header = str(app.query_one("#status").render())
        assert "sam" in header
        assert "vars infra/vars/dev.tfvars" in header
        assert "AWS profile dev, region eu-west-1" in header
        assert "deploys not set up" in header
