"""Terraform's built-in functions that configurations around Lambda use.

Each function takes already evaluated arguments. The evaluator returns an Unknown before
calling one when any argument is unknown, so these see known values only. `try` and `can`
evaluate their arguments lazily and live in the evaluator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Callable

import yaml

from devd.terraform.values import EvalError, to_string, type_name


def _merge(*maps: Any) -> dict:
    merged: dict = {}
    for item in maps:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise EvalError(f"merge() takes maps or objects, got {type_name(item)}")
        merged.update(item)
    return merged


def _lookup(mapping: dict, key: str, *default: Any) -> Any:
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise EvalError(f"lookup() found no key {key!r} and no default was given")


def _flatten(items: list) -> list:
    flat: list = []
    for item in items:
        flat.extend(_flatten(item) if isinstance(item, list) else [item])
    return flat


def _format(spec: str, *args: Any) -> str:
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        verb = match.group(0)
        if verb == "%%":
            return "%"
        value = next(values)
        flags, kind = verb[1:-1], verb[-1]
        if kind == "q":
            return json.dumps(to_string(value))
        if kind == "v" and not isinstance(value, (str, int, float, bool)):
            return json.dumps(value, separators=(",", ":"))
        if kind == "t":
            return ("%" + flags + "s") % to_string(bool(value))
        if kind in "dxXob":
            return _format_integer(flags, kind, int(value))
        if kind in "feEgG":
            return ("%" + flags + kind) % float(value)
        return ("%" + flags + "s") % to_string(value)

    return re.sub(r"%%|%[-+ #0]*\d*(?:\.\d+)?[sdvqftxXobeEgG]", substitute, spec)


def _format_integer(flags: str, kind: str, number: int) -> str:
    """Format an integer verb as Go's fmt does: %d, %x, %X, %o and %b (binary)."""
    if kind != "b":
        return ("%" + flags + kind) % number
    width = int(re.sub(r"\D", "", flags) or 0)
    digits = format(number, "b")
    return digits.rjust(width, "0" if "0" in flags.lstrip("-+ #")[:1] else " ")


def _replace(text: str, search: str, replacement: str) -> str:
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        pattern = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", replacement)
        return re.sub(search[1:-1], pattern, text)
    return text.replace(search, replacement)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise EvalError("coalesce() found no non-null, non-empty argument")


def _element(items: list, index: int) -> Any:
    if not items:
        raise EvalError("element() cannot index an empty list")
    return items[int(index) % len(items)]


def _keys(mapping: dict) -> list:
    return sorted(mapping)


def _values(mapping: dict) -> list:
    return [mapping[key] for key in sorted(mapping)]


def _toset(items: list) -> list:
    unique: list = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return sorted(unique, key=lambda v: (type_name(v), str(v)))


