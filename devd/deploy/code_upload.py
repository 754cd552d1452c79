"""Upload a function's zip with Lambda's UpdateFunctionCode, without Terraform."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devd.build.result import BuildResult
from devd.deploy.model import DeployError, DeployResult
from devd.inventory import Function
from devd.logs.records import Level

logger = logging.getLogger("devd.deploy")

MAX_DIRECT_UPLOAD_BYTES = 50 * 1024 * 1024
"""Lambda's limit for a zip sent in the UpdateFunctionCode request itself (larger ones go through S3)."""
UPDATE_TIMEOUT = 300.0
"""Seconds to wait for LastUpdateStatus to leave InProgress."""
POLL_SECONDS = 1.0


async def upload_code(client: Any, function: Function, build: BuildResult,
                      log: Callable[..., None]) -> DeployResult:
    """Upload `build`'s zip unless the deployed `CodeSha256` equals it, then wait until the update succeeds."""
    from botocore.exceptions import BotoCoreError, ClientError

    assert build.zip_path is not None and build.zip_sha256 is not None
    try:
        remote = await asyncio.to_thread(client.get_function_configuration, FunctionName=function.name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise DeployError(f"function {function.name} is not deployed; deploy it with Terraform first "
                              f"(`devd deploy {function.name}` without --code-only)") from None
        raise DeployError(f"reading {function.name} from Lambda failed: {error}") from None
    except BotoCoreError as error:
        raise aws_failure(f"reading {function.name} from Lambda", error) from None
    if remote.get("CodeSha256") == build.zip_sha256:
        log(f"{function.name} already runs this code (sha256 {build.zip_sha256}); nothing uploaded")
        return DeployResult(function.address, True, "code already deployed", build.zip_sha256)

    size = build.zip_path.stat().st_size
    if size > MAX_DIRECT_UPLOAD_BYTES:
        raise DeployError(f"the zip of {function.name} is {size / 1e6:.1f} MB, above the 50 MB that "
                          "UpdateFunctionCode accepts directly; deploy it with Terraform (through S3)")
    log(f"uploading {function.name} ({size} bytes, sha256 {build.zip_sha256})")
    try:
        response = await asyncio.to_thread(client.update_function_code, FunctionName=function.name,
                                           ZipFile=Path(build.zip_path).read_bytes())
    except (ClientError, BotoCoreError) as error:
        raise aws_failure(f"UpdateFunctionCode of {function.name}", error) from None

    await _wait_until_updated(client, function, log)
    log(terraform_note(function), Level.WARNING if function.package is None else Level.INFO)
    deployed = response.get("CodeSha256")
    return DeployResult(function.address, True, f"code uploaded (sha256 {deployed})", deployed)


def aws_failure(step: str, error: Exception) -> DeployError:
    """Return a DeployError for a failed AWS call, with the fix for the usual causes."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return DeployError(f"{step} failed: no AWS credentials found; set AWS_PROFILE or AWS keys in your "
                           "shell, or put them in the project's .env")
    if isinstance(error, EndpointConnectionError):
        return DeployError(f"{step} failed: {error}; check AWS_ENDPOINT_URL in your shell or .env (for the "
                           "example: is the Procfile's moto server running?)")
    return DeployError(f"{step} failed: {error}")


def terraform_note(function: Function) -> str:
    """Return what Terraform's next plan does after a code-only upload, as the user should read it."""
    if function.package is None:
        return (f"Terraform packages {function.name} itself (no [packages] entry in devd.toml), so its next "
                "apply replaces the uploaded code with its own zip")
    # The AWS provider (5.x) keeps source_code_hash from its state and does not refresh it from
    # CodeSha256, so the stored hash stays the previous one until the next apply.
    return (f"Terraform deploys {function.package}, which holds this same build, so its code matches; its "
            "next plan still shows source_code_hash changing, because its state holds the previous hash, "
            "and that apply uploads the same bytes")


async def _wait_until_updated(client: Any, function: Function, log: Callable[..., None]) -> None:
    """Poll GetFunctionConfiguration until LastUpdateStatus is Successful; raise on Failed or timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + UPDATE_TIMEOUT
    while True:
        configuration = await asyncio.to_thread(client.get_function_configuration, FunctionName=function.name)
        status = configuration.get("LastUpdateStatus", "Successful")
        if status == "Successful":
            return
        if status == "Failed":
            reason = configuration.get("LastUpdateStatusReason", "no reason given")
            raise DeployError(f"Lambda failed to update {function.name}: {reason}")
        if loop.time() >= deadline:
            raise DeployError(f"{function.name} was still updating (LastUpdateStatus {status}) after "
                              f"{UPDATE_TIMEOUT:.0f} s; check it in the Lambda console")
        await asyncio.sleep(POLL_SECONDS)
