"""The [packages] and [deploy] tables of devd.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from devd.config import resolve_settings
from devd.errors import ConfigError


def _project(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "infra").mkdir()
    (tmp_path / "devd.toml").write_text(toml)
    return tmp_path


def test_packages_resolve_from_root(tmp_path: Path) -> None:
    root = _project(tmp_path, '[packages]\n"dist/a.zip" = "functions/a"\n')

    settings = resolve_settings(root)

    assert settings.packages == {(root / "dist/a.zip").resolve(): (root / "functions/a").resolve()}


def test_package_key_must_be_zip(tmp_path: Path) -> None:
    root = _project(tmp_path, '[packages]\n"dist/a" = "functions/a"\n')

    with pytest.raises(ConfigError, match="'dist/a' is not a .zip path"):
        resolve_settings(root)


def test_deploy_table(tmp_path: Path) -> None:
    root = _project(tmp_path, '[deploy]\nworkspace = "staging"\nenv_file = "aws.env"\n'
                              '[deploy.targets]\n"get-hello" = ["aws_api_gateway_deployment.api"]\n')

    deploy = resolve_settings(root).deploy

    assert deploy.workspace == "staging"
    assert deploy.env_file == root / "aws.env"
    assert deploy.extra_targets == {"get-hello": ("aws_api_gateway_deployment.api",)}


def test_deploy_targets_must_be_lists(tmp_path: Path) -> None:
    root = _project(tmp_path, '[deploy.targets]\n"get-hello" = "aws_api_gateway_deployment.api"\n')

    with pytest.raises(ConfigError, match="deploy.targets.get-hello must be a list"):
        resolve_settings(root)


def test_unknown_deploy_setting(tmp_path: Path) -> None:
    root = _project(tmp_path, '[deploy]\nworkspaces = "x"\n')

    with pytest.raises(ConfigError, match="unknown setting deploy.workspaces"):
        resolve_settings(root)
