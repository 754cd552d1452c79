"""Run real terraform offline in tests: the provider mirror, a moto server, and prepared projects.

The hashicorp/aws provider comes from a local filesystem mirror (`DEVD_TF_PLUGIN_MIRROR`,
default /opt/tf-plugins), and every AWS endpoint of the provider points at a moto server on
127.0.0.1, so `terraform init` and `terraform plan` need no network. Providers that the mirror
lacks, such as hashicorp/archive, make `terraform init` fail at once.

terraform starts a provider process that terraform's own parent-death signal does not reach.
So tests run terraform through `devd.terraform.terraform_cli` or `run_in_group`, which start it
under devd's group guard, and a `kill -9` of pytest then kills the providers too.

`python -m tests.integration.terraform_env` rewrites the saved plans under
tests/fixtures/plans/ from the projects in tests/fixtures/plans/projects/.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import pytest

from devd.supervise.group_guard import guarded_command
from devd.supervise.process_group import die_with_parent
from devd.terraform import terraform_cli

REPO = Path(__file__).resolve().parents[2]
PLANS = REPO / "tests" / "fixtures" / "plans"
PLAN_PROJECTS = PLANS / "projects"
MIRROR = Path(os.environ.get("DEVD_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"

OVERRIDE_FILE = "devd_test_override.tf"
PROVIDER_FILE = "devd_test_provider.tf"
# Services whose endpoints the provider block sets. terraform_environ also sets AWS_ENDPOINT_URL,
# which sends the other services of provider 5.100 to moto too.
SERVICES = ("apigateway", "apigatewayv2", "cloudwatch", "dynamodb", "ec2", "events", "iam", "kms", "lambda",
            "logs", "s3", "secretsmanager", "sns", "sqs", "ssm", "sts")
MOTO_START_TIMEOUT = 20.0


@dataclass(frozen=True)
class TerraformEnv:
    """What a test needs to run terraform offline: the CLI config, the environment and the moto URL."""

    cli_config: Path
    environ: dict[str, str]
    endpoint: str


def require_terraform() -> str:
    """Return the terraform executable; skip the test when it or the mirror is missing, fail under CI."""
    terraform = shutil.which("terraform")
    missing = None
    if terraform is None:
        missing = "terraform is not on PATH"
    elif not (MIRROR / AWS_PROVIDER).is_dir():
        missing = f"the provider mirror {MIRROR / AWS_PROVIDER} does not exist (set DEVD_TF_PLUGIN_MIRROR)"
    if missing and os.environ.get("CI"):
        pytest.fail(f"{missing}: CI runs the oracle tests, so install Terraform and the provider mirror")
    if missing:
        pytest.skip(missing)
    return terraform


def write_cli_config(directory: Path) -> Path:
    """Write a CLI config that installs hashicorp/aws from the mirror and nothing from the network."""
    path = directory / "terraform.tfrc"
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(MIRROR))}\n"
        f"    include = [{json.dumps(AWS_PROVIDER)}]\n"
        "  }\n"
        "}\n")
    return path


def terraform_environ(cli_config: Path, endpoint: str) -> dict[str, str]:
    """Return this process's environment with AWS and Terraform settings replaced by the test ones."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    environ.update(TF_CLI_CONFIG_FILE=str(cli_config), AWS_DEFAULT_REGION="us-east-1",
                   AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=endpoint)
    return environ


