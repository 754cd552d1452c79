"""The `[packages]` and `[deploy]` tables of devd.toml.

`[packages]` maps each zip that Terraform deploys to the source directory devd builds it from:

    [packages]
    "dist/get-hello.zip" = "functions/hello"

`[deploy]` sets how `devd deploy` runs Terraform:

    [deploy]
    workspace = "staging"          # TF_WORKSPACE for plan and apply (default: Terraform's own)
    env_file = ".env"              # read for Terraform and boto3, never for handlers
    [deploy.targets]
    "get-hello" = ["aws_api_gateway_deployment.api"]   # extra -target addresses per function
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from devd.errors import ConfigError

DEFAULT_ENV_FILE = ".env"


@dataclass(frozen=True)
class DeploySettings:
    """The `[deploy]` table, with paths made absolute."""

    workspace: str | None = None
    env_file: Path | None = None
    """The dotenv file whose variables Terraform and boto3 get (process variables win)."""
    extra_targets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Addresses added to `-target` options, by function name or Terraform address."""


def parse_packages(table: Mapping[str, Any], project_root: Path, file_name: str) -> dict[Path, Path]:
    """Return the `[packages]` table as absolute zip path -> absolute source directory."""
    packages: dict[Path, Path] = {}
    for zip_name, source in table.items():
        if not zip_name.endswith(".zip"):
            raise ConfigError(f"{file_name}: [packages] key {zip_name!r} is not a .zip path; "
                              'write it as "dist/NAME.zip" = "SOURCE_DIR"')
        if not isinstance(source, str) or not source:
            raise ConfigError(f"{file_name}: [packages] {zip_name!r} must name a source directory, got {source!r}")
        if PurePosixPath(zip_name).is_absolute():
            raise ConfigError(f"{file_name}: [packages] key {zip_name!r} must be relative to the project root")
        packages[(project_root / zip_name).resolve()] = (project_root / source).resolve()
    return packages


def parse_deploy_settings(table: Mapping[str, Any], project_root: Path, file_name: str) -> DeploySettings:
    """Return the `[deploy]` table as DeploySettings; raise ConfigError naming a bad value."""
    known = {"workspace", "env_file", "targets"}
    for key in table:
        if key not in known:
            raise ConfigError(f"{file_name}: unknown setting deploy.{key}; known settings: {', '.join(sorted(known))}")

    workspace = table.get("workspace")
    if workspace is not None and (not isinstance(workspace, str) or not workspace):
        raise ConfigError(f"{file_name}: deploy.workspace must be a workspace name, got {workspace!r}")
    env_file = table.get("env_file", DEFAULT_ENV_FILE)
    if not isinstance(env_file, str):
        raise ConfigError(f"{file_name}: deploy.env_file must be a path, got {env_file!r}")

    targets = table.get("targets", {})
    if not isinstance(targets, dict):
        raise ConfigError(f"{file_name}: deploy.targets must be a table of function = [addresses]")
    extra: dict[str, tuple[str, ...]] = {}
    for function, addresses in targets.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) and a for a in addresses):
            raise ConfigError(f"{file_name}: deploy.targets.{function} must be a list of Terraform addresses, "
                              f"got {addresses!r}")
        extra[function] = tuple(addresses)
    return DeploySettings(workspace, (project_root / env_file) if env_file else None, extra)
