"""Find the source file that a Lambda handler string names.

A handler string is `path/to/file.export`: the part before the last dot names the file without
its extension and the part after it names the exported function. Terraform often packages a
build output directory (such as `.esbuild`) rather than the sources, so the search also looks
beside that directory and at the project root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devd.errors import BuildError
from devd.inventory import Function

TYPESCRIPT_EXTENSIONS = (".ts", ".mts", ".cts", ".tsx")
JAVASCRIPT_EXTENSIONS = (".js", ".mjs", ".cjs")
PYTHON_EXTENSIONS = (".py",)


@dataclass(frozen=True)
class Entry:
    """The source file of one handler and the names its build output uses."""

    source_file: Path
    """Absolute path of the handler's source file."""
    language: str
    """"node" or "python", as `Function.language` returns it."""
    output_name: str
    """Handler path without extension, relative to the task root, such as "src/handler"."""
    handler_export: str
    """Name of the exported handler function, such as "main"."""


def split_handler(handler: str) -> tuple[str, str]:
    """Split a handler string into its file path and its export name, at the last dot.

    Raises BuildError when either part is empty, or when the file path leaves the code
    directory (Lambda resolves it inside the task root, so it cannot be absolute or use "..").
    """
    module, dot, export = handler.strip().rpartition(".")
    module = module.removeprefix("./")
    if not dot or not module or not export or module.endswith("/"):
        raise BuildError(
            f'invalid handler "{handler}": expected "path/to/file.export", '
            'such as "src/handler.main"'
        )
    if module.startswith("/") or ".." in module.split("/"):
        raise BuildError(
            f'invalid handler "{handler}": its file path points outside the function\'s code directory. '
            'Write it relative to that directory, such as "src/handler.main"'
        )
    return module, export


def module_path(module: str, language: str) -> str:
    """Return the file path, without extension, of a handler's module part.

    Python handlers may name their module with dots ("pkg.app"), as the Python runtime
    imports the module by name; Node handlers name a file path.
    """
    if language == "python":
        return module.replace(".", "/")
    return module


def candidate_files(
    module: str, language: str, code_dir: Path | None, project_root: Path
) -> list[Path]:
    """Return the files that could hold a handler's module, in search order.

    TypeScript files come before JavaScript files in every directory, because a build output
    directory often still holds a bundle from an earlier build (`handler.js`) under the same
    path as the TypeScript source at the project root (`handler.ts`).
    """
    relative = module_path(module, language)
    directories = search_directories(code_dir, project_root)
    if language == "python":
        groups: tuple[tuple[str, ...], ...] = (PYTHON_EXTENSIONS,)
    else:
        groups = (TYPESCRIPT_EXTENSIONS, JAVASCRIPT_EXTENSIONS)

    candidates: list[Path] = []
    for extensions in groups:
        for directory in directories:
            for extension in extensions:
                candidates.append(directory / f"{relative}{extension}")
    return candidates


def search_directories(code_dir: Path | None, project_root: Path) -> list[Path]:
    """Return `code_dir`, its parent (when inside the project) and the project root, once each."""
    directories: list[Path] = []
    if code_dir is not None:
        directories.append(code_dir)
        parent = code_dir.parent
        if parent == project_root or parent.is_relative_to(project_root):
            directories.append(parent)
    directories.append(project_root)

    unique: list[Path] = []
    for directory in directories:
        if directory not in unique:
            unique.append(directory)
    return unique


def locate_entry(function: Function, project_root: Path) -> Entry:
    """Return the handler source file of a function.

    Raises BuildError, listing the paths it tried, when the language is not Node or Python,
    the handler string is invalid, or no candidate file exists.
    """
    language = function.language
    if language not in ("node", "python"):
        raise BuildError(
            f"{function.address}: runtime {function.runtime!r} is not supported: "
            "devd builds nodejs*, python* and provided* (custom runtime) functions"
        )

    module, export = split_handler(function.handler)
    root = project_root.resolve()
    code_dir = Path(function.code_dir).resolve() if function.code_dir else None
    candidates = candidate_files(module, language, code_dir, root)

    for candidate in candidates:
        if candidate.is_file():
            return Entry(
                source_file=candidate,
                language=language,
                output_name=module_path(module, language),
                handler_export=export,
            )

    raise BuildError(missing_source_message(function, candidates))


def missing_source_message(function: Function, candidates: list[Path]) -> str:
    """Return the error for a handler whose source file was not found."""
    where = f" ({function.file}:{function.line})" if function.file and function.line else ""
    tried = "\n".join(f"  {candidate}" for candidate in candidates)
    return (
        f'{function.address}: source file for handler "{function.handler}" not found. '
        f"Tried:\n{tried}\n"
        f"Fix `handler`{where} or the function's source directory."
    )
