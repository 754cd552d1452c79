"""The project modules that a Python handler imports, directly or through other project modules.

Imports are read with `ast`, so only `import` and `from ... import` statements count, wherever
they appear in a module. A module is a project module when its file is under the source root
(`name.py` or `name/__init__.py`); standard library and third-party modules are not.
"""

from __future__ import annotations

import ast
import logging
import threading
from collections import deque
from pathlib import Path

logger = logging.getLogger("devd.build")

_PARSE_LOCK = threading.Lock()
"""Serialises `ast.parse`: builds run in threads, and CPython 3.11 shares the AST constructor's
recursion counter between threads, so two parses at once can fail with "SystemError: AST
constructor recursion depth mismatch" (python/cpython#106905)."""


def module_name(root: Path, file: Path) -> tuple[str, bool]:
    """Return the dotted module name of a file under `root` and whether it is a package."""
    parts = list(file.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def with_parents(name: str) -> set[str]:
    """Return a dotted name and every parent package name: "a.b.c" gives a, a.b and a.b.c."""
    parts = name.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)}


def relative_base(module: str, is_package: bool, level: int) -> str | None:
    """Return the package that a relative import of this `level` starts from.

    Returns None when the import goes above the source root.
    """
    package = module.split(".") if module else []
    if not is_package:
        package = package[:-1]
    drop = level - 1
    if drop > len(package):
        return None
    return ".".join(package[: len(package) - drop])


def imported_names(tree: ast.Module, module: str, is_package: bool) -> set[str]:
    """Return the dotted names that a module's import statements may load.

    `from a import b` yields both "a" and "a.b", because `b` may be a submodule; names that
    match no file are dropped later.
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names |= with_parents(alias.name)
        elif isinstance(node, ast.ImportFrom):
            names |= from_import_names(node, module, is_package)
    return names


def from_import_names(node: ast.ImportFrom, module: str, is_package: bool) -> set[str]:
    """Return the dotted names that one `from ... import ...` statement may load."""
    if node.level:
        base = relative_base(module, is_package, node.level)
        if base is None:
            return set()
        target = ".".join(part for part in (base, node.module) if part)
    else:
        target = node.module or ""

    names = with_parents(target) if target else set()
    for alias in node.names:
        if alias.name != "*":
            names.add(f"{target}.{alias.name}" if target else alias.name)
    return names


def module_file(root: Path, name: str) -> Path | None:
    """Return the file of a project module, or None when it is not under `root`."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def project_imports(root: Path, handler_file: Path) -> frozenset[Path]:
    """Return the handler file and every project module file that it imports, transitively.

    Importing the handler module also runs the `__init__.py` of each package above it, so
    those count too. A file with a syntax error is still returned, but its imports are not
    followed: the worker reports the error when it loads the handler.
    """
    handler_module, _ = module_name(root, handler_file)
    found: set[Path] = {handler_file}
    for name in sorted(with_parents(handler_module) - {handler_module}):
        package_file = module_file(root, name)
        if package_file is not None:
            found.add(package_file)

    queue: deque[Path] = deque(sorted(found))
    while queue:
        file = queue.popleft()
        try:
            source = file.read_bytes()
            with _PARSE_LOCK:
                tree = ast.parse(source, filename=str(file))
        except (SyntaxError, ValueError) as error:
            # NOTE: this parses with the Python that runs devd, so syntax newer than it (in a
            # handler for a newer runtime) stops the search here too.
            logger.warning("cannot follow the imports of %s: %s", file, error)
            continue

        module, is_package = module_name(root, file)
        for name in sorted(imported_names(tree, module, is_package)):
            target = module_file(root, name)
            if target is not None and target not in found:
                found.add(target)
                queue.append(target)
    return frozenset(found)
