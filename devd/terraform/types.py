"""Apply a variable's type constraint to its value: `optional()` attribute defaults of objects,
inside lists, sets and maps as well."""

from __future__ import annotations

from typing import Any, Callable

from devd.terraform.expr import Call, Expr, Literal, ObjectExpr


def apply_defaults(type_expr: Expr | None, value: Any, evaluate: Callable[[Expr], Any]) -> Any:
    """Return value with the defaults of `optional(type, default)` attributes filled in."""
    if not isinstance(type_expr, Call) or not type_expr.args:
        return value
    inner = type_expr.args[0]
    if type_expr.name in ("list", "set") and isinstance(value, list):
        return [apply_defaults(inner, item, evaluate) for item in value]
    if type_expr.name == "map" and isinstance(value, dict):
        return {key: apply_defaults(inner, item, evaluate) for key, item in value.items()}
    if type_expr.name == "object" and isinstance(inner, ObjectExpr) and isinstance(value, dict):
        return _object_defaults(inner, value, evaluate)
    return value


def _object_defaults(attributes: ObjectExpr, value: dict, evaluate: Callable[[Expr], Any]) -> dict:
    result = dict(value)
    for key_expr, attribute_type in attributes.items:
        if not isinstance(key_expr, Literal):
            continue
        name = str(key_expr.value)
        if isinstance(attribute_type, Call) and attribute_type.name == "optional" and attribute_type.args:
            if result.get(name) is None:
                result[name] = evaluate(attribute_type.args[1]) if len(attribute_type.args) > 1 else None
            attribute_type = attribute_type.args[0]
        if name in result:
            result[name] = apply_defaults(attribute_type, result[name], evaluate)
    return result
