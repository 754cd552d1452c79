"""Run the terraform command line: `init`, and `plan` followed by `show -json` for exact mode.

Each run is a child process in its own process group, with list arguments and no shell. Its
output is captured, never streamed; on failure the last lines of its stderr go into the
TerraformError message.

terraform starts a provider process for each provider, which the parent-death signal of
terraform does not reach. So terraform runs under the group guard (`group_guard.py`), which
kills the whole group, providers included, when the process that started it dies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from devd.errors import TerraformError
from devd.inventory import Inventory
from devd.supervise.group_guard import guarded_command
from devd.supervise.process_group import die_with_parent, signal_group, stop_process_group
from devd.terraform.exact import exact_inventory
from devd.terraform.loader import TerraformOptions

log = logging.getLogger("devd.terraform")

DEFAULT_TIMEOUT = 300.0
"""Seconds one terraform command may run, because a plan that reads many data sources can take minutes."""
STOP_GRACE = 5.0
"""Seconds terraform gets after SIGTERM to stop its providers before SIGKILL."""
ERROR_LINES = 20


async def init(root_dir: Path, environ: Mapping[str, str], *, terraform: str = "terraform",
               cli_config: Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Run `terraform init` in root_dir, which installs providers and modules into `.terraform`."""
    executable = _executable(terraform, environ)
    _require_directory(root_dir)
    await _run([executable, "init", "-input=false", "-no-color"], root_dir, _environment(environ, cli_config), timeout)


async def plan_json(root_dir: Path, var_files: Iterable[Path], variables: Iterable[tuple[str, str]],
                    environ: Mapping[str, str], *, terraform: str = "terraform", cli_config: Path | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Plan root_dir without refreshing or locking state, and return the plan as `terraform show -json` prints it.

    `environ` is the whole environment of terraform, so its `TF_VAR_*` variables and
    `TF_WORKSPACE` apply as they do on the command line. Relative var files resolve from the
    current directory, as devd's options do. Raises TerraformError when terraform is missing,
    root_dir is not initialised, or a command fails or times out.
    """
    executable = _executable(terraform, environ)
    _require_directory(root_dir)
    if not (root_dir / ".terraform").is_dir():
        raise TerraformError(f"{root_dir} is not initialised: run `terraform init` in {root_dir}")
    environment = _environment(environ, cli_config)
    options = [f"-var-file={Path(path).resolve()}" for path in var_files]
    options += [f"-var={name}={value}" for name, value in variables]

    with tempfile.TemporaryDirectory(prefix="devd-plan-") as scratch:
        plan_file = Path(scratch) / "plan.tfplan"
        await _run([executable, "plan", f"-out={plan_file}", "-input=false", "-lock=false", "-refresh=false",
                    "-no-color", *options], root_dir, environment, timeout)
        output = await _run([executable, "show", "-json", "-no-color", str(plan_file)], root_dir, environment, timeout)

    try:
        return json.loads(output)
    except ValueError as error:
        raise TerraformError(f"`terraform show -json` printed invalid JSON ({error}); check that {executable} "
                             "is Terraform 1.0 or newer") from error


async def exact_discover(options: TerraformOptions, project_root: Path, *, terraform: str = "terraform",
                         cli_config: Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> Inventory:
    """Return the inventory of an initialised root module from `terraform plan` instead of devd's evaluator."""
    plan = await plan_json(options.root_dir, options.var_files, options.variables, options.environ,
                           terraform=terraform, cli_config=cli_config, timeout=timeout)
    return exact_inventory(plan, project_root, options.root_dir)


def _executable(terraform: str, environ: Mapping[str, str]) -> str:
    found = shutil.which(terraform, path=environ.get("PATH"))
    if found is None:
        raise TerraformError(f"{terraform} not found on PATH: install Terraform 1.5 or newer")
    return found


def _require_directory(root_dir: Path) -> None:
    if not root_dir.is_dir():
        raise TerraformError(f"Terraform directory {root_dir} does not exist; pass --infra DIR")


def _environment(environ: Mapping[str, str], cli_config: Path | None) -> dict[str, str]:
    environment = dict(environ)
    environment["TF_IN_AUTOMATION"] = "1"
    environment["TF_INPUT"] = "0"
    if cli_config is not None:
        environment["TF_CLI_CONFIG_FILE"] = str(cli_config)
    return environment


async def _run(command: list[str], cwd: Path, environment: dict[str, str], timeout: float) -> bytes:
    """Run one terraform command and return its stdout, or raise TerraformError unless it exits with 0."""
    subcommand = " ".join(command[1:3] if command[1] == "show" else command[1:2])
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *guarded_command(command), cwd=cwd, env=environment, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, preexec_fn=die_with_parent)

    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        await _stop(process)
        raise TerraformError(f"`terraform {subcommand}` in {cwd} timed out after {timeout:.0f} s; "
                             "check its providers' endpoints and credentials") from None
    except asyncio.CancelledError:
        await _stop(process)
        raise
    # terraform stops its providers before it exits, so this kills only those it left running.
    signal_group(process.pid, signal.SIGKILL)

    log.debug("terraform %s in %s exited with %s after %.1f s", subcommand, cwd, process.returncode,
              time.monotonic() - started)
    if process.returncode != 0:
        raise TerraformError(f"`terraform {subcommand}` failed in {cwd} (exit status {process.returncode}):\n"
                             + _last_lines(stderr or stdout))
    return stdout


async def _stop(process: asyncio.subprocess.Process) -> None:
    exited = asyncio.ensure_future(process.wait())
    await stop_process_group(process.pid, exited, STOP_GRACE)


def _last_lines(output: bytes) -> str:
    lines = [line.rstrip() for line in output.decode(errors="replace").splitlines() if line.strip()]
    return "\n".join(lines[-ERROR_LINES:])
