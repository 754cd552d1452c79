"""Lambda runtime behaviour that local emulators often get wrong, checked against the values AWS
documents: errors, timeouts, the context object, the environment, platform log lines, source
maps, and reloads after edits.

Every test runs `devd up --no-tui` on a small Terraform project written here, with real node,
esbuild and Python workers behind the gateway, and talks to it over 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.conftest import REPO, RunningDevd, start_devd, stop_devd

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")

REQUEST_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

NODE_FILES = {
    "throws.mjs": """
export const handler = async () => {
  throw new TypeError("thrown on purpose");
};
""",
    "callback_error.js": """
exports.handler = (event, context, callback) => {
  callback(new Error("callback failed on purpose"));
};
""",
    "reject_later.mjs": """
export const handler = async () => {
  setTimeout(() => Promise.reject(new Error("rejected after the response")), 20);
  return { statusCode: 200, body: "answered" };
};
""",
    "sleepy.mjs": """
export const handler = async (event) => {
  if (event.queryStringParameters?.nap === "0") {
    return { pid: process.pid };
  }
  console.log("going to sleep");
  await new Promise((resolve) => setTimeout(resolve, 10000));
  return { pid: process.pid };
};
""",
    "context.mjs": """
export const handler = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    requestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    invokedFunctionArn: context.invokedFunctionArn,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remaining: [first, context.getRemainingTimeInMillis()],
  };
};
""",
    "waits.js": """
exports.handler = (event, context, callback) => {
  const started = Date.now();
  if (event.queryStringParameters?.wait === "no") {
    context.callbackWaitsForEmptyEventLoop = false;
  }
  setTimeout(() => console.log("timer fired after", Date.now() - started, "ms"), 400);
  callback(null, { statusCode: 200, body: String(started) });
};
""",
    "prints.mjs": """
export const handler = async (event, context) => {
  console.log("first line");
  console.error("second line");
  console.log("third line");
  return { requestId: context.awsRequestId };
};
""",
    "counter.mjs": """
const STEP = 1;
let count = 0;
export const handler = async () => {
  count += STEP;
  return { count, step: STEP };
};
""",
    "saves.mjs": """
export const handler = async () => ({ version: "v0" });
""",
    "burst_a.mjs": """
export const handler = async () => ({ version: "a0" });
""",
    "burst_b.mjs": """
export const handler = async () => ({ version: "b0" });
""",
    "other_counter.mjs": """
let count = 0;
export const handler = async () => {
  count += 1;
  return { count };
};
""",
}

PYTHON_FILES = {
    "import_error.py": """
raise RuntimeError("broken at import time")


def handler(event, context):
    return {"statusCode": 200, "body": "never"}
""",
    "context_py.py": """
import time


def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.2)
    return {
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "memoryLimitInMB": context.memory_limit_in_mb,
        "invokedFunctionArn": context.invoked_function_arn,
        "logGroupName": context.log_group_name,
        "logStreamName": context.log_stream_name,
        "remaining": [first, context.get_remaining_time_in_millis()],
    }
""",
    "env.py": """
import os


def handler(event, context):
    return dict(os.environ)
""",
    "sleepy_default.py": """
import time


def handler(event, context):
    time.sleep(6)
    return {"statusCode": 200, "body": "woke"}
""",
}

CUSTOM_BOOTSTRAP = """#!/usr/bin/env python3
import json
import os
import urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(api + "/invocation/next") as reply:
        request_id = reply.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(reply.read())
    print("custom runtime received", event["rawPath"], flush=True)
    result = {"handler": os.environ["_HANDLER"], "path": event["rawPath"], "requestId": request_id}
    body = json.dumps({"statusCode": 200, "body": json.dumps(result)}).encode()
    request = urllib.request.Request(api + f"/invocation/{request_id}/response", data=body, method="POST")
    urllib.request.urlopen(request).read()
"""

AUTHORITY_BOOTSTRAP = """#!/usr/bin/env python3
# A runtime client that keeps only the host and port of AWS_LAMBDA_RUNTIME_API, as clients that
# parse it as an authority do. It fetches each event itself and posts the response from a child
# process, as a shell runtime that runs curl does.
import http.client
import json
import os
import subprocess
import sys

