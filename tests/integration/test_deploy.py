"""`devd deploy` and `devd logs --remote` on the bundled example, with real Terraform and a moto server.

The module applies the whole example once, which took about 25 s on a loaded 2-core machine.
The tests then deploy one function at a time into that state, in file order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from devd.build.artifact import base64_sha256
from devd.cli.up import attach_deployer
from devd.config import resolve_settings
from devd.deploy.model import DeployState, DeployStatus, Drift
from devd.deploy.terraform_deployer import TerraformDeployer
from devd.engine.daemon import Daemon
from devd.tui.app import DevdApp
from devd.tui.screens import ConfirmScreen
from tests.integration.conftest import (
    copy_example,
    processes_under,
    start_devd,
    stop_devd,
)
from tests.integration.terraform_env import (
    MotoServer,
    require_terraform,
    run_in_group,
    terraform_environ,
    write_cli_config,
)
from tests.unit.tui.test_app import SCREEN_SIZE, table_rows, wait_until
from tests.unit.tui.test_keys import screen_text

pytestmark = pytest.mark.timeout(300)

HELLO = "devd-example-dev-get-hello"
FUNCTIONS = (HELLO, "devd-example-dev-create-item", "devd-example-dev-get-item", "devd-example-dev-status")
COMMAND_TIMEOUT = 150


@dataclasses.dataclass(frozen=True)
class Project:
    """The applied example: its directory, the environments of devd and terraform, and moto's URL."""

    root: Path
    devd_environ: dict[str, str]
    terraform_environ: dict[str, str]
    endpoint: str

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def code_sha256(self, name: str) -> str:
        return self.client("lambda").get_function_configuration(FunctionName=name)["CodeSha256"]

    def devd(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        return run_in_group([sys.executable, "-m", "devd", "-C", str(self.root), *args], env=self.devd_environ,
                            timeout=timeout)

    def terraform(self, *args: str) -> subprocess.CompletedProcess:
        options = [] if args[0] == "state" else ["-input=false", "-no-color"]
        return run_in_group(["terraform", *args, *options], cwd=self.root / "infra", env=self.terraform_environ,
                            timeout=COMMAND_TIMEOUT)

    def edit_hello(self, greeting: str) -> None:
        handler = self.root / "functions/hello/handler.ts"
        text = handler.read_text()
        start = text.index('process.env.GREETING || "') + len('process.env.GREETING || "')
        end = text.index('"', start)
        handler.write_text(text[:start] + greeting + text[end:])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    require_terraform()
    directory = tmp_path_factory.mktemp("deploy")
    with pytest.MonkeyPatch.context() as patch:
        # The example attaches AWSLambdaBasicExecutionRole, an AWS managed policy that moto
        # loads only when asked.
        patch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        with MotoServer(directory / "moto.log") as endpoint:
            yield _applied_example(directory, endpoint)


def _applied_example(directory: Path, endpoint: str) -> Project:
    cli_config = write_cli_config(directory)
    terraform = dict(terraform_environ(cli_config, endpoint), AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    root = copy_example(directory / "app")
    # devd gets its AWS settings only from the project's .env, as a user of the demo would.
    (root / ".env").write_text(f"AWS_ACCESS_KEY_ID=test\nAWS_SECRET_ACCESS_KEY=test\nAWS_REGION=us-east-1\n"
                               f"AWS_ENDPOINT_URL={endpoint}\n")
    devd_environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    devd_environ.update(TF_CLI_CONFIG_FILE=str(cli_config), AWS_EC2_METADATA_DISABLED="true",
                        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    project = Project(root, devd_environ, terraform, endpoint)

    build = project.devd("build")
    assert build.returncode == 0, build.stdout + build.stderr
    for command in (["init"], ["apply", "-auto-approve", "-var-file=vars/dev.tfvars"]):
        result = project.terraform(*command)
        assert result.returncode == 0, result.stdout + result.stderr
    return project


def _plan_addresses(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.startswith(("    ~ ", "    + ", "    - ", "  -/+ "))]


def test_applied_example_runs_devd_zips(project: Project) -> None:
    hello = project.root / "dist/get-hello.zip"

    assert project.code_sha256(HELLO) == base64_sha256(hello)
    assert zipfile.ZipFile(hello).namelist() == ["handler.mjs", "handler.mjs.map"]
    assert project.code_sha256("devd-example-dev-status") == base64_sha256(project.root / "dist/status.zip")


def test_deploy_changes_only_targeted_module(project: Project) -> None:
    before = {name: project.code_sha256(name) for name in FUNCTIONS}
    project.edit_hello("Howdy")

    result = project.devd("deploy", HELLO, "--yes")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Targets: module.get_hello\n" in result.stdout
    changed = _plan_addresses(result.stdout)
    assert changed == ["module.get_hello.aws_lambda_function.this"]
    after = {name: project.code_sha256(name) for name in FUNCTIONS}
    assert after[HELLO] != before[HELLO]
    assert after[HELLO] == base64_sha256(project.root / "dist/get-hello.zip")
    assert {n: after[n] for n in FUNCTIONS[1:]} == {n: before[n] for n in FUNCTIONS[1:]}
    assert "module.get_hello.aws_lambda_function.this" in project.terraform("state", "list").stdout
    full_plan = project.terraform("plan", "-detailed-exitcode", "-var-file=vars/dev.tfvars")
    assert full_plan.returncode == 0, full_plan.stdout + full_plan.stderr


def test_code_only_skips_terraform(project: Project) -> None:
    state = project.root / "infra/terraform.tfstate"
    state_before = state.read_bytes()
    before = project.code_sha256(HELLO)
    project.edit_hello("Ahoy")

    first = project.devd("deploy", HELLO, "--code-only")
    second = project.devd("deploy", HELLO, "--code-only")

    assert first.returncode == 0, first.stdout + first.stderr
    deployed = project.code_sha256(HELLO)
    assert deployed != before
    assert deployed == base64_sha256(project.root / "dist/get-hello.zip")
    assert state.read_bytes() == state_before
    assert "source_code_hash" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing uploaded" in second.stdout
    assert project.code_sha256(HELLO) == deployed


def test_drift_states(project: Project) -> None:
    deployer = TerraformDeployer(_settings(project))
    address = "module.get_hello.aws_lambda_function.this"

    up_to_date = asyncio.run(deployer.drift(address))
    project.edit_hello("Hiya")
    asyncio.run(_build_only(deployer, address))
    local_changes = asyncio.run(deployer.drift(address))
    project.client("lambda").update_function_code(
        FunctionName=HELLO, ZipFile=_zip_of(project.root / "functions/status/index.mjs"))
    foreign = asyncio.run(deployer.drift(address))

    assert up_to_date.value == "up to date"
    assert local_changes.value == "local changes not deployed"
    assert foreign.value == "deployed code no local build produced"


def test_cancelled_deploy_releases_lock(project: Project) -> None:
    statuses: list[DeployStatus] = []
    deployer = TerraformDeployer(_settings(project), on_status=statuses.append)
    project.edit_hello("Greetings")

    result = asyncio.run(_apply_and_cancel(deployer, HELLO))

    assert result.ok is False
    assert result.summary == "cancelled"
    assert [s.state for s in statuses][-2:] == [DeployState.APPLYING, DeployState.CANCELLED]
    assert processes_under(project.root / "infra") == []
    later = project.terraform("plan", "-lock-timeout=0s", "-var-file=vars/dev.tfvars")
    assert later.returncode == 0, later.stdout + later.stderr
    assert "state lock" not in later.stderr


@pytest.mark.timeout(600)
def test_failing_apply_exits_nonzero(project: Project) -> None:
    broken = project.root / "infra/broken.tf"
    broken.write_text(BROKEN_FUNCTION)
    try:
        # NOTE: the provider sometimes retries the missing REST API for minutes before the
        # apply fails, so this command gets more time than the others.
        result = project.devd("deploy", "devd-example-dev-broken", "--yes", timeout=400)
    finally:
        broken.unlink()
        cleanup = project.terraform("apply", "-auto-approve", "-var-file=vars/dev.tfvars",
                                    "-target=aws_lambda_function.broken")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Targets: aws_lambda_function.broken, aws_api_gateway_integration.broken" in result.stdout
    assert "`terraform apply` for devd-example-dev-broken failed" in result.stderr
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert "broken" not in project.terraform("state", "list").stdout


def test_deploy_without_terminal_refused(project: Project) -> None:
    result = project.devd("deploy", HELLO)

    assert result.returncode == 2
    assert "pass --yes" in result.stderr


def test_remote_logs_print_events(project: Project) -> None:
    logs = project.client("logs")
    group = f"/aws/lambda/{HELLO}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="2026/12/04/[$LATEST]abc")
    request = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    now = int(time.time() * 1000)
    _put(logs, group, now, [f"START RequestId: {request} Version: $LATEST",
                            f"2026-12-04T10:00:00.000Z\t{request}\tINFO\tgreeting sent",
                            f"END RequestId: {request}",
                            (f"REPORT RequestId: {request}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
                             "Memory Size: 256 MB\tMax Memory Used: 70 MB\t")])

    result = project.devd("logs", HELLO, "--remote")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"REPORT {request} 12.34 ms, 70/256 MB" in result.stdout
    assert "INFO\tgreeting sent" in result.stdout
    assert f"START {request}" in result.stdout
    assert result.stdout.count("greeting sent") == 1


def test_remote_logs_follow_new_events(project: Project) -> None:
    logs = project.client("logs")
    group = f"/aws/lambda/{HELLO}"
    process = subprocess.Popen([sys.executable, "-m", "devd", "-C", str(project.root), "logs", HELLO, "--remote",
                                "--follow"], env=project.devd_environ, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    try:
        _wait_for(lambda: any("greeting sent" in line for line in lines), 30, lines)
        _put(logs, group, int(time.time() * 1000), ["a new event after following started"])
        _wait_for(lambda: any("a new event after following started" in line for line in lines), 30, lines)
        time.sleep(2.5)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(15)

    assert sum("a new event after following started" in line for line in lines) == 1
    assert sum("greeting sent" in line for line in lines) == 1


BROKEN_FUNCTION = '''
resource "aws_lambda_function" "broken" {
  function_name    = "${local.name_prefix}-broken"
  role             = aws_iam_role.lambda.arn
  runtime          = "nodejs20.x"
  handler          = "handler.main"
  filename         = "${path.module}/../dist/get-hello.zip"
  source_code_hash = filebase64sha256("${path.module}/../dist/get-hello.zip")
}

# The REST API does not exist, so creating the integration fails during apply, not plan.
resource "aws_api_gateway_integration" "broken" {
  rest_api_id             = "missing0api"
  resource_id             = "missing0res"
  http_method             = "GET"
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.broken.invoke_arn
}
'''


def test_deploy_command_goes_through_running_devd(project: Project) -> None:
    running = start_devd(project.root, environ=project.devd_environ)
    try:
        running.wait_for_line(r"get-hello: ready #1")
        project.edit_hello("Hola")
        running.wait_for_line(r"get-hello: ready #2")
        before = project.code_sha256(HELLO)

        result = project.devd("deploy", "get-hello", "--yes")

        assert result.returncode == 0, result.stdout + result.stderr
        assert "deploying through the running devd" in result.stderr
        assert "Targets: module.get_hello\n" in result.stdout
        assert project.code_sha256(HELLO) != before
        assert project.code_sha256(HELLO) == base64_sha256(project.root / "dist/get-hello.zip")
        running.wait_for_line(r"devd deploy module\.get_hello\.aws_lambda_function\.this: requested")
        running.wait_for_line(r"apply of module\.get_hello\.aws_lambda_function\.this: ")
    finally:
        stop_devd(running)


async def test_tui_keys_deploy_with_terraform_and_show_drift(project: Project) -> None:
    settings = dataclasses.replace(resolve_settings(project.root, port=0, procfile=False),
                                   environ=project.devd_environ)
    daemon = Daemon(settings)
    attach_deployer(daemon, settings)
    await daemon.start()
    app = DevdApp(daemon)
    address = "module.get_hello.aws_lambda_function.this"

    def drift() -> Drift:
        status = daemon.deploys.statuses.get(address)
        return status.drift if status else Drift.UNKNOWN

    try:
        async with app.run_test(size=SCREEN_SIZE) as pilot:
            await wait_until(pilot, lambda: drift() is Drift.UP_TO_DATE, timeout=60)
            for _ in range(next(i for i, row in enumerate(table_rows(app)) if row[0] == HELLO)):
                await pilot.press("down")

            project.edit_hello("Servus")
            await wait_until(pilot, lambda: drift() is Drift.LOCAL_CHANGES, timeout=60)
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=120)
            assert address in screen_text(app)
            await pilot.press("y")
            await wait_until(pilot, lambda: daemon.deploys.statuses[address].state is DeployState.DEPLOYED,
                             timeout=120)
            assert project.code_sha256(HELLO) == base64_sha256(project.root / "dist/get-hello.zip")

            project.edit_hello("Moin")
            await wait_until(pilot, lambda: drift() is Drift.LOCAL_CHANGES, timeout=60)
            await pilot.press("D")
            await wait_until(pilot, lambda: project.code_sha256(HELLO) == base64_sha256(
                project.root / "dist/get-hello.zip"), timeout=60)
            await wait_until(pilot, lambda: daemon.deploys.statuses[address].state is DeployState.DEPLOYED,
                             timeout=30)
    finally:
        await daemon.stop()


def _settings(project: Project):
    settings = resolve_settings(project.root)
    return dataclasses.replace(settings, environ=project.devd_environ)


async def _build_only(deployer: TerraformDeployer, address: str) -> None:
    await deployer._build(deployer.find(address))


async def _apply_and_cancel(deployer: TerraformDeployer, name: str):
    plan = await deployer.plan(name)
    applying = asyncio.create_task(deployer.apply(plan))
    deadline = time.monotonic() + 60
    while not deployer.runner.running and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert await deployer.cancel(name) is True
    return await applying


def _zip_of(path: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(path, path.name)
    return buffer.getvalue()


def _put(logs, group: str, timestamp: int, messages: list[str]) -> None:
    events = [{"timestamp": timestamp + index, "message": message} for index, message in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName="2026/12/04/[$LATEST]abc", logEvents=events)


def _wait_for(condition, timeout: float, lines: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout:.0f} s; last output:\n" + "\n".join(lines[-30:]))
