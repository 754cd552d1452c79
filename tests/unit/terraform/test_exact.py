"""Exact mode on saved `terraform show -json` plans of the projects in tests/fixtures/plans/projects/.

`python -m tests.integration.terraform_env` writes the saved plans with real terraform. The
hashicorp/archive provider is not available offline, so the archive_file cases add the data
source to a saved plan by hand. They give it the shape of every data source that Terraform
reads during plan: an entry with its values in `prior_state`, and a configuration entry that
the function's `filename` references.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from devd.errors import TerraformError
from devd.inventory import ApiKind, Inventory, Route
from devd.terraform.exact import exact_inventory

REPO = Path(__file__).resolve().parents[3]
PLANS = REPO / "tests" / "fixtures" / "plans"
PROJECT = Path("/work/project")
ROOT = PROJECT / "infra"


def _plan(name: str) -> dict[str, Any]:
    return json.loads((PLANS / f"{name}.json").read_text())


def _inventory(plan: dict[str, Any]) -> Inventory:
    return exact_inventory(plan, PROJECT, ROOT)


def _routes(inventory: Inventory, api_address: str) -> list[tuple[str, str, str, str | None]]:
    return [(r.method, r.path, r.payload_version, r.function) for r in inventory.routes if r.api_address == api_address]


def _messages(inventory: Inventory) -> list[str]:
    return [problem.message for problem in inventory.problems]


def _config_module(plan: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    module = plan["configuration"]["root_module"]
    for call in path:
        module = module["module_calls"][call]["module"]
    return module


def _config_resource(plan: dict[str, Any], path: tuple[str, ...], address: str) -> dict[str, Any]:
    return next(r for r in _config_module(plan, path)["resources"] if r["address"] == address)


def _planned(plan: dict[str, Any], address: str) -> dict[str, Any]:
    pending = [plan["planned_values"]["root_module"]]
    while pending:
        module = pending.pop()
        for resource in module.get("resources", []):
            if resource["address"] == address:
                return resource
        pending += module.get("child_modules", [])
    raise KeyError(address)


def _add_archive(plan: dict[str, Any], module: str, path: tuple[str, ...], values: dict[str, Any]) -> str:
    """Add `data.archive_file.code` to a module instance as a data source read during plan, and return its address."""
    address = f"{module}.data.archive_file.code" if module else "data.archive_file.code"
    entry = {"address": address, "mode": "data", "type": "archive_file", "name": "code",
             "provider_name": "registry.terraform.io/hashicorp/archive", "schema_version": 0,
             "values": {"type": "zip", **values}, "sensitive_values": {}}
    prior = plan.setdefault("prior_state", {"format_version": "1.0", "values": {"root_module": {}}})
    root = prior["values"]["root_module"]
    if module:
        children = root.setdefault("child_modules", [])
        child = next((c for c in children if c["address"] == module), None)
        if child is None:
            child = {"address": module, "resources": []}
            children.append(child)
        child["resources"].append(entry)
    else:
        root.setdefault("resources", []).append(entry)

    resources = _config_module(plan, path)["resources"]
    if not any(r["address"] == "data.archive_file.code" for r in resources):
        resources.append({"address": "data.archive_file.code", "mode": "data", "type": "archive_file", "name": "code",
                          "provider_config_key": "archive", "schema_version": 0,
                          "expressions": {"source_dir": {"references": ["path.module"]},
                                          "type": {"constant_value": "zip"}}})
    return address


def _filename_from_archive(plan: dict[str, Any], path: tuple[str, ...], function: str) -> None:
    expressions = _config_resource(plan, path, function)["expressions"]
    expressions["filename"] = {"references": ["data.archive_file.code.output_path", "data.archive_file.code"]}


def test_root_function_fields() -> None:
    inventory = _inventory(_plan("root_env"))
    api = inventory.function("aws_lambda_function.api")

    assert api is not None
    assert api.name == "root-env-test-api"
    assert api.runtime == "python3.12"
    assert api.handler == "app.handler"
    assert api.timeout == 15
    assert api.memory == 512
    assert api.architectures == ("arm64",)
    assert api.runnable
    assert dict(api.environment) == {
        "STAGE": "test", "LOG_LEVEL": "debug", "WORKSPACE": "default", "FEATURE_FLAGS": "beta,search",
        "TABLE_NAME": "root-env-items", "FUNCTION": "api"}


def test_literal_zip_has_no_source() -> None:
    inventory = _inventory(_plan("root_env"))
    api = inventory.function("aws_lambda_function.api")

    assert api is not None
    assert api.source is None
    assert api.code_dir is None
    assert any("prebuilt file build/api.zip" in message for message in _messages(inventory))


def test_unset_settings_take_lambda_defaults() -> None:
    inventory = _inventory(_plan("root_env"))
    defaults = inventory.function("aws_lambda_function.defaults")

    assert defaults is not None
    assert (defaults.timeout, defaults.memory, defaults.architectures) == (3, 128, ("x86_64",))
    assert dict(defaults.environment) == {}
    assert not any("architectures of aws_lambda_function.defaults" in m for m in _messages(inventory))


def test_environment_known_after_apply_is_a_problem() -> None:
    inventory = _inventory(_plan("root_env"))
    late = inventory.function("aws_lambda_function.late")

    assert late is not None
    assert dict(late.environment) == {}
    assert any("environment of aws_lambda_function.late is known only after apply" in m for m in _messages(inventory))


def test_conditional_count_and_set_for_each() -> None:
    addresses = [f.address for f in _inventory(_plan("root_env")).functions]

    assert 'aws_lambda_function.named["alpha"]' in addresses
    assert 'aws_lambda_function.named["beta"]' in addresses
    assert "aws_lambda_function.optional[0]" in addresses
    assert not any(a.startswith("aws_lambda_function.disabled") for a in addresses)


def test_rest_tree_routes() -> None:
    inventory = _inventory(_plan("rest_tree"))

    assert _routes(inventory, "aws_api_gateway_rest_api.api") == [
        ("GET", "/", "1.0", 'aws_lambda_function.fn["index"]'),
        ("GET", "/users", "1.0", 'aws_lambda_function.fn["users"]'),
        ("POST", "/users", "1.0", 'aws_lambda_function.fn["users"]'),
        ("GET", "/users/{id}", "1.0", 'aws_lambda_function.fn["user"]'),
        ("GET", "/users/{id}/orders", "1.0", 'aws_lambda_function.fn["orders"]'),
        ("ANY", "/{proxy+}", "1.0", None),
    ]
    assert {r.stage for r in inventory.routes if r.api_address == "aws_api_gateway_rest_api.api"} == {"v1"}


def test_mock_integration_is_not_a_problem() -> None:
    messages = _messages(_inventory(_plan("rest_tree")))

    assert not any("aws_api_gateway_integration.proxy" in m for m in messages)
    assert not any("/docs/health" in m for m in messages)


def test_proxy_without_function_is_a_problem() -> None:
    plan = _plan("rest_tree")
    _planned(plan, "aws_api_gateway_integration.post_users")["values"]["uri"] = "arn:aws:lambda:::function:elsewhere"
    inventory = _inventory(plan)

    assert ("POST", "/users", "1.0", None) in _routes(inventory, "aws_api_gateway_rest_api.api")
    assert any(m.startswith("aws_api_gateway_integration.post_users is a Lambda proxy integration") for m in
               _messages(inventory))


def test_openapi_body_known_during_plan() -> None:
    inventory = _inventory(_plan("rest_tree"))

    assert _routes(inventory, "aws_api_gateway_rest_api.docs") == [
        ("GET", "/docs", "1.0", 'aws_lambda_function.fn["index"]'),
        ("GET", "/docs/health", "1.0", None),
    ]


def test_openapi_body_known_after_apply() -> None:
    inventory = _inventory(_plan("rest_tree"))

    assert _routes(inventory, "aws_api_gateway_rest_api.reports") == []
    assert any("OpenAPI body of aws_api_gateway_rest_api.reports" in m for m in _messages(inventory))


def test_http_api_payload_versions() -> None:
    inventory = _inventory(_plan("http_api"))

    assert _routes(inventory, "aws_apigatewayv2_api.http") == [
        ("ANY", "$default", "1.0", 'aws_lambda_function.fn["legacy"]'),
        ("GET", "/each/legacy", "2.0", 'aws_lambda_function.fn["legacy"]'),
        ("GET", "/each/status", "2.0", 'aws_lambda_function.fn["status"]'),
        ("ANY", "/legacy/{proxy+}", "1.0", 'aws_lambda_function.fn["legacy"]'),
        ("GET", "/status", "2.0", 'aws_lambda_function.fn["status"]'),
        ("POST", "/tasks/0", "2.0", "aws_lambda_function.task[0]"),
        ("POST", "/tasks/1", "2.0", "aws_lambda_function.task[1]"),
    ]
    assert {r.stage for r in inventory.routes if r.api_address == "aws_apigatewayv2_api.http"} == {"$default"}


def test_function_url_and_websocket() -> None:
    inventory = _inventory(_plan("http_api"))

    assert Route(ApiKind.HTTP, "aws_lambda_function_url.status", "ANY", "$default", "2.0",
                 'aws_lambda_function.fn["status"]', "$default") in inventory.routes
    assert _routes(inventory, "aws_apigatewayv2_api.socket") == []


def test_counted_environment_per_instance() -> None:
    inventory = _inventory(_plan("http_api"))
    first, second = inventory.function("aws_lambda_function.task[0]"), inventory.function("aws_lambda_function.task[1]")

    assert first is not None and second is not None
    assert dict(first.environment) == {"TASK_INDEX": "0"}
    assert dict(second.environment) == {"TASK_INDEX": "1"}
    assert first.timeout == 30


def test_module_for_each_and_nested_module() -> None:
    inventory = _inventory(_plan("module_expansion"))
    users = inventory.function('module.endpoint["users"].module.function.aws_lambda_function.this')
    orders = inventory.function('module.endpoint["orders"].module.function.aws_lambda_function.this')

    assert users is not None and orders is not None
    assert (users.name, users.handler, users.memory) == ("module-expansion-users", "users.handler", 256)
    assert (orders.name, orders.handler, orders.memory) == ("module-expansion-orders", "orders.handler", 512)
    assert dict(users.environment) == {"SERVICE": "module-expansion", "ENDPOINT": "users"}


def test_module_routes_follow_variables_and_outputs() -> None:
    inventory = _inventory(_plan("module_expansion"))

    assert _routes(inventory, "aws_api_gateway_rest_api.api") == [
        ("GET", "/orders", "1.0", 'module.endpoint["orders"].module.function.aws_lambda_function.this'),
        ("GET", "/users", "1.0", 'module.endpoint["users"].module.function.aws_lambda_function.this'),
        ("GET", "/users/{id}", "1.0", "module.user_detail.module.function.aws_lambda_function.this"),
    ]


def test_counted_module_output_by_count_index() -> None:
    inventory = _inventory(_plan("module_expansion"))

    assert _routes(inventory, "aws_apigatewayv2_api.workers") == [
        ("POST", "/workers/0", "2.0", "module.worker[0].aws_lambda_function.this"),
        ("POST", "/workers/1", "2.0", "module.worker[1].aws_lambda_function.this"),
    ]
    worker = inventory.function("module.worker[1].aws_lambda_function.this")
    assert worker is not None
    assert worker.architectures == ("arm64",)
    assert dict(worker.environment) == {"WORKER_INDEX": "1"}


def test_archive_source_dir_by_reference() -> None:
    plan = _plan("root_env")
    _add_archive(plan, "", (), {"source_dir": "./../src/defaults", "output_path": "./.terraform/defaults.zip"})
    _filename_from_archive(plan, (), "aws_lambda_function.defaults")
    _planned(plan, "aws_lambda_function.defaults")["values"]["filename"] = "./.terraform/defaults.zip"
    defaults = _inventory(plan).function("aws_lambda_function.defaults")

    assert defaults is not None
    assert defaults.code_dir == str(PROJECT / "src" / "defaults")
    assert defaults.source == "src/defaults"


def test_archive_source_file_by_output_path() -> None:
    plan = _plan("root_env")
    _add_archive(plan, "", (), {"source_file": "../src/api/app.py", "output_path": "build/api.zip"})
    api = _inventory(plan).function("aws_lambda_function.api")

    assert api is not None
    assert api.source == "src/api"


def test_archive_in_each_module_instance() -> None:
    plan = _plan("module_expansion")
    for index in (0, 1):
        _add_archive(plan, f"module.worker[{index}]", ("worker",),
                     {"source_dir": f"./workers/w{index}", "output_path": f"./.terraform/w{index}.zip"})
    _filename_from_archive(plan, ("worker",), "aws_lambda_function.this")
    inventory = _inventory(plan)

    sources = [inventory.function(f"module.worker[{i}].aws_lambda_function.this").source for i in (0, 1)]
    assert sources == ["infra/workers/w0", "infra/workers/w1"]


def test_ambiguous_reference_is_a_problem() -> None:
    plan = _plan("http_api")
    integration = _config_resource(plan, (), "aws_apigatewayv2_integration.task")
    integration["expressions"]["integration_uri"] = {"references": ["aws_lambda_function.task"]}
    inventory = _inventory(plan)

    tasks = [r for r in inventory.routes if r.path.startswith("/tasks/")]
    assert [r.function for r in tasks] == [None, None]
    assert any("refers to several functions" in m for m in _messages(inventory))


def test_image_function_is_listed_not_runnable() -> None:
    plan = _plan("root_env")
    values = _planned(plan, "aws_lambda_function.defaults")["values"]
    values.update(package_type="Image", image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1",
                  runtime=None, handler=None, filename=None)
    inventory = _inventory(plan)
    image = inventory.function("aws_lambda_function.defaults")

    assert image is not None
    assert not image.runnable
    assert (image.runtime, image.handler, image.source) == (None, None, None)


def test_layer_with_archive() -> None:
    plan = _plan("root_env")
    _add_archive(plan, "", (), {"source_dir": "../layers/common", "output_path": "build/common.zip"})
    layer = {"address": "aws_lambda_layer_version.common", "mode": "managed", "type": "aws_lambda_layer_version",
             "name": "common", "values": {"layer_name": "common", "filename": "build/common.zip"}}
    plan["planned_values"]["root_module"]["resources"].append(layer)
    _config_module(plan, ())["resources"].append(
        {"address": "aws_lambda_layer_version.common", "mode": "managed", "type": "aws_lambda_layer_version",
         "name": "common", "expressions": {"filename": {"constant_value": "build/common.zip"}}})
    _config_resource(plan, (), "aws_lambda_function.api")["expressions"]["layers"] = {
        "references": ["aws_lambda_layer_version.common.arn", "aws_lambda_layer_version.common"]}
    inventory = _inventory(plan)

    assert [(layer.address, layer.name, layer.source) for layer in inventory.layers] == [
        ("aws_lambda_layer_version.common", "common", "layers/common")]
    assert inventory.function("aws_lambda_function.api").layers == ("aws_lambda_layer_version.common",)


def test_s3_object_source_archive() -> None:
    plan = _plan("root_env")
    _add_archive(plan, "", (), {"source_dir": "../src/late", "output_path": "build/late-s3.zip"})
    s3_object = {"address": "aws_s3_object.late", "mode": "managed", "type": "aws_s3_object", "name": "late",
                 "values": {"key": "late.zip", "source": "build/late-s3.zip"}}
    plan["planned_values"]["root_module"]["resources"].append(s3_object)
    values = _planned(plan, "aws_lambda_function.late")["values"]
    values.update(filename=None, s3_bucket="code", s3_key="late.zip")
    del _config_resource(plan, (), "aws_lambda_function.late")["expressions"]["filename"]
    late = _inventory(plan).function("aws_lambda_function.late")

    assert late is not None
    assert late.source == "src/late"


def test_saved_plan_is_not_changed() -> None:
    plan = _plan("module_expansion")
    before = copy.deepcopy(plan)
    _inventory(plan)

    assert plan == before


def test_unsupported_format_version_raises() -> None:
    plan = _plan("http_api")
    plan["format_version"] = "2.0"

    with pytest.raises(TerraformError, match="unsupported plan format_version '2.0'"):
        _inventory(plan)


def test_layer_arns_from_outside_configuration() -> None:
    plan = _plan("root_env")
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:shared:4"
    _planned(plan, "aws_lambda_function.api")["values"]["layers"] = [arn]
    api = _inventory(plan).function("aws_lambda_function.api")

    assert api is not None
    assert api.layers == (arn,)
