"""Values of evaluated Terraform expressions.

Known values are plain Python values (str, int, float, bool, None, list, dict). A value that
Terraform computes only at apply is an `Unknown`, which remembers the resource attributes it
came from: an integration `uri` built from `aws_lambda_function.fn.invoke_arn` is unknown,
but its references still name the function it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class Unknown:
    """A value known only after apply, with the `address.attribute` references it depends on."""

    refs: frozenset[str] = frozenset()
    reason: str = ""
    pattern: str = ""
    """For a string template with unknown parts: its known text, with `*` for each unknown part."""

    def resource_addresses(self) -> set[str]:
        """Return the addresses of the resources this value refers to."""
        return {ref.rsplit(".", 1)[0] for ref in self.refs if "." in ref}


class EvalError(Exception):
    """An expression that cannot be evaluated; `line` is its line in the source file."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def merge_unknown(values: Iterable[Any]) -> Unknown | None:
    """Return one Unknown combining the references of every Unknown among values, or None."""
    refs: set[str] = set()
    found = False
    for value in values:
        for unknown in _unknowns(value):
            refs |= unknown.refs
            found = True
    return Unknown(frozenset(refs)) if found else None


def _unknowns(value: Any) -> Iterable[Unknown]:
    if isinstance(value, Unknown):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _unknowns(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _unknowns(item)


def is_known(value: Any) -> bool:
    """Return True when value contains no Unknown at any depth."""
    return merge_unknown([value]) is None


def to_string(value: Any, line: int = 0) -> str:
    """Convert a primitive to its Terraform string form, as interpolation does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        raise EvalError("cannot interpolate a null value into a string", line)
    raise EvalError(f"cannot convert {type_name(value)} to string", line)


def type_name(value: Any) -> str:
    """Return the Terraform name of a value's type, for messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return "unknown"
