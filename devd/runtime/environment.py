"""The environment variables of a worker process, built the way Lambda builds them.

A worker gets its function's Terraform `environment`, the variables that Lambda reserves
for itself, a few basics from the host (PATH, HOME, temporary directories) and the host
variables that the user names explicitly. Nothing else from the host leaks in, so that
AWS_PROFILE or credentials in the developer's shell do not change what a handler does
unless the user passes them through on purpose.

A spare worker starts before its function is known, with only the variables that its runtime
reads while the process starts, and receives the rest with its assignment.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Mapping, Sequence

from devd.inventory import Function

BOOTSTRAP_DIR = Path(__file__).resolve().parent / "bootstrap"

HOST_BASICS = ("PATH", "HOME", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT")
"""Host variables that every worker inherits: the process would not run well without them."""

RESERVED_NAMES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_TIMEOUT",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
"""Names that Lambda sets itself and that a function's configuration cannot override."""

DEFERRED_INIT_VARIABLE = "DEVD_DEFERRED_INIT"
"""Set to "1" in a spare's environment: its bootstrap waits for an assignment before init."""

_STARTUP_NAMES = {
    "node": frozenset({"PATH", "TZ", "LANG", "GLIBC_TUNABLES"}),
    "python": frozenset({"PATH", "TZ", "LANG", "GLIBC_TUNABLES", "HOME"}),
}
_STARTUP_PREFIXES = {
    "node": ("NODE_", "UV_", "OPENSSL_", "LC_", "LD_", "MALLOC_"),
    "python": ("PYTHON", "LC_", "LD_", "MALLOC_"),
}




def worker_environment(
    function: Function,
    *,
    task_root: Path,
    handler: str,
    region: str,
    runtime_api: str,
    log_stream_name: str,
    host_env: Mapping[str, str],
    passthrough: Sequence[str] = (),
) -> dict[str, str]:
    """Build the complete environment of one worker process.

    Later layers win: host basics, then passthrough variables, then the Terraform
    `environment`, then Lambda's reserved variables. `runtime_api` is "HOST:PORT" of the
    worker's Runtime API server. A passthrough name that the host does not define is skipped.
    """
    env: dict[str, str] = {}

    for name in (*HOST_BASICS, *passthrough):
        if name in host_env:
            env[name] = host_env[name]

    env.update(function.environment)

    env.update(
        reserved_variables(
            function,
            task_root=task_root,
            handler=handler,
            region=region,
            runtime_api=runtime_api,
            log_stream_name=log_stream_name,
        )
    )
    return env


def reserved_variables(
    function: Function,
    *,
    task_root: Path,
    handler: str,
    region: str,
    runtime_api: str,
    log_stream_name: str,
) -> dict[str, str]:
    """Return the variables that Lambda defines in every execution environment.

    AWS_EXECUTION_ENV names a managed runtime, so an OS-only runtime (`provided*`) has none.
    """
    variables = {
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name(function.name),
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP_DIR),
        "TZ": "UTC",
        "LANG": "en_US.UTF-8",
    }
    if (function.runtime or "").startswith("provided"):
        del variables["AWS_EXECUTION_ENV"]
    return variables


def startup_variables(language: str, env: Mapping[str, str]) -> dict[str, str]:
    """Return the variables of `env` that a node or python runtime reads while its process starts.

    PATH finds the interpreter. The dynamic loader, C library, locale and time zone variables,
    `NODE_*` (NODE_OPTIONS, NODE_PATH ...) and `PYTHON*` (PYTHONPATH ...) take effect before
    any of the bootstrap runs, and Python reads HOME for the user site directory. A spare
    started with these values behaves as a worker started with all of `env`, once it has
    replaced its environment. Raises KeyError for another language.
    NOTE: the list contains the documented variables of node 20 and CPython 3.11, not every
    variable that a native library might read at load time.
    """
    names = _STARTUP_NAMES[language]
    prefixes = _STARTUP_PREFIXES[language]
    return {name: value for name, value in env.items() if name in names or name.startswith(prefixes)}


def spare_environment(startup: Mapping[str, str], runtime_api: str) -> dict[str, str]:
    """Build the environment of a spare: the startup variables, the deferred-init flag and the
    address of its Runtime API server. It contains no value of any function."""
    return {**startup, DEFERRED_INIT_VARIABLE: "1", "AWS_LAMBDA_RUNTIME_API": runtime_api}


def overridden_reserved_names(function: Function) -> tuple[str, ...]:
    """Return the reserved names that the function's Terraform `environment` sets.

    Lambda rejects such a configuration when it is deployed. Locally the reserved value wins,
    and the caller should warn about each name.
    """
    return tuple(sorted(name for name in function.environment if name in RESERVED_NAMES))


def log_group_name(function_name: str) -> str:
    """Return the CloudWatch log group that Lambda uses for a function."""
    return f"/aws/lambda/{function_name}"


def log_stream_name(day: date, instance_id: str) -> str:
    """Return a log stream name in Lambda's format, such as "2024/05/01/[$LATEST]0f3a…".

    `instance_id` identifies one execution environment, which here is one worker process.
    """
    return f"{day:%Y/%m/%d}/[$LATEST]{instance_id}"
