"""Read a module directory's `.tf` and `.tf.json` files into blocks, cached per file."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from devd.errors import TerraformError
from devd.inventory import Problem
from devd.terraform.expr import Block, Expr, Literal, ObjectExpr, TupleExpr
from devd.terraform.syntax import parse_expression, parse_hcl

log = logging.getLogger("devd.terraform")

_INTERPOLATION = re.compile(r"\$\{")
_LABEL_DEPTH = {"resource": 2, "data": 2, "module": 1, "variable": 1, "output": 1,
                "provider": 1, "locals": 0, "terraform": 0}


@dataclass(frozen=True)
class ParsedFile:
    """The blocks of one file, or the problem that kept it from being read."""

    blocks: tuple[Block, ...]
    problem: Problem | None = None


class FileCache:
    """Parse results keyed by path, reused while the file's size and mtime stay the same."""

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[tuple[int, int], ParsedFile]] = {}

    def parse(self, path: Path, display: str) -> ParsedFile:
        """Return the parsed file, parsing again only when it changed on disk."""
        try:
            stat = path.stat()
        except OSError as error:
            return ParsedFile((), Problem(f"cannot read file: {error.strerror}", display))
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._entries.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        parsed = _parse_file(path, display)
        self._entries[path] = (stamp, parsed)
        return parsed


def module_files(directory: Path) -> list[Path]:
    """Return the configuration files of one module directory, overrides last, as Terraform does."""
    files = [p for p in directory.iterdir() if p.is_file() and p.name.endswith((".tf", ".tf.json"))]
    files = [p for p in files if not p.name.startswith(".")]
    return sorted(files, key=lambda p: (is_override(p), p.name))


def is_override(path: Path) -> bool:
    """Return True for Terraform override files: `override.tf`, `*_override.tf` and their JSON forms."""
    stem = path.name.removesuffix(".json").removesuffix(".tf")
    return stem == "override" or stem.endswith("_override")


def _parse_file(path: Path, display: str) -> ParsedFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return ParsedFile((), Problem(f"cannot read file: {error}", display))
    try:
        if path.name.endswith(".json"):
            return ParsedFile(_json_blocks(json.loads(text), display, text))
        return ParsedFile(parse_hcl(text, display))
    except TerraformError as error:
        log.warning("skipping %s: %s", display, error)
        return ParsedFile((), Problem(error.detail, display, error.line, syntax=True))
    except json.JSONDecodeError as error:
        return ParsedFile((), Problem(f"invalid JSON: {error.msg}", display, error.lineno, syntax=True))


_JSON_COMMENT = "//"
"""A property name that Terraform ignores in `.tf.json` objects, so generated files can carry a comment."""


def _json_blocks(document: dict[str, Any], file: str, text: str = "") -> tuple[Block, ...]:
    blocks: list[Block] = []
    for block_type, content in document.items():
        if block_type == _JSON_COMMENT:
            continue
        depth = _LABEL_DEPTH.get(block_type, 0)
        for item in content if isinstance(content, list) else [content]:
            blocks.extend(_json_labelled(block_type, (), item, depth, file))
    return tuple(replace(block, line=_json_line(text, block)) for block in blocks)


def _json_line(text: str, block: Block) -> int:
    """Return the line of a block's last label in the JSON text, or 0 when it is not found.

    JSON parsing keeps no positions, so the label's first quoted occurrence as a key is used instead.
    """
    if not block.labels:
        return 0
    match = re.search(re.escape(json.dumps(block.labels[-1])) + r"\s*:", text)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def _json_labelled(block_type: str, labels: tuple[str, ...], content: Any, depth: int, file: str) -> list[Block]:
    if depth == 0:
        items = content if isinstance(content, list) else [content]
        return [_json_block(block_type, labels, item, file) for item in items]
    blocks: list[Block] = []
    for label, inner in content.items():
        if label == _JSON_COMMENT:
            continue
        blocks.extend(_json_labelled(block_type, labels + (label,), inner, depth - 1, file))
    return blocks


def _json_block(block_type: str, labels: tuple[str, ...], content: dict[str, Any], file: str) -> Block:
    attributes: dict[str, Expr] = {}
    nested: list[Block] = []
    for name, value in content.items():
        if name == _JSON_COMMENT:
            continue
        if isinstance(value, dict) and name in ("environment", "lifecycle", "source"):
            nested.append(_json_block(name, (), value, file))
        else:
            attributes[name] = json_value_expr(value, file)
    return Block(block_type, labels, attributes, tuple(nested), file, 0)


def json_value_expr(value: Any, file: str) -> Expr:
    """Return the expression that a `.tf.json` value stands for (strings may interpolate)."""
    if isinstance(value, str):
        if not _INTERPOLATION.search(value):
            return Literal(value)
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return parse_expression(f'"{escaped}"', file)
    if isinstance(value, list):
        return TupleExpr(tuple(json_value_expr(item, file) for item in value))
    if isinstance(value, dict):
        return ObjectExpr(tuple((Literal(k), json_value_expr(v, file)) for k, v in value.items()))
    return Literal(value)
