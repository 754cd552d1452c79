"""Procfile and `.env` parsing, port assignment and process environments, without I/O.

A Procfile has one `name: command` line per process, as foreman and honcho read it. Each
process gets `$PORT` = base + 100 * its index in the file, and its command runs as a shell
line through `/bin/sh -c`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from devd.errors import ConfigError

PROCFILE_NAME = "Procfile"
DOTENV_NAME = ".env"
DEFAULT_PORT_BASE = 5000
PORT_STEP = 100
MAX_PORT = 65535
SHELL = "/bin/sh"

_ENTRY = re.compile(r"^([A-Za-z0-9_-]+):[ \t]*(.*)$")
_NAME_PREFIX = re.compile(r"^([^:\s]*):")
_DOTENV_ASSIGNMENT = re.compile(r"^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)$")
_DOUBLE_QUOTE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


@dataclass(frozen=True)
class ProcfileEntry:
    """One process of a Procfile and the 1-based line it came from."""

    name: str
    command: str
    line: int


@dataclass(frozen=True)
class ProcessSpec:
    """Everything needed to start one Procfile process: its argv, environment and port."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    port: int


def parse_procfile(text: str, source: str = PROCFILE_NAME) -> tuple[ProcfileEntry, ...]:
    """Parse a Procfile into its entries, in file order.

    Blank lines and lines starting with `#` are skipped. Raises ConfigError, naming `source`
    and the line number, for a line that is not `name: command` and for a repeated name.
    """
    entries: list[ProcfileEntry] = []
    first_line: dict[str, int] = {}

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue

        entry = _parse_procfile_line(line, number, source)
        if entry.name in first_line:
            raise ConfigError(
                f"{source}:{number}: process name {entry.name!r} is already used on line "
                f"{first_line[entry.name]}. Give each process its own name."
            )
        first_line[entry.name] = number
        entries.append(entry)

    return tuple(entries)


def _parse_procfile_line(line: str, number: int, source: str) -> ProcfileEntry:
    match = _ENTRY.match(line)
    if match is None:
        prefix = _NAME_PREFIX.match(line)
        if prefix is not None:
            raise ConfigError(
                f"{source}:{number}: invalid process name {prefix.group(1)!r}. Use only letters, "
                "digits, '_' and '-' in a name."
            )
        raise ConfigError(
            f"{source}:{number}: invalid line {line!r}: expected 'name: command'. Add the name "
            "and a colon before the command, or comment the line out with '#'."
        )

    name, command = match.group(1), match.group(2).strip()
    if not command:
        raise ConfigError(
            f"{source}:{number}: process {name!r} has no command. Write the command after the colon."
        )
    return ProcfileEntry(name, command, number)


def parse_dotenv(text: str, source: str = DOTENV_NAME) -> dict[str, str]:
    """Parse `.env` text of `KEY=VALUE` lines into a dict; a later key wins.

    Supported: blank lines, `#` comments (also after an unquoted value, following a space),
    an `export ` prefix, and values in single quotes (taken literally) or double quotes
    (with the escapes \\n, \\r, \\t, \\", \\\\ and \\$). `$VAR` references are not expanded.
    Raises ConfigError naming `source`, the line number and the key, but never a value,
    because `.env` files often contain secrets.
    """
    values: dict[str, str] = {}

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue

        match = _DOTENV_ASSIGNMENT.match(line)
        if match is None:
            raise ConfigError(
                f"{source}:{number}: invalid line: expected KEY=VALUE, where KEY starts with a "
                "letter or '_' and contains only letters, digits and '_'. Fix the line or comment "
                "it out with '#'."
            )
        key, rest = match.group(1), match.group(2)
        values[key] = _dotenv_value(rest, key, number, source)

    return values


