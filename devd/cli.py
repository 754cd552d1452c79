"""The `devd` command line: `devd up` runs the daemon, `devd ls` prints the inventory, `devd build`
builds once, and `devd sam` writes files for AWS SAM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from devd.config import Settings, resolve_settings
from devd.errors import ConfigError, DevdError
from devd.logs.bridge import LogBridge

log = logging.getLogger("devd.cli")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="devd", description="Serve Lambda + API Gateway apps defined in Terraform locally.")
    parser.add_argument("-C", "--project", default=".", help="project root (default: the current directory)")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="build every function, serve the API, rebuild on save")
    _terraform_options(up)
    up.add_argument("--host", help="address the gateway binds (default 127.0.0.1)")
    up.add_argument("--port", type=int, help="gateway port (default 3000; 0 picks a free port)")
    up.add_argument("--no-tui", action="store_true", help="print plain lines instead of the full-screen view")
    up.add_argument("--no-watch", action="store_true", help="do not watch files for changes")
    up.add_argument("--no-procfile", action="store_true", help="do not start the processes of the project's Procfile")
    up.add_argument("--backend", choices=("native", "sam", "auto"),
                    help="who runs the functions: devd's workers (native, the default), `sam local start-api` "
                         "(sam, needs Docker or Finch), or sam when a container engine responds (auto)")
    up.add_argument("-v", "--verbose", action="store_true", help="log debug messages of devd itself")

    ls = commands.add_parser("ls", help="list the functions and routes Terraform defines",
                             description="List the functions and routes Terraform defines. Exits with status 1 "
                                         "when a Terraform file could not be parsed.")
    _terraform_options(ls)
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    ls.add_argument("--exact", action="store_true",
                    help="take the inventory from `terraform plan` and `terraform show -json` instead of devd's "
                         "evaluator (needs an initialised Terraform directory and credentials for plan)")

    build = commands.add_parser("build", help="build functions once and exit (status 1 when a build fails)")
    _terraform_options(build)
    build.add_argument("functions", nargs="*", metavar="FUNCTION",
                       help="function names or Terraform addresses (default: every function)")

    sam = commands.add_parser("sam", help="write files for AWS SAM that point at devd's builds")
    sam_files = sam.add_subparsers(dest="sam_command", required=True)
    metadata = sam_files.add_parser(
        "metadata", help="write sam_metadata_* resources for `sam build/local ... --hook-name terraform`")
    _terraform_options(metadata)
    metadata.add_argument("-o", "--output", type=Path,
                          help="output file, relative to the project root (default: <infra>/devd_sam_metadata.tf.json)")
    template = sam_files.add_parser("template", help="write a SAM template for `sam local start-api -t`")
    _terraform_options(template)
    template.add_argument("-o", "--output", type=Path,
                          help="output file, relative to the project root (default: .devd/template.yaml)")
    return parser


def _terraform_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--infra", help="Terraform root module directory (default: infra/ or terraform/)")
    parser.add_argument("--var-file", action="append", dest="var_files", metavar="FILE",
                        help="a .tfvars file, as terraform -var-file (repeatable)")
    parser.add_argument("--var", action="append", dest="variables", metavar="NAME=VALUE",
                        help="a variable value, as terraform -var (repeatable)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = resolve_settings(
            Path(args.project), infra=args.infra, var_files=args.var_files, variables=args.variables,
            host=getattr(args, "host", None), port=getattr(args, "port", None),
            watch=not getattr(args, "no_watch", False), procfile=not getattr(args, "no_procfile", False),
            backend=getattr(args, "backend", None))
        if args.command == "ls":
            return _ls(settings, args.json, args.exact)
        if args.command == "build":
            return _build(settings, args.functions)
        if args.command == "sam":
            from devd.sam.commands import sam_metadata_command, sam_template_command

            command = sam_metadata_command if args.sam_command == "metadata" else sam_template_command
            return command(settings, args.output)
        tui = not args.no_tui and sys.stdout.isatty() and sys.stdin.isatty()
        return asyncio.run(_up(settings, tui, args.verbose))
    except DevdError as error:
        print(f"devd: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _ls(settings: Settings, as_json: bool, exact: bool = False) -> int:
    from devd.terraform.discover import discover
    from devd.terraform.loader import TerraformOptions
    from devd.terraform.terraform_cli import exact_discover

    options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)
    if exact:
        inventory = asyncio.run(exact_discover(options, settings.project_root))
    else:
        inventory = discover(options, settings.project_root)
    if as_json:
        document = {
            "functions": [_function_json(f) for f in inventory.functions],
            "routes": [dict(asdict(r), api=r.api.value) for r in inventory.routes],
            "problems": [asdict(p) for p in inventory.problems],
            "layers": [asdict(layer) for layer in inventory.layers],
        }
        print(json.dumps(document, indent=2))
        return 1 if any(problem.syntax for problem in inventory.problems) else 0
    _print_table(["FUNCTION", "RUNTIME", "HANDLER", "SOURCE"],
                 [[f.name, f.runtime or "image", f.handler or "-", f.source or "-"] for f in inventory.functions])
    print()
    names = {f.address: f.name for f in inventory.functions}
    _print_table(["API", "METHOD", "PATH", "FUNCTION"],
                 [[r.api.value, r.method, r.path, names.get(r.function or "", "not emulated")] for r in inventory.routes])
    for problem in inventory.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if any(problem.syntax for problem in inventory.problems) else 0


def _build(settings: Settings, names: list[str]) -> int:
    from devd.build.oneshot import build_all, format_build_line
    from devd.terraform.discover import discover
    from devd.terraform.loader import TerraformOptions

    options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)
    inventory = discover(options, settings.project_root)
    runnable = [f for f in inventory.functions if f.runnable]
    selected = [f for f in runnable if not names or f.name in names or f.address in names]
    unknown = sorted(set(names) - {f.name for f in selected} - {f.address for f in selected})
    if unknown:
        known = ", ".join(f.name for f in runnable)
        raise ConfigError(f"no function named {', '.join(unknown)}; functions: {known}")
    results = asyncio.run(build_all(settings, selected, build_settings=settings.build))
    width = max((len(f.name) for f in selected), default=0)
    for function, result in zip(selected, results):
        print(format_build_line(result, function, width))
        if not result.ok and result.error:
            print("\n".join("    " + line for line in result.error.splitlines()[1:]))
    return 0 if all(result.ok for result in results) else 1


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _function_json(function) -> dict:
    document = asdict(function)
    document["environment"] = dict(function.environment)
    document["architectures"] = list(function.architectures)
    document["layers"] = list(function.layers)
    return document


async def _up(settings: Settings, tui: bool, verbose: bool) -> int:
    from devd.engine.daemon import Daemon

    daemon = Daemon(settings)
    _configure_logging(settings, daemon, verbose)
    loop = asyncio.get_running_loop()
    try:
        await daemon.start()
    except BaseException:
        await daemon.stop()
        raise
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
    await DevdApp(daemon).run_async()
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
