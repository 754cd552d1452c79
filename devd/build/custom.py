"""Builds of custom runtime functions (`provided.al2023`, `provided.al2`): a copy of the code.

Lambda runs the executable `bootstrap` at the root of such a function's package, and that
executable speaks the Runtime API itself (a Go or Rust binary, or a script). devd does not
compile it: the project's own build writes `bootstrap` into the directory that Terraform
packages, and devd copies that directory, so a new binary is a change like any other.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from devd.build.python import copy_ignore
from devd.errors import BuildError
from devd.inventory import Function
from devd.runtime.launch import CUSTOM_BOOTSTRAP

MAX_INPUT_FILES = 10_000
"""Files of a code directory that a build records as inputs at most; later files are not
watched for changes."""


def build_custom(function: Function, write_dir: Path, excluded: Path) -> frozenset[Path]:
    """Copy the function's code directory into `write_dir` and return the copied files.

    Raises BuildError when the function has no code directory, or the directory has no
    executable `bootstrap`, or the copy fails.
    """
    if not function.code_dir:
        raise BuildError(
            f"{function.address}: devd cannot tell which directory Terraform packages for this custom "
            "runtime. Package it with an archive_file data source (source_dir) or source_path."
        )
    code_dir = Path(function.code_dir)
    check_bootstrap(function, code_dir)

    try:
        shutil.copytree(code_dir, write_dir, ignore=copy_ignore(excluded), ignore_dangling_symlinks=True)
    except OSError as error:
        raise BuildError(f"copying {code_dir} to {write_dir} failed: {error}") from error
    return frozenset(_files_under(code_dir, excluded))


def check_bootstrap(function: Function, code_dir: Path) -> None:
    """Raise BuildError unless `code_dir/bootstrap` is an executable file."""
    bootstrap = code_dir / CUSTOM_BOOTSTRAP
    if not bootstrap.is_file():
        raise BuildError(
            f"{function.address}: runtime {function.runtime} runs the executable {CUSTOM_BOOTSTRAP!r} at the root "
            f"of its package, and {bootstrap} does not exist. Build it there (for Go: GOOS=linux go build "
            f"-o {bootstrap} .), then save again."
        )
    if not os.access(bootstrap, os.X_OK):
        raise BuildError(f"{function.address}: {bootstrap} is not executable. Run `chmod +x {bootstrap}`.")


def _files_under(root: Path, excluded: Path) -> list[Path]:
    files: list[Path] = []
    for directory, names, file_names in os.walk(root):
        names[:] = [name for name in names if not name.startswith(".") and Path(directory, name) != excluded]
        files.extend(Path(directory, name) for name in file_names)
        if len(files) >= MAX_INPUT_FILES:
            return files[:MAX_INPUT_FILES]
    return files
