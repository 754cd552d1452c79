"""Choosing the -target addresses of a one-function deploy."""

from __future__ import annotations

import pytest

from devd.deploy.targets import (
    Companion,
    extra_targets,
    function_targets,
    module_instance,
    split_address,
    target_arguments,
)
from devd.errors import ConfigError


@pytest.mark.parametrize(("address", "expected"), [
    ("module.get_hello.aws_lambda_function.this", "module.get_hello"),
    ('module.fns["users"].aws_lambda_function.this', 'module.fns["users"]'),
    ("module.workers[1].aws_lambda_function.this", "module.workers[1]"),
    ('module.api.module.fns["a.b"].aws_lambda_function.this[0]', 'module.api.module.fns["a.b"]'),
    ("aws_lambda_function.status", None),
    ('aws_lambda_function.fn["module.x"]', None),
])
def test_innermost_module_instance(address: str, expected: str | None) -> None:
    assert module_instance(address) == expected


def test_split_keeps_quoted_dots_and_brackets() -> None:
    assert split_address('module.fns["a.b\\"c"].aws_lambda_function.this') == [
        "module", 'fns["a.b\\"c"]', "aws_lambda_function", "this"]


def test_module_function_targets_its_module() -> None:
    companions = [Companion("aws_lambda_permission.other", "aws_lambda_permission",
                            function_name="devd-example-dev-get-hello")]

    targets = function_targets("module.get_hello.aws_lambda_function.this", "devd-example-dev-get-hello", companions)

    assert targets == ("module.get_hello",)


def test_root_function_takes_its_companions() -> None:
    companions = [
        Companion("aws_lambda_permission.status", "aws_lambda_permission", function_name="app-status"),
        Companion("aws_apigatewayv2_integration.status", "aws_apigatewayv2_integration",
                  frozenset({"aws_lambda_function.status"})),
        Companion("aws_lambda_function_url.status", "aws_lambda_function_url",
                  frozenset({"aws_lambda_function.status"})),
        Companion("aws_lambda_permission.other", "aws_lambda_permission", function_name="app-other"),
        Companion("aws_apigatewayv2_integration.other", "aws_apigatewayv2_integration",
                  frozenset({"aws_lambda_function.other"})),
        Companion("aws_apigatewayv2_route.status", "aws_apigatewayv2_route",
                  frozenset({"aws_lambda_function.status"})),
    ]

    targets = function_targets("aws_lambda_function.status", "app-status", companions)

    assert targets == ("aws_lambda_function.status", "aws_apigatewayv2_integration.status",
                       "aws_lambda_function_url.status", "aws_lambda_permission.status")


def test_for_each_function_keeps_instance_key() -> None:
    companions = [Companion('aws_lambda_permission.fn["users"]', "aws_lambda_permission",
                            frozenset({'aws_lambda_function.fn["users"]'}))]

    targets = function_targets('aws_lambda_function.fn["users"]', "users", companions)

    assert targets == ('aws_lambda_function.fn["users"]', 'aws_lambda_permission.fn["users"]')


def test_extra_targets_by_name_and_address() -> None:
    table = {"get-hello": ["aws_api_gateway_deployment.api"],
             "module.get_hello.aws_lambda_function.this": ["aws_api_gateway_stage.api"]}

    extra = extra_targets(table, "module.get_hello.aws_lambda_function.this", "get-hello")
    targets = function_targets("module.get_hello.aws_lambda_function.this", "get-hello", [], extra)

    assert targets == ("module.get_hello", "aws_api_gateway_stage.api", "aws_api_gateway_deployment.api")


def test_target_arguments_one_per_address() -> None:
    arguments = target_arguments(['aws_lambda_function.fn["users"]', "module.get_hello"])

    assert arguments == ['-target=aws_lambda_function.fn["users"]', "-target=module.get_hello"]


def test_target_arguments_reject_empty() -> None:
    with pytest.raises(ConfigError, match="invalid Terraform target ''"):
        target_arguments([""])


def test_example_root_function_targets() -> None:
    from pathlib import Path

    from devd.config import resolve_settings
    from devd.deploy.resolve import companions, find_function

    settings = resolve_settings(Path(__file__).resolve().parents[3])
    status = find_function(settings, "devd-example-dev-status")
    hello = find_function(settings, "module.get_hello.aws_lambda_function.this")
    found = companions(settings)

    assert function_targets(status.address, status.name, found) == (
        "aws_lambda_function.status", "aws_apigatewayv2_integration.status", "aws_lambda_permission.status")
    assert function_targets(hello.address, hello.name, found) == ("module.get_hello",)


def test_unknown_function_lists_names() -> None:
    from pathlib import Path

    from devd.config import resolve_settings
    from devd.deploy.resolve import find_function

    settings = resolve_settings(Path(__file__).resolve().parents[3])

    with pytest.raises(ConfigError, match="no function named 'goodbye'; functions: .*devd-example-dev-get-hello"):
        find_function(settings, "goodbye")


def test_find_function_short_names() -> None:
    from pathlib import Path

    from devd.config import resolve_settings
    from devd.deploy.resolve import find_function

    settings = resolve_settings(Path(__file__).resolve().parents[3])

    assert find_function(settings, "get-hello").name == "devd-example-dev-get-hello"
    assert find_function(settings, "hello").name == "devd-example-dev-get-hello"
    assert find_function(settings, "create_item").address == "module.create_item.aws_lambda_function.this"
    with pytest.raises(ConfigError, match="several functions are named 'item'"):
        find_function(settings, "item")
