"""Turn python-hcl2's Lark parse tree into devd's blocks and expression nodes."""

from __future__ import annotations

import re
from typing import Any, Iterator

import hcl2
from lark import Token, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedToken,
)

from devd.errors import TerraformError
from devd.terraform.expr import (
    BinaryOp,
    Block,
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


def parse_hcl(text: str, file: str) -> tuple[Block, ...]:
    """Parse HCL text into top-level blocks; raise TerraformError with the line on bad syntax."""
    try:
        tree = hcl2.parses_to_tree(text)
    except LarkError as error:
        raise TerraformError(f"invalid HCL syntax: {_describe_parse_error(error)}", file,
                             getattr(error, "line", None)) from None
    body = _first_tree(tree, "body")
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
    return _expr(_expression_tree(text, file, line))


def parse_template(text: str, file: str = "<template>", line: int = 0) -> Expr:
    """Parse template text (a heredoc body or a `templatefile` file) with its interpolations
    and `%{if}`/`%{for}` directives."""
    return _scan_template(text, line, file)


def _expression_tree(text: str, file: str, line: int) -> Tree:
    try:
        tree = hcl2.parses_to_tree(f"x = {text}\n")
    except LarkError:
        raise TerraformError(f"invalid expression {text!r}", file, line) from None
    attribute = _first_tree(_first_tree(tree, "body"), "attribute")
    return _trees(attribute)[-1]


def _body_blocks(body: Tree, file: str) -> Iterator[Block]:
    for child in _trees(body):
        if child.data == "block":
            yield _block(child, file)


def _block(tree: Tree, file: str) -> Block:
    parts = _trees(tree)
    body = parts[-1]
    head = [_label(part) for part in parts[:-1] if part.data != "new_line_or_comment"]
    attributes: dict[str, Expr] = {}
    blocks: list[Block] = []
    for child in _trees(body):
        if child.data == "attribute":
            name_tree, value_tree = _trees(child)[0], _trees(child)[-1]
            attributes[_label(name_tree)] = _expr(value_tree)
        elif child.data == "block":
            blocks.append(_block(child, file))
    return Block(head[0], tuple(head[1:]), attributes, tuple(blocks), file, _line(tree))


def _label(tree: Tree) -> str:
    if tree.data == "string":
        return "".join(str(part) if isinstance(part, str) else "" for part in _template_parts(tree))
    return str(_tokens(tree)[0])


def _expr(tree: Tree) -> Expr:
    handler = _HANDLERS.get(tree.data)
    if handler is None:
        raise TerraformError(f"unsupported HCL construct {tree.data!r}", None, _line(tree))
    return handler(tree)


def _expr_term(tree: Tree) -> Expr:
    inner = _trees(tree)
    if not inner:
        raise TerraformError("empty expression", None, _line(tree))
    return _expr(inner[0])


def _literal_value(tree: Tree) -> Expr:
    text = str(_tokens(tree)[0])
    return Literal({"true": True, "false": False, "null": None}[text], _line(tree))


def _number(tree: Tree) -> Expr:
    text = str(_tokens(tree)[0])
    value: Any = float(text) if any(c in text for c in ".eE") else int(text)
    return Literal(value, _line(tree))


def _string(tree: Tree) -> Expr:
    parts = _template_parts(tree)
    if all(isinstance(part, str) for part in parts):
        return Literal("".join(parts), _line(tree))
    return Template(tuple(parts), _line(tree))


def _template_parts(tree: Tree) -> list[Any]:
    """Return the parts of a quoted string, folding `%{if}`/`%{for}` directives into nodes."""
    flat: list[Any] = []
    for part in _trees(tree):
        for piece in part.children:
            if isinstance(piece, Token):
                flat.append(_unescape_token(piece))
            elif piece.data == "interpolation":
                flat.append(_expr(_trees(piece)[0]))
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
    condition = _expr(_trees(start)[0])
    return TemplateIf(condition, Template(tuple(then)), Template(tuple(otherwise)), _line(start)), index


def _fold_for(flat: list[Any], index: int) -> tuple[TemplateFor, int]:
    start = flat[index]
    names = [str(_tokens(t)[0]) for t in _trees(start) if t.data == "identifier"]
    collection = _expr([t for t in _trees(start) if t.data != "identifier"][0])
    body, index = _fold_directives(flat, index + 1)
    key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
    return TemplateFor(key_var, value_var, collection, Template(tuple(body)), _line(start)), index


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
    return _scan_template(body, _line(tree))


def _scan_template(text: str, line: int, file: str = "<template>") -> Expr:
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
            flat.append(_expr(_expression_tree(inner, file, line)))
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
        return Tree("template_if_start", [*start, _expression_tree(rest, file, line), *end])
    if keyword == "for":
        names, separator, collection = rest.partition(" in ")
        if not separator:
            raise TerraformError(f"invalid template directive %{{{text}}}", file, line)
        identifiers = [Tree("identifier", [Token("NAME", name.strip())]) for name in names.split(",")]
        return Tree("template_for_start", [*start, *identifiers, _expression_tree(collection, file, line), *end])
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
    items = tuple(_expr(child) for child in _trees(tree) if child.data != "new_line_or_comment")
    return TupleExpr(items, _line(tree))


def _object(tree: Tree) -> Expr:
    items = []
    for element in _trees(tree):
        if element.data != "object_elem":
            continue
        key_tree, value_tree = _trees(element)[0], _trees(element)[-1]
        items.append((_object_key(key_tree), _expr(value_tree)))
    return ObjectExpr(tuple(items), _line(tree))


def _object_key(tree: Tree) -> Expr:
    inner = _trees(tree)[0]
    if inner.data == "keyword":
        return Literal(str(_tokens(inner)[0]), _line(tree))
    key = _expr(inner)
    if isinstance(key, Name):
        return Literal(key.name, key.line)
    return key


def _identifier(tree: Tree) -> Expr:
    return Name(str(_tokens(tree)[0]), _line(tree))


def _function_call(tree: Tree) -> Expr:
    names = [str(_tokens(t)[0]) for t in _trees(tree) if t.data == "identifier"]
    arguments = _first_tree(tree, "arguments")
    args: tuple[Expr, ...] = ()
    expand = False
    if arguments is not None:
        args = tuple(_expr(t) for t in _trees(arguments) if t.data != "new_line_or_comment")
        expand = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in arguments.children)
    return Call("::".join(names), args, expand, _line(tree))


