"""`devd ls` prints the functions and routes Terraform defines; `devd build` builds them once."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from devd.config import Settings
from devd.errors import ConfigError
from devd.inventory import Function
from devd.logs.masking import mask_environment, mask_secrets


def register(commands: argparse._SubParsersAction) -> None:
    """Add `devd ls` and `devd build` to the parser."""
    from devd.cli import terraform_options

    ls = commands.add_parser("ls", help="list the functions and routes Terraform defines",
                             description="List the functions and routes Terraform defines. Exits with status 1 "
                                         "when a Terraform file could not be parsed.")
    terraform_options(ls)
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    ls.add_argument("--host", help="host of the route URLs, as for devd up (default 127.0.0.1)")
    ls.add_argument("--port", type=int, help="main port of the route URLs, as for devd up (default 3000)")
    ls.add_argument("--exact", action="store_true",
                    help="take the inventory from `terraform plan` and `terraform show -json` instead of devd's "
                         "evaluator (needs an initialised Terraform directory and credentials for plan, and gives "
                         "terraform the project's .env as devd deploy does)")
    ls.set_defaults(run=lambda args: _ls(_settings(args), args.json, args.exact))

    build = commands.add_parser("build", help="build functions once and exit (status 1 when a build fails)")
    terraform_options(build)
    build.add_argument("functions", nargs="*", metavar="FUNCTION",
                       help="function names or Terraform addresses (default: every function)")
    build.set_defaults(run=lambda args: _build(_settings(args), args.functions))


def _settings(args: argparse.Namespace) -> Settings:
    from devd.cli import settings_for

    return settings_for(args)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Print rows under a header, each column as wide as its widest cell."""
    for line in table_lines(header, rows):
        print(line)


def table_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    """Return rows under a header as lines, each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def _ls(settings: Settings, as_json: bool, exact: bool = False) -> int:
    from devd.deploy.aws import terraform_environ
    from devd.runtime.ports import predicted_ports, route_urls
    from devd.terraform.discover import discover
    from devd.terraform.loader import TerraformOptions
    from devd.terraform.terraform_cli import exact_discover

    if exact:
        # terraform gets the environment that deploys give it, with the variables of `.env`.
        # NOTE: devd's own evaluator (plain `devd ls`, `devd up`) does not read `.env`, so a
        # `TF_VAR_*` line there can make the two listings differ.
        options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables,
                                   terraform_environ(settings))
        inventory = asyncio.run(exact_discover(options, settings.project_root))
    else:
        options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)
        inventory = discover(options, settings.project_root)
    urls = route_urls(inventory.routes, settings.host,
                      predicted_ports(inventory.routes, settings.port, settings.api_ports))
    if as_json:
        document = {
            "functions": [_function_json(f) for f in inventory.functions],
            "routes": [dict(asdict(r), api=r.api.value, url=urls.get(r)) for r in inventory.routes],
            "problems": [_problem_json(p) for p in inventory.problems],
            "layers": [asdict(layer) for layer in inventory.layers],
        }
        print(json.dumps(document, indent=2))
        return 1 if any(problem.syntax for problem in inventory.problems) else 0
    print_table(["FUNCTION", "RUNTIME", "HANDLER", "SOURCE"],
                 [[f.name, f.runtime or "image", f.handler or "-", f.source or "-"] for f in inventory.functions])
    print()
    names = {f.address: f.name for f in inventory.functions}
    print_table(["API", "METHOD", "PATH", "FUNCTION", "URL"],
                 [[r.api.value, r.method, r.path, names.get(r.function or "", "not emulated"), urls.get(r, "-")]
                  for r in inventory.routes])
    for problem in inventory.problems:
        print(f"problem: {mask_secrets(str(problem))}", file=sys.stderr)
    return 1 if any(problem.syntax for problem in inventory.problems) else 0


def _build(settings: Settings, names: list[str]) -> int:
    from devd.control.client import connect

    client = connect(settings.state_dir)
    if client is not None:
        with client:
            return _build_in_daemon(client, names)
    return _build_alone(settings, names)


def _build_in_daemon(client, names: list[str]) -> int:
    """Ask the running daemon to build, so its workers serve the new build; print its results."""
    print(f"devd: building in the running devd ({client.path})", file=sys.stderr)
    results = client.call("build", timeout=None, functions=names)
    width = max((len(result["name"]) for result in results), default=0)
    for result in results:
        name = result["name"].ljust(width)
        if result["ok"]:
            print(f"{name}  ok  #{result['generation']}  {result['duration_ms']:.0f} ms  "
                  f"sha256 {result['zip_sha256'] or '-'}")
            continue
        lines = (result["error"] or "failed without an error message").strip().splitlines()
        print(f"{name}  FAILED  {lines[0]}")
        print("\n".join("    " + line for line in lines[1:]))
    return 0 if all(result["ok"] for result in results) else 1


def _one_function(functions: list[Function], name: str) -> Function:
    """Return the one function that `name` means (see `match_functions`); raise ConfigError otherwise."""
    from devd.inventory import match_functions

    matches = match_functions(functions, name)
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f.name for f in functions)
    problem = f"several functions match {name}" if matches else f"no function named {name}"
    raise ConfigError(f"{problem}; functions: {known}")


def _build_alone(settings: Settings, names: list[str]) -> int:
    from devd.build.oneshot import build_all, format_build_line
    from devd.terraform.discover import discover
    from devd.terraform.loader import TerraformOptions

    options = TerraformOptions(settings.infra_dir, settings.var_files, settings.variables, settings.environ)
    inventory = discover(options, settings.project_root)
    runnable = [f for f in inventory.functions if f.runnable]
    selected = runnable if not names else [_one_function(runnable, name) for name in names]
    results = asyncio.run(build_all(settings, selected, build_settings=settings.build))
    width = max((len(f.name) for f in selected), default=0)
    for function, result in zip(selected, results):
        print(format_build_line(result, function, width))
        if not result.ok and result.error:
            print("\n".join("    " + line for line in result.error.splitlines()[1:]))
    return 0 if all(result.ok for result in results) else 1


def _function_json(function) -> dict:
    document = asdict(function)
    document["environment"] = mask_environment(function.environment)
    document["architectures"] = list(function.architectures)
    document["layers"] = list(function.layers)
    return document


def _problem_json(problem) -> dict:
    document = asdict(problem)
    return {key: mask_secrets(value) if isinstance(value, str) else value for key, value in document.items()}
