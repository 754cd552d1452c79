"""Turn python-hcl2's Lark expression trees, quoted strings, heredocs and template text into
devd's expression nodes.

`devd.terraform.syntax` reads whole files and blocks with these functions.
"""

from __future__ import annotations

import re
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError

from devd.errors import TerraformError
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

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")


def expression_tree(text: str, file: str, line: int) -> Tree:
    """Parse one expression's text into its Lark tree; raise TerraformError at `file` and `line`."""
    try:
        tree = hcl2.parses_to_tree(f"x = {text}\n")
    except LarkError:
        raise TerraformError(f"invalid expression {text!r}", file, line) from None
    attribute = first_child(first_child(tree, "body"), "attribute")
    return child_trees(attribute)[-1]


def label_text(tree: Tree) -> str:
    """Return the text of a block label, an attribute name or a `.name` step, quoted or not."""
    if tree.data == "string":
        return "".join(str(part) if isinstance(part, str) else "" for part in _template_parts(tree))
    return str(_tokens(tree)[0])


def to_expr(tree: Tree) -> Expr:
    """Convert a Lark expression tree into an expression node that keeps its line."""
    handler = _HANDLERS.get(tree.data)
    if handler is None:
        raise TerraformError(f"unsupported HCL construct {tree.data!r}", None, line_of(tree))
    return handler(tree)


def _expr_term(tree: Tree) -> Expr:
    inner = child_trees(tree)
    if not inner:
        raise TerraformError("empty expression", None, line_of(tree))
    return to_expr(inner[0])


def _literal_value(tree: Tree) -> Expr:
    text = str(_tokens(tree)[0])
    return Literal({"true": True, "false": False, "null": None}[text], line_of(tree))


def _number(tree: Tree) -> Expr:
    text = str(_tokens(tree)[0])
    value: Any = float(text) if any(c in text for c in ".eE") else int(text)
    return Literal(value, line_of(tree))


def _string(tree: Tree) -> Expr:
    parts = _template_parts(tree)
    if all(isinstance(part, str) for part in parts):
        return Literal("".join(parts), line_of(tree))
    return Template(tuple(parts), line_of(tree))


def _template_parts(tree: Tree) -> list[Any]:
    """Return the parts of a quoted string, folding `%{if}`/`%{for}` directives into nodes."""
    flat: list[Any] = []
    for part in child_trees(tree):
        for piece in part.children:
            if isinstance(piece, Token):
                flat.append(_unescape_token(piece))
            elif piece.data == "interpolation":
                flat.append(to_expr(child_trees(piece)[0]))
            else:
                flat.append(piece)
    parts, _ = _fold_directives(_apply_strip_markers(flat), 0)
    return _merge_strings(parts)


def _apply_strip_markers(flat: list[Any]) -> list[Any]:
    """Remove the whitespace that `~` markers of directives strip: `%{~` strips the end of the
    literal before, `~}` the start of the literal after."""
    result = list(flat)
    for index, item in enumerate(result):
        if not (isinstance(item, Tree) and item.data.startswith("template_")):
            continue
        tokens = [str(token) for token in _tokens(item)]
        if len(tokens) > 1 and tokens[1] == "~" and index > 0 and isinstance(result[index - 1], str):
            result[index - 1] = result[index - 1].rstrip()
        if len(tokens) > 1 and tokens[-2] == "~" and index + 1 < len(result) and isinstance(result[index + 1], str):
            result[index + 1] = result[index + 1].lstrip()
    return result


def _unescape_token(token: Token) -> str:
    if token.type == "ESCAPED_INTERPOLATION":
        return str(token)[1:]
    if token.type == "ESCAPED_DIRECTIVE":
        return str(token)[1:]
    return _ESCAPE_RE.sub(_unescape_match, str(token))


def _unescape_match(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "uU" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)


def _fold_directives(flat: list[Any], start: int) -> tuple[list[Any], int]:
    parts: list[Any] = []
    index = start
    while index < len(flat):
        item = flat[index]
        kind = item.data if isinstance(item, Tree) else None
        if kind in ("template_else", "template_endif", "template_endfor"):
            return parts, index
        if kind == "template_if_start":
            node, index = _fold_if(flat, index)
            parts.append(node)
        elif kind == "template_for_start":
            node, index = _fold_for(flat, index)
            parts.append(node)
        else:
            parts.append(item)
        index += 1
    return parts, index


def _fold_if(flat: list[Any], index: int) -> tuple[TemplateIf, int]:
    start = flat[index]
    then, index = _fold_directives(flat, index + 1)
    otherwise: list[Any] = []
    if index < len(flat) and flat[index].data == "template_else":
        otherwise, index = _fold_directives(flat, index + 1)
    condition = to_expr(child_trees(start)[0])
    return TemplateIf(condition, Template(tuple(then)), Template(tuple(otherwise)), line_of(start)), index


