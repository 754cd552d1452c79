"""Secrets in a project never reach devd's output, its log file, `devd ls` or the SAM template.

The example's functions get an AWS key pair, a session token and a secret-named variable in
their Terraform environment, a handler prints them, and a Procfile command contains a token.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import start_devd, stop_devd

ACCESS_KEY_ID = "AKIAZ7EXAMPLE2KEY4ID"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample"
DB_PASSWORD = "correct-horse-battery-staple"
GITHUB_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"

SECRET_VALUES = (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, DB_PASSWORD, GITHUB_TOKEN)

ENVIRONMENT = f"""environment = {{
    AWS_ACCESS_KEY_ID     = "{ACCESS_KEY_ID}"
    AWS_SECRET_ACCESS_KEY = "{SECRET_ACCESS_KEY}"
    AWS_SESSION_TOKEN     = "{SESSION_TOKEN}"
    DB_PASSWORD           = "{DB_PASSWORD}"
    TABLE_NAME            = "items"
  }}"""

PRINTING_HANDLER = '''
import json
import os


def handler(event, context):
    print("environment", json.dumps(dict(os.environ)))
    print("AWS_SESSION_TOKEN=" + os.environ["AWS_SESSION_TOKEN"])
    print("plain", os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SESSION_TOKEN"])
    if (event.get("queryStringParameters") or {}).get("bare"):
        print("bare", os.environ["DB_PASSWORD"])
    return {"statusCode": 200, "body": os.environ["TABLE_NAME"]}
'''


def _add_secrets(example: Path) -> None:
    rest_api = example / "infra/rest_api.tf"
    text = rest_api.read_text()
    marker = '''  role_arn    = aws_iam_role.lambda.arn
  environment = local.common_environment
}

resource "aws_api_gateway_deployment"'''
    assert marker in text
    rest_api.write_text(text.replace(marker, marker.replace("environment = local.common_environment", ENVIRONMENT)))
    get_item = example / "functions/items/get_item.py"
    get_item.write_text(PRINTING_HANDLER)


def _assert_no_secret(text: str, where: str) -> None:
    for value in SECRET_VALUES:
        assert value not in text, f"{value[:8]}... appears in {where}"


def test_logs_mask_secrets(example: Path) -> None:
    _add_secrets(example)
    (example / "Procfile").write_text(f"leaky: echo GITHUB_TOKEN={GITHUB_TOKEN} && sleep 30\n")
    running = start_devd(example, procfile=True)
    try:
        running.wait_for_line(r"get-item: ready #1")
        status, body = running.get("/items/1")
        running.wait_for_line(r"plain AKIA\*\*\*\* \*\*\*\*")
        running.wait_for_line(r"leaky .*GITHUB_TOKEN=")
    finally:
        stop_devd(running)
    output = "\n".join(running.lines)
    log_file = (example / ".devd/devd.log").read_text()

    assert status == 200
    assert body == "items"
    assert "AWS_SESSION_TOKEN=****" in output
    assert "GITHUB_TOKEN=****" in output
    assert "GITHUB_TOKEN=****" in log_file, "the Procfile command is logged, masked"
    _assert_no_secret(output, "the output of devd up")
    _assert_no_secret(log_file, ".devd/devd.log")


@pytest.mark.parametrize("arguments", [["ls"], ["ls", "--json"]], ids=["table", "json"])
def test_ls_masks_secrets(example: Path, arguments: list[str]) -> None:
    _add_secrets(example)
    (example / "infra/broken.tf").write_text(f'locals {{\n  password = "{DB_PASSWORD}"\n  x = \n}}\n')

    result = subprocess.run([sys.executable, "-m", "devd", "-C", str(example), *arguments],
                            check=False, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1, result.stderr
    _assert_no_secret(result.stdout, "the output of devd ls")
    _assert_no_secret(result.stderr, "the problems of devd ls")
    if "--json" in arguments:
        functions = {f["name"]: f for f in json.loads(result.stdout)["functions"]}
        environment = functions["devd-example-dev-get-item"]["environment"]
        assert environment["AWS_SECRET_ACCESS_KEY"] == "****"
        assert environment["DB_PASSWORD"] == "****"
        assert environment["AWS_ACCESS_KEY_ID"] == "AKIA****"
        assert environment["TABLE_NAME"] == "items"


def test_sam_template_withholds_secrets(example: Path) -> None:
    _add_secrets(example)
    subprocess.run([sys.executable, "-m", "devd", "-C", str(example), "build"], check=True, capture_output=True,
                   timeout=120)

    subprocess.run([sys.executable, "-m", "devd", "-C", str(example), "sam", "template"], check=True,
                   capture_output=True, timeout=60)
    template_text = (example / ".devd/template.yaml").read_text()
    env_file = example / ".devd/sam-env.json"
    template = yaml.safe_load(template_text)
    withheld = json.loads(env_file.read_text())

    _assert_no_secret(template_text, ".devd/template.yaml")
    function_id = next(name for name, resource in template["Resources"].items()
                       if resource["Properties"].get("FunctionName") == "devd-example-dev-get-item")
    variables = template["Resources"][function_id]["Properties"]["Environment"]["Variables"]
    assert variables["DB_PASSWORD"] == "****"
    assert variables["TABLE_NAME"] == "items"
    assert withheld[function_id]["DB_PASSWORD"] == DB_PASSWORD
    assert withheld[function_id]["AWS_SESSION_TOKEN"] == SESSION_TOKEN
    assert "TABLE_NAME" not in withheld[function_id]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_bare_secret_value_masked(example: Path) -> None:
    _add_secrets(example)
    running = start_devd(example)
    try:
        running.wait_for_line(r"get-item: ready #1")
        assert running.get("/items/1?bare=1")[0] == 200
        line = running.wait_for_line(r"\bbare ")
    finally:
        stop_devd(running)

    assert DB_PASSWORD not in line
    assert "bare ****" in line


async def test_only_lines_devd_wrote_itself_skip_masking(example: Path) -> None:
    from devd.config import resolve_settings
    from devd.engine.daemon import Daemon
    from devd.logs.records import LogRecord

    daemon = Daemon(resolve_settings(example, port=0, procfile=False))
    queue = daemon.subscribe()
    while not queue.empty():
        queue.get_nowait()
    handler_line = f"REPORT RequestId: 1\tError Type: {ACCESS_KEY_ID}"

    daemon.publish(LogRecord("fn", handler_line))
    daemon.publish(LogRecord("fn", "END RequestId: 1", secret_free=True))

    texts = [queue.get_nowait().text for _ in range(2)]
    assert ACCESS_KEY_ID not in texts[0]
    assert "AKIA****" in texts[0]
    assert texts[1] == "END RequestId: 1"
