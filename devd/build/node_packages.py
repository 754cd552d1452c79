"""Production dependencies that a Node bundle leaves external and loads from `node_modules`.

The user names the packages to leave out of the bundle (native addons such as `sharp`, or
packages that read their own files at run time). The ones listed in `dependencies` of the
handler's nearest package.json are copied, with their own dependencies, into
`<task root>/node_modules/`, where Node finds them from the bundle as Lambda would. An
external package that the package.json does not list, such as one a Lambda layer provides,
stays external and is not copied. `@aws-sdk/*` packages are never copied, because the Lambda
Node.js runtimes include AWS SDK for JavaScript v3.

Packages are found as Node finds them: in `node_modules` of the requiring directory and of
each directory above it, through symbolic links (npm workspaces, pnpm).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import deque
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Mapping, Sequence

from devd.build.esbuild_options import EXTERNAL_PACKAGES
from devd.errors import BuildError, ConfigError
from devd.inventory import Function

logger = logging.getLogger("devd.build")

NodeExternals = Mapping[str, Sequence[str]] | Sequence[str]
"""Package names for every Node function, or function name patterns mapped to package names."""

ExternalsTable = tuple[tuple[str, tuple[str, ...]], ...]
"""Function name patterns (fnmatch) and the package names they mark external, in order."""


@dataclass(frozen=True)
class Placement:
    """One package directory and where it goes in the task root."""

    source: Path
    """The package's directory, symbolic links resolved."""
    target: str
    """Its path relative to the task root, such as "node_modules/@scope/name"."""


@dataclass(frozen=True)
class NodePackages:
    """The packages one Node build copies, and the package.json that selected them."""

    manifest: Path | None
    placements: tuple[Placement, ...] = ()


def externals_table(value: NodeExternals) -> ExternalsTable:
    """Return `node_externals` as (pattern, names) pairs; a plain list applies to every function.

    Raises ConfigError for a string where a list is expected.
    """
    if isinstance(value, str):
        raise ConfigError(f"node_externals must be a list of package names, got {value!r}")
    if isinstance(value, Mapping):
        pairs = list(value.items())
    else:
        pairs = [("*", value)] if value else []

    table = []
    for pattern, names in pairs:
        if isinstance(names, str):
            raise ConfigError(
                f"node_externals[{pattern!r}] must be a list of package names, got {names!r}"
            )
        table.append((pattern, tuple(names)))
    return tuple(table)


def externals_for(function: Function, table: ExternalsTable) -> tuple[str, ...]:
    """Return the package names a function leaves external, from every pattern that matches.

    A pattern matches the function's name or its Terraform address.
    """
    names: list[str] = []
    for pattern, packages in table:
        if fnmatchcase(function.name, pattern) or fnmatchcase(function.address, pattern):
            names += [name for name in packages if name not in names]
    return tuple(names)


def is_runtime_provided(name: str) -> bool:
    """Return whether the Lambda Node.js runtime provides a package (the `@aws-sdk/*` ones)."""
    return any(fnmatchcase(name, pattern) for pattern in EXTERNAL_PACKAGES)


def nearest_package_json(start: Path, stop: Path) -> Path | None:
    """Return the first package.json in `start` or a directory above it, up to `stop`."""
    for directory in (start, *start.parents):
        candidate = directory / "package.json"
        if candidate.is_file():
            return candidate
        if directory == stop:
            break
    return None


