"""Evaluate HCL expressions against a scope of lazily resolved names.

The scope maps the first name of a reference (`var`, `local`, `module`, a resource type, a
for-expression variable) to a value or a `Namespace`, whose attributes resolve on demand. So
locals may refer to each other in any order, and only what an expression touches is
evaluated.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Mapping, Protocol

from devd.terraform.documents import render_document
from devd.terraform.expr import (
    BinaryOp,
    Call,
    Conditional,
    Expr,
    ForExpr,
    GetAttr,
    Index,
    Literal,
    Name,
    ObjectExpr,
    Splat,
    Template,
    TemplateFor,
    TemplateIf,
    TupleExpr,
    UnaryOp,
)
from devd.terraform.syntax import parse_template
from devd.terraform.values import (
    EvalError,
    Unknown,
    merge_unknown,
    to_string,
    type_name,
)

UNKNOWN_AT_PLAN = {"uuid", "timestamp", "bcrypt", "plantimestamp"}

KEEPS_ELEMENTS = {"merge", "concat"}
"""Functions that copy the elements of their collection arguments without reading them, so an
element known only after apply leaves the others known, as in `terraform plan`."""


class Namespace(Protocol):
    """A value whose attributes and keys are resolved when first read."""

    def attribute(self, name: str, line: int) -> Any:
        """Return the value of `self.name`."""
        ...

    def key(self, key: Any, line: int) -> Any:
        """Return the value of `self[key]`."""
        ...


class Evaluator:
    """Evaluate expressions; `names` maps root names to values or Namespaces."""

    def __init__(self, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]],
                 documents: bool = False) -> None:
        self.names = names
        self.functions = functions
        self.documents = documents
        """When true, `jsonencode` and `templatefile` return structures whose unknown leaves stay
        Unknown, instead of one Unknown for the whole string (used to read OpenAPI bodies)."""

    def child(self, extra: Mapping[str, Any]) -> "Evaluator":
        """Return an evaluator that also resolves the given names (for-expression variables)."""
        return Evaluator(_Chain(extra, self.names), self.functions, self.documents)

    def evaluate(self, expr: Expr) -> Any:
        """Return the value of expr; raise EvalError naming the construct and line."""
        return _DISPATCH[type(expr)](self, expr)

    def _Literal(self, expr: Literal) -> Any:
        return expr.value

    def _Template(self, expr: Template) -> Any:
        pieces: list[Any] = []
        for part in expr.parts:
            pieces.append(part if isinstance(part, str) else self.evaluate(part))
        if len(pieces) == 1 and not isinstance(expr.parts[0], str):
            return pieces[0] if not isinstance(pieces[0], (int, float, bool)) else to_string(pieces[0])
        unknown = merge_unknown(pieces)
        if unknown is not None:
            pattern = "".join(piece if isinstance(piece, str) else "*" for piece in pieces)
            return Unknown(unknown.refs, pattern=pattern)
        return "".join(to_string(piece, expr.line) for piece in pieces)

    def _TemplateIf(self, expr: TemplateIf) -> Any:
        condition = self.evaluate(expr.condition)
        if isinstance(condition, Unknown):
            return condition
        return self.evaluate(expr.then if condition else expr.otherwise)

    def _TemplateFor(self, expr: TemplateFor) -> Any:
        collection = self.evaluate(expr.collection)
        if isinstance(collection, Unknown):
            return collection
        pieces = []
        for key, value in _pairs(collection, expr.line):
            names = {expr.value_var: value}
            if expr.key_var:
                names[expr.key_var] = key
            pieces.append(self.child(names).evaluate(expr.body))
        return merge_unknown(pieces) or "".join(pieces)

    def _Name(self, expr: Name) -> Any:
        if expr.name not in self.names:
            raise EvalError(f"unknown name {expr.name!r}", expr.line)
        return self.names[expr.name]

    def _GetAttr(self, expr: GetAttr) -> Any:
        return get_attribute(self.evaluate(expr.target), expr.name, expr.line)

    def _Index(self, expr: Index) -> Any:
        target = self.evaluate(expr.target)
        key = self.evaluate(expr.key)
        return get_key(target, key, expr.line)

    def _Splat(self, expr: Splat) -> Any:
        target = self.evaluate(expr.target)
        if isinstance(target, Unknown):
            return target
        if isinstance(target, list):
            items = target
        elif target is None:
            items = []
        else:
            items = [target]
        results = []
        for item in items:
            for step in expr.steps:
                if isinstance(step, GetAttr):
                    item = get_attribute(item, step.name, step.line)
                else:
                    item = get_key(item, self.evaluate(step.key), step.line)
            results.append(item)
        return results

    def _Call(self, expr: Call) -> Any:
        if expr.name in ("try", "can"):
            return self._try_or_can(expr)
        if expr.name == "templatefile":
            return self._templatefile(expr)
        if expr.name == "jsonencode" and self.documents and len(expr.args) == 1:
            return self.evaluate(expr.args[0])
        if expr.name in UNKNOWN_AT_PLAN:
            return Unknown(reason=f"{expr.name}() is known only after apply")
        function = self.functions.get(expr.name)
        if function is None:
            raise EvalError(f"function {expr.name}() is not supported by devd", expr.line)
        args = [self.evaluate(arg) for arg in expr.args]
        if expr.expand and args:
            args = args[:-1] + list(args[-1])
        checked = [arg for arg in args if isinstance(arg, Unknown)] if expr.name in KEEPS_ELEMENTS else args
        unknown = merge_unknown(checked)
        if unknown is not None:
            return _unknown_join(unknown, args) if expr.name == "join" else unknown
        try:
            return function(*args)
        except EvalError as error:
            raise EvalError(f"{expr.name}(): {error}", expr.line) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
            raise EvalError(f"{expr.name}() failed: {error}", expr.line) from None

    def _try_or_can(self, expr: Call) -> Any:
        for arg in expr.args:
            try:
                value = self.evaluate(arg)
            except EvalError:
                continue
            return True if expr.name == "can" else value
        if expr.name == "can":
            return False
        raise EvalError("try(): no argument could be evaluated", expr.line)

    def _templatefile(self, expr: Call) -> Any:
        if len(expr.args) != 2:
            raise EvalError("templatefile() takes a path and a map of variables", expr.line)
        path, variables = (self.evaluate(arg) for arg in expr.args)
        if isinstance(path, Unknown) or not isinstance(variables, (dict, Unknown)):
            return path if isinstance(path, Unknown) else Unknown(reason="templatefile() variables must be a map")
        template = parse_template(self.functions["file"](path), path, expr.line)
        if self.documents and isinstance(variables, dict):
            return render_document(template, variables, self.functions)
        if isinstance(variables, Unknown):
            return variables
        return Evaluator(variables, self.functions).evaluate(template)

    def _TupleExpr(self, expr: TupleExpr) -> Any:
        return [self.evaluate(item) for item in expr.items]

    def _ObjectExpr(self, expr: ObjectExpr) -> Any:
        result: dict[str, Any] = {}
        for key_expr, value_expr in expr.items:
            key = self.evaluate(key_expr)
            if isinstance(key, Unknown):
                return key
            result[to_string(key, expr.line)] = self.evaluate(value_expr)
        return result

    def _Conditional(self, expr: Conditional) -> Any:
        condition = self.evaluate(expr.condition)
        if isinstance(condition, Unknown):
            return condition
        if not isinstance(condition, bool):
            raise EvalError(f"condition must be a bool, got {type_name(condition)}", expr.line)
        return self.evaluate(expr.then if condition else expr.otherwise)

    def _BinaryOp(self, expr: BinaryOp) -> Any:
        left = self.evaluate(expr.left)
        if expr.op == "&&" and left is False or expr.op == "||" and left is True:
            return left
        right = self.evaluate(expr.right)
        unknown = merge_unknown([left, right])
        if unknown is not None:
            return unknown
        return _apply_binary(expr.op, left, right, expr.line)

    def _UnaryOp(self, expr: UnaryOp) -> Any:
        value = self.evaluate(expr.operand)
        if isinstance(value, Unknown):
            return value
        return (not value) if expr.op == "!" else -value

    def _ForExpr(self, expr: ForExpr) -> Any:
        collection = self.evaluate(expr.collection)
        if isinstance(collection, Unknown):
            return collection
        tuple_result: list[Any] = []
        object_result: dict[str, Any] = {}
        for key, value in _pairs(collection, expr.line):
            names = {expr.value_var: value}
            if expr.key_var:
                names[expr.key_var] = key
            scope = self.child(names)
            if expr.condition is not None and scope.evaluate(expr.condition) is not True:
                continue
            if expr.key is None:
                tuple_result.append(scope.evaluate(expr.value))
                continue
            item_key = to_string(scope.evaluate(expr.key), expr.line)
            item = scope.evaluate(expr.value)
            if expr.group:
                object_result.setdefault(item_key, []).append(item)
            else:
                object_result[item_key] = item
        return tuple_result if expr.key is None else object_result


def _unknown_join(unknown: Unknown, args: list[Any]) -> Unknown:
    """Keep the known text of a `join` with unknown parts, as string templates do."""
    if len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], list):
        return unknown
    parts = []
    for item in args[1]:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, Unknown) and item.pattern:
            parts.append(item.pattern)
        else:
            parts.append("*")
    return Unknown(unknown.refs, pattern=args[0].join(parts))


_DISPATCH: dict[type, Callable[[Evaluator, Any], Any]] = {
    node: getattr(Evaluator, "_" + node.__name__)
    for node in (Literal, Template, TemplateIf, TemplateFor, Name, GetAttr, Index, Splat, Call, TupleExpr,
                 ObjectExpr, Conditional, BinaryOp, UnaryOp, ForExpr)
}
"""The method that evaluates each node type, looked up once instead of by name per node."""


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "%": operator.mod, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    ">": operator.gt, "<=": operator.le, ">=": operator.ge,
    "&&": lambda a, b: bool(a and b), "||": lambda a, b: bool(a or b),
}


def _apply_binary(op: str, left: Any, right: Any, line: int) -> Any:
    try:
        result = _BINARY[op](left, right)
    except (TypeError, ZeroDivisionError) as error:
        raise EvalError(f"operator {op} failed on {type_name(left)} and {type_name(right)}: {error}", line) from None
    if op == "/" and isinstance(result, float) and result.is_integer():
        return int(result)
    return result


def _pairs(collection: Any, line: int) -> list[tuple[Any, Any]]:
    if isinstance(collection, dict):
        return [(key, collection[key]) for key in sorted(collection)]
    if isinstance(collection, list):
        return list(enumerate(collection))
    raise EvalError(f"a for expression needs a list or map, got {type_name(collection)}", line)


def get_attribute(target: Any, name: str, line: int) -> Any:
    """Return `target.name` for maps, objects and namespaces."""
    if isinstance(target, Unknown):
        return target
    if isinstance(target, dict):
        if name not in target:
            raise EvalError(f"object has no attribute {name!r}", line)
        return target[name]
    if hasattr(target, "attribute"):
        return target.attribute(name, line)
    raise EvalError(f"cannot read attribute {name!r} of a {type_name(target)}", line)


def get_key(target: Any, key: Any, line: int) -> Any:
    """Return `target[key]` for lists, maps and namespaces."""
    if isinstance(target, Unknown):
        return target
    if isinstance(key, Unknown):
        return key
    if hasattr(target, "key"):
        return target.key(key, line)
    if isinstance(target, list):
        try:
            return target[int(key)]
        except (IndexError, ValueError, TypeError):
            raise EvalError(f"index {key!r} is out of range for a list of {len(target)}", line) from None
    if isinstance(target, dict):
        if str(key) not in target:
            raise EvalError(f"map has no key {key!r}", line)
        return target[str(key)]
    raise EvalError(f"cannot index a {type_name(target)}", line)


class _Chain(Mapping[str, Any]):
    """Two mappings read as one, the first shadowing the second."""

    def __init__(self, first: Mapping[str, Any], second: Mapping[str, Any]) -> None:
        self.first = first
        self.second = second

    def __getitem__(self, name: str) -> Any:
        if name in self.first:
            return self.first[name]
        return self.second[name]

    def __contains__(self, name: object) -> bool:
        return name in self.first or name in self.second

    def __iter__(self):
        yield from self.first
        yield from self.second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)