def _fold_for(flat: list[Any], index: int) -> tuple[TemplateFor, int]:
    start = flat[index]
    names = [str(_tokens(t)[0]) for t in child_trees(start) if t.data == "identifier"]
    collection = to_expr([t for t in child_trees(start) if t.data != "identifier"][0])
    body, index = _fold_directives(flat, index + 1)
    key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
    return TemplateFor(key_var, value_var, collection, Template(tuple(body)), line_of(start)), index


def _merge_strings(parts: list[Any]) -> list[Any]:
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def _heredoc(tree: Tree) -> Expr:
    text = str(_tokens(tree)[0])
    lines = text.split("\n")
    body_lines = lines[1:-2]
    if tree.data == "heredoc_template_trim":
        indents = [len(l) - len(l.lstrip()) for l in body_lines if l.strip()]
        cut = min(indents, default=0)
        body_lines = [l[cut:] for l in body_lines]
    body = "\n".join(body_lines) + ("\n" if body_lines else "")
    return scan_template(body, line_of(tree))


def scan_template(text: str, line: int, file: str = "<template>") -> Expr:
    """Split template text into literal parts, `${...}` expressions and `%{...}` directives."""
    flat: list[Any] = []
    position = 0
    while (match := _TEMPLATE_START.search(text, position)) is not None:
        start = match.start()
        if match.group(0) in ("$${", "%%{"):
            flat.append(text[position:start] + match.group(0)[1:])
            position = match.end()
            continue
        end = _closing_brace(text, match.end())
        flat.append(text[position:start])
        raw = text[match.end():end].strip()
        inner = raw.strip("~").strip()
        if match.group(0) == "${":
            flat.append(to_expr(expression_tree(inner, file, line)))
        else:
            flat.append(_directive(inner, file, line, raw.startswith("~"), raw.endswith("~")))
        position = end + 1
    flat.append(text[position:])
    parts, _ = _fold_directives(_apply_strip_markers(flat), 0)
    merged = _merge_strings(parts)
    if all(isinstance(part, str) for part in merged):
        return Literal("".join(merged), line)
    return Template(tuple(merged), line)


_TEMPLATE_START = re.compile(r"\$\$\{|%%\{|\$\{|%\{")


def _directive(text: str, file: str, line: int, strip_before: bool = False, strip_after: bool = False) -> Tree:
    """Return a directive as the Lark tree shape that `_fold_directives` reads, with its strip
    markers as tokens in the positions the parser puts them."""
    keyword, _, rest = text.partition(" ")
    start = [Token("DIRECTIVE_START", "%{"), Token("STRIP_MARKER", "~" if strip_before else "")]
    end = [Token("STRIP_MARKER", "~" if strip_after else ""), Token("RBRACE", "}")]
    if keyword in ("else", "endif", "endfor"):
        return Tree(f"template_{keyword}", [*start, *end])
    if keyword == "if":
        return Tree("template_if_start", [*start, expression_tree(rest, file, line), *end])
    if keyword == "for":
        names, separator, collection = rest.partition(" in ")
        if not separator:
            raise TerraformError(f"invalid template directive %{{{text}}}", file, line)
        identifiers = [Tree("identifier", [Token("NAME", name.strip())]) for name in names.split(",")]
        return Tree("template_for_start", [*start, *identifiers, expression_tree(collection, file, line), *end])
    raise TerraformError(f"unknown template directive %{{{text}}}", file, line)


def _closing_brace(text: str, index: int) -> int:
    """Return the index of the brace that closes a `${` or `%{`, skipping quoted strings."""
    depth = 1
    quoted = False
    while index < len(text):
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "{}":
            depth += 1 if char == "{" else -1
            if depth == 0:
                return index
        index += 1
    raise TerraformError("unclosed ${ or %{ in template")


def _tuple(tree: Tree) -> Expr:
    items = tuple(to_expr(child) for child in child_trees(tree) if child.data != "new_line_or_comment")
    return TupleExpr(items, line_of(tree))


def _object(tree: Tree) -> Expr:
    items = []
    for element in child_trees(tree):
        if element.data != "object_elem":
            continue
        key_tree, value_tree = child_trees(element)[0], child_trees(element)[-1]
        items.append((_object_key(key_tree), to_expr(value_tree)))
    return ObjectExpr(tuple(items), line_of(tree))


def _object_key(tree: Tree) -> Expr:
    inner = child_trees(tree)[0]
    if inner.data == "keyword":
        return Literal(str(_tokens(inner)[0]), line_of(tree))
    key = to_expr(inner)
    if isinstance(key, Name):
        return Literal(key.name, key.line)
    return key


