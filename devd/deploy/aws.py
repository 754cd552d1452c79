"""The environment of Terraform and boto3 during deploys, and boto3 clients built from it.

Variables of the project's dotenv file (`.env`, or the file that `[deploy] env_file` names) are
added under the process's own, which win. They reach Terraform and boto3 only, never the
handlers that `devd up` runs. Credentials and the region come from the standard AWS chain:
these variables, then the shared config files and profiles that boto3 and Terraform read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dotenv import dotenv_values

from devd.errors import ConfigError

if TYPE_CHECKING:
    from devd.config import Settings

logger = logging.getLogger("devd.deploy")


def deploy_environ(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """Return `environ` with the variables of `env_file` added where `environ` lacks them."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        try:
            values = dotenv_values(env_file)
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read {env_file}: {error}; fix it or set deploy.env_file in devd.toml") from None
        merged.update({key: value for key, value in values.items() if value is not None})
        logger.debug("read %d variables from %s for Terraform and boto3", len(merged), env_file)
    merged.update(environ)
    return merged


def terraform_environ(settings: Settings) -> dict[str, str]:
    """Return the environment of the terraform commands that deploys and `devd ls --exact` run.

    It is the process's environment over the project's dotenv file, as `deploy_environ`
    merges them, with `TF_WORKSPACE` set from `[deploy] workspace` when that is set. So
    `TF_VAR_*` lines of `.env` apply to both.
    """
    environ = deploy_environ(settings.environ, settings.deploy.env_file)
    if settings.deploy.workspace:
        environ["TF_WORKSPACE"] = settings.deploy.workspace
    return environ


def aws_client(service: str, environ: Mapping[str, str], default_region: str) -> Any:
    """Return a boto3 client configured from `environ` as the AWS CLI would be from the process environment.

    `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL` sets the endpoint, such as a local
    moto server. Keys in `environ` take precedence over `AWS_PROFILE`.
    """
    import boto3
    from botocore.config import Config

    has_keys = bool(environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"))
    session = boto3.session.Session(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID") if has_keys else None,
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY") if has_keys else None,
        aws_session_token=environ.get("AWS_SESSION_TOKEN") if has_keys else None,
        profile_name=None if has_keys else environ.get("AWS_PROFILE") or None,
        region_name=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or default_region)
    endpoint = environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or environ.get("AWS_ENDPOINT_URL") or None
    # Some operations, such as StartLiveTail, prepend a host prefix ("streaming-") to the
    # endpoint, which a local endpoint such as http://127.0.0.1:4566 cannot resolve.
    config = Config(inject_host_prefix=False) if endpoint else None
    return session.client(service, endpoint_url=endpoint, config=config)


def has_aws_configuration(environ: Mapping[str, str]) -> bool:
    """Return whether AWS calls can be expected to find credentials: keys, a profile or an
    endpoint in the environment, or the shared config files. It reads no secret."""
    if any(environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ENDPOINT_URL")):
        return True
    home = Path(environ.get("HOME", "~")).expanduser()
    files = (environ.get("AWS_SHARED_CREDENTIALS_FILE"), environ.get("AWS_CONFIG_FILE"))
    candidates = [Path(f) for f in files if f] + [home / ".aws" / "credentials", home / ".aws" / "config"]
    return any(path.is_file() for path in candidates)

