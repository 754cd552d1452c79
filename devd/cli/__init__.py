"""The `devd` command line. Each subcommand lives in its own module of this package and adds
itself to the parser with `register`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from devd.cli import deploy, inventory, invoke, logs, sam, status, up
from devd.config import Settings, resolve_settings
from devd.errors import DevdError

COMMANDS = (up, inventory, status, invoke, deploy, logs, sam)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="devd", description="Serve Lambda + API Gateway apps defined in Terraform locally, and deploy them.")
    parser.add_argument("-C", "--project", default=".", help="project root (default: the current directory)")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def terraform_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that choose the Terraform root and its variables."""
    parser.add_argument("--infra", help="Terraform root module directory (default: infra/ or terraform/)")
    parser.add_argument("--var-file", action="append", dest="var_files", metavar="FILE",
                        help="a .tfvars file, as terraform -var-file (repeatable)")
    parser.add_argument("--var", action="append", dest="variables", metavar="NAME=VALUE",
                        help="a variable value, as terraform -var (repeatable)")


def settings_for(args: argparse.Namespace) -> Settings:
    """Resolve the project settings from devd.toml and the options a subcommand was given."""
    return resolve_settings(
        Path(args.project), infra=getattr(args, "infra", None), var_files=getattr(args, "var_files", None),
        variables=getattr(args, "variables", None), host=getattr(args, "host", None),
        port=getattr(args, "port", None), watch=not getattr(args, "no_watch", False),
        procfile=not getattr(args, "no_procfile", False), backend=getattr(args, "backend", None))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except DevdError as error:
        print(f"devd: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
