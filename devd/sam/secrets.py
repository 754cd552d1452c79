"""Keep secret environment values out of the SAM template.

The template is a file that users read, share and sometimes commit. Values of secret-named
variables, and values that contain AWS credentials, are written to it as `****`. Their real
values go to a JSON file beside it, readable by its owner only, in the format of
`sam local start-api --env-vars`, which replaces the masked values when SAM runs the function.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devd.logs.masking import mask_environment
from devd.sam.files import write_if_changed

logger = logging.getLogger("devd.sam")

ENV_VARS_FILE_NAME = "sam-env.json"
"""The file beside the template that contains the withheld values."""

_PRIVATE_MODE = 0o600


def withhold_secrets(document: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Split a template into one with secrets masked and the withheld values by logical id."""
    public = copy.deepcopy(dict(document))
    withheld: dict[str, dict[str, str]] = {}
    for logical_id, resource in public.get("Resources", {}).items():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables")
        if not variables:
            continue
        masked = mask_environment(variables)
        secret = {name: value for name, value in variables.items() if masked[name] != value}
        if secret:
            resource["Properties"]["Environment"]["Variables"] = masked
            withheld[logical_id] = secret
    return public, withheld


def env_vars_path(template: Path) -> Path:
    """Return the path of the withheld values that belong to a template."""
    return template.with_name(ENV_VARS_FILE_NAME)


def write_env_vars(template: Path, withheld: Mapping[str, Mapping[str, str]]) -> None:
    """Write the withheld values beside template with mode 0600, or remove the file when there are none."""
    path = env_vars_path(template)
    if not withheld:
        path.unlink(missing_ok=True)
        return
    if path.exists():
        os.chmod(path, _PRIVATE_MODE)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(_PRIVATE_MODE)
    if write_if_changed(path, json.dumps(withheld, indent=2, sort_keys=True) + "\n"):
        logger.info("wrote %d secret environment values for sam local to %s", sum(map(len, withheld.values())), path)
