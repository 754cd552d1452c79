"""Expression evaluation: the HCL constructs and functions that Lambda configurations use."""

from __future__ import annotations

from pathlib import Path

import pytest

from devd.terraform.evaluate import Evaluator
from devd.terraform.functions import builtin_functions
from devd.terraform.syntax import parse_expression
from devd.terraform.values import EvalError, Unknown

NAMES = {
    "var": {"stage": "dev", "tags": {"team": "api"}, "names": ["a", "b", ""], "n": 2,
            "users": [{"id": "u1"}, {"id": "u2"}]},
    "local": {"prefix": "app"},
}


def evaluate(text: str, names: dict | None = None):
    evaluator = Evaluator(names or NAMES, builtin_functions(Path(".")))
    return evaluator.evaluate(parse_expression(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"${local.prefix}-${var.stage}"', "app-dev"),
        ('"$${literal}"', "${literal}"),
        ('merge({ A = "x" }, var.tags)', {"A": "x", "team": "api"}),
        ("var.n > 1 ? \"many\" : \"one\"", "many"),
        ('[for v in var.names : upper(v) if v != ""]', ["A", "B"]),
        ('{ for i, v in var.names : v => i if v != "" }', {"a": 0, "b": 1}),
        ("var.users[*].id", ["u1", "u2"]),
        ("var.users[1].id", "u2"),
        ('lookup(var.tags, "missing", "none")', "none"),
        ('join(",", concat(["x"], ["y"]))', "x,y"),
        ('format("%s-%03d", "fn", 7)', "fn-007"),
        ('replace("a/b/c", "/", "-")', "a-b-c"),
        ('replace("v1.2", "/v(\\\\d)/", "V$1")', "V1.2"),
        ('coalesce("", "second")', "second"),
        ('try(var.tags.missing, "fallback")', "fallback"),
        ("can(var.tags.missing)", False),
        ('jsonencode({ b = 1, a = [true] })', '{"a":[true],"b":1}'),
        ('jsondecode("{\\"k\\": 2}").k', 2),
        ('yamldecode("a: [1, 2]")', {"a": [1, 2]}),
        ("length(var.names)", 3),
        ('element(["a", "b"], 3)', "b"),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ('startswith("python3.11", "python")', True),
        ('basename("functions/hello/handler.ts")', "handler.ts"),
        ('dirname("functions/hello/handler.ts")', "functions/hello"),
        ('keys({ b = 1, a = 2 })', ["a", "b"]),
        ('toset(["b", "a", "b"])', ["a", "b"]),
        ("flatten([[1], [2, [3]]])", [1, 2, 3]),
        ("10 / 4", 2.5),
        ("!true || 1 + 2 * 3 == 7", True),
        ('"%{ if var.n == 2 }two%{ else }other%{ endif }"', "two"),
        ('"%{ for n in ["a", "b"] }${n};%{ endfor }"', "a;b;"),
    ],
)
def test_evaluate_expression(text: str, expected) -> None:
    assert evaluate(text) == expected


def test_heredoc_interpolates() -> None:
    text = '<<-EOT\n    name: ${var.stage}\n    EOT\n'
    assert evaluate(text) == "name: dev\n"


def test_unknown_propagates_with_references() -> None:
    names = dict(NAMES, aws_lambda_function={"fn": {"invoke_arn": Unknown(frozenset({"aws_lambda_function.fn.invoke_arn"}))}})
    value = evaluate('"arn:${aws_lambda_function.fn.invoke_arn}/invocations"', names)

    assert isinstance(value, Unknown)
    assert value.resource_addresses() == {"aws_lambda_function.fn"}


def test_unsupported_function_names_it() -> None:
    with pytest.raises(EvalError, match="nosuch"):
        evaluate('nosuch("x")')


def test_undeclared_name_names_it() -> None:
    with pytest.raises(EvalError, match="'nothing'"):
        evaluate("var.tags.team == nothing")
