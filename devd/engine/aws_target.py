"""The AWS profile and region a deploy would use, read the way the AWS CLI and SDKs read them."""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path


def aws_target(environ: Mapping[str, str], home: Path | None = None) -> tuple[str | None, str | None]:
    """Return (profile, region) from AWS_PROFILE, AWS_REGION, AWS_DEFAULT_REGION and the AWS
    config file; None where nothing sets them. Credentials are never read."""
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        return profile, region

    config_file = environ.get("AWS_CONFIG_FILE")
    path = Path(config_file) if config_file else (home or Path.home()) / ".aws" / "config"
    return profile, _configured_region(path, profile)


def _configured_region(path: Path, profile: str | None) -> str | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return None
    section = "default" if profile in (None, "default") else f"profile {profile}"
    if not parser.has_section(section):
        return None
    return parser.get(section, "region", fallback=None)
