"""Lambda's Invoke API and `devd invoke` against a real `devd up` on a copy of the example,
called with boto3 as an application would call AWS."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import RunningDevd, copy_example, start_devd, stop_devd

GET_ITEM = "devd-example-dev-get-item"
STATUS = "devd-example-dev-status"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevd]:
    project = copy_example(tmp_path_factory.mktemp("invoke") / "app")
    running = start_devd(project)
    yield running
    stop_devd(running)


@pytest.fixture(scope="module")
def lambda_client(running: RunningDevd):
    return boto3.client(
        "lambda",
        endpoint_url=running.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=30),
    )


def port_of(running: RunningDevd) -> str:
    return running.url.rsplit(":", 1)[1]


def run_invoke(running: RunningDevd, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "devd", "-C", str(running.project), "invoke", *args]
    return subprocess.run(command, capture_output=True, text=True, input=stdin, timeout=60)


def test_request_response_returns_payload(lambda_client) -> None:
    event = {"pathParameters": {"id": "1"}}
    response = lambda_client.invoke(FunctionName=GET_ITEM, Payload=json.dumps(event))

    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    payload = json.loads(response["Payload"].read())
    assert payload["statusCode"] == 200
    assert json.loads(payload["body"])["name"] == "apple"


def test_request_response_by_arn(lambda_client) -> None:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{STATUS}"
    by_arn = lambda_client.invoke(FunctionName=arn, Payload=b'{"rawPath": "/arn"}')
    partial = lambda_client.invoke(FunctionName=f"123456789012:function:{STATUS}:$LATEST")
    qualified = lambda_client.invoke(FunctionName=STATUS, Qualifier="$LATEST")

    assert json.loads(by_arn["Payload"].read()) == {"status": "ok", "stage": "dev", "path": "/arn"}
    assert json.loads(partial["Payload"].read())["status"] == "ok"
    assert json.loads(qualified["Payload"].read())["status"] == "ok"


def test_function_error_is_unhandled(lambda_client) -> None:
    response = lambda_client.invoke(FunctionName=GET_ITEM, Payload=b"[1, 2]")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    document = json.loads(response["Payload"].read())
    assert document["errorType"] == "AttributeError"
    assert "get" in document["errorMessage"]


def test_event_runs_in_background(lambda_client, running: RunningDevd) -> None:
    start = running.mark()
    event = {"pathParameters": {"id": "4242"}}
    response = lambda_client.invoke(
        FunctionName=GET_ITEM, InvocationType="Event", Payload=json.dumps(event)
    )

    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    running.wait_for_line(r"item 4242 not found", start=start)


def test_dry_run_does_not_invoke(lambda_client, running: RunningDevd) -> None:
    start = running.mark()
    response = lambda_client.invoke(
        FunctionName=GET_ITEM, InvocationType="DryRun", Payload=b'{"pathParameters": {"id": "777"}}'
    )

    assert response["StatusCode"] == 204
    running.wait_for_line(r"POST /2015-03-31/functions/.*-> 204", start=start)
    assert not any("777" in line for line in running.lines[start:])


def test_unknown_function_not_found(lambda_client) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="no-such-function", Payload=b"{}")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    expected = "Function not found: arn:aws:lambda:us-east-1:123456789012:function:no-such-function"
    assert error["Error"]["Message"] == expected


def test_other_qualifier_not_found(lambda_client) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=STATUS, Qualifier="live")

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["Error"]["Message"].endswith(f"function:{STATUS}:live")


def test_payload_not_json_rejected(lambda_client) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName=STATUS, Payload=b"not json")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"


def test_invalid_invocation_type_rejected(running: RunningDevd) -> None:
    request = urllib.request.Request(
        f"{running.url}/2015-03-31/functions/{STATUS}/invocations",
        data=b"{}",
        headers={"X-Amz-Invocation-Type": "Sometimes"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)

    assert raised.value.code == 400
    assert raised.value.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"


def test_cli_prints_payload(running: RunningDevd) -> None:
    result = run_invoke(running, STATUS, "--port", port_of(running), "--event", "-",
                        stdin='{"rawPath": "/from-cli"}')

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "ok", "stage": "dev", "path": "/from-cli"}


def test_cli_event_file_and_default(running: RunningDevd, tmp_path: Path) -> None:
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps({"pathParameters": {"id": "2"}}))
    with_file = run_invoke(running, GET_ITEM, "--port", port_of(running), "--event", str(event_file))
    without = run_invoke(running, GET_ITEM, "--port", port_of(running))

    assert with_file.returncode == 0, with_file.stderr
    assert json.loads(json.loads(with_file.stdout)["body"])["id"] == "2"
    assert without.returncode == 0, without.stderr
    assert json.loads(without.stdout)["statusCode"] == 400


def test_cli_function_error_exits_1(running: RunningDevd) -> None:
    result = run_invoke(running, GET_ITEM, "--port", port_of(running), "--event", "-", stdin="[]")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "AttributeError" in result.stderr


def test_cli_event_type(running: RunningDevd) -> None:
    start = running.mark()
    result = run_invoke(running, GET_ITEM, "--port", port_of(running), "--type", "Event",
                        "--event", "-", stdin='{"pathParameters": {"id": "5150"}}')

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    running.wait_for_line(r"item 5150 not found", start=start)


def test_cli_takes_a_short_name(running: RunningDevd) -> None:
    result = run_invoke(running, "status", "--port", port_of(running))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ok"


def test_cli_unknown_function(running: RunningDevd) -> None:
    result = run_invoke(running, "nope", "--port", port_of(running))

    assert result.returncode == 2
    assert "nope" in result.stderr
    assert "not found" in result.stderr


def test_cli_nothing_listening(running: RunningDevd) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    result = run_invoke(running, STATUS, "--port", str(free_port))

    assert result.returncode == 2
    assert f"127.0.0.1:{free_port}" in result.stderr
    assert "devd up" in result.stderr
    assert "--port" in result.stderr