AUTHORITY = os.environ["AWS_LAMBDA_RUNTIME_API"].split("/")[0]
HOST, _, PORT = AUTHORITY.partition(":")
POST = '''
import http.client, sys
connection = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
connection.request("POST", sys.argv[3], body=sys.stdin.buffer.read())
sys.exit(0 if connection.getresponse().status == 202 else 1)
'''

connection = http.client.HTTPConnection(HOST, int(PORT))
while True:
    connection.request("GET", "/2018-06-01/runtime/invocation/next")
    reply = connection.getresponse()
    body = reply.read()
    if reply.status != 200:
        sys.exit(f"GET /invocation/next returned {reply.status}: {body!r}")
    request_id = reply.getheader("Lambda-Runtime-Aws-Request-Id")
    event = json.loads(body)
    result = {"path": event["rawPath"], "authority": AUTHORITY, "requestId": request_id}
    response = json.dumps({"statusCode": 200, "body": json.dumps(result)}).encode()
    path = f"/2018-06-01/runtime/invocation/{request_id}/response"
    subprocess.run([sys.executable, "-c", POST, HOST, PORT, path], input=response, check=True)
"""

# A local process outside the worker's process tree that polls a worker's Runtime API without
# the secret, and prints the status line it receives.
OUTSIDER_CLIENT = r"""
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as client:
    client.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n")
    print(client.recv(4096).split(b"\r\n")[0].decode())
"""

TYPESCRIPT_HANDLER = """interface Order {
  id: string;
}

function check(order: Order): void {
  throw new RangeError(`order ${order.id} is out of range`);
}

export const handler = async () => {
  check({ id: "42" });
  return { statusCode: 200, body: "never" };
};
"""

# (name, runtime, handler, source directory, route, extra attributes)
FUNCTIONS = [
    ("throws", "nodejs20.x", "throws.handler", "node", "GET /throws", ""),
    ("callback-error", "nodejs20.x", "callback_error.handler", "node", "GET /callback-error", ""),
    ("reject-later", "nodejs20.x", "reject_later.handler", "node", "GET /reject-later", ""),
    ("sleepy", "nodejs20.x", "sleepy.handler", "node", "GET /sleepy", "timeout = 3"),
    ("context", "nodejs20.x", "context.handler", "node", "GET /context", "timeout = 7"),
    ("waits", "nodejs20.x", "waits.handler", "node", "GET /waits", ""),
    ("prints", "nodejs20.x", "prints.handler", "node", "GET /prints", ""),
    ("counter", "nodejs20.x", "counter.handler", "node", "GET /counter", ""),
    ("other-counter", "nodejs20.x", "other_counter.handler", "node", "GET /other-counter", ""),
    ("saves", "nodejs20.x", "saves.handler", "node", "GET /saves", ""),
    ("burst-a", "nodejs20.x", "burst_a.handler", "node", "GET /burst-a", ""),
    ("burst-b", "nodejs20.x", "burst_b.handler", "node", "GET /burst-b", ""),
    ("typescript", "nodejs20.x", "handler.handler", "ts", "GET /typescript", ""),
    ("import-error", "python3.12", "import_error.handler", "py", "GET /import-error", ""),
    ("context-py", "python3.12", "context_py.handler", "py", "GET /context-py", "memory_size = 256"),
    ("env", "python3.12", "env.handler", "py", "GET /env", ""),
    ("sleepy-default", "python3.12", "sleepy_default.handler", "py", "GET /sleepy-default", ""),
    ("custom", "provided.al2023", "my.handler", "custom", "GET /custom", ""),
    ("authority", "provided.al2023", "authority.handler", "authority", "GET /authority", ""),
]

MAIN_TF = """
variable "stage" {
  type    = string
  default = "local"
}

variable "from_var_file" {
  type    = string
  default = "unset"
}

variable "from_tf_var" {
  type    = string
  default = "unset"
}

