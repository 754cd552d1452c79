"""`devd up`: run the daemon with the full-screen view or plain lines until stopped."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys

from devd.config import Settings
from devd.logs.bridge import LogBridge

log = logging.getLogger("devd.cli")


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
    up.add_argument("-v", "--verbose", action="store_true", help="log debug messages of devd itself")
    up.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run `devd up` and return the exit status."""
    from devd.cli import settings_for

    settings = settings_for(args)
    tui = not args.no_tui and sys.stdout.isatty() and sys.stdin.isatty()
    return asyncio.run(_up(settings, tui, args.verbose))


async def _up(settings: Settings, tui: bool, verbose: bool) -> int:
    from devd.engine.daemon import Daemon
    from devd.tui.keys import resolve_keys

    keys = resolve_keys(settings.keys)  # a bad [keys] table fails before anything starts
    daemon = Daemon(settings)
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
    watch = asyncio.create_task(_watch_terminal(daemon))
    await DevdApp(daemon, keys).run_async()
    watch.cancel()
    await daemon.stop()
    return 0


async def _watch_terminal(daemon) -> None:
    """Stop devd when its terminal goes away (a closed tab or tmux pane).

    A hung-up terminal makes `tcgetpgrp` fail with EIO. The full-screen view cannot be
    restored on a terminal that is gone, so devd stops its children and exits at once.
    """
    while True:
        await asyncio.sleep(0.5)
        try:
            os.tcgetpgrp(sys.stdin.fileno())
        except OSError:
            await _exit_after_hangup(daemon)


async def _exit_after_hangup(daemon) -> None:
    log.warning("the terminal closed: stopping")
    await daemon.stop()
    logging.shutdown()
    os._exit(129)


def _configure_logging(settings: Settings, daemon, verbose: bool) -> None:
    """Send devd's own log messages to `.devd/devd.log`, and warnings on to the views."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("devd")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    file_handler = logging.FileHandler(settings.state_dir / "devd.log")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    root.addHandler(LogBridge(daemon.publish))
    root.propagate = False
