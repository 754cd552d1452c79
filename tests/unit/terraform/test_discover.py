"""Discovery of the bundled example and of a project shaped like the public Terraform + SAM
example, compared field by field with inventories written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"


def _inventory_json(inventory) -> dict:
    functions = [
        {"address": f.address, "name": f.name, "runtime": f.runtime, "handler": f.handler,
         "source": f.source, "environment": dict(f.environment), "timeout": f.timeout, "memory": f.memory}
        for f in inventory.functions
    ]
    routes = [
        {"api": r.api.value, "method": r.method, "path": r.path, "payload_version": r.payload_version,
         "function": r.function, "stage": r.stage}
        for r in inventory.routes
    ]
    return {"functions": functions, "routes": routes}


def _by(items: list[dict], *keys: str) -> dict:
    return {tuple(item[k] for k in keys): item for item in items}


@pytest.mark.parametrize(
    ("project", "infra", "var_files", "expected"),
    [
        (REPO, "infra", ["infra/vars/dev.tfvars"], FIXTURES / "example_expected.json"),
        (FIXTURES / "public_example", "terraform", [], FIXTURES / "public_example" / "expected.json"),
    ],
    ids=["bundled-example", "public-example"],
)
def test_discover_matches_expected(project: Path, infra: str, var_files: list[str], expected: Path) -> None:
    options = TerraformOptions(project / infra, tuple(project / f for f in var_files))
    inventory = discover(options, project)
    actual = _inventory_json(inventory)
    wanted = json.loads(expected.read_text())

    assert inventory.problems == ()
    actual_functions = _by(actual["functions"], "address")
    for key, function in _by(wanted["functions"], "address").items():
        assert key in actual_functions, f"function {key} not discovered"
        for field, value in function.items():
            assert actual_functions[key][field] == value, f"{key}: {field}"
    assert len(actual_functions) == len(wanted["functions"])

    actual_routes = _by(actual["routes"], "api", "method", "path")
    for key, route in _by(wanted["routes"], "api", "method", "path").items():
        assert key in actual_routes, f"route {key} not discovered"
        for field, value in route.items():
            assert actual_routes[key][field] == value, f"{key}: {field}"
    assert len(actual_routes) == len(wanted["routes"])


def test_discover_without_var_file_uses_defaults() -> None:
    inventory = discover(TerraformOptions(REPO / "infra"), REPO)
    hello = inventory.function("module.get_hello.aws_lambda_function.this")

    assert hello is not None
    assert hello.environment["LOG_LEVEL"] == "info"
    assert "ITEMS_PAGE_SIZE" not in hello.environment


def test_discover_var_and_env_override_order() -> None:
    options = TerraformOptions(
        REPO / "infra", (REPO / "infra/vars/dev.tfvars",), (("stage", "qa"),),
        {"TF_VAR_log_level": "warn", "TF_VAR_stage": "ignored"})
    inventory = discover(options, REPO)
    hello = inventory.function("module.get_hello.aws_lambda_function.this")

    assert hello is not None
    assert hello.name == "devd-example-qa-get-hello"
    assert hello.environment["STAGE"] == "qa"
    assert hello.environment["LOG_LEVEL"] == "debug"


def test_broken_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "good.tf").write_text(
        'resource "aws_lambda_function" "f" {\n  function_name = "f"\n  runtime = "python3.11"\n'
        '  handler = "app.handler"\n  filename = "app.zip"\n}\n')
    (tmp_path / "broken.tf").write_text('resource "aws_lambda_function" "g" {\n  function_name = \n}\n')
    inventory = discover(TerraformOptions(tmp_path), tmp_path)

    assert [f.address for f in inventory.functions] == ["aws_lambda_function.f"]
    syntax = [p for p in inventory.problems if p.syntax]
    assert len(syntax) == 1
    assert syntax[0].file.endswith("broken.tf")
    assert syntax[0].line == 2


def test_unknown_function_is_reported_with_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'locals {\n  name = nosuchfunction("x")\n}\n'
        'resource "aws_lambda_function" "f" {\n  function_name = local.name\n  runtime = "python3.11"\n'
        '  handler = "app.handler"\n}\n')
    inventory = discover(TerraformOptions(tmp_path), tmp_path)
    messages = [(p.message, p.line) for p in inventory.problems]

    assert any("nosuchfunction" in message and line == 2 for message, line in messages)
    assert inventory.functions[0].name == "aws_lambda_function.f"


def test_tf_json_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "vars.tf").write_text('variable "stage" {\n  default = "dev"\n}\n')
    (tmp_path / "fn.tf.json").write_text(json.dumps({
        "resource": {"aws_lambda_function": {"f": {
            "function_name": "api-${var.stage}", "runtime": "nodejs20.x", "handler": "index.handler",
            "environment": {"variables": {"STAGE": "${var.stage}"}}}}}}))
    inventory = discover(TerraformOptions(tmp_path), tmp_path)

    assert inventory.functions[0].name == "api-dev"
    assert inventory.functions[0].environment == {"STAGE": "dev"}


def test_http_api_default_payload_version_is_1_0(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text("""
resource "aws_lambda_function" "f" {
  function_name = "f"
  runtime       = "python3.11"
  handler       = "app.handler"
}
resource "aws_apigatewayv2_api" "api" {
  name          = "api"
  protocol_type = "HTTP"
}
resource "aws_apigatewayv2_integration" "f" {
  api_id           = aws_apigatewayv2_api.api.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.f.invoke_arn
}
resource "aws_apigatewayv2_route" "any" {
  api_id    = aws_apigatewayv2_api.api.id
  route_key = "ANY /{proxy+}"
  target    = "integrations/${aws_apigatewayv2_integration.f.id}"
}
""")
    inventory = discover(TerraformOptions(tmp_path), tmp_path)
    route = inventory.routes[0]

    assert route.payload_version == "1.0"
    assert route.method == "ANY"
    assert route.path == "/{proxy+}"
    assert route.function == "aws_lambda_function.f"
