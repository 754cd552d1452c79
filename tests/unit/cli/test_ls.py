"""`devd ls`: the inventory as a table and as JSON, and its exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devd.cli import main

REPO = Path(__file__).resolve().parents[3]


def test_ls_json_lists_example(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["-C", str(REPO), "ls", "--json"])
    document = json.loads(capsys.readouterr().out)

    assert status == 0
    assert {f["name"] for f in document["functions"]} == {
        "devd-example-dev-get-hello", "devd-example-dev-get-item", "devd-example-dev-create-item",
        "devd-example-dev-status"}
    hello = next(f for f in document["functions"] if f["name"].endswith("get-hello"))
    assert hello["environment"]["GREETING"] == "Hello"
    assert hello["architectures"] == ["x86_64"]
    assert {(r["api"], r["method"], r["path"]) for r in document["routes"]} == {
        ("rest", "GET", "/hello"), ("rest", "GET", "/items/{id}"), ("rest", "POST", "/items"),
        ("http", "GET", "/status")}
    assert document["problems"] == []


def test_ls_table_has_headers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(REPO), "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].split() == ["FUNCTION", "RUNTIME", "HANDLER", "SOURCE"]
    assert any(line.split()[:3] == ["rest", "GET", "/hello"] for line in lines)


def test_ls_broken_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "main.tf").write_text('locals {\n  a = 1\n')

    assert main(["-C", str(tmp_path), "ls"]) == 1
    assert "main.tf:3: invalid HCL syntax: unexpected end of file" in capsys.readouterr().err


def test_bad_var_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(REPO), "ls", "--var", "stage"]) == 2
    assert "invalid --var 'stage': write it as NAME=VALUE" in capsys.readouterr().err


def test_missing_infra_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path), "ls", "--infra", "nope"]) == 2
    assert "pass --infra DIR" in capsys.readouterr().err


def test_ls_exact_needs_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / "main.tf").write_text('variable "stage" {\n  default = "dev"\n}\n')

    assert main(["-C", str(tmp_path), "ls", "--exact"]) == 2
    assert f"{infra} is not initialised: run `terraform init` in {infra}" in capsys.readouterr().err


TWO_APIS = """
resource "aws_lambda_function" "fn" {
  function_name = "fn"
  role          = "arn:aws:iam::123456789012:role/r"
  runtime       = "python3.11"
  handler       = "app.handler"
  filename      = "app.zip"
}

resource "aws_apigatewayv2_api" "%(name)s" {
  name          = "%(name)s"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "%(name)s" {
  api_id           = aws_apigatewayv2_api.%(name)s.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.fn.invoke_arn
}

resource "aws_apigatewayv2_route" "%(name)s" {
  api_id    = aws_apigatewayv2_api.%(name)s.id
  route_key = "GET /items"
  target    = "integrations/${aws_apigatewayv2_integration.%(name)s.id}"
}
"""


def test_ls_route_urls_and_ports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "a.tf").write_text(TWO_APIS % {"name": "first"})
    second = TWO_APIS % {"name": "second"}
    (tmp_path / "infra" / "b.tf").write_text(second[second.index('resource "aws_apigatewayv2_api"'):])
    third = TWO_APIS % {"name": "third"}
    (tmp_path / "infra" / "c.tf").write_text(third[third.index('resource "aws_apigatewayv2_api"'):])
    (tmp_path / "devd.toml").write_text('[ports]\n"aws_apigatewayv2_api.third" = 7000\n')

    main(["-C", str(tmp_path), "ls", "--json", "--port", "5000"])
    routes = json.loads(capsys.readouterr().out)["routes"]
    urls = {route["api_address"]: route["url"] for route in routes}

    assert urls == {
        "aws_apigatewayv2_api.first": "http://127.0.0.1:5000/items",
        "aws_apigatewayv2_api.second": "http://127.0.0.1:5001/items",
        "aws_apigatewayv2_api.third": "http://127.0.0.1:7000/items",
    }


def test_ls_invalid_port_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "devd.toml").write_text('[ports]\n"aws_apigatewayv2_api.x" = "eighty"\n')

    assert main(["-C", str(tmp_path), "ls"]) == 2
    error = capsys.readouterr().err
    assert "aws_apigatewayv2_api.x" in error
    assert "1 to 65535" in error