def _length(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise EvalError(f"length() takes a string, list or map, got {type_name(value)}")


def _substr(text: str, offset: int, length: int) -> str:
    end = None if length == -1 else offset + length
    return text[offset:end]


def _tonumber(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EvalError(f"tonumber() cannot convert {value!r} to a number") from None
    return int(number) if number.is_integer() else number


def _tobool(value: Any) -> Any:
    if value in (True, False, None):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise EvalError(f"tobool() cannot convert {value!r} to a bool")


def _range(*args: Any) -> list:
    return list(range(*(int(arg) for arg in args)))


def _jsonencode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _file_functions(base_dir: Path) -> dict[str, Callable[..., Any]]:
    def resolve(path: str) -> Path:
        return (base_dir / path).resolve()

    def read(path: str) -> str:
        try:
            return resolve(path).read_text()
        except OSError as error:
            raise EvalError(f"file() cannot read {path!r}: {error.strerror}") from None

    def digest(path: str, algorithm: str) -> str:
        try:
            data = resolve(path).read_bytes()
        except OSError as error:
            raise EvalError(f"cannot read {path!r}: {error.strerror}") from None
        return base64.b64encode(hashlib.new(algorithm, data).digest()).decode()

    return {
        "file": read,
        "fileexists": lambda path: resolve(path).is_file(),
        "abspath": lambda path: str(resolve(path)),
        "filebase64sha256": lambda path: digest(path, "sha256"),
        "filemd5": lambda path: hashlib.md5(resolve(path).read_bytes()).hexdigest(),
        "templatefile": lambda path, variables: read(path),
    }


_PURE: dict[str, Callable[..., Any]] = {
    "merge": _merge,
    "lookup": _lookup,
    "concat": lambda *lists: [item for items in lists for item in items],
    "flatten": _flatten,
    "format": _format,
    "formatlist": lambda spec, *lists: [_format(spec, *row) for row in zip(*lists)],
    "join": lambda separator, items: separator.join(to_string(item) for item in items),
    "split": lambda separator, text: text.split(separator),
    "replace": _replace,
    "lower": lambda text: text.lower(),
    "upper": lambda text: text.upper(),
    "title": lambda text: text.title(),
    "trimspace": lambda text: text.strip(),
    "trimprefix": lambda text, prefix: text[len(prefix):] if text.startswith(prefix) else text,
    "trimsuffix": lambda text, suffix: text[: -len(suffix)] if suffix and text.endswith(suffix) else text,
    "trim": lambda text, chars: text.strip(chars),
    "substr": _substr,
    "startswith": lambda text, prefix: text.startswith(prefix),
    "endswith": lambda text, suffix: text.endswith(suffix),
    "contains": lambda items, value: value in items,
    "coalesce": _coalesce,
    "coalescelist": lambda *lists: next((items for items in lists if items), []),
    "compact": lambda items: [item for item in items if item not in (None, "")],
    "distinct": lambda items: [item for i, item in enumerate(items) if item not in items[:i]],
    "jsonencode": _jsonencode,
    "jsondecode": lambda text: json.loads(text),
    "yamldecode": lambda text: yaml.safe_load(text),
    "yamlencode": lambda value: yaml.safe_dump(value, sort_keys=True),
    "base64encode": lambda text: base64.b64encode(text.encode()).decode(),
    "base64decode": lambda text: base64.b64decode(text).decode(),
    "sha256": lambda text: hashlib.sha256(text.encode()).hexdigest(),
    "md5": lambda text: hashlib.md5(text.encode()).hexdigest(),
    "sha1": lambda text: hashlib.sha1(text.encode()).hexdigest(),
    "basename": os.path.basename,
    "dirname": os.path.dirname,
    "pathexpand": os.path.expanduser,
    "tomap": lambda value: dict(value),
    "tolist": lambda value: list(value),
    "toset": _toset,
    "tostring": lambda value: value if value is None else to_string(value),
    "tonumber": _tonumber,
    "tobool": _tobool,
    "keys": _keys,
    "values": _values,
    "length": _length,
    "element": _element,
    "index": lambda items, value: items.index(value),
    "zipmap": lambda keys, values: dict(zip(keys, values)),
    "slice": lambda items, start, end: items[int(start):int(end)],
    "reverse": lambda items: list(reversed(items)),
    "sort": lambda items: sorted(items),
    "range": _range,
    "max": lambda *numbers: max(numbers),
    "min": lambda *numbers: min(numbers),
    "abs": abs,
    "pow": lambda base, exponent: base ** exponent,
    "log": lambda number, base: math.log(number, base),
    "signum": lambda number: (number > 0) - (number < 0),
    "parseint": lambda text, base: int(text, int(base)),
    "ceil": lambda number: -int(-number // 1),
    "floor": lambda number: int(number // 1),
    "one": lambda items: items[0] if items else None,
    "sum": lambda items: sum(items),
    "regex": lambda pattern, text: _regex(pattern, text),
    "alltrue": lambda items: all(items),
    "anytrue": lambda items: any(items),
    "setunion": lambda *sets: _toset([item for items in sets for item in items]),
}


def _regex(pattern: str, text: str) -> Any:
    match = re.search(pattern, text)
    if match is None:
        raise EvalError(f"regex() pattern {pattern!r} does not match {text!r}")
    if match.groupdict():
        return match.groupdict()
    return list(match.groups()) if match.groups() else match.group(0)


def builtin_functions(base_dir: Path) -> dict[str, Callable[..., Any]]:
    """Return the function table, with file functions resolving paths from base_dir."""
    table = dict(_PURE)
    table.update(_file_functions(base_dir))
    return table
