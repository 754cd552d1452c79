"""Settings of `devd up`: command-line options over `devd.toml` (or `[tool.devd]` in
pyproject.toml) over defaults."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from devd.build.settings import BuildSettings, parse_build_settings
from devd.deploy.settings import DeploySettings, parse_deploy_settings, parse_packages
from devd.errors import ConfigError
from devd.runtime.options import DebugPlan, WorkerSettings, parse_worker_settings

DEFAULT_PORT = 3000


@dataclass(frozen=True)
class Settings:
    """Everything a daemon needs to know before it starts."""

    project_root: Path
    infra_dir: Path
    var_files: tuple[Path, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    region: str = "us-east-1"
    node: str = "node"
    watch: bool = True
    procfile: bool = True
    build: BuildSettings = BuildSettings()
    """The `[build]` table: Node externals, user build commands, concurrency."""
    backend: str = "native"
    """"native" (devd's workers), "sam" (`sam local start-api`), or "auto" (sam when a container
    engine responds)."""
    environ: Mapping[str, str] = field(default_factory=dict)
    api_ports: Mapping[str, int] = field(default_factory=dict)
    """The `[ports]` table: a port of its own for an API, by Terraform address."""
    packages: Mapping[Path, Path] = field(default_factory=dict)
    """The `[packages]` table: each zip Terraform deploys (absolute) -> its source directory."""
    deploy: DeploySettings = DeploySettings()
    """The `[deploy]` table: workspace, dotenv file and extra targets of `devd deploy`."""
    workers: WorkerSettings = WorkerSettings()
    """The `[workers]` table: passed-through host variables, pool size, idle time, account."""
    debug: DebugPlan = DebugPlan()
    """The functions that `devd up --debug` runs under a debugger."""
    keys: Mapping[str, str] = field(default_factory=dict)
    """The `[keys]` table: TUI action name to key, checked by `devd.tui.keys.resolve_keys`."""

    @property
    def state_dir(self) -> Path:
        """Return the directory for builds and other generated files."""
        return self.project_root / ".devd"


_FILE_KEYS = {"infra": str, "var_files": list, "host": str, "port": int, "region": str, "node": str,
              "procfile": bool, "backend": str, "build": dict, "ports": dict, "packages": dict,
              "deploy": dict, "workers": dict, "keys": dict}


def load_file_settings(project_root: Path) -> dict[str, Any]:
    """Return the settings of `devd.toml`, or of `[tool.devd]` in pyproject.toml, checked for type."""
    path = project_root / "devd.toml"
    table: dict[str, Any] = {}
    if path.is_file():
        table = _read_toml(path)
    elif (project_root / "pyproject.toml").is_file():
        path = project_root / "pyproject.toml"
        table = _read_toml(path).get("tool", {}).get("devd", {})
    for key, value in table.items():
        expected = _FILE_KEYS.get(key)
        if expected is None:
            raise ConfigError(f"{path.name}: unknown setting {key!r}; known settings: {', '.join(sorted(_FILE_KEYS))}")
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ConfigError(f"{path.name}: {key} must be {_TYPE_NAMES[expected]}, got {value!r}; "
                              f"write it as {_EXAMPLES[key]}")
    return table


_TYPE_NAMES = {str: "a string", list: "a list", int: "an integer", bool: "true or false", dict: "a table"}

_EXAMPLES = {"infra": 'infra = "infra"', "var_files": 'var_files = ["infra/vars/dev.tfvars"]',
             "host": 'host = "127.0.0.1"', "port": "port = 3000", "region": 'region = "eu-west-1"',
             "node": 'node = "/usr/local/bin/node"', "procfile": "procfile = false",
             "backend": 'backend = "native"', "build": "a [build] table with concurrency = 4 under it"}
"""A valid line for each setting, shown when a value has the wrong type."""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None


def resolve_settings(project_root: Path, *, infra: str | None = None, var_files: list[str] | None = None,
                     variables: list[str] | None = None, host: str | None = None, port: int | None = None,
                     watch: bool = True, procfile: bool = True, backend: str | None = None) -> Settings:
    """Combine command-line values with the project's settings file into Settings."""
    root = project_root.resolve()
    file = load_file_settings(root)
    infra_dir = root / (infra or file.get("infra") or _default_infra(root))
    if not infra_dir.is_dir():
        raise ConfigError(f"Terraform directory {infra_dir} does not exist; pass --infra DIR")
    files = tuple(root / f for f in (var_files if var_files else file.get("var_files", [])))
    for path in files:
        if not path.is_file():
            raise ConfigError(f"var file {path} does not exist; check --var-file or var_files in devd.toml")
    port_value = port if port is not None else file.get("port", DEFAULT_PORT)
    if not 0 <= port_value <= 65535:
        raise ConfigError(f"port {port_value} is out of range; use 0 to 65535 (0 picks a free port)")
    return Settings(
        project_root=root, infra_dir=infra_dir, var_files=files, variables=_parse_variables(variables or []),
        host=host or file.get("host", "127.0.0.1"), port=port_value, region=file.get("region", "us-east-1"),
        node=file.get("node", "node"), watch=watch, procfile=procfile and file.get("procfile", True),
        backend=_backend(backend or file.get("backend", "native")), environ=dict(os.environ),
        build=parse_build_settings(file.get("build", {}), root, _settings_file_name(root)),
        api_ports=_parse_api_ports(file.get("ports", {}), _settings_file_name(root)),
        packages=parse_packages(file.get("packages", {}), root, _settings_file_name(root)),
        deploy=parse_deploy_settings(file.get("deploy", {}), root, _settings_file_name(root)),
        workers=parse_worker_settings(file.get("workers", {}), _settings_file_name(root)),
        keys=dict(file.get("keys", {})))


def load_packages(project_root: Path) -> dict[Path, Path]:
    """Return the project's `[packages]` table (absolute zip path -> source directory), or {}."""
    root = project_root.resolve()
    return parse_packages(load_file_settings(root).get("packages", {}), root, _settings_file_name(root))


def _settings_file_name(root: Path) -> str:
    return "devd.toml" if (root / "devd.toml").is_file() else "pyproject.toml"


def _backend(value: str) -> str:
    if value not in ("native", "sam", "auto"):
        raise ConfigError(f"backend {value!r} is not one of native, sam, auto")
    return value


def _default_infra(root: Path) -> str:
    for name in ("infra", "terraform"):
        if (root / name).is_dir():
            return name
    return "."


def _parse_variables(items: list[str]) -> tuple[tuple[str, str], ...]:
    parsed = []
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise ConfigError(f"invalid --var {item!r}: write it as NAME=VALUE")
        parsed.append((name, value))
    return tuple(parsed)


def _parse_api_ports(table: dict[str, Any], file_name: str) -> dict[str, int]:
    """Check the `[ports]` table, which maps a Terraform API address to a port."""
    for address, port in table.items():
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"{file_name}: [ports] {address!r} must be a port from 1 to 65535, got {port!r}")
    return dict(table)
