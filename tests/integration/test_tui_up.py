"""The full-screen view on a real daemon serving a copy of the example: the function table
fills in, and a request shows up in the log pane."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from devd.config import resolve_settings
from devd.engine.daemon import Daemon
from devd.tui.app import DevdApp
from tests.unit.tui.test_app import SCREEN_SIZE, pane_lines, table_rows, wait_until


async def test_tui_shows_functions_and_request_line(example: Path) -> None:
    settings = resolve_settings(example, port=0, procfile=False)
    daemon = Daemon(settings)
    await daemon.start()
    app = DevdApp(daemon)

    try:
        async with app.run_test(size=SCREEN_SIZE) as pilot:
            await wait_until(pilot, lambda: len(table_rows(app)) == 4, timeout=20)
            await wait_until(pilot, lambda: all("ready" in " ".join(r) for r in table_rows(app)), timeout=20)
            names = sorted(row[0] for row in table_rows(app))
            assert names == ["devd-example-dev-create-item", "devd-example-dev-get-hello",
                             "devd-example-dev-get-item", "devd-example-dev-status"]
            hello = next(row for row in table_rows(app) if row[0].endswith("get-hello"))
            assert "GET /hello" in " ".join(hello)

            async with aiohttp.ClientSession() as session:
                async with session.get(f"{daemon.gateway.url}/hello") as response:
                    assert response.status == 200

            await wait_until(pilot, lambda: any("GET /hello 200" in line for line in pane_lines(app)), timeout=10)
            await pilot.press("q")
            await wait_until(pilot, lambda: daemon.stopped, timeout=15)
    finally:
        await daemon.stop()


async def test_tui_keys_on_real_daemon(example: Path) -> None:
    settings = resolve_settings(example, port=0, procfile=False)
    daemon = Daemon(settings)
    await daemon.start()
    app = DevdApp(daemon)

    try:
        async with app.run_test(size=SCREEN_SIZE) as pilot:
            await wait_until(pilot, lambda: len(table_rows(app)) == 4 and all(
                "ready" in " ".join(row) for row in table_rows(app)), timeout=30)
            hello_row = next(i for i, row in enumerate(table_rows(app)) if row[0].endswith("get-hello"))
            for _ in range(hello_row):
                await pilot.press("down")

            await pilot.press("i")
            await wait_until(pilot, lambda: any(r.method == "INVOKE" for r in app.requests), timeout=20)
            invoked = next(r for r in app.requests if r.method == "INVOKE")
            assert invoked.status == 200
            assert invoked.function == "devd-example-dev-get-hello"
            assert "Hello, world!" in (invoked.response or "")
            assert '"path": "/hello"' in (invoked.event or "")

            await pilot.press("r")
            await wait_until(pilot, lambda: any("workers restarted on build #1" in line for line in pane_lines(app)),
                             timeout=20)

            await pilot.press("t")
            await pilot.press("p")
            await wait_until(pilot, lambda: sum(r.method == "INVOKE" for r in app.requests) == 2, timeout=20)
            await pilot.press("escape")

            await pilot.press("q")
            await wait_until(pilot, lambda: daemon.stopped, timeout=15)
    finally:
        await daemon.stop()
