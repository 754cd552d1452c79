"""Python builds: a copy of the handler's source directory and the files the handler imports.

Source files are copied, not hard-linked, because many editors write a file in place, and a
hard link would then change the build that a worker is running. The service adds the packages
of the directory's requirements.txt (see `requirements.py`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from devd.build.locate import Entry
from devd.build.pyimports import project_imports
from devd.errors import BuildError

IGNORED_NAMES = frozenset({"__pycache__", ".venv", "node_modules", ".git"})
IGNORED_SUFFIXES = (".pyc",)


@dataclass(frozen=True)
class PythonBuildOutput:
    """What a Python build copied and read."""

    source_root: Path
    """The directory that was copied: the one the handler string is relative to."""
    inputs: frozenset[Path]
    """The handler file and the project modules it imports."""


def source_root(entry: Entry) -> Path:
    """Return the directory that the handler's module path is relative to.

    The handler "pkg/app.main" found at /p/src/pkg/app.py gives /p/src.
    """
    depth = len(entry.output_name.split("/"))
    return entry.source_file.parents[depth - 1]


def copy_ignore(excluded: Path) -> Callable[[str, list[str]], set[str]]:
    """Return a `shutil.copytree` ignore function for caches, environments and hidden directories.

    `excluded` is never copied either, so a state directory inside the source root is skipped.
    """

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored: set[str] = set()
        for name in names:
            path = Path(directory, name)
            hidden_directory = name.startswith(".") and path.is_dir()
            if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES) or hidden_directory:
                ignored.add(name)
            elif path == excluded:
                ignored.add(name)
        return ignored

    return ignore


def build_python(entry: Entry, write_dir: Path, excluded: Path) -> PythonBuildOutput:
    """Copy the handler's source root into `write_dir` and return the files the handler imports.

    Raises BuildError when the copy fails.
    """
    root = source_root(entry)
    try:
        shutil.copytree(
            root,
            write_dir,
            ignore=copy_ignore(excluded),
            ignore_dangling_symlinks=True,
        )
    except OSError as error:
        raise BuildError(f"copying {root} to {write_dir} failed: {error}") from error

    return PythonBuildOutput(source_root=root, inputs=project_imports(root, entry.source_file))
