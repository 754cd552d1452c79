"""The SAM files for real builds of the bundled example, checked by AWS SAM CLI itself.

`sam` comes from DEVD_SAM, from PATH, or from `.sam-venv/bin/sam` in the repository. Install
it with `python3 -m venv .sam-venv && .sam-venv/bin/pip install aws-sam-cli==1.170.0`.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from devd.build import BuildService
from devd.config import resolve_settings
from devd.sam.commands import sam_metadata_command, sam_template_command
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions

REPO = Path(__file__).resolve().parents[2]
SAM_VERSION = "1.170.0"
HANDLER_EXTENSIONS = (".mjs", ".js", ".cjs", ".py")
RUNTIME_DEPRECATION_RULES = {"W2531", "E2531", "E2533"}


def sam_command() -> str:
    """Return the `sam` executable, or fail with how to install it."""
    configured = os.environ.get("DEVD_SAM")
    if configured:
        return configured
    on_path = shutil.which("sam")
    if on_path:
        return on_path
    local = REPO / ".sam-venv" / "bin" / "sam"
    if local.is_file():
        return str(local)
    pytest.fail(
        "AWS SAM CLI is not installed: run `python3 -m venv .sam-venv && "
        f".sam-venv/bin/pip install aws-sam-cli=={SAM_VERSION}` in {REPO}, "
        "or set DEVD_SAM to a sam executable"
    )


def offline_sam_environment(home: Path) -> dict[str, str]:
    """Return an environment in which `sam validate` opens no network connection.

    SAM_CLI_TELEMETRY=0 turns telemetry off. SAM CLI checks PyPI for a newer version at most
    once a week, so a fresh config directory records a check made just now.
    """
    config_dir = home / ".aws-sam"
    config_dir.mkdir(parents=True)
    config = {"telemetryEnabled": False, "lastVersionCheck": time.time()}
    (config_dir / "metadata.json").write_text(json.dumps(config))
    return dict(
        os.environ,
        HOME=str(home),
        SAM_CLI_TELEMETRY="0",
        AWS_EC2_METADATA_DISABLED="true",
    )


def run_sam(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sam_command(), *args], env=offline_sam_environment(home), capture_output=True, text=True, timeout=90,
        check=False,
    )


async def build_all(project: Path) -> None:
    """Build every function of the project into `.devd/build`, as `devd up` does."""
    options = TerraformOptions(project / "infra", (project / "infra/vars/dev.tfvars",))
    inventory = discover(options, project)
    service = BuildService(project, project / ".devd", esbuild_search_paths=[REPO])
    try:
        for function in inventory.functions:
            result = await service.build(function, 1)
            assert result.ok, f"{function.address}: {result.error}"
    finally:
        await service.close()


def handler_file(code_dir: Path, handler: str) -> Path | None:
    module = handler.rpartition(".")[0]
    for extension in HANDLER_EXTENSIONS:
        candidate = code_dir / f"{module}{extension}"
        if candidate.is_file():
            return candidate
    return None


async def test_template_passes_sam_validate(example: Path, tmp_path: Path) -> None:
    sam_command()
    await build_all(example)
    out = io.StringIO()

    status = sam_template_command(resolve_settings(example), out=out, err=io.StringIO())

    path = example / ".devd" / "template.yaml"
    assert status == 0, out.getvalue()
    resources = yaml.safe_load(path.read_text())["Resources"]
    functions = {key: value for key, value in resources.items() if value["Type"] == "AWS::Serverless::Function"}
    assert len(functions) == 4
    for logical_id, resource in functions.items():
        code_dir = path.parent / resource["Properties"]["CodeUri"]
        assert code_dir.is_dir(), logical_id
        assert handler_file(code_dir, resource["Properties"]["Handler"]) is not None, logical_id

    validated = run_sam("validate", "-t", str(path), "--region", "us-east-1", home=tmp_path / "home")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "is a valid SAM Template" in validated.stdout + validated.stderr


async def test_template_lint_finds_only_runtimes(example: Path, tmp_path: Path) -> None:
    sam_command()
    await build_all(example)
    sam_template_command(resolve_settings(example), out=io.StringIO(), err=io.StringIO())
    path = example / ".devd" / "template.yaml"

    linted = run_sam("validate", "-t", str(path), "--region", "us-east-1", "--lint", home=tmp_path / "home")

    # cfn-lint 1.x flags runtimes that AWS has deprecated (W2531), or for which it has
    # disabled creation (E2531) or updates (E2533). These depend on the date and on the
    # runtimes in the example's Terraform, so they are the only findings allowed.
    output = linted.stdout + linted.stderr
    findings = set(re.findall(r"\[([EWI]\d{4}):", output))
    assert findings <= RUNTIME_DEPRECATION_RULES, output
    assert linted.returncode == 0 or findings, output


async def test_metadata_paths_exist(example: Path) -> None:
    await build_all(example)

    status = sam_metadata_command(resolve_settings(example), out=io.StringIO(), err=io.StringIO())

    # Only JSON parsing is checked here: `terraform validate` needs `terraform init`, which
    # cannot install the hashicorp/null provider that null_resource needs without a network.
    path = example / "infra" / "devd_sam_metadata.tf.json"
    assert status == 0
    resources = json.loads(path.read_text())["resource"]["null_resource"]
    assert len(resources) == 4
    for name, resource in resources.items():
        triggers = resource["triggers"]
        built = example / "infra" / triggers["built_output_path"]
        source = example / "infra" / triggers["original_source_code"]
        assert name.startswith("sam_metadata_"), name
        assert triggers["resource_type"] == "ZIP_LAMBDA_FUNCTION", name
        assert built.is_dir(), name
        assert built.resolve().is_relative_to(example / ".devd" / "build"), name
        assert source.is_dir(), name
        assert source.resolve().is_relative_to(example / "functions"), name