def _identifier(tree: Tree) -> Expr:
    return Name(str(_tokens(tree)[0]), line_of(tree))


def _function_call(tree: Tree) -> Expr:
    names = [str(_tokens(t)[0]) for t in child_trees(tree) if t.data == "identifier"]
    arguments = first_child(tree, "arguments")
    args: tuple[Expr, ...] = ()
    expand = False
    if arguments is not None:
        args = tuple(to_expr(t) for t in child_trees(arguments) if t.data != "new_line_or_comment")
        expand = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in arguments.children)
    return Call("::".join(names), args, expand, line_of(tree))


def _traversal(tree: Tree) -> Expr:
    target_tree, step_tree = child_trees(tree)[0], child_trees(tree)[1]
    target = to_expr(target_tree)
    if tree.data in ("attr_splat_expr_term", "full_splat_expr_term"):
        steps = tuple(_step(target, t) for t in child_trees(step_tree))
        return Splat(target, steps, line_of(tree))
    return _step(target, step_tree)


def _step(target: Expr, tree: Tree) -> GetAttr | Index:
    line = line_of(tree)
    if tree.data == "get_attr":
        return GetAttr(target, label_text(child_trees(tree)[0]), line)
    if tree.data == "short_index":
        return Index(target, Literal(int(str(_tokens(tree)[-1]))), line)
    inner = [t for t in child_trees(tree) if t.data != "new_line_or_comment"][0]
    return Index(target, to_expr(inner), line)


def _conditional(tree: Tree) -> Expr:
    condition, then, otherwise = [to_expr(t) for t in child_trees(tree) if t.data != "new_line_or_comment"]
    return Conditional(condition, then, otherwise, line_of(tree))


def _binary_op(tree: Tree) -> Expr:
    left_tree, term = [t for t in child_trees(tree) if t.data != "new_line_or_comment"][:2]
    operator_tree, right_tree = [t for t in child_trees(term) if t.data != "new_line_or_comment"]
    return BinaryOp(str(_tokens(operator_tree)[0]), to_expr(left_tree), to_expr(right_tree), line_of(tree))


def _unary_op(tree: Tree) -> Expr:
    return UnaryOp(str(_tokens(tree)[0]), to_expr(child_trees(tree)[0]), line_of(tree))


def _for_expr(tree: Tree) -> Expr:
    intro = first_child(tree, "for_intro")
    names = [str(_tokens(t)[0]) for t in child_trees(intro) if t.data == "identifier"]
    collection = [to_expr(t) for t in child_trees(intro) if t.data not in ("identifier", "new_line_or_comment")][0]
    key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
    body = [t for t in child_trees(tree) if t.data not in ("for_intro", "for_cond", "new_line_or_comment")]
    cond_tree = first_child(tree, "for_cond")
    condition = to_expr([t for t in child_trees(cond_tree) if t.data != "new_line_or_comment"][0]) if cond_tree else None
    group = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in tree.children)
    if tree.data == "for_object_expr":
        return ForExpr(key_var, value_var, collection, to_expr(body[1]), to_expr(body[0]), condition, group, line_of(tree))
    return ForExpr(key_var, value_var, collection, to_expr(body[0]), None, condition, False, line_of(tree))


def _template_string(tree: Tree) -> Expr:
    text = str(_tokens(tree)[0])
    return Literal(text[2:-2].replace('\\\\"', '"'), line_of(tree))


_HANDLERS = {
    "expr_term": _expr_term,
    "literal_value": _literal_value,
    "int_lit": _number,
    "float_lit": _number,
    "string": _string,
    "template_string": _template_string,
    "heredoc_template": _heredoc,
    "heredoc_template_trim": _heredoc,
    "tuple": _tuple,
    "object": _object,
    "identifier": _identifier,
    "function_call": _function_call,
    "index_expr_term": _traversal,
    "get_attr_expr_term": _traversal,
    "attr_splat_expr_term": _traversal,
    "full_splat_expr_term": _traversal,
    "conditional": _conditional,
    "binary_op": _binary_op,
    "unary_op": _unary_op,
    "for_tuple_expr": _for_expr,
    "for_object_expr": _for_expr,
}


def child_trees(tree: Tree) -> list[Tree]:
    return [child for child in tree.children if isinstance(child, Tree)]


def _tokens(tree: Tree) -> list[Token]:
    return [child for child in tree.children if isinstance(child, Token)]


def first_child(tree: Tree | None, data: str) -> Tree | None:
    if tree is None:
        return None
    return next((child for child in child_trees(tree) if child.data == data), None)


def line_of(tree: Tree) -> int:
    """Return the tree's first line, or 0 when the parser recorded no position."""
    return getattr(tree.meta, "line", 0) if not tree.meta.empty else 0
