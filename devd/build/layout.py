"""Where builds go: one directory per function and one directory per build generation in it.

    <state_dir>/build/<function dir>/<generation>/      the files a worker loads
    <state_dir>/build/<function dir>/<generation>.zip   the same files as Lambda deploys them
    <state_dir>/build/<function dir>/.partial-<generation>/  a build being written
    <state_dir>/build/<function dir>/staging/           esbuild's outdir (nothing is written)

A build writes its partial directory and its zip, then renames the directory into place once
both are complete, so a generation directory is either complete or absent, and its zip exists
when it does. The zip sits beside the directory, not in it, so a worker never sees it among
its task root's files. The staging and partial directories sit at the same
depth as the generation directories, so the relative source paths that esbuild writes into
source maps stay valid in every one of them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path

from devd.inventory import Function

logger = logging.getLogger("devd.build")

KEEP_GENERATIONS = 3
STAGING_DIR = "staging"
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def address_digest(address: str) -> str:
    """Return a short, stable digest of a Terraform address."""
    return hashlib.sha256(address.encode()).hexdigest()[:8]


def function_dir_name(function: Function) -> str:
    """Return a file name for a function: its name made safe, then a digest of its address.

    The digest keeps two functions apart when their names are equal or become equal once
    made safe (names from `count` or from one module used twice).
    """
    safe = _UNSAFE_CHARACTERS.sub("_", function.name).strip("._") or "function"
    return f"{safe[:64]}-{address_digest(function.address)}"


def generation_dir(function_dir: Path, generation: int) -> Path:
    """Return the directory of one complete build generation."""
    return function_dir / str(generation)


def partial_dir(function_dir: Path, generation: int) -> Path:
    """Return the directory that a build writes before it becomes a generation directory."""
    return function_dir / f".partial-{generation}"


def zip_path(function_dir: Path, generation: int) -> Path:
    """Return the zip file of one build generation."""
    return function_dir / f"{generation}.zip"


def publish(partial: Path, final: Path) -> None:
    """Move a finished build into place, replacing a directory of the same generation."""
    if final.exists():
        logger.warning("replacing the existing build directory %s", final)
        shutil.rmtree(final)
    partial.rename(final)


def generations(function_dir: Path) -> list[int]:
    """Return the generation numbers that have a directory, in ascending order."""
    if not function_dir.is_dir():
        return []
    numbers = [int(child.name) for child in function_dir.iterdir() if child.name.isdigit()]
    return sorted(numbers)


def prune_generations(function_dir: Path, current: int, keep: int = KEEP_GENERATIONS) -> list[Path]:
    """Delete old build directories of a function; return the deleted ones.

    Keeps `current` and the highest generations below it, `keep` in all, each with its zip.
    Generations above `current` are left from an earlier daemon run, whose numbering started
    over, so they go, and so do partial directories of builds that never finished and zips
    whose generation directory is gone.
    """
    numbers = generations(function_dir)
    kept = [number for number in numbers if number <= current][-keep:]
    stale = [generation_dir(function_dir, number) for number in numbers if number not in kept]
    stale += sorted(function_dir.glob(".partial-*"))
    kept_zips = {zip_path(function_dir, number) for number in kept}
    stale += sorted(path for path in function_dir.glob("*.zip") if path not in kept_zips)

    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale


def find_function_dir(build_root: Path, address: str) -> Path | None:
    """Return the directory of the function with this address, or None when it has none."""
    if not build_root.is_dir():
        return None
    suffix = f"-{address_digest(address)}"
    for child in build_root.iterdir():
        if child.is_dir() and child.name.endswith(suffix):
            return child
    return None
