"""The environment that workers and spares get, its masking for logs, and the worker's pure
helpers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from devd.errors import RuntimeStartError
from devd.inventory import Function
from devd.logs.masking import MASK, mask_environment
from devd.logs.records import Level
from devd.runtime.environment import (
    BOOTSTRAP_DIR,
    DEFERRED_INIT_VARIABLE,
    log_stream_name,
    overridden_reserved_names,
    spare_environment,
    startup_variables,
    worker_environment,
)
from devd.runtime.launch import bootstrap_command, function_arn, runtime_command
from devd.runtime.output import describe_exit, line_level
from devd.runtime.runtime_api import Assignment
from devd.runtime.runtime_errors import ErrorDocument, parse_error_document
from devd.runtime.spares import SpareKind

HOST_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/dev",
    "TMPDIR": "/tmp/dev",
    "AWS_PROFILE": "developer",
    "AWS_ACCESS_KEY_ID": "AKIAHOST",
    "AWS_SECRET_ACCESS_KEY": "host-secret",
    "NODE_OPTIONS": "--inspect",
    "GITHUB_TOKEN": "ghp_host",
}


def make_function(**values: object) -> Function:
    defaults: dict[str, object] = {
        "address": "aws_lambda_function.orders",
        "name": "orders",
        "runtime": "nodejs20.x",
        "handler": "index.handler",
        "code_dir": None,
        "source": None,
    }
    defaults.update(values)
    return Function(**defaults)  # type: ignore[arg-type]


def build_env(function: Function, passthrough: tuple[str, ...] = ()) -> dict[str, str]:
    return worker_environment(
        function,
        task_root=Path("/build/orders"),
        handler="dist/index.handler",
        region="eu-central-1",
        runtime_api="127.0.0.1:41234",
        log_stream_name="2024/05/01/[$LATEST]abc",
        host_env=HOST_ENV,
        passthrough=passthrough,
    )


def test_environment_reserved_variables() -> None:
    env = build_env(make_function(timeout=9, memory=512))

    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "orders"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "9"
    assert env["AWS_REGION"] == "eu-central-1"
    assert env["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert env["_HANDLER"] == "dist/index.handler"
    assert env["LAMBDA_TASK_ROOT"] == "/build/orders"
    assert env["LAMBDA_RUNTIME_DIR"] == str(BOOTSTRAP_DIR)
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:41234"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/orders"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == "2024/05/01/[$LATEST]abc"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["TZ"] == "UTC"
    assert env["LANG"] == "en_US.UTF-8"


def test_environment_keeps_only_host_basics() -> None:
    env = build_env(make_function())

    assert env["PATH"] == "/usr/bin:/bin"
    assert env["HOME"] == "/home/dev"
    assert env["TMPDIR"] == "/tmp/dev"
    for leaked in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "NODE_OPTIONS", "GITHUB_TOKEN"):
        assert leaked not in env


def test_environment_passthrough_names() -> None:
    env = build_env(make_function(), passthrough=("AWS_PROFILE", "NOT_SET_ON_HOST"))

    assert env["AWS_PROFILE"] == "developer"
    assert "NOT_SET_ON_HOST" not in env
    assert "AWS_ACCESS_KEY_ID" not in env


def test_environment_terraform_values() -> None:
    function = make_function(environment={"TABLE_NAME": "orders", "PATH": "/opt/bin", "AWS_REGION": "mars-1"})

    env = build_env(function, passthrough=("AWS_PROFILE",))

    assert env["TABLE_NAME"] == "orders"
    # Terraform values override host values, and reserved values override Terraform.
    assert env["PATH"] == "/opt/bin"
    assert env["AWS_REGION"] == "eu-central-1"


def test_overridden_reserved_names() -> None:
    function = make_function(environment={"AWS_REGION": "x", "_HANDLER": "y", "TABLE_NAME": "z"})

    assert overridden_reserved_names(function) == ("AWS_REGION", "_HANDLER")
    assert overridden_reserved_names(make_function()) == ()


def test_mask_environment_hides_secrets() -> None:
    env = {
        "AWS_SECRET_ACCESS_KEY": "s1",
        "AWS_SESSION_TOKEN": "s2",
        "STRIPE_SECRET": "s3",
        "github_token": "s4",
        "DB_PASSWORD": "s5",
        "TABLE_NAME": "orders",
        "AWS_REGION": "us-east-1",
    }

    masked = mask_environment(env)

    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "STRIPE_SECRET", "github_token", "DB_PASSWORD"):
        assert masked[name] == MASK
    assert masked["TABLE_NAME"] == "orders"
    assert masked["AWS_REGION"] == "us-east-1"
    assert env["DB_PASSWORD"] == "s5"


def test_log_stream_name_format() -> None:
    assert log_stream_name(date(2024, 5, 1), "0f3a") == "2024/05/01/[$LATEST]0f3a"


def test_function_arn() -> None:
    assert function_arn("eu-west-1", "111122223333", "orders") == "arn:aws:lambda:eu-west-1:111122223333:function:orders"


def test_bootstrap_command_per_language() -> None:
    node = bootstrap_command(make_function(runtime="nodejs20.x"), "/usr/bin/node")
    python = bootstrap_command(make_function(runtime="python3.12"), "/usr/bin/python3")

    assert node == ["/usr/bin/node", str(BOOTSTRAP_DIR / "node.mjs")]
    assert python == ["/usr/bin/python3", "-u", str(BOOTSTRAP_DIR / "python_bootstrap.py")]
    assert Path(node[1]).is_file()
    assert Path(python[2]).is_file()
    with pytest.raises(RuntimeStartError, match="java21"):
        bootstrap_command(make_function(runtime="java21"), "java")


@pytest.mark.parametrize(
    ("text", "stream", "level"),
    [
        ("plain output", 1, Level.INFO),
        ("[ERROR]\tsomething failed", 1, Level.ERROR),
        ("[WARNING]\tcareful", 1, Level.WARNING),
        ("[DEBUG]\tdetail", 1, Level.DEBUG),
        ("console.error output", 2, Level.WARNING),
        ("TypeError: x is undefined", 2, Level.ERROR),
        ("Traceback (most recent call last):", 2, Level.ERROR),
        ("Unhandled promise rejection: Error: late", 2, Level.ERROR),
    ],
)
def test_line_level(text: str, stream: int, level: Level) -> None:
    assert line_level(text, stream) is level


def test_describe_exit() -> None:
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(0) == "exit status 0"
    assert describe_exit(-9) == "signal SIGKILL"


def test_parse_error_document() -> None:
    body = json.dumps({"errorType": "TypeError", "errorMessage": "bad", "stackTrace": ["a", "b"]}).encode()

    assert parse_error_document(body, None) == ErrorDocument("TypeError", "bad", ("a", "b"))
    assert parse_error_document(b"not json", "Runtime.Crash") == ErrorDocument("Runtime.Crash", "not json")
    assert parse_error_document(b'{"errorMessage": "m"}', None).error_type == "Unhandled"


def test_startup_variables_per_language() -> None:
    env = build_env(make_function(environment={
        "NODE_OPTIONS": "--enable-source-maps",
        "PYTHONPATH": "/opt/lib",
        "LC_ALL": "C.UTF-8",
        "LD_LIBRARY_PATH": "/opt/lib",
        "TABLE_NAME": "orders",
    }))

    node = startup_variables("node", env)
    python = startup_variables("python", env)

    assert node == {
        "PATH": "/usr/bin:/bin",
        "TZ": "UTC",
        "LANG": "en_US.UTF-8",
        "NODE_OPTIONS": "--enable-source-maps",
        "LC_ALL": "C.UTF-8",
        "LD_LIBRARY_PATH": "/opt/lib",
    }
    assert python == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/dev",
        "TZ": "UTC",
        "LANG": "en_US.UTF-8",
        "PYTHONPATH": "/opt/lib",
        "LC_ALL": "C.UTF-8",
        "LD_LIBRARY_PATH": "/opt/lib",
    }


def test_spare_environment_has_no_function_values() -> None:
    startup = startup_variables("node", build_env(make_function(environment={"TABLE_NAME": "orders"})))

    env = spare_environment(startup, "127.0.0.1:40000")

    assert env == {**startup, DEFERRED_INIT_VARIABLE: "1", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:40000"}
    assert "TABLE_NAME" not in env
    assert "AWS_LAMBDA_FUNCTION_NAME" not in env


def test_spare_kind_ignores_function_values() -> None:
    orders = build_env(make_function(environment={"TABLE_NAME": "orders"}))
    billing = build_env(make_function(name="billing", timeout=30, environment={"QUEUE": "billing"}))
    tuned = build_env(make_function(environment={"NODE_OPTIONS": "--max-old-space-size=256"}))

    kind = SpareKind.for_environment("node", "/usr/bin/node", orders)

    assert SpareKind.for_environment("node", "/usr/bin/node", billing) == kind
    assert SpareKind.for_environment("node", "/usr/local/bin/node", orders) != kind
    assert SpareKind.for_environment("node", "/usr/bin/node", tuned) != kind
    assert kind.describe() == "node (/usr/bin/node)"


def test_assignment_json() -> None:
    assignment = Assignment({"_HANDLER": "index.handler"}, "/build/orders/3", {DEFERRED_INIT_VARIABLE: "1"})

    assert json.loads(assignment.to_json()) == {
        "env": {"_HANDLER": "index.handler"},
        "task_root": "/build/orders/3",
        "spare_env": {DEFERRED_INIT_VARIABLE: "1"},
    }


def test_runtime_command_rejects_other_language() -> None:
    assert runtime_command("node", "node") == ["node", str(BOOTSTRAP_DIR / "node.mjs")]
    with pytest.raises(RuntimeStartError, match="ruby"):
        runtime_command("ruby", "ruby")
