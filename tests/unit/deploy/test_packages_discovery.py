"""Discovery follows a function's `filename` through the [packages] table, and builds write that zip."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

from devd.build.artifact import base64_sha256
from devd.build.oneshot import build_all
from devd.config import resolve_settings
from devd.deploy.aws import deploy_environ, terraform_environ
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions

MAIN_TF = '''
resource "aws_lambda_function" "fn" {
  function_name    = "app-fn"
  role             = "arn:aws:iam::123456789012:role/x"
  runtime          = "python3.11"
  handler          = "app.handler"
  filename         = "${path.module}/../dist/fn.zip"
  source_code_hash = filebase64sha256("${path.module}/../dist/fn.zip")
  logging_config {
    log_format = "Text"
    log_group  = "/app/fn"
  }
}
'''


def _project(tmp_path: Path, packages: str) -> Path:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text(MAIN_TF)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "devd.toml").write_text(packages)
    return tmp_path


def test_filename_maps_to_source(tmp_path: Path) -> None:
    root = _project(tmp_path, '[packages]\n"dist/fn.zip" = "src"\n')

    inventory = discover(TerraformOptions(root / "infra"), root)

    [function] = inventory.functions
    assert inventory.problems == ()
    assert function.source == "src"
    assert function.package == str(root / "dist" / "fn.zip")
    assert function.log_group == "/app/fn"


def test_unmapped_zip_names_the_fix(tmp_path: Path) -> None:
    root = _project(tmp_path, '[packages]\n"dist/other.zip" = "src"\n')

    inventory = discover(TerraformOptions(root / "infra"), root)

    [problem] = inventory.problems
    assert "deploys the prebuilt file ./../dist/fn.zip" in problem.message
    assert "[packages] table of devd.toml" in problem.message
    assert inventory.functions[0].source is None


async def test_build_writes_mapped_zip(tmp_path: Path) -> None:
    root = _project(tmp_path, '[packages]\n"dist/fn.zip" = "src"\n')
    settings = resolve_settings(root)
    [function] = discover(TerraformOptions(root / "infra"), root).functions

    [result] = await build_all(settings, [function])

    package = root / "dist" / "fn.zip"
    assert result.ok
    assert package.read_bytes() == result.zip_path.read_bytes()
    assert base64_sha256(package) == result.zip_sha256
    assert zipfile.ZipFile(package).namelist() == ["app.py"]
    assert sorted(p.name for p in package.parent.iterdir()) == ["fn.zip"]


def test_dotenv_below_process_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AWS_REGION=eu-west-1\nAWS_ENDPOINT_URL=http://127.0.0.1:4566\n")

    merged = deploy_environ({"AWS_REGION": "us-east-1", "PATH": "/bin"}, env_file)

    assert merged["AWS_REGION"] == "us-east-1"
    assert merged["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert merged["PATH"] == "/bin"


def test_terraform_environ_adds_dotenv_and_workspace(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "devd.toml").write_text('[deploy]\nworkspace = "staging"\n')
    (tmp_path / ".env").write_text("TF_VAR_stage=from-dotenv\nTF_VAR_region=eu-west-1\n")
    settings = replace(resolve_settings(tmp_path), environ={"TF_VAR_region": "us-east-1", "PATH": "/bin"})

    environ = terraform_environ(settings)

    assert environ["TF_VAR_stage"] == "from-dotenv"
    assert environ["TF_VAR_region"] == "us-east-1"
    assert environ["TF_WORKSPACE"] == "staging"
    assert environ["PATH"] == "/bin"


def test_exact_mode_maps_packages(tmp_path: Path) -> None:
    import json

    from devd.terraform.exact import exact_inventory

    repo = Path(__file__).resolve().parents[3]
    plan = json.loads((repo / "tests/fixtures/plans/root_env.json").read_text())
    (tmp_path / "infra").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "devd.toml").write_text('[packages]\n"infra/build/api.zip" = "src"\n')

    inventory = exact_inventory(plan, tmp_path, tmp_path / "infra")

    api = inventory.function("aws_lambda_function.api")
    assert api.source == "src"
    assert api.package == str(tmp_path / "infra/build/api.zip")
    assert not any("build/api.zip" in problem.message for problem in inventory.problems)
    assert any("build/formats.zip" in problem.message for problem in inventory.problems)
