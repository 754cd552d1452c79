"""Pure decisions of the engine: what a set of changed files means, and what an inventory change
requires. Nothing here touches the disk or a process, so each rule is tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

from devd.inventory import Function, Inventory

TERRAFORM_SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json")


@dataclass(frozen=True)
class BuildFacts:
    """Facts about a function's last build that change routing uses."""

    inputs: frozenset[Path] = frozenset()
    ok: bool = False


@dataclass(frozen=True)
class ChangePlan:
    """The work that a set of changed files requires."""

    reload_inventory: bool = False
    rebuild: frozenset[str] = frozenset()
    """Addresses of the functions whose code includes a changed file."""


@dataclass(frozen=True)
class InventoryDiff:
    """The difference between two inventories, by function address."""

    added: frozenset[str] = field(default_factory=frozenset)
    removed: frozenset[str] = field(default_factory=frozenset)
    changed: frozenset[str] = field(default_factory=frozenset)
    routes_changed: bool = False


def plan_changes(paths: Iterable[Path], infra_dir: Path, var_files: Iterable[Path],
                 functions: Iterable[Function], builds: Mapping[str, BuildFacts],
                 ignored: Iterable[Path] = ()) -> ChangePlan:
    """Decide which functions to rebuild and whether to re-read Terraform.

    A Terraform file under `infra_dir`, or a var file, re-reads the inventory. A file that a
    function's last good build read rebuilds that function. Before a function has built
    successfully its inputs are unknown, so any file under its code directory rebuilds it. A
    file in a Python code directory that no handler imports (data, templates) is packaged too,
    so it rebuilds every Python function of that directory. Files under `ignored` (the output
    directories of user build commands) never trigger anything, or a failing command would
    rebuild in a loop.
    """
    infra = infra_dir.resolve()
    watched_vars = {path.resolve() for path in var_files}
    reload_inventory = False
    rebuild: set[str] = set()
    functions = list(functions)
    skipped = [directory.resolve() for directory in ignored]
    for path in (p.resolve() for p in paths):
        if any(_is_under(path, directory) for directory in skipped):
            continue
        if path in watched_vars or (path.name.endswith(TERRAFORM_SUFFIXES) and _is_under(path, infra)):
            reload_inventory = True
            continue
        rebuild |= _functions_including(path, functions, builds)
    return ChangePlan(reload_inventory, frozenset(rebuild))


def _functions_including(path: Path, functions: list[Function], builds: Mapping[str, BuildFacts]) -> set[str]:
    matched: set[str] = set()
    for function in functions:
        facts = builds.get(function.address, BuildFacts())
        if path in facts.inputs:
            matched.add(function.address)
            continue
        code_dir = Path(function.code_dir) if function.code_dir else None
        in_code_dir = code_dir is not None and _is_under(path, code_dir)
        if not facts.ok and (in_code_dir or _is_near_inputs(path, facts.inputs)):
            matched.add(function.address)
        elif in_code_dir and function.language == "python" and path.suffix != ".py":
            matched.add(function.address)
        elif in_code_dir and function.language == "python" and not _imported_by_any(path, builds):
            matched.add(function.address)
    return matched


def _imported_by_any(path: Path, builds: Mapping[str, BuildFacts]) -> bool:
    return any(path in facts.inputs for facts in builds.values())


def _is_near_inputs(path: Path, inputs: frozenset[Path]) -> bool:
    """Return True when path sits in a directory of a failed build's inputs (a file it may need)."""
    return any(path.parent == known.parent for known in inputs)


def _is_under(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def diff_inventory(old: Inventory, new: Inventory) -> InventoryDiff:
    """Compare two inventories: functions added, removed, or changed in anything a build or
    worker uses (the source place of the definition does not count)."""
    before = {f.address: _comparable(f) for f in old.functions}
    after = {f.address: _comparable(f) for f in new.functions}
    changed = {address for address in before.keys() & after.keys() if before[address] != after[address]}
    return InventoryDiff(
        added=frozenset(after.keys() - before.keys()),
        removed=frozenset(before.keys() - after.keys()),
        changed=frozenset(changed),
        routes_changed=old.routes != new.routes,
    )


def _comparable(function: Function) -> Function:
    return replace(function, file=None, line=None, environment=dict(sorted(function.environment.items())))


def keeps_last_good(new: Inventory) -> bool:
    """Return True when a new inventory must not replace the old one: a file failed to parse,
    so applying it would drop everything that file defines."""
    return any(problem.syntax for problem in new.problems)


def watch_roots(infra_dir: Path, var_files: Iterable[Path], functions: Iterable[Function],
                builds: Mapping[str, BuildFacts]) -> set[tuple[Path, bool]]:
    """Return the (directory, recursive) pairs to watch: Terraform, code directories, and the
    directories of every build input outside them (shared libraries, sources of build output)."""
    roots: set[tuple[Path, bool]] = {(infra_dir.resolve(), True)}
    roots |= {(path.resolve().parent, False) for path in var_files}
    code_dirs = {Path(f.code_dir) for f in functions if f.code_dir}
    roots |= {(directory, True) for directory in code_dirs}
    for facts in builds.values():
        for path in facts.inputs:
            if code_dirs.isdisjoint((path, *path.parents)):
                roots.add((path.parent, False))
    return roots
