"""Logical ids, Terraform names and paths for the SAM files."""

from __future__ import annotations

from pathlib import Path

import pytest

from devd.build.layout import address_digest
from devd.sam.naming import (
    logical_id,
    relative_path,
    terraform_literal,
    terraform_name,
    unique_names,
)


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ("devd-example-dev-get-hello", "Function", "DevdExampleDevGetHelloFunction"),
        ("public-example-dev-getHello", "Function", "PublicExampleDevGetHelloFunction"),
        ("orders_handler_function", "Function", "OrdersHandlerFunction"),
        ("get /items/{id}", "", "GetItemsId"),
        ("any $default", "", "AnyDefault"),
        ("функция", "Function", "Function"),
        ("", "RestApi", "RestApi"),
    ],
)
def test_logical_id(text: str, suffix: str, expected: str) -> None:
    assert logical_id(text, suffix, suffix or "Route") == expected


def test_logical_id_length_capped() -> None:
    result = logical_id("a" * 300, "Function")

    assert len(result) == 200 + len("Function")
    assert result.endswith("Function")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("devd-example-dev-status", "devd_example_dev_status"),
        ("public-example-dev-getHello", "public_example_dev_gethello"),
        ("module.a.aws_lambda_function.this[0]", "module_a_aws_lambda_function_this_0"),
        ("--", "function"),
    ],
)
def test_terraform_name(text: str, expected: str) -> None:
    assert terraform_name(text) == expected


def test_unique_names_suffix_only_clashes() -> None:
    items = [("x.a", "Same"), ("x.b", "Same"), ("x.c", "Other")]

    named = unique_names(items, name=lambda item: item[1], address=lambda item: item[0])

    assert named == {
        "Other": ("x.c", "Other"),
        f"Same{address_digest('x.a')}": ("x.a", "Same"),
        f"Same{address_digest('x.b')}": ("x.b", "Same"),
    }


def test_unique_names_independent_of_order() -> None:
    items = [("x.a", "Same"), ("x.b", "Same"), ("x.c", "Other")]

    forward = unique_names(items, name=lambda item: item[1], address=lambda item: item[0], separator="_")
    backward = unique_names(items[::-1], name=lambda item: item[1], address=lambda item: item[0], separator="_")

    assert list(forward.items()) == list(backward.items())
    assert f"Same_{address_digest('x.a')}" in forward


def test_relative_path() -> None:
    assert relative_path(Path("/p/functions/hello"), Path("/p/infra")) == "../functions/hello"
    assert relative_path(Path("/p/infra/src"), Path("/p/infra")) == "src"
    assert relative_path(Path("/p/infra"), Path("/p/infra")) == "."


def test_terraform_literal() -> None:
    assert terraform_literal("a/${b}/%{c}/$d") == "a/$${b}/%%{c}/$d"