def _traversal(tree: Tree) -> Expr:
    target_tree, step_tree = _trees(tree)[0], _trees(tree)[1]
    target = _expr(target_tree)
    if tree.data in ("attr_splat_expr_term", "full_splat_expr_term"):
        steps = tuple(_step(target, t) for t in _trees(step_tree))
        return Splat(target, steps, _line(tree))
    return _step(target, step_tree)


def _step(target: Expr, tree: Tree) -> GetAttr | Index:
    line = _line(tree)
    if tree.data == "get_attr":
        return GetAttr(target, _label(_trees(tree)[0]), line)
    if tree.data == "short_index":
        return Index(target, Literal(int(str(_tokens(tree)[-1]))), line)
    inner = [t for t in _trees(tree) if t.data != "new_line_or_comment"][0]
    return Index(target, _expr(inner), line)


def _conditional(tree: Tree) -> Expr:
    condition, then, otherwise = [_expr(t) for t in _trees(tree) if t.data != "new_line_or_comment"]
    return Conditional(condition, then, otherwise, _line(tree))


def _binary_op(tree: Tree) -> Expr:
    left_tree, term = [t for t in _trees(tree) if t.data != "new_line_or_comment"][:2]
    operator_tree, right_tree = [t for t in _trees(term) if t.data != "new_line_or_comment"]
    return BinaryOp(str(_tokens(operator_tree)[0]), _expr(left_tree), _expr(right_tree), _line(tree))


def _unary_op(tree: Tree) -> Expr:
    return UnaryOp(str(_tokens(tree)[0]), _expr(_trees(tree)[0]), _line(tree))


def _for_expr(tree: Tree) -> Expr:
    intro = _first_tree(tree, "for_intro")
    names = [str(_tokens(t)[0]) for t in _trees(intro) if t.data == "identifier"]
    collection = [_expr(t) for t in _trees(intro) if t.data not in ("identifier", "new_line_or_comment")][0]
    key_var, value_var = (names[0], names[1]) if len(names) == 2 else (None, names[0])
    body = [t for t in _trees(tree) if t.data not in ("for_intro", "for_cond", "new_line_or_comment")]
    cond_tree = _first_tree(tree, "for_cond")
    condition = _expr([t for t in _trees(cond_tree) if t.data != "new_line_or_comment"][0]) if cond_tree else None
    group = any(isinstance(t, Token) and t.type == "ELLIPSIS" for t in tree.children)
    if tree.data == "for_object_expr":
        return ForExpr(key_var, value_var, collection, _expr(body[1]), _expr(body[0]), condition, group, _line(tree))
    return ForExpr(key_var, value_var, collection, _expr(body[0]), None, condition, False, _line(tree))


def _template_string(tree: Tree) -> Expr:
    text = str(_tokens(tree)[0])
    return Literal(text[2:-2].replace('\\\\"', '"'), _line(tree))


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


def _trees(tree: Tree) -> list[Tree]:
    return [child for child in tree.children if isinstance(child, Tree)]


def _tokens(tree: Tree) -> list[Token]:
    return [child for child in tree.children if isinstance(child, Token)]


def _first_tree(tree: Tree | None, data: str) -> Tree | None:
    if tree is None:
        return None
    return next((child for child in _trees(tree) if child.data == data), None)


def _line(tree: Tree) -> int:
    return getattr(tree.meta, "line", 0) if not tree.meta.empty else 0


def parse_attributes(text: str, file: str) -> dict[str, Expr]:
    """Parse a `.tfvars` file: top-level attributes only."""
    try:
        tree = hcl2.parses_to_tree(text)
    except LarkError as error:
        raise TerraformError(f"invalid HCL syntax: {_describe_parse_error(error)}", file,
                             getattr(error, "line", None)) from None
    attributes: dict[str, Expr] = {}
    for child in _trees(_first_tree(tree, "body")):
        if child.data == "attribute":
            attributes[_label(_trees(child)[0])] = _expr(_trees(child)[-1])
    return attributes
