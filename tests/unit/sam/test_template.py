"""The SAM template for the bundled and the public example, field by field."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from devd.build import layout
from devd.inventory import ApiKind, Function, Inventory, Route
from devd.sam.artifacts import Artifact
from devd.sam.template import render_template, sam_template, write_template
from devd.terraform.discover import discover
from devd.terraform.loader import TerraformOptions
from tests.unit.sam.conftest import (
    CREATE_ITEM,
    GET_ITEM,
    HELLO,
    PUBLIC,
    PUBLIC_HELLO,
    REPO,
    STATUS,
    fake_build,
)

STATE = REPO / ".devd"
REST = "aws_api_gateway_rest_api.api"
HTTP = "aws_apigatewayv2_api.http"


def function_properties(template: dict, logical_id: str) -> dict:
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::Serverless::Function"
    return resource["Properties"]


def test_example_header_fields(example: Inventory, example_artifacts: dict) -> None:
    template = sam_template(example, example_artifacts, STATE, REPO)

    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert list(template) == ["AWSTemplateFormatVersion", "Transform", "Description", "Resources"]


def test_example_logical_ids(example: Inventory, example_artifacts: dict) -> None:
    template = sam_template(example, example_artifacts, STATE, REPO)

    types = {logical_id: resource["Type"] for logical_id, resource in template["Resources"].items()}
    assert types == {
        "ApiRestApi": "AWS::Serverless::Api",
        "HttpHttpApi": "AWS::Serverless::HttpApi",
        "DevdExampleDevCreateItemFunction": "AWS::Serverless::Function",
        "DevdExampleDevGetHelloFunction": "AWS::Serverless::Function",
        "DevdExampleDevGetItemFunction": "AWS::Serverless::Function",
        "DevdExampleDevStatusFunction": "AWS::Serverless::Function",
    }
    assert list(template["Resources"]) == sorted(template["Resources"])


def test_example_function_properties(example: Inventory, example_artifacts: dict) -> None:
    template = sam_template(example, example_artifacts, STATE, REPO)
    common = {"ITEMS_PAGE_SIZE": "20", "LOG_LEVEL": "debug", "STAGE": "dev"}
    expected = {
        "DevdExampleDevGetHelloFunction": (HELLO, "nodejs20.x", "handler.main", 10, 256,
                                           dict(common, GREETING="Hello")),
        "DevdExampleDevCreateItemFunction": (CREATE_ITEM, "python3.11", "create_item.handler", 10, 256, common),
        "DevdExampleDevGetItemFunction": (GET_ITEM, "python3.11", "get_item.handler", 10, 256, common),
        "DevdExampleDevStatusFunction": (STATUS, "nodejs20.x", "index.handler", 3, 128, common),
    }

    for logical_id, (address, runtime, handler, timeout, memory, environment) in expected.items():
        function = example.function(address)
        properties = function_properties(template, logical_id)
        assert properties["FunctionName"] == function.name, logical_id
        assert properties["Runtime"] == runtime, logical_id
        assert properties["Handler"] == handler, logical_id
        assert properties["CodeUri"] == f"build/{layout.function_dir_name(function)}/3", logical_id
        assert properties["Timeout"] == timeout, logical_id
        assert properties["MemorySize"] == memory, logical_id
        assert properties["Architectures"] == ["x86_64"], logical_id
        assert properties["Environment"] == {"Variables": environment}, logical_id


def test_example_code_uri_resolves_from_template_dir(example: Inventory, example_artifacts: dict) -> None:
    template = sam_template(example, example_artifacts, STATE, REPO)

    for address, artifact in example_artifacts.items():
        function = example.function(address)
        logical_id = "".join(part.capitalize() for part in function.name.split("-")) + "Function"
        code_uri = function_properties(template, logical_id)["CodeUri"]
        assert Path(os.path.normpath(STATE / code_uri)) == artifact.path, logical_id


def test_example_rest_events(example: Inventory, example_artifacts: dict) -> None:
    template = sam_template(example, example_artifacts, STATE, REPO)
    expected = {
        "DevdExampleDevGetHelloFunction": ("GetHello", "/hello", "GET"),
        "DevdExampleDevCreateItemFunction": ("PostItems", "/items", "POST"),
        "DevdExampleDevGetItemFunction": ("GetItemsId", "/items/{id}", "GET"),
    }

    for logical_id, (event_name, path, method) in expected.items():
        events = function_properties(template, logical_id)["Events"]
        assert list(events) == [event_name], logical_id
        assert events[event_name]["Type"] == "Api", logical_id
        assert events[event_name]["Properties"] == {
            "RestApiId": {"Ref": "ApiRestApi"},
            "Path": path,
            "Method": method,
        }, logical_id


def test_example_http_event(example: Inventory, example_artifacts: dict) -> None:
    template = sam_template(example, example_artifacts, STATE, REPO)

    events = function_properties(template, "DevdExampleDevStatusFunction")["Events"]

    assert list(events) == ["GetStatus"]
    assert events["GetStatus"]["Type"] == "HttpApi"
    assert events["GetStatus"]["Properties"] == {
        "ApiId": {"Ref": "HttpHttpApi"},
        "Path": "/status",
        "Method": "GET",
        "PayloadFormatVersion": "2.0",
    }


def test_example_api_stages(example: Inventory, example_artifacts: dict) -> None:
    resources = sam_template(example, example_artifacts, STATE, REPO)["Resources"]

    assert resources["ApiRestApi"]["Properties"] == {"StageName": "dev"}
    assert "Properties" not in resources["HttpHttpApi"]


def test_public_example_function(public_example: Inventory) -> None:
    build = fake_build(PUBLIC, public_example, PUBLIC_HELLO, generation=5)
    artifacts = {PUBLIC_HELLO: Artifact(build, "src/functions/getHello/handler.main")}

    template = sam_template(public_example, artifacts, PUBLIC / ".devd", PUBLIC)

    assert sorted(template["Resources"]) == ["PublicExampleDevGetHelloFunction", "ThisRestApi"]
    properties = function_properties(template, "PublicExampleDevGetHelloFunction")
    function = public_example.function(PUBLIC_HELLO)
    assert properties["FunctionName"] == "public-example-dev-getHello"
    assert properties["Runtime"] == "nodejs22.x"
    assert properties["Handler"] == "src/functions/getHello/handler.main"
    assert properties["CodeUri"] == f"build/{layout.function_dir_name(function)}/5"
    assert properties["Timeout"] == 6
    assert properties["MemorySize"] == 512
    assert properties["Architectures"] == ["x86_64"]
    assert properties["Environment"] == {
        "Variables": {"LOG_LEVEL": "info", "SERVICE_NAME": "public-example", "STAGE": "dev"}
    }
    assert properties["Events"] == {
        "GetHello": {
            "Type": "Api",
            "Properties": {"RestApiId": {"Ref": "ThisRestApi"}, "Path": "/hello", "Method": "GET"},
        }
    }
    assert template["Resources"]["ThisRestApi"]["Properties"] == {"StageName": "dev"}


def synthetic_inventory(tmp_path: Path) -> Inventory:
    proxy = Function("aws_lambda_function.proxy", "proxy", "nodejs20.x", "index.handler",
                     str(tmp_path / "proxy"), "proxy", environment={})
    catch_all = dataclasses.replace(proxy, address="aws_lambda_function.catch_all", name="catch-all",
                                    runtime="python3.12", architectures=("arm64",))
    routes = (
        Route(ApiKind.REST, "aws_api_gateway_rest_api.main", "ANY", "/{proxy+}", "1.0", proxy.address, None),
        Route(ApiKind.REST, "aws_api_gateway_rest_api.main", "GET", "/", "1.0", proxy.address, None),
        Route(ApiKind.HTTP, "aws_apigatewayv2_api.edge", "ANY", "$default", "1.0", catch_all.address, "live"),
        Route(ApiKind.HTTP, "aws_apigatewayv2_api.edge", "GET", "/items/{proxy+}", "2.0", catch_all.address, "live"),
        Route(ApiKind.HTTP, "aws_apigatewayv2_api.edge", "GET", "/none", "2.0", None, "live"),
    )
    return Inventory(functions=(proxy, catch_all), routes=routes)


def synthetic_artifacts(tmp_path: Path) -> dict[str, Artifact]:
    return {
        "aws_lambda_function.proxy": Artifact(tmp_path / "out" / "proxy", "index.handler"),
        "aws_lambda_function.catch_all": Artifact(tmp_path / "out" / "catch.zip", "app.handler"),
    }


def test_default_route_has_no_path(tmp_path: Path) -> None:
    template = sam_template(synthetic_inventory(tmp_path), synthetic_artifacts(tmp_path), tmp_path / "t", tmp_path)

    events = function_properties(template, "CatchAllFunction")["Events"]

    assert sorted(events) == ["AnyDefault", "GetItemsProxy"]
    assert events["AnyDefault"] == {
        "Type": "HttpApi",
        "Properties": {"ApiId": {"Ref": "EdgeHttpApi"}, "PayloadFormatVersion": "1.0"},
    }
    assert events["GetItemsProxy"]["Properties"]["Path"] == "/items/{proxy+}"
    assert events["GetItemsProxy"]["Properties"]["PayloadFormatVersion"] == "2.0"


def test_proxy_and_root_rest_routes(tmp_path: Path) -> None:
    template = sam_template(synthetic_inventory(tmp_path), synthetic_artifacts(tmp_path), tmp_path / "t", tmp_path)

    events = function_properties(template, "ProxyFunction")["Events"]

    assert sorted(events) == ["AnyProxy", "Get"]
    assert events["AnyProxy"]["Properties"] == {
        "RestApiId": {"Ref": "MainRestApi"}, "Path": "/{proxy+}", "Method": "ANY"}
    assert events["Get"]["Properties"] == {"RestApiId": {"Ref": "MainRestApi"}, "Path": "/", "Method": "GET"}


def test_stage_defaults(tmp_path: Path) -> None:
    resources = sam_template(
        synthetic_inventory(tmp_path), synthetic_artifacts(tmp_path), tmp_path / "t", tmp_path)["Resources"]

    assert resources["MainRestApi"] == {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "Prod"}}
    assert resources["EdgeHttpApi"] == {"Type": "AWS::Serverless::HttpApi", "Properties": {"StageName": "live"}}


def test_zip_code_uri_and_arm(tmp_path: Path) -> None:
    template = sam_template(synthetic_inventory(tmp_path), synthetic_artifacts(tmp_path), tmp_path / "t", tmp_path)

    properties = function_properties(template, "CatchAllFunction")

    assert properties["CodeUri"] == "../out/catch.zip"
    assert properties["Architectures"] == ["arm64"]
    assert "Environment" not in properties


def test_unbuilt_function_and_routes_left_out(example: Inventory, example_artifacts: dict) -> None:
    artifacts = {address: artifact for address, artifact in example_artifacts.items() if address != STATUS}

    resources = sam_template(example, artifacts, STATE, REPO)["Resources"]

    assert "DevdExampleDevStatusFunction" not in resources
    assert "HttpHttpApi" not in resources
    assert len(resources) == 4


def test_function_without_routes_has_no_events(example: Inventory, example_artifacts: dict) -> None:
    inventory = dataclasses.replace(example, routes=())

    resources = sam_template(inventory, example_artifacts, STATE, REPO)["Resources"]

    assert sorted(resources) == [
        "DevdExampleDevCreateItemFunction",
        "DevdExampleDevGetHelloFunction",
        "DevdExampleDevGetItemFunction",
        "DevdExampleDevStatusFunction",
    ]
    for logical_id, resource in resources.items():
        assert "Events" not in resource["Properties"], logical_id


def test_clashing_logical_ids_get_address_suffix(tmp_path: Path) -> None:
    first = Function("aws_lambda_function.a", "get-item", "nodejs20.x", "index.handler", str(tmp_path), ".")
    second = dataclasses.replace(first, address="aws_lambda_function.b", name="get_item")
    inventory = Inventory(functions=(first, second))
    artifacts = {f.address: Artifact(tmp_path / f.address, "index.handler") for f in inventory.functions}

    resources = sam_template(inventory, artifacts, tmp_path, tmp_path)["Resources"]

    assert sorted(resources) == [
        f"GetItemFunction{layout.address_digest(first.address)}",
        f"GetItemFunction{layout.address_digest(second.address)}",
    ]
    for logical_id in resources:
        assert logical_id.isalnum(), logical_id
        assert logical_id.isascii(), logical_id


def test_render_round_trips(example: Inventory, example_artifacts: dict) -> None:
    template = sam_template(example, example_artifacts, STATE, REPO)

    text = render_template(template)

    assert text.startswith("# Generated by devd")
    assert yaml.safe_load(text) == template
    assert "AWSTemplateFormatVersion: '2010-09-09'" in text


def test_render_is_deterministic(example_artifacts: dict) -> None:
    options = TerraformOptions(REPO / "infra", (REPO / "infra/vars/dev.tfvars",))
    first = render_template(sam_template(discover(options, REPO), example_artifacts, STATE, REPO))
    second = render_template(sam_template(discover(options, REPO), example_artifacts, STATE, REPO))

    assert first.encode() == second.encode()


def test_write_only_on_change(tmp_path: Path, example: Inventory, example_artifacts: dict) -> None:
    path = tmp_path / ".devd" / "template.yaml"
    template = sam_template(example, example_artifacts, path.parent, REPO)

    assert write_template(path, template) is True
    written = path.read_bytes()
    os.utime(path, (1_000_000, 1_000_000))
    assert write_template(path, template) is False
    assert path.stat().st_mtime == 1_000_000

    changed = dict(example_artifacts, **{STATUS: Artifact(tmp_path / "other", "index.handler")})
    assert write_template(path, sam_template(example, changed, path.parent, REPO)) is True
    assert path.read_bytes() != written
    assert sorted(p.name for p in path.parent.iterdir()) == ["template.yaml"]
