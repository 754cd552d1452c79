"""Oracle tests: devd's own evaluator against `terraform plan` on the same projects, field by field.

Each project is copied, pointed at a moto server, initialised with the mirrored AWS provider
and planned once. Exact mode turns the plan into an inventory, which must equal what
`discover` returns, except for the differences listed with their reasons: in
KNOWN_DIFFERENCES below, or in a fixture.json's `oracle_differences`. A listed difference that
no longer occurs fails too, so the lists stay true.

The projects are those in tests/fixtures/plans/projects/ and every tests/fixtures/discovery/
fixture whose fixture.json has `"oracle": true`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from devd.cli import main
from devd.errors import TerraformError
from devd.inventory import Inventory
from devd.terraform import terraform_cli
from devd.terraform.discover import discover
from devd.terraform.exact import exact_inventory
from devd.terraform.loader import TerraformOptions
from tests.integration.terraform_env import (
    PLAN_PROJECTS,
    REPO,
    MotoServer,
    TerraformEnv,
    build_packages,
    copy_project,
    fixture_settings,
    plan_project,
    require_terraform,
    terraform_environ,
    write_cli_config,
)

DISCOVERY = REPO / "tests" / "fixtures" / "discovery"

FUNCTION_FIELDS = ("name", "runtime", "handler", "environment", "timeout", "memory", "architectures", "source",
                   "layers", "runnable")
ROUTE_FIELDS = ("payload_version", "function", "stage")
LAYER_FIELDS = ("name", "source")

Mismatches = dict[tuple[str, str, str], tuple[Any, Any]]
"""(kind, key, field) to (devd value, terraform value). The field is "present" when one side lacks the item."""


@dataclass(frozen=True)
class Difference:
    """A field on which devd and Terraform disagree for a stated reason."""

    devd: Any
    terraform: Any
    reason: str


_PLAN_CANNOT_KNOW = "the plan cannot know it: "
_OPENAPI_BODY_UNKNOWN = (_PLAN_CANNOT_KNOW + "the OpenAPI body contains an invoke ARN, so Terraform knows the "
                         "whole body only after apply, while devd reads the document around the unknown value")

KNOWN_DIFFERENCES: dict[str, dict[tuple[str, str, str], Difference]] = {
    "root_env": {
        ("function", "aws_lambda_function.late", "environment"): Difference(
            {"STAGE": "test"}, {},
            _PLAN_CANNOT_KNOW + "ROLE_ARN is known only after apply, and Terraform then marks the whole "
            "variables map unknown, so the plan has no STAGE either; devd leaves out only ROLE_ARN"),
    },
    "rest_tree": {
        ("route", "rest aws_api_gateway_rest_api.reports ANY /reports", "present"): Difference(
            True, False, _OPENAPI_BODY_UNKNOWN),
    },
    "discovery/rest_openapi_body": {
        ("route", f"rest aws_api_gateway_rest_api.{api} {route}", "present"): Difference(
            True, False, _OPENAPI_BODY_UNKNOWN)
        for api, route in (("orders", "GET /orders"), ("orders", "GET /orders/{orderId}"),
                           ("orders", "POST /orders"), ("pets", "GET /pets"), ("pets", "GET /pets/{petId}"),
                           ("pets", "POST /pets"))
    },
}


@dataclass(frozen=True)
class Case:
    """One project to plan, and the differences listed for it."""

    name: str
    source: Path
    differences: dict[tuple[str, str, str], Difference]


def _listed_differences(source: Path, name: str) -> dict[tuple[str, str, str], Difference]:
    listed = dict(KNOWN_DIFFERENCES.get(name, {}))
    for entry in json.loads((source / "fixture.json").read_text()).get("oracle_differences", []):
        kind = next(kind for kind in ("function", "route", "layer") if kind in entry)
        key = (kind, entry[kind], entry["field"])
        listed[key] = Difference(entry.get("devd"), entry.get("terraform"), entry["reason"])
    return listed


def _cases() -> list[Case]:
    cases = [Case(p.name, p, _listed_differences(p, p.name))
             for p in sorted(PLAN_PROJECTS.iterdir()) if (p / "fixture.json").is_file()]
    for source in sorted(DISCOVERY.glob("*/fixture.json")):
        if json.loads(source.read_text()).get("oracle") is True:
            name = f"discovery/{source.parent.name}"
            cases.append(Case(name, source.parent, _listed_differences(source.parent, name)))
    return cases


CASES = _cases()

# Planning runs once for all cases, inside the first test's setup.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run one moto server for the test session and yield its URL."""
    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def terraform_env(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> TerraformEnv:
    require_terraform()
    cli_config = write_cli_config(tmp_path_factory.mktemp("terraform"))
    return TerraformEnv(cli_config, terraform_environ(cli_config, moto_endpoint), moto_endpoint)


@dataclass(frozen=True)
class Oracle:
    """Both inventories of one planned project."""

    case: Case
    devd: Inventory
    terraform: Inventory
    mismatches: Mismatches


@dataclass(frozen=True)
class Planned:
    """A copied project and its plan, or the error that planning it raised."""

    project: Path
    plan: dict[str, Any] | None
    error: BaseException | None


@pytest.fixture(scope="module")
def planned(request: pytest.FixtureRequest, terraform_env: TerraformEnv,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Planned]:
    """Plan every selected project, as many at a time as there are cores, since each plan is mostly CPU."""
    selected = {item.callspec.params["oracle"].name: item.callspec.params["oracle"]
                for item in request.session.items
                if hasattr(item, "callspec") and isinstance(item.callspec.params.get("oracle"), Case)}
    return asyncio.run(_plan_all(list(selected.values()), terraform_env, tmp_path_factory.mktemp("oracle")))


async def _plan_all(cases: list[Case], env: TerraformEnv, directory: Path) -> dict[str, Planned]:
    slots = asyncio.Semaphore(os.cpu_count() or 2)

    async def plan_one(case: Case) -> Planned:
        project = directory / case.name.replace("/", "-")
        async with slots:
            started = time.monotonic()
            try:
                copy_project(case.source, project, env.endpoint, fixture_settings(case.source).infra)
                settings = fixture_settings(project)
                build_packages(project)
                var_files = tuple(project / path for path in settings.var_files)
                plan = await plan_project(project / settings.infra, env, var_files, settings.variables,
                                          settings.environ)
            except Exception as error:  # reported by the tests of this one case
                return Planned(project, None, error)
            print(f"{case.name}: terraform init, plan and show took {time.monotonic() - started:.1f} s")
            return Planned(project, plan, None)

    results = await asyncio.gather(*(plan_one(case) for case in cases))
    return {case.name: result for case, result in zip(cases, results)}


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def oracle(request: pytest.FixtureRequest, planned: dict[str, Planned]) -> Oracle:
    case: Case = request.param
    result = planned[case.name]
    if result.error is not None:
        raise result.error
    assert result.plan is not None
    settings = fixture_settings(result.project)
    root = result.project / settings.infra
    var_files = tuple(result.project / path for path in settings.var_files)

    devd_inventory = discover(TerraformOptions(root, var_files, settings.variables, settings.environ), result.project)
    terraform_inventory = exact_inventory(result.plan, result.project, root)
    return Oracle(case, devd_inventory, terraform_inventory, compare(devd_inventory, terraform_inventory))


def compare(devd: Inventory, terraform: Inventory) -> Mismatches:
    """Return every field on which two inventories disagree."""
    mismatches: Mismatches = {}
    pairs = [("function", _functions(devd), _functions(terraform), FUNCTION_FIELDS),
             ("route", _routes(devd), _routes(terraform), ROUTE_FIELDS),
             ("layer", _layers(devd), _layers(terraform), LAYER_FIELDS)]
    for kind, ours, theirs, fields in pairs:
        for key in sorted(ours.keys() | theirs.keys()):
            if key not in ours or key not in theirs:
                mismatches[(kind, key, "present")] = (key in ours, key in theirs)
                continue
            for field in fields:
                if ours[key][field] != theirs[key][field]:
                    mismatches[(kind, key, field)] = (ours[key][field], theirs[key][field])
    return mismatches


def _functions(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {f.address: {"name": f.name, "runtime": f.runtime, "handler": f.handler,
                        "environment": dict(f.environment), "timeout": f.timeout, "memory": f.memory,
                        "architectures": list(f.architectures), "source": f.source, "layers": list(f.layers),
                        "runnable": f.runnable}
            for f in inventory.functions}


def _layers(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {layer.address: {"name": layer.name, "source": layer.source} for layer in inventory.layers}


def _routes(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {f"{r.api.value} {r.api_address} {r.method} {r.path}":
            {"payload_version": r.payload_version, "function": r.function, "stage": r.stage}
            for r in inventory.routes}


def _describe(name: str, mismatches: Mismatches) -> str:
    return "\n".join(f"{name}: {kind} {key}: {field}: devd {ours!r}, terraform {theirs!r}"
                     for (kind, key, field), (ours, theirs) in sorted(mismatches.items()))


def _unexpected(oracle: Oracle, kind: str) -> Mismatches:
    return {key: values for key, values in oracle.mismatches.items()
            if key[0] == kind and key not in oracle.case.differences}


def test_plan_lists_functions(oracle: Oracle) -> None:
    assert oracle.terraform.functions, f"exact mode found no function in the plan of {oracle.case.name}"


def test_functions_agree(oracle: Oracle) -> None:
    unexpected = _unexpected(oracle, "function")

    assert not unexpected, "devd and terraform disagree:\n" + _describe(oracle.case.name, unexpected)


def test_routes_agree(oracle: Oracle) -> None:
    unexpected = _unexpected(oracle, "route")

    assert not unexpected, "devd and terraform disagree:\n" + _describe(oracle.case.name, unexpected)


def test_layers_agree(oracle: Oracle) -> None:
    unexpected = _unexpected(oracle, "layer")

    assert not unexpected, "devd and terraform disagree:\n" + _describe(oracle.case.name, unexpected)


def test_listed_differences_occur(oracle: Oracle) -> None:
    stale = [f"{kind} {key}: {field}: listed as devd {listed.devd!r}, terraform {listed.terraform!r}; "
             f"now {oracle.mismatches.get((kind, key, field), 'equal')!r}"
             for (kind, key, field), listed in oracle.case.differences.items()
             if oracle.mismatches.get((kind, key, field)) != (listed.devd, listed.terraform)]

    assert not stale, f"{oracle.case.name}: listed differences that no longer occur as listed:\n" + "\n".join(stale)


# The terraform adapter's errors, on small projects of their own.

MINIMAL_PROJECT = """
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_lambda_function" "minimal" {
  function_name = var.name
  role          = "arn:aws:iam::123456789012:role/minimal"
  runtime       = "python3.12"
  handler       = "app.handler"
  filename      = "app.zip"
}
"""


def _minimal_project(directory: Path, env: TerraformEnv, *, declare_name: bool) -> Path:
    source = directory / "source"
    source.mkdir()
    (source / "main.tf").write_text(MINIMAL_PROJECT)
    if declare_name:
        (source / "variables.tf").write_text('variable "name" {\n  type    = string\n  default = "minimal"\n}\n')
    return copy_project(source, directory / "project", env.endpoint)


def _processes_in(directory: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "cwd").startswith(str(directory)):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


async def test_plan_requires_init(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(MINIMAL_PROJECT)

    with pytest.raises(TerraformError, match=r"is not initialised: run `terraform init` in"):
        await terraform_cli.plan_json(tmp_path, (), (), dict(os.environ))


async def test_missing_terraform_is_named(tmp_path: Path) -> None:
    with pytest.raises(TerraformError, match="devd-no-such-terraform not found on PATH: install Terraform"):
        await terraform_cli.plan_json(tmp_path, (), (), dict(os.environ), terraform="devd-no-such-terraform")


async def test_failed_plan_shows_terraform_error(tmp_path: Path, terraform_env: TerraformEnv) -> None:
    project = _minimal_project(tmp_path, terraform_env, declare_name=False)
    await terraform_cli.init(project, terraform_env.environ, cli_config=terraform_env.cli_config)
    options = TerraformOptions(project, environ=terraform_env.environ)

    with pytest.raises(TerraformError) as raised:
        await terraform_cli.exact_discover(options, project, cli_config=terraform_env.cli_config)

    assert "`terraform plan` failed" in str(raised.value)
    assert "exit status 1" in str(raised.value)
    assert "Reference to undeclared input variable" in str(raised.value)


async def test_plan_timeout_stops_terraform(tmp_path: Path, terraform_env: TerraformEnv) -> None:
    project = _minimal_project(tmp_path, terraform_env, declare_name=True)
    await terraform_cli.init(project, terraform_env.environ, cli_config=terraform_env.cli_config)

    with pytest.raises(TerraformError, match=r"`terraform plan` in .* timed out after 1 s"):
        await terraform_cli.plan_json(project, (), (), terraform_env.environ, cli_config=terraform_env.cli_config,
                                      timeout=1.0)

    assert _processes_in(project) == []


def test_ls_exact_reads_dotenv(tmp_path: Path, terraform_env: TerraformEnv, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    project = _minimal_project(tmp_path, terraform_env, declare_name=True)
    (project / ".env").write_text("TF_VAR_name=from-dotenv\n")
    asyncio.run(terraform_cli.init(project, terraform_env.environ, cli_config=terraform_env.cli_config))
    for name in os.environ:
        if name.startswith(("AWS_", "TF_")):
            monkeypatch.delenv(name)
    for name, value in terraform_env.environ.items():
        monkeypatch.setenv(name, value)

    status = main(["-C", str(project), "ls", "--exact", "--json"])
    output = capsys.readouterr()

    assert status == 0, output.err
    document = json.loads(output.out)
    assert [function["name"] for function in document["functions"]] == ["from-dotenv"]
