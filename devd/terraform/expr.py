"""The expression tree of HCL, as devd evaluates it.

python-hcl2 parses text into a Lark tree, and `devd.terraform.syntax` turns that tree into
these nodes. Each node carries the line it came from, so problems can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Literal:
    """A number, string, bool or null written in the source."""

    value: Any
    line: int = 0


@dataclass(frozen=True)
class Template:
    """A quoted string or heredoc with interpolations; `parts` are str or Expr."""

    parts: tuple[Any, ...]
    line: int = 0


@dataclass(frozen=True)
class TemplateIf:
    """A `%{ if }` directive inside a template."""

    condition: "Expr"
    then: Template
    otherwise: Template
    line: int = 0


@dataclass(frozen=True)
class TemplateFor:
    """A `%{ for }` directive inside a template."""

    key_var: str | None
    value_var: str
    collection: "Expr"
    body: Template
    line: int = 0


@dataclass(frozen=True)
class Name:
    """A bare identifier: `var`, `local`, `each`, a resource type, a for-expression variable."""

    name: str
    line: int = 0


@dataclass(frozen=True)
class GetAttr:
    """`target.name`."""

    target: "Expr"
    name: str
    line: int = 0


@dataclass(frozen=True)
class Index:
    """`target[key]`."""

    target: "Expr"
    key: "Expr"
    line: int = 0


@dataclass(frozen=True)
class Splat:
    """`target[*].a.b` or `target.*.a`: `steps` apply to each element."""

    target: "Expr"
    steps: tuple[Union[GetAttr, Index], ...]
    line: int = 0


@dataclass(frozen=True)
class Call:
    """A function call; `expand` is true when the last argument ends with `...`."""

    name: str
    args: tuple["Expr", ...]
    expand: bool = False
    line: int = 0


@dataclass(frozen=True)
class TupleExpr:
    """`[a, b, c]`."""

    items: tuple["Expr", ...]
    line: int = 0


@dataclass(frozen=True)
class ObjectExpr:
    """`{ key = value }`; a bare identifier key is a literal string."""

    items: tuple[tuple["Expr", "Expr"], ...]
    line: int = 0


@dataclass(frozen=True)
class Conditional:
    """`condition ? then : otherwise`."""

    condition: "Expr"
    then: "Expr"
    otherwise: "Expr"
    line: int = 0


@dataclass(frozen=True)
class BinaryOp:
    """An arithmetic, comparison or logical operator."""

    op: str
    left: "Expr"
    right: "Expr"
    line: int = 0


@dataclass(frozen=True)
class UnaryOp:
    """`-x` or `!x`."""

    op: str
    operand: "Expr"
    line: int = 0


@dataclass(frozen=True)
class ForExpr:
    """`[for k, v in coll : value if cond]` or `{for k, v in coll : key => value...}`."""

    key_var: str | None
    value_var: str
    collection: "Expr"
    value: "Expr"
    key: "Expr | None" = None
    condition: "Expr | None" = None
    group: bool = False
    line: int = 0


Expr = Union[
    Literal, Template, TemplateIf, TemplateFor, Name, GetAttr, Index, Splat, Call, TupleExpr,
    ObjectExpr, Conditional, BinaryOp, UnaryOp, ForExpr,
]


@dataclass(frozen=True)
class Block:
    """A block such as `resource "aws_lambda_function" "fn" { ... }`, with its source place."""

    type: str
    labels: tuple[str, ...]
    attributes: dict[str, Expr]
    blocks: tuple["Block", ...]
    file: str
    line: int

    def child_blocks(self, block_type: str) -> tuple["Block", ...]:
        """Return the nested blocks of one type, in source order."""
        return tuple(block for block in self.blocks if block.type == block_type)
