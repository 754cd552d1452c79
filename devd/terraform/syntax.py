"""Turn python-hcl2's Lark parse tree into devd's blocks and expression nodes.

This module reads whole `.tf` and `.tfvars` files and their blocks.
`devd.terraform.expression_syntax` converts each expression in them.
"""

from __future__ import annotations

from typing import Iterator

import hcl2
from lark import Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedToken,
)

from devd.errors import TerraformError
from devd.terraform.expr import Block, Expr
from devd.terraform.expression_syntax import (
    child_trees,
    expression_tree,
    first_child,
    label_text,
    line_of,
    scan_template,
    to_expr,
)


def parse_hcl(text: str, file: str) -> tuple[Block, ...]:
    """Parse HCL text into top-level blocks; raise TerraformError with the line on bad syntax."""
    try:
        tree = hcl2.parses_to_tree(text)
    except LarkError as error:
        raise TerraformError(f"invalid HCL syntax: {_describe_parse_error(error)}", file,
                             getattr(error, "line", None)) from None
    body = first_child(tree, "body")
    return tuple(_body_blocks(body, file)) if body is not None else ()


def _describe_parse_error(error: LarkError) -> str:
    """Return a parse error in words, such as "unexpected end of file (a closing } may be missing)"."""
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return "unexpected end of file (a closing } or quote may be missing)"
        return f"unexpected {str(error.token).strip()!r} at column {error.column}"
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r} at column {error.column}"
    if isinstance(error, UnexpectedEOF):
        return "unexpected end of file (a closing } or quote may be missing)"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else "syntax error"


def parse_expression(text: str, file: str = "<expression>", line: int = 0) -> Expr:
    """Parse one HCL expression, such as the inside of `${...}` in a `.tf.json` string."""
    return to_expr(expression_tree(text, file, line))


def parse_template(text: str, file: str = "<template>", line: int = 0) -> Expr:
    """Parse template text (a heredoc body or a `templatefile` file) with its interpolations
    and `%{if}`/`%{for}` directives."""
    return scan_template(text, line, file)


def _body_blocks(body: Tree, file: str) -> Iterator[Block]:
    for child in child_trees(body):
        if child.data == "block":
            yield _block(child, file)


def _block(tree: Tree, file: str) -> Block:
    parts = child_trees(tree)
    body = parts[-1]
    head = [label_text(part) for part in parts[:-1] if part.data != "new_line_or_comment"]
    attributes: dict[str, Expr] = {}
    blocks: list[Block] = []
    for child in child_trees(body):
        if child.data == "attribute":
            name_tree, value_tree = child_trees(child)[0], child_trees(child)[-1]
            attributes[label_text(name_tree)] = to_expr(value_tree)
        elif child.data == "block":
            blocks.append(_block(child, file))
    return Block(head[0], tuple(head[1:]), attributes, tuple(blocks), file, line_of(tree))


def parse_attributes(text: str, file: str) -> dict[str, Expr]:
    """Parse a `.tfvars` file: top-level attributes only."""
    try:
        tree = hcl2.parses_to_tree(text)
    except LarkError as error:
        raise TerraformError(f"invalid HCL syntax: {_describe_parse_error(error)}", file,
                             getattr(error, "line", None)) from None
    attributes: dict[str, Expr] = {}
    for child in child_trees(first_child(tree, "body")):
        if child.data == "attribute":
            attributes[label_text(child_trees(child)[0])] = to_expr(child_trees(child)[-1])
    return attributes