def read_manifest(path: Path) -> dict[str, object]:
    """Return the JSON object of a package.json; raise BuildError when it is not one."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BuildError(f"cannot read {path}: {error}: fix the file") from error
    if not isinstance(value, dict):
        raise BuildError(f"{path} does not contain a JSON object: fix the file")
    return value


def dependency_names(manifest: Mapping[str, object], field: str) -> list[str]:
    """Return the package names of one dependency field, such as "dependencies"."""
    value = manifest.get(field)
    return list(value) if isinstance(value, dict) else []


def resolve_package(name: str, start: Path) -> Path | None:
    """Return the directory Node loads package `name` from when required from `start`."""
    for directory in (start, *start.parents):
        if directory.name == "node_modules":
            continue
        candidate = directory / "node_modules" / name
        if (candidate / "package.json").is_file():
            return candidate
    return None


def plan_node_packages(
    names: Sequence[str], entry_dir: Path, manifest_path: Path | None
) -> NodePackages:
    """Return the packages to copy for the external `names` of a handler in `entry_dir`.

    `manifest_path` is the handler's nearest package.json (see `nearest_package_json`).
    Raises BuildError when a package that must be copied, or one of its dependencies, is not
    installed.
    """
    if manifest_path is None:
        logger.info(
            "no package.json above %s: external packages %s are not copied", entry_dir, names
        )
        return NodePackages(None)

    listed = set(dependency_names(read_manifest(manifest_path), "dependencies"))
    copied = [name for name in names if name in listed and not is_runtime_provided(name)]
    left = [name for name in names if name not in copied]
    if left:
        logger.debug(
            "external packages %s are not in dependencies of %s: not copied", left, manifest_path
        )
    placements = _closure(copied, entry_dir, manifest_path)
    return NodePackages(manifest_path, placements)


def _closure(names: Sequence[str], entry_dir: Path, manifest_path: Path) -> tuple[Placement, ...]:
    """Return the placements of `names` and of every dependency they load, transitively."""
    placements: dict[str, Placement] = {}
    visited: set[Path] = set()
    queue: deque[tuple[str, Path, Path, bool]] = deque(
        (name, entry_dir, manifest_path, False) for name in names
    )
    while queue:
        name, start, required_by, optional = queue.popleft()
        found = resolve_package(name, start)
        if found is None:
            if optional:
                continue
            raise BuildError(_missing_message(name, required_by, start))

        source = found.resolve()
        if source in visited:
            continue
        visited.add(source)
        _place(name, source, placements)

        manifest = read_manifest(source / "package.json")
        for dependency in dependency_names(manifest, "dependencies"):
            if not is_runtime_provided(dependency):
                queue.append((dependency, source, source / "package.json", False))
        for dependency in dependency_names(manifest, "optionalDependencies"):
            if not is_runtime_provided(dependency):
                queue.append((dependency, source, source / "package.json", True))
    return tuple(placements.values())


def _place(name: str, source: Path, placements: dict[str, Placement]) -> None:
    """Add a package at the top of `node_modules`, unless a copied package already contains it."""
    if any(source.is_relative_to(placed.source) for placed in placements.values()):
        return
    existing = placements.get(name)
    if existing is not None:
        # NOTE: two versions of one package outside each other's directories share one
        # top-level place, so the first found is copied and the other is not.
        logger.warning(
            "packages %s and %s are both named %s: copying only the first",
            existing.source,
            source,
            name,
        )
        return
    placements[name] = Placement(source, f"node_modules/{name}")


def _missing_message(name: str, required_by: Path, start: Path) -> str:
    return (
        f'package "{name}" (a dependency in {required_by}) is not installed in any '
        f"node_modules from {start} upwards: run `npm install` in {required_by.parent}"
    )


def copy_node_packages(packages: NodePackages, task_root: Path) -> None:
    """Copy the planned packages into `task_root`, leaving out `node_modules/.bin` links.

    Files are copied, not hard-linked, because a package manager may rewrite files of the
    project's node_modules in place.
    """
    for placement in packages.placements:
        target = task_root / placement.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(
            placement.source,
            target,
            ignore=_ignore_bin_links,
            ignore_dangling_symlinks=True,
            dirs_exist_ok=True,
        )


def _ignore_bin_links(directory: str, names: list[str]) -> set[str]:
    if Path(directory).name == "node_modules" and ".bin" in names:
        return {".bin"}
    return set()
