"""`devd up`: run the daemon with the full-screen view or plain lines until stopped."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from typing import Callable

from devd.config import Settings
from devd.logs.bridge import LogBridge
from devd.logs.masking import MaskingFormatter
from devd.runtime.options import DebugPlan

log = logging.getLogger("devd.cli")

_TERMINAL_POLL_SECONDS = 0.5
_HANGUP_EXIT_SECONDS = 10.0
"""How long devd may take to stop its children after the terminal closes before it exits
without cleanup."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd up` to the parser."""
    from devd.cli import terraform_options

    up = commands.add_parser("up", help="build every function, serve the API, rebuild on save")
    terraform_options(up)
    up.add_argument("--host", help="address the gateway binds (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="gateway port (default 3000; 0 picks a free port)")
    up.add_argument("--no-tui", action="store_true", help="print plain lines instead of the full-screen view")
    up.add_argument("--no-watch", action="store_true", help="do not watch files for changes")
    up.add_argument("--no-procfile", action="store_true", help="do not start the processes of the project's Procfile")
    up.add_argument("--backend", choices=("native", "sam", "auto"),
                    help="who runs the functions: devd's workers (native, the default), `sam local start-api` "
                         "(sam, needs Docker or Finch), or sam when a container engine responds (auto)")
    up.add_argument("--debug", action="append", metavar="FUNCTION", default=[],
                    help="run this function (a name or Terraform address; patterns allowed) under a debugger: one "
                         "worker, the Node inspector from port 9229 or debugpy from port 5678, no timeouts; "
                         "repeatable")
    up.add_argument("-v", "--verbose", action="store_true", help="log debug messages of devd itself")
    up.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run `devd up` and return the exit status."""
    from devd.cli import settings_for

    settings = settings_for(args)
    if args.debug:
        settings = replace(settings, debug=DebugPlan(tuple(args.debug)))
    tui = not args.no_tui and sys.stdout.isatty() and sys.stdin.isatty()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(_up(settings, tui, args.verbose))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """Return uvloop's loop factory when uvloop is installed, or None for asyncio's own loop.

    With uvloop the gateway serves about 15 % more requests per second (docs/benchmarks.md).
    DEVD_EVENT_LOOP=asyncio picks asyncio's loop, to tell whether uvloop causes a problem.
    """
    if os.environ.get("DEVD_EVENT_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def attach_deployer(daemon, settings: Settings) -> None:
    """Let the d, D and l keys, and `devd deploy` from another terminal, deploy with Terraform."""
    from devd.deploy.aws import has_aws_configuration
    from devd.deploy.terraform_deployer import TerraformDeployer

    deployer = TerraformDeployer(settings, on_status=daemon.deploys.set_status, on_log=daemon.publish)
    deployer.inventory_source = lambda: daemon.inventory
    daemon.deploys.attach(deployer)
    daemon.aim_deploys(deployer.environ)
    daemon.deploys.check_drift = has_aws_configuration(deployer.environ)


async def _up(settings: Settings, tui: bool, verbose: bool) -> int:
    from devd.engine.daemon import Daemon
    from devd.tui.keys import resolve_keys

    keys = resolve_keys(settings.keys)  # a bad [keys] table fails before anything starts
    daemon = Daemon(settings)
    attach_deployer(daemon, settings)
    _configure_logging(settings, daemon, verbose)
    loop = asyncio.get_running_loop()
    try:
        await daemon.start()
    except BaseException:
        await daemon.stop()
        raise
    # Modules and most state made at start live until exit, so the cycle collector need not scan
    # them again: under request load each full collection then scans only newer objects. A
    # frozen object that later becomes part of unreachable cycles is freed only at exit.
    gc.freeze()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(daemon.stop()))
    if not tui:
        from devd.console import run_console

        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(daemon.stop()))
        await run_console(daemon, sys.stdout)
        await daemon.stop()
        return 0

    from devd.tui.app import DevdApp

    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(_exit_after_hangup(daemon)))
    app_done = threading.Event()
    threading.Thread(target=_watch_terminal, args=(loop, daemon, app_done), name="devd-terminal",
                     daemon=True).start()
    await DevdApp(daemon, keys).run_async()
    app_done.set()
    await daemon.stop()
    return 0


def _watch_terminal(loop: asyncio.AbstractEventLoop, daemon, app_done: threading.Event) -> None:
    """Stop devd when its terminal goes away (a closed tab or tmux pane).

    A hung-up terminal makes `tcgetpgrp` fail with EIO. The full-screen view cannot be
    restored on a terminal that is gone, so devd stops its children and exits at once.

    This runs in a thread because the event loop itself may be stuck: Textual's output thread
    dies on the first write that fails with EIO, and after 30 more redraws the loop blocks on
    that thread's full queue. When the loop has not exited within `_HANGUP_EXIT_SECONDS`,
    this thread ends the process, and the kernel's parent-death signal and the group guards
    stop the children, as after a `kill -9` of devd.
    """
    while not app_done.wait(_TERMINAL_POLL_SECONDS):
        try:
            os.tcgetpgrp(sys.stdin.fileno())
        except OSError:
            break
    else:
        return

    loop.call_soon_threadsafe(lambda: asyncio.ensure_future(_exit_after_hangup(daemon)))
    time.sleep(_HANGUP_EXIT_SECONDS)
    _log_to_file("the event loop did not stop within %.1f s of the terminal closing: exiting without cleanup",
                 _HANGUP_EXIT_SECONDS)
    os._exit(129)


async def _exit_after_hangup(daemon) -> None:
    log.warning("the terminal closed: stopping")
    await daemon.stop()
    logging.shutdown()
    os._exit(129)


def _log_to_file(message: str, *args: object) -> None:
    """Log a warning to `.devd/devd.log` only: the views belong to the blocked event loop."""
    record = log.makeRecord(log.name, logging.WARNING, __file__, 0, message, args, None)
    for handler in logging.getLogger("devd").handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _configure_logging(settings: Settings, daemon, verbose: bool) -> None:
    """Send devd's own log messages to `.devd/devd.log`, and warnings on to the views."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("devd")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    file_handler = logging.FileHandler(settings.state_dir / "devd.log")
    file_handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    root.addHandler(LogBridge(daemon.publish))
    root.propagate = False