class MotoServer:
    """Start `moto_server` on a free 127.0.0.1 port in its own process group; stop the group on exit."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        port = _free_port()
        executable = Path(sys.executable).parent / "moto_server"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [str(executable), "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            _wait_until_serving(endpoint, self.process, self.log)
        except BaseException:
            self.__exit__()
            raise
        return endpoint

    def __exit__(self, *exc_info: object) -> None:
        if self.process is None:
            return
        _signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()
        # Kill whatever else is left in the group, such as processes the server started.
        _signal_group(self.process.pid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(endpoint: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + MOTO_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {MOTO_START_TIMEOUT:.0f} s:\n{log.read_text()}")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def run_in_group(command: list[str], *, env: dict[str, str], timeout: float,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command under devd's group guard, in a process group of its own, and capture its output.

    The guard kills the group when this process dies, even by SIGKILL. The group is killed when
    the command exits, times out or is interrupted, so nothing it started outlives the call.
    Raises subprocess.TimeoutExpired as `subprocess.run` does.
    """
    process = subprocess.Popen(guarded_command(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=die_with_parent)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        _signal_group(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    finally:
        _signal_group(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def copy_project(source: Path, destination: Path, endpoint: str, infra: str = ".") -> Path:
    """Copy a project to destination and point its AWS provider at the moto server; return the copy.

    The root module `infra` gets `devd_test_override.tf`, which overrides each `provider "aws"`
    block it has (Terraform merges files named `*_override.tf` into the blocks they repeat), or
    `devd_test_provider.tf` with a new provider block when it has none.
    """
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(
        ".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.backup", "__pycache__"))
    root = destination / infra
    aliases = aws_provider_aliases(root)
    if aliases:
        blocks = [_provider_block(endpoint, alias, region=False) for alias in aliases]
        (root / OVERRIDE_FILE).write_text("\n".join(blocks))
    else:
        (root / PROVIDER_FILE).write_text(_provider_block(endpoint, None, region=True))
    return destination


def aws_provider_aliases(root: Path) -> list[str | None]:
    """Return the alias of each `provider "aws"` block in a module directory (None for the default)."""
    aliases: list[str | None] = []
    for path in sorted(root.glob("*.tf")):
        for block in hcl2.loads(path.read_text()).get("provider", []):
            for name, body in block.items():
                if name.strip('"') == "aws":
                    alias = body.get("alias")
                    aliases.append(alias.strip('"') if isinstance(alias, str) else None)
    for path in sorted(root.glob("*.tf.json")):
        providers = json.loads(path.read_text()).get("provider", {})
        bodies = providers.get("aws", []) if isinstance(providers, dict) else []
        for body in bodies if isinstance(bodies, list) else [bodies]:
            aliases.append(body.get("alias"))
    return aliases


def _provider_block(endpoint: str, alias: str | None, *, region: bool) -> str:
    lines = ['provider "aws" {']
    if alias is not None:
        lines.append(f"  alias                       = {json.dumps(alias)}")
    if region:
        lines.append('  region                      = "us-east-1"')
    lines += [
        '  access_key                  = "test"',
        '  secret_key                  = "test"',
        "  skip_credentials_validation = true",
        "  skip_requesting_account_id  = true",
        "  skip_metadata_api_check     = true",
        "  s3_use_path_style           = true",
        "",
        "  endpoints {",
        *(f"    {service} = {json.dumps(endpoint)}" for service in SERVICES),
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)


def build_packages(project: Path, timeout: float = 60.0) -> None:
    """Run the `build` command of a fixture's fixture.json, if it has one, in the fixture's directory.

    A fixture whose functions deploy prebuilt zips either commits them or builds them here,
    because Terraform hashes them during plan.
    """
    command = json.loads((project / "fixture.json").read_text()).get("build")
    if command is None:
        return
    process = subprocess.Popen(command, cwd=project, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.communicate()
        raise RuntimeError(f"build command {command} of {project.name} timed out after {timeout:.0f} s") from None
    if process.returncode != 0:
        raise RuntimeError(f"build command {command} of {project.name} failed with status {process.returncode}:\n"
                           + output.decode(errors="replace"))


async def plan_project(root: Path, env: TerraformEnv, var_files: tuple[Path, ...] = (),
                       variables: tuple[tuple[str, str], ...] = (), environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `terraform init` in a root module, then plan it and return the plan as JSON.

    `environ` adds variables, such as `TF_VAR_*`, to the environment of both commands.
    """
    environment = {**env.environ, **(environ or {})}
    await terraform_cli.init(root, environment, cli_config=env.cli_config)
    return await terraform_cli.plan_json(root, var_files, variables, environment, cli_config=env.cli_config)


@dataclass(frozen=True)
class FixtureSettings:
    """The Terraform options that a fixture's fixture.json sets, with paths relative to the fixture."""

    infra: str = "."
    var_files: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    environ: dict[str, str] = field(default_factory=dict)


def fixture_settings(project: Path) -> FixtureSettings:
    """Read a fixture's fixture.json: `infra`, `var_files`, `variables` and `environ`, each optional."""
    settings = json.loads((project / "fixture.json").read_text())
    variables = settings.get("variables") or {}
    pairs = variables.items() if isinstance(variables, dict) else variables
    return FixtureSettings(
        infra=settings.get("infra") or ".",
        var_files=tuple(settings.get("var_files") or ()),
        variables=tuple((str(name), str(value)) for name, value in pairs),
        environ={str(k): str(v) for k, v in (settings.get("environ") or {}).items()})


async def _save_plans(scratch: Path) -> None:
    with MotoServer(scratch / "moto.log") as endpoint:
        cli_config = write_cli_config(scratch)
        env = TerraformEnv(cli_config, terraform_environ(cli_config, endpoint), endpoint)
        for source in sorted(p for p in PLAN_PROJECTS.iterdir() if (p / "fixture.json").is_file()):
            project = copy_project(source, scratch / source.name, endpoint)
            settings = fixture_settings(project)
            var_files = tuple(project / path for path in settings.var_files)
            plan = await plan_project(project / settings.infra, env, var_files, settings.variables, settings.environ)
            (PLANS / f"{source.name}.json").write_text(json.dumps(plan, indent=1) + "\n")
            print(f"wrote {PLANS / f'{source.name}.json'}")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="devd-plans-") as directory:
        asyncio.run(_save_plans(Path(directory)))