locals {
  prefix = "fid-${var.stage}"
  common = {
    FROM_LOCAL    = "local-value"
    FROM_VAR_FILE = var.from_var_file
    FROM_TF_VAR   = var.from_tf_var
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${local.prefix}-lambda"
  assume_role_policy = "{}"
}

resource "aws_dynamodb_table" "orders" {
  name         = "${local.prefix}-orders"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${local.prefix}-http"
  protocol_type = "HTTP"
}

resource "aws_api_gateway_rest_api" "rest" {
  name = "${local.prefix}-rest"
}

resource "aws_api_gateway_resource" "throws" {
  rest_api_id = aws_api_gateway_rest_api.rest.id
  parent_id   = aws_api_gateway_rest_api.rest.root_resource_id
  path_part   = "rest-throws"
}

resource "aws_api_gateway_method" "throws" {
  rest_api_id   = aws_api_gateway_rest_api.rest.id
  resource_id   = aws_api_gateway_resource.throws.id
  http_method   = "GET"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "throws" {
  rest_api_id             = aws_api_gateway_rest_api.rest.id
  resource_id             = aws_api_gateway_resource.throws.id
  http_method             = aws_api_gateway_method.throws.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.throws.invoke_arn
}
"""

FUNCTION_TF = """
data "archive_file" "{key}" {{
  type        = "zip"
  source_dir  = "${{path.module}}/../functions/{source}"
  output_path = "${{path.module}}/.terraform/{key}.zip"
}}

resource "aws_lambda_function" "{key}" {{
  function_name    = "${{local.prefix}}-{name}"
  role             = aws_iam_role.lambda.arn
  runtime          = "{runtime}"
  handler          = "{handler}"
  filename         = data.archive_file.{key}.output_path
  source_code_hash = data.archive_file.{key}.output_base64sha256
  {extra}

  environment {{
    variables = {environment}
  }}
}}

resource "aws_apigatewayv2_integration" "{key}" {{
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.{key}.invoke_arn
  payload_format_version = "2.0"
}}

resource "aws_apigatewayv2_route" "{key}" {{
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "{route}"
  target    = "integrations/${{aws_apigatewayv2_integration.{key}.id}}"
}}
"""

ENV_FUNCTION_ENVIRONMENT = 'merge(local.common, { TABLE_ARN = aws_dynamodb_table.orders.arn })'


def write_project(root: Path) -> Path:
    """Write the Terraform, the handlers and devd.toml of the test project under root."""
    for directory, files in (("node", NODE_FILES), ("py", PYTHON_FILES)):
        for name, text in files.items():
            path = root / "functions" / directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.lstrip())
    (root / "functions" / "ts").mkdir(parents=True)
    (root / "functions" / "ts" / "handler.ts").write_text(TYPESCRIPT_HANDLER)
    for directory, text in (("custom", CUSTOM_BOOTSTRAP), ("authority", AUTHORITY_BOOTSTRAP)):
        bootstrap = root / "functions" / directory / "bootstrap"
        bootstrap.parent.mkdir(parents=True)
        bootstrap.write_text(text)
        bootstrap.chmod(0o755)

    blocks = [MAIN_TF]
    for name, runtime, handler, source, route, extra in FUNCTIONS:
        key = name.replace("-", "_")
        environment = ENV_FUNCTION_ENVIRONMENT if name == "env" else "local.common"
        blocks.append(
            FUNCTION_TF.format(
                key=key, name=name, runtime=runtime, handler=handler, source=source, route=route,
                extra=extra, environment=environment,
            )
        )
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "main.tf").write_text("\n".join(blocks))
    (root / "infra" / "dev.tfvars").write_text('from_var_file = "var-file-value"\n')
    (root / "devd.toml").write_text(
        'infra = "infra"\nvar_files = ["infra/dev.tfvars"]\nregion = "eu-west-1"\n\n'
        '[workers]\npass_env = ["DEVD_FIDELITY_PASSED"]\naccount_id = "210987654321"\n'
    )
    (root / "node_modules").symlink_to(REPO / "node_modules")
    return root


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevd]:
    project = write_project(tmp_path_factory.mktemp("fidelity") / "app")
    host = {
        "AWS_PROFILE": "developer-profile",
        "AWS_ACCESS_KEY_ID": "AKIAHOSTLEAK",
        "DEVD_FIDELITY_PASSED": "passed-through",
        "TF_VAR_from_tf_var": "tf-var-value",
    }
    saved = {name: os.environ.get(name) for name in host}
    os.environ.update(host)
    try:
        running = start_devd(project)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield running
    stop_devd(running)


def lines_of(app: RunningDevd, function: str, start: int = 0) -> list[str]:
    """Return the output lines of one function (by its name without the prefix) from `start`."""
    marker = f" fid-local-{function} |"
    return [line for line in app.lines[start:] if marker in line]


def wait_for_lines(app: RunningDevd, function: str, pattern: str, start: int, timeout: float = 10.0) -> list[str]:
    """Wait until a line of the function matches pattern, then return its lines from `start`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = lines_of(app, function, start)
        if re.search(pattern, "\n".join(lines)):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {function} line matching {pattern!r} in:\n" + "\n".join(app.lines[start:][-40:]))


# Errors


def test_thrown_error_is_500_on_http_api(app: RunningDevd) -> None:
    start = app.mark()
    status, body = app.get("/throws")

    assert status == 500
    assert json.loads(body) == {"message": "Internal Server Error"}
    assert "thrown on purpose" not in body
    lines = wait_for_lines(app, "throws", r"TypeError: thrown on purpose", start)
    assert any("throws.mjs" in line for line in lines), "the stack trace is not in the log"


def test_thrown_error_is_502_on_rest_api(app: RunningDevd) -> None:
    status, body = app.get("/rest-throws")

    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_callback_error_is_500_and_logged(app: RunningDevd) -> None:
    start = app.mark()
    status, body = app.get("/callback-error")

    assert status == 500
    assert json.loads(body) == {"message": "Internal Server Error"}
    wait_for_lines(app, "callback-error", r"Error: callback failed on purpose", start)


def test_import_error_is_500_then_fresh_worker(app: RunningDevd) -> None:
    start = app.mark()
    for _ in range(2):
        status, body = app.get("/import-error")
        assert status == 500
        assert json.loads(body) == {"message": "Internal Server Error"}

    lines = wait_for_lines(app, "import-error", r"REPORT RequestId:(.|\n)*REPORT RequestId:", start)
    assert any("RuntimeError: broken at import time" in line for line in lines)
    assert any('import_error.py", line 1' in line for line in lines)
    reports = [line for line in lines if "REPORT RequestId:" in line]
    assert all("Init Duration" in line for line in reports), "each request after a failed init should start a new worker"
    assert all("Status: error" in line for line in reports)


def test_rejection_after_response_keeps_serving(app: RunningDevd) -> None:
    start = app.mark()
    status, body = app.get("/reject-later")
    assert (status, body) == (200, "answered")

    wait_for_lines(app, "reject-later", r"rejected after the response", start)
    assert app.get("/reject-later") == (200, "answered")
    assert app.get("/counter")[0] == 200
    assert app.process.poll() is None


# Timeouts


def test_timeout_stops_at_configured_seconds(app: RunningDevd) -> None:
    _, body = app.get("/sleepy?nap=0")
    first_pid = json.loads(body)["pid"]

    start = app.mark()
    began = time.monotonic()
    status, _ = app.get("/sleepy")
    elapsed = time.monotonic() - began

    assert status == 500
    assert 2.9 <= elapsed < 6.0, f"the request took {elapsed:.1f} s, not about 3 s"
    lines = wait_for_lines(app, "sleepy", r"Task timed out after 3\.00 seconds(.|\n)*REPORT RequestId:", start)
    timed_out = next(line for line in lines if "Task timed out after 3.00 seconds" in line)
    request_tag = re.search(r"\[req [0-9a-f]{8}\]", timed_out).group(0)
    report = next(line for line in lines if "REPORT RequestId:" in line and request_tag in line)
    assert "Status: timeout" in report
    assert "Error Type: Sandbox.Timedout" in report

    _, body = app.get("/sleepy?nap=0")
    assert json.loads(body)["pid"] != first_pid, "the timed-out worker was not replaced"


def test_timeout_defaults_to_three_seconds(app: RunningDevd) -> None:
    start = app.mark()
    began = time.monotonic()
    status, _ = app.get("/sleepy-default")
    elapsed = time.monotonic() - began

    assert status == 500
    assert 2.9 <= elapsed < 5.5, f"the request took {elapsed:.1f} s, not about 3 s"
    wait_for_lines(app, "sleepy-default", r"Task timed out after 3\.00 seconds", start)


# Context


@pytest.mark.parametrize(("path", "function", "memory", "timeout_ms"), [
    ("/context", "context", "128", 7000),
    ("/context-py", "context-py", "256", 3000),
])
def test_context_values(app: RunningDevd, path: str, function: str, memory: str, timeout_ms: int) -> None:
    status, body = app.get(path)
    assert status == 200
    context = json.loads(body)

    assert re.fullmatch(REQUEST_ID, context["requestId"])
    assert context["functionName"] == f"fid-local-{function}"
    assert context["functionVersion"] == "$LATEST"
    assert context["memoryLimitInMB"] == memory
    assert context["invokedFunctionArn"] == f"arn:aws:lambda:eu-west-1:210987654321:function:fid-local-{function}"
    assert context["logGroupName"] == f"/aws/lambda/fid-local-{function}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context["logStreamName"])

    first, second = context["remaining"]
    assert timeout_ms - 1000 < first <= timeout_ms
    assert 150 <= first - second <= 1000, "the remaining time does not count down"


def test_context_request_id_unique(app: RunningDevd) -> None:
    ids = {json.loads(app.get("/context-py")[1])["requestId"] for _ in range(3)}

    assert len(ids) == 3


def test_callback_waits_for_empty_event_loop(app: RunningDevd) -> None:
    start = app.mark()
    began = time.monotonic()
    assert app.get("/waits")[0] == 200
    waited = time.monotonic() - began
    lines = wait_for_lines(app, "waits", r"REPORT RequestId:", start)

    assert waited >= 0.38, f"the response came after {waited:.2f} s, before the 400 ms timer"
    timer = [line for line in lines if "timer fired" in line]
    assert timer and "[req " in timer[0], "the timer's output is not tagged with the request id"


def test_callback_without_waiting_returns_at_once(app: RunningDevd) -> None:
    app.get("/waits?wait=no")
    began = time.monotonic()
    assert app.get("/waits?wait=no")[0] == 200

    assert time.monotonic() - began < 0.35


# Environment


def test_environment_has_terraform_values(app: RunningDevd) -> None:
    env = json.loads(app.get("/env")[1])

    assert env["FROM_LOCAL"] == "local-value"
    assert env["FROM_VAR_FILE"] == "var-file-value"
    assert env["FROM_TF_VAR"] == "tf-var-value"


def test_environment_has_reserved_variables(app: RunningDevd) -> None:
    env = json.loads(app.get("/env")[1])

    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fid-local-env"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["_HANDLER"] == "env.handler"
    assert Path(env["LAMBDA_TASK_ROOT"]).is_dir()
    assert env["TZ"] == "UTC"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fid-local-env"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_environment_keeps_host_credentials_out(app: RunningDevd) -> None:
    env = json.loads(app.get("/env")[1])

    assert "AWS_PROFILE" not in env
    assert "AWS_ACCESS_KEY_ID" not in env
    assert "TF_VAR_from_tf_var" not in env


def test_environment_passes_opted_in_host_variable(app: RunningDevd) -> None:
    env = json.loads(app.get("/env")[1])

    assert env["DEVD_FIDELITY_PASSED"] == "passed-through"


def test_environment_value_known_after_apply_reported(app: RunningDevd) -> None:
    env = json.loads(app.get("/env")[1])

    assert "TABLE_ARN" not in env
    line = app.wait_for_line(r"TABLE_ARN")
    assert "after apply" in line
    assert "fid-local-env" in line or "aws_lambda_function.env" in line


def test_runtime_api_rejects_requests_without_secret(app: RunningDevd) -> None:
    env = json.loads(app.get("/env")[1])
    host_port, _, secret = env["AWS_LAMBDA_RUNTIME_API"].partition("/")

    assert secret, "AWS_LAMBDA_RUNTIME_API has no secret path segment"
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as rejected:
        urllib.request.urlopen(f"http://{host_port}/2018-06-01/runtime/invocation/next", timeout=5)
    assert rejected.value.code in (403, 404)


# Custom runtimes


def test_custom_runtime_bootstrap_serves(app: RunningDevd) -> None:
    start = app.mark()
    status, body = app.get("/custom")

    assert status == 200
    answer = json.loads(body)
    assert answer["handler"] == "my.handler"
    assert answer["path"] == "/custom"
    lines = wait_for_lines(app, "custom", r"REPORT RequestId:", start)
    assert any(f"[req {answer['requestId'][:8]}] custom runtime received /custom" in line for line in lines)

    second = json.loads(app.get("/custom")[1])
    assert second["requestId"] != answer["requestId"]


def test_custom_runtime_rebuilds_on_bootstrap_change(app: RunningDevd) -> None:
    bootstrap = app.project / "functions" / "custom" / "bootstrap"
    start = app.mark()
    bootstrap.write_text(bootstrap.read_text().replace('"handler": os.environ["_HANDLER"]', '"handler": "edited"'))

    wait_for_lines(app, "custom", r"\| built #\d+", start)
    assert json.loads(app.get("/custom")[1])["handler"] == "edited"


def test_custom_runtime_without_secret_serves(app: RunningDevd) -> None:
    status, body = app.get("/authority")

    assert status == 200, body
    answer = json.loads(body)
    assert answer["path"] == "/authority"
    assert "/" not in answer["authority"]

    second = json.loads(app.get("/authority")[1])
    assert second["requestId"] != answer["requestId"]


def test_outsider_without_secret_gets_404(app: RunningDevd) -> None:
    status, body = app.get("/authority")
    assert status == 200, body
    host, _, port = json.loads(body)["authority"].partition(":")

    outsider = subprocess.run(
        [sys.executable, "-c", OUTSIDER_CLIENT, host, port], capture_output=True, text=True, timeout=30
    )

    assert outsider.returncode == 0, outsider.stderr
    assert outsider.stdout.strip() == "HTTP/1.1 404 Not Found"
    status, body = app.get("/authority")
    assert status == 200, body


# Platform lines


def test_platform_lines_carry_request_id(app: RunningDevd) -> None:
    start = app.mark()
    _, body = app.get("/prints")
    request_id = json.loads(body)["requestId"]
    lines = wait_for_lines(app, "prints", rf"REPORT RequestId: {request_id}", start)
    short = f"[req {request_id[:8]}]"

    # Run alone, this test also gets the build line of the build its request started.
    invocation = [line for line in lines if "built #" not in line]
    texts = [line.split(" | ", 1)[1] for line in invocation]
    assert texts[0].endswith(f"START RequestId: {request_id} Version: $LATEST")
    assert any(text.endswith("first line") for text in texts)
    assert any(text.endswith("second line") for text in texts)
    assert any(text.endswith(f"END RequestId: {request_id}") for text in texts)
    assert all(short in line for line in invocation), "a line lacks the request id:\n" + "\n".join(invocation)


def test_report_line_fields(app: RunningDevd) -> None:
    start = app.mark()
    app.get("/prints")
    cold = wait_for_lines(app, "prints", r"REPORT RequestId:", start)
    start = app.mark()
    app.get("/prints")
    warm = wait_for_lines(app, "prints", r"REPORT RequestId:", start)

    pattern = (
        rf"REPORT RequestId: {REQUEST_ID}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB"
    )
    cold_report = next(line for line in cold if "REPORT" in line)
    warm_report = next(line for line in warm if "REPORT" in line)
    assert re.search(pattern, cold_report)
    assert re.search(pattern, warm_report)
    assert "Init Duration" not in warm_report
    duration, billed = re.search(r"Duration: ([\d.]+) ms\tBilled Duration: (\d+) ms", warm_report).groups()
    assert int(billed) >= float(duration)


def test_cold_start_report_has_init_duration(app: RunningDevd) -> None:
    start = app.mark()
    app.get("/import-error")
    lines = wait_for_lines(app, "import-error", r"REPORT RequestId:", start)

    report = next(line for line in lines if "REPORT" in line)
    assert re.search(r"\tInit Duration: \d+\.\d\d ms", report)


# Source maps


def test_typescript_stack_points_at_ts_lines(app: RunningDevd) -> None:
    start = app.mark()
    status, _ = app.get("/typescript")

    assert status == 500
    lines = wait_for_lines(app, "typescript", r"RangeError: order 42 is out of range", start)
    stack = "\n".join(lines)
    assert re.search(r"handler\.ts:6:\d+", stack), stack
    assert ".mjs:" not in stack


# Reload

SETTLE_S = 1.5
"""Time after the last expected build line in which no further build may start."""


def builds_of(app: RunningDevd, function: str, start: int) -> list[str]:
    return [line for line in lines_of(app, function, start) if re.search(r"\| built #\d+", line)]


def settled_builds(app: RunningDevd, function: str, start: int, expected: int, timeout: float = 20.0) -> int:
    """Wait for `expected` build lines of the function, then `SETTLE_S` more, and return the count."""
    deadline = time.monotonic() + timeout
    while len(builds_of(app, function, start)) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(SETTLE_S)
    return len(builds_of(app, function, start))


def test_edit_reloads_with_fresh_state(app: RunningDevd) -> None:
    source = app.project / "functions" / "node" / "counter.mjs"
    assert [json.loads(app.get("/counter")[1])["count"] for _ in range(2)][-1] >= 2
    other_before = json.loads(app.get("/other-counter")[1])["count"]

    answers: list[dict] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set() and len(answers) < 2000:
            status, body = app.get("/counter")
            if status == 200:
                answers.append(json.loads(body))

    poller = threading.Thread(target=poll)
    start = app.mark()
    poller.start()
    try:
        time.sleep(0.2)
        source.write_text(source.read_text().replace("const STEP = 1;", "const STEP = 10;"))
        wait_for_lines(app, "counter", r"\| built #\d+", start)
        time.sleep(0.5)
    finally:
        stop.set()
        poller.join(timeout=35)

    for answer in answers:
        assert answer["count"] % answer["step"] == 0, f"an answer mixes two builds: {answer}"
    assert answers[-1]["step"] == 10
    first_new = next(answer for answer in answers if answer["step"] == 10)
    assert first_new["count"] == 10, "the new build did not start from a fresh module state"
    assert json.loads(app.get("/other-counter")[1])["count"] == other_before + 1


@pytest.mark.parametrize("style", ["vim_backup", "rename_over", "two_quick_writes"])
def test_editor_save_rebuilds_once(app: RunningDevd, style: str) -> None:
    source = app.project / "functions" / "node" / "saves.mjs"
    version = f"{style}-1"
    text = f'export const handler = async () => ({{ version: "{version}" }});\n'
    start = app.mark()

    if style == "vim_backup":
        backup = source.with_name("saves.mjs~")
        source.rename(backup)
        source.write_text(text)
        backup.unlink()
    elif style == "rename_over":
        temporary = source.with_name(".saves.mjs.tmp123")
        temporary.write_text(text)
        temporary.replace(source)
    else:
        source.write_text(text.replace(version, "halfway"))
        source.write_text(text)

    assert settled_builds(app, "saves", start, expected=1) == 1
    assert json.loads(app.get("/saves")[1])["version"] == version

    start = app.mark()
    source.write_text(text.replace(version, f"{style}-2"))
    assert settled_builds(app, "saves", start, expected=1) == 1
    assert json.loads(app.get("/saves")[1])["version"] == f"{style}-2"


def test_temporary_names_trigger_nothing(app: RunningDevd) -> None:
    directory = app.project / "functions" / "node"
    start = app.mark()
    for name in ("saves.mjs~", ".saves.mjs.swp", "saves.mjs.tmp", "4913"):
        (directory / name).write_text("scratch")
        (directory / name).unlink()

    time.sleep(SETTLE_S)
    assert [line for line in app.lines[start:] if "built #" in line] == []


def test_burst_of_changes_rebuilds_each_once(app: RunningDevd) -> None:
    directory = app.project / "functions" / "node"
    start = app.mark()
    for round_number in range(1, 6):
        (directory / "burst_a.mjs").write_text(f'export const handler = async () => ({{ version: "a{round_number}" }});\n')
        (directory / "burst_b.mjs").write_text(f'export const handler = async () => ({{ version: "b{round_number}" }});\n')
        for index in range(10):
            (directory / f"unrelated_{index}.txt").write_text(f"{round_number}")
        time.sleep(0.01)

    assert settled_builds(app, "burst-a", start, expected=1) == 1
    assert len(builds_of(app, "burst-b", start)) == 1
    assert json.loads(app.get("/burst-a")[1])["version"] == "a5"
    assert json.loads(app.get("/burst-b")[1])["version"] == "b5"
