"""Render a template into a document (JSON or YAML) whose unknown values stay Unknown.

Terraform treats a rendered string with any unknown part as unknown as a whole. An OpenAPI
body built with `templatefile` from `aws_lambda_function.fn.invoke_arn` is such a string, yet
each integration's reference is what devd needs. So each Unknown variable is rendered as a
sentinel string, the text is parsed, and sentinels are turned back into their Unknowns.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import yaml

from devd.terraform.values import Unknown


def render_document(template: Any, variables: dict[str, Any], functions: Mapping[str, Callable[..., Any]]) -> Any:
    """Render template with variables; return the parsed document, or the text if it is not
    JSON or YAML."""
    from devd.terraform.evaluate import Evaluator

    unknowns: list[Unknown] = []
    text = Evaluator(_with_sentinels(variables, unknowns), functions).evaluate(template)
    if not isinstance(text, str):
        return text
    try:
        document = json.loads(text)
    except ValueError:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
    return _restore(document, unknowns)


def _sentinel(index: int) -> str:
    return f"@@devd-unknown-{index}@@"


def _with_sentinels(value: Any, unknowns: list[Unknown]) -> Any:
    if isinstance(value, Unknown):
        unknowns.append(value)
        return _sentinel(len(unknowns) - 1)
    if isinstance(value, dict):
        return {key: _with_sentinels(item, unknowns) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_sentinels(item, unknowns) for item in value]
    return value


def _restore(value: Any, unknowns: list[Unknown]) -> Any:
    if isinstance(value, str) and "@@devd-unknown-" in value:
        refs = frozenset().union(*(u.refs for i, u in enumerate(unknowns) if _sentinel(i) in value))
        return Unknown(refs)
    if isinstance(value, dict):
        return {key: _restore(item, unknowns) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore(item, unknowns) for item in value]
    return value
