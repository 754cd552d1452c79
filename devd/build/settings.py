"""The `[build]` table of devd.toml (or `[tool.devd.build]` in pyproject.toml), checked and typed.

    [build]
    concurrency = 4                   # builds at a time; default: the number of CPUs
    node_externals = ["sharp"]        # packages every Node function leaves out of its bundle

    [build.node_externals]            # or: per function name or address pattern
    "image-*" = ["sharp"]

    [[build.commands]]                # a project's own build, for matching functions
    functions = "*"                   # fnmatch pattern on the function name or address
    run = "npm run build:dev"         # a string for /bin/sh -c, or a list of arguments
    cwd = "."                         # where it runs; default: the project root
    output = ".esbuild"               # the directory it writes, copied into each build
    inputs = ["src/**/*.ts", "package.json"]  # files whose change rebuilds
    timeout = 300                     # seconds; default 300

Paths are relative to the project root. The first command whose pattern matches a function
builds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from devd.build.command import DEFAULT_TIMEOUT_SECONDS, UserCommand
from devd.build.node_packages import ExternalsTable, externals_table
from devd.errors import ConfigError

_BUILD_KEYS = ("commands", "concurrency", "node_externals")
_COMMAND_KEYS = ("cwd", "functions", "inputs", "output", "run", "timeout")


@dataclass(frozen=True)
class BuildSettings:
    """What the build service takes from the settings file."""

    node_externals: ExternalsTable = ()
    user_commands: tuple[UserCommand, ...] = ()
    concurrency: int | None = None
    """Builds at a time, or None for the number of CPUs."""


def parse_build_settings(
    table: Mapping[str, Any], project_root: Path, source: str = "devd.toml"
) -> BuildSettings:
    """Return the settings of a `[build]` table; raise ConfigError naming the invalid value."""
    _reject_unknown(table, _BUILD_KEYS, source, "build")

    concurrency = table.get("concurrency")
    if concurrency is not None and (type(concurrency) is not int or concurrency < 1):
        raise ConfigError(
            f"{source}: build.concurrency must be a whole number of 1 or more, got {concurrency!r}"
        )

    externals_value = table.get("node_externals", [])
    if not isinstance(externals_value, (list, dict)) or not _all_names(externals_value):
        raise ConfigError(
            f"{source}: build.node_externals must be a list of package names or a table of "
            f"function patterns to lists of package names, got {externals_value!r}"
        )

    commands_value = table.get("commands", [])
    if not isinstance(commands_value, list):
        raise ConfigError(
            f"{source}: build.commands must be an array of tables ([[build.commands]])"
        )
    commands = tuple(
        _parse_command(item, project_root, f"{source}: build.commands[{index}]")
        for index, item in enumerate(commands_value)
    )
    return BuildSettings(externals_table(externals_value), commands, concurrency)


def _all_names(value: list[Any] | dict[str, Any]) -> bool:
    lists = list(value.values()) if isinstance(value, dict) else [value]
    return all(
        isinstance(names, list) and all(isinstance(name, str) for name in names) for names in lists
    )


def _parse_command(item: Any, project_root: Path, where: str) -> UserCommand:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a table, got {item!r}")
    _reject_unknown(item, _COMMAND_KEYS, where, "")
    for key in ("functions", "run", "output"):
        if key not in item:
            raise ConfigError(f"{where} has no `{key}`: set it")

    run = item["run"]
    if isinstance(run, list) and all(isinstance(part, str) for part in run):
        command: tuple[str, ...] | str = tuple(run)
    elif isinstance(run, str):
        command = run
    else:
        raise ConfigError(f"{where}.run must be a string or a list of strings, got {run!r}")

    inputs = item.get("inputs", [])
    if not isinstance(inputs, list) or not all(isinstance(pattern, str) for pattern in inputs):
        raise ConfigError(f"{where}.inputs must be a list of glob patterns, got {inputs!r}")
    timeout = item.get("timeout", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ConfigError(f"{where}.timeout must be a number of seconds, got {timeout!r}")
    for key in ("functions", "output", "cwd"):
        if key in item and not isinstance(item[key], str):
            raise ConfigError(f"{where}.{key} must be a string, got {item[key]!r}")

    try:
        parsed = UserCommand(
            pattern=item["functions"],
            command=command,
            cwd=Path(item.get("cwd", ".")),
            output_dir=Path(item["output"]),
            inputs=tuple(inputs),
            timeout=float(timeout),
        )
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None
    return parsed.resolved(project_root)


def _reject_unknown(
    table: Mapping[str, Any], known: tuple[str, ...], where: str, prefix: str
) -> None:
    for key in table:
        if key not in known:
            name = f"{prefix}.{key}" if prefix else key
            raise ConfigError(
                f"{where}: unknown setting {name!r}; known settings: {', '.join(known)}"
            )