def _dotenv_value(rest: str, key: str, number: int, source: str) -> str:
    """Return the value of one assignment from the text after its `=`."""
    if rest[:1] not in ("'", '"'):
        # An unquoted value ends at a comment that follows whitespace.
        comment = re.search(r"\s#", rest)
        return (rest[: comment.start()] if comment else rest).strip()

    quote = rest[0]
    value, end = _read_quoted(rest, quote)
    # NOTE: a quoted value that continues on the next line is rejected, not joined.
    if end < 0:
        raise ConfigError(
            f"{source}:{number}: the value of {key} has no closing {quote}. Close the quote on the same line."
        )

    trailing = rest[end + 1 :].strip()
    if trailing and not trailing.startswith("#"):
        raise ConfigError(
            f"{source}:{number}: unexpected text after the quoted value of {key}. Remove it or "
            "start it with '#'."
        )
    return value


def _read_quoted(rest: str, quote: str) -> tuple[str, int]:
    """Return the text between the opening quote at index 0 and its closing quote, and the
    index of that closing quote (-1 when there is none)."""
    chars: list[str] = []
    index = 1
    while index < len(rest):
        char = rest[index]
        if char == quote:
            return "".join(chars), index
        if quote == '"' and char == "\\" and index + 1 < len(rest):
            following = rest[index + 1]
            chars.append(_DOUBLE_QUOTE_ESCAPES.get(following, "\\" + following))
            index += 2
            continue
        chars.append(char)
        index += 1
    return "".join(chars), -1


def port_base(explicit: int | None, dotenv: Mapping[str, str], source: str = DOTENV_NAME) -> int:
    """Return the first `$PORT`: `explicit` when given, else PORT from `.env`, else 5000."""
    if explicit is not None:
        base, origin = explicit, "the port base"
    elif "PORT" in dotenv:
        text = dotenv["PORT"]
        if not text.isdigit():
            raise ConfigError(
                f"{source}: PORT={text!r} is not a port number. Set it to a number such as 5000."
            )
        base, origin = int(text), f"PORT in {source}"
    else:
        return DEFAULT_PORT_BASE

    if not 1 <= base <= MAX_PORT:
        raise ConfigError(f"{origin} {base} is outside 1-{MAX_PORT}. Choose a port in that range.")
    return base


def assign_ports(entries: Sequence[ProcfileEntry], base: int) -> dict[str, int]:
    """Give each entry the port `base + 100 * index`, as foreman does for one instance each.

    Raises ConfigError when the last port would exceed 65535.
    """
    ports = {entry.name: base + PORT_STEP * index for index, entry in enumerate(entries)}
    if ports and max(ports.values()) > MAX_PORT:
        raise ConfigError(
            f"port base {base} leaves no port for all {len(entries)} Procfile processes, which "
            f"use ports {PORT_STEP} apart up to {MAX_PORT}. Choose a lower base."
        )
    return ports


def process_environment(
    base_env: Mapping[str, str], dotenv: Mapping[str, str], port: int, bin_dir: str
) -> dict[str, str]:
    """Return a Procfile process's environment.

    `.env` values override `base_env`, PORT overrides both, and `bin_dir` (the directory of
    the Python interpreter that runs devd) goes first on PATH, so that tools installed in
    devd's virtual environment are found. PYTHONUNBUFFERED=1 is set unless already set, so
    that the output of Python processes reaches the log as it is written.
    """
    env = dict(base_env)
    env.update(dotenv)
    env["PORT"] = str(port)

    path = [entry for entry in env.get("PATH", os.defpath).split(os.pathsep) if entry]
    env["PATH"] = os.pathsep.join([bin_dir, *(entry for entry in path if entry != bin_dir)])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def shell_argv(command: str) -> tuple[str, ...]:
    """Return the argv that runs a Procfile command line with the POSIX shell."""
    return (SHELL, "-c", command)


def plan_processes(
    entries: Sequence[ProcfileEntry],
    dotenv: Mapping[str, str],
    base_env: Mapping[str, str],
    base_port: int,
    bin_dir: str,
) -> tuple[ProcessSpec, ...]:
    """Return the argv, environment and port of each Procfile entry, in file order."""
    ports = assign_ports(entries, base_port)
    return tuple(
        ProcessSpec(
            name=entry.name,
            argv=shell_argv(entry.command),
            env=process_environment(base_env, dotenv, ports[entry.name], bin_dir),
            port=ports[entry.name],
        )
        for entry in entries
    )
