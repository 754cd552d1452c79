"""Generate a devd project with N functions, for the save-to-response benchmark at scale.

The Terraform follows the bundled example: a REST API in `infra/`, and a copy of the example's
wrapper module `infra/modules/http_function` (an `archive_file` with `source_dir`, the
function, and one REST resource, method and integration) called once per function with
`for_each`. Every function serves `GET /<key>` and returns JSON that contains its message.

Half of the functions are TypeScript and half are Python:

- TypeScript handler `ts{i}` lives in `functions/typescript/ts{i}/handler.ts`, which is also
  its `source_dir`. The first five import `functions/typescript/shared/messages.ts`, which
  esbuild bundles into each of them.
- Python handler `py{i}` lives in `functions/python/group{g}/py{i}/handler.py`, with handler
  string `py{i}/handler.handler`. A Python handler can import only modules inside its own
  deployment package, so Python functions come in groups that share one `source_dir`, as the
  example's `functions/items` does. The first group contains the shared module
  `functions/python/group0/shared/messages.py`, which the first five Python handlers import.
  The default group size is five, and a group size of N/2 puts every Python handler under one
  `source_dir`.

A project needs at least one function of each language, so N = 1 gives one TypeScript and one
Python function, each the only importer of its shared module. The repository's `node_modules`
is linked into the project, so devd finds esbuild.

Usage: .venv/bin/python bench/scale_project.py OUT_DIR --functions 200 [--python-group-size 5]
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WRAPPER_MODULE = REPO / "infra" / "modules" / "http_function"

SHARED_IMPORTERS = 5
"""Handlers of each language that import that language's shared module."""

TYPESCRIPT_SHARED = "functions/typescript/shared/messages.ts"
PYTHON_SHARED = "functions/python/group0/shared/messages.py"


@dataclass(frozen=True)
class ScaleProject:
    """A generated project and the names that the benchmark edits and requests."""

    root: Path
    typescript: tuple[str, ...]
    """Keys of the TypeScript functions, such as "ts0". A key is also its route's path segment."""
    python: tuple[str, ...]
    """Keys of the Python functions, such as "py0"."""
    python_group_size: int = SHARED_IMPORTERS
    """Python functions per `source_dir`."""

    @property
    def functions(self) -> int:
        return len(self.typescript) + len(self.python)

    def importers(self, language: str) -> tuple[str, ...]:
        """Return the keys of the handlers that import the shared module of "typescript" or "python"."""
        keys = self.typescript if language == "typescript" else self.python
        return keys[:SHARED_IMPORTERS]

    def handler_file(self, key: str) -> Path:
        """Return the source file of a function's handler."""
        if key.startswith("ts"):
            return self.root / "functions" / "typescript" / key / "handler.ts"
        return self.root / "functions" / "python" / self.python_group(key) / key / "handler.py"

    def python_group(self, key: str) -> str:
        """Return the directory under `functions/python` that a Python function packages."""
        return f"group{self.python.index(key) // self.python_group_size}"

    def shared_file(self, language: str) -> Path:
        """Return the shared module of "typescript" or "python"."""
        return self.root / (TYPESCRIPT_SHARED if language == "typescript" else PYTHON_SHARED)

    def last_built(self) -> str:
        """Return the key of the function that devd builds last at start.

        devd queues the first builds in the order of the functions' Terraform addresses, such
        as `module.function["ts9"]`, so "ts9" comes after "ts24".
        """
        return max(self.typescript + self.python, key=lambda key: f'module.function["{key}"]')

    def function_name(self, key: str) -> str:
        """Return the Lambda function name, which devd prints in its `NAME: ready #N` lines."""
        return f"scale-{key}"


def split_functions(functions: int) -> tuple[int, int]:
    """Return how many TypeScript and Python functions a project of `functions` has."""
    if functions < 1:
        raise ValueError(f"functions must be at least 1, got {functions}")
    typescript = max(1, (functions + 1) // 2)
    python = max(1, functions // 2)
    return typescript, python


def generate(out_dir: Path, functions: int, python_group_size: int = SHARED_IMPORTERS,
             node_modules: Path = REPO / "node_modules") -> ScaleProject:
    """Write a project with `functions` functions into out_dir, which must not exist yet.

    Raises ValueError when a group of Python functions could not hold every importer of the
    shared Python module.
    """
    typescript_count, python_count = split_functions(functions)
    if python_group_size < min(SHARED_IMPORTERS, python_count):
        raise ValueError(f"python_group_size must be at least {min(SHARED_IMPORTERS, python_count)}, so that "
                         f"the first group holds every importer of the shared module, got {python_group_size}")
    project = ScaleProject(
        root=out_dir,
        typescript=tuple(f"ts{index}" for index in range(typescript_count)),
        python=tuple(f"py{index}" for index in range(python_count)),
        python_group_size=python_group_size,
    )
    out_dir.mkdir(parents=True)

    infra = out_dir / "infra"
    infra.mkdir()
    shutil.copytree(WRAPPER_MODULE, infra / "modules" / "http_function")
    (infra / "main.tf").write_text(MAIN_TF)
    (infra / "functions.tf").write_text(_functions_tf(project))
    (out_dir / "devd.toml").write_text('infra = "infra"\n')
    (out_dir / "node_modules").symlink_to(node_modules)

    for index, key in enumerate(project.typescript):
        _write(project.handler_file(key), _typescript_handler(key, index < SHARED_IMPORTERS))
    _write(project.shared_file("typescript"), TYPESCRIPT_SHARED_SOURCE)

    for index, key in enumerate(project.python):
        _write(project.handler_file(key), _python_handler(key, index < SHARED_IMPORTERS))
    _write(project.shared_file("python"), PYTHON_SHARED_SOURCE)
    _write(project.shared_file("python").with_name("__init__.py"), "")
    return project


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _functions_tf(project: ScaleProject) -> str:
    entries = []
    for key in project.typescript:
        entries.append(f'    {key} = {{ runtime = "nodejs20.x", handler = "handler.main", '
                       f'source_dir = "typescript/{key}" }}')
    for key in project.python:
        entries.append(f'    {key} = {{ runtime = "python3.11", handler = "{key}/handler.handler", '
                       f'source_dir = "python/{project.python_group(key)}" }}')
    return FUNCTIONS_TF.replace("@ENTRIES@", "\n".join(entries))


def _typescript_handler(key: str, imports_shared: bool) -> str:
    lines = ['import type { APIGatewayProxyResult } from "aws-lambda";', ""]
    if imports_shared:
        lines += ['import { sharedMessage } from "../shared/messages";', ""]
    shared = "sharedMessage()" if imports_shared else "null"
    lines += [
        f'const MESSAGE = "{key} says hello";',
        "",
        f"/** Handles GET /{key}: returns this handler's message and, for importers, the shared one. */",
        "export const main = async (): Promise<APIGatewayProxyResult> => ({",
        "  statusCode: 200,",
        '  headers: { "content-type": "application/json" },',
        f'  body: JSON.stringify({{ function: "{key}", message: MESSAGE, shared: {shared} }}),',
        "});",
    ]
    return "\n".join(lines) + "\n"


def _python_handler(key: str, imports_shared: bool) -> str:
    lines = [f'"""GET /{key}: return this handler\'s message and, for importers, the shared one."""', "",
             "import json", ""]
    if imports_shared:
        lines += ["from shared.messages import shared_message", ""]
    shared = "shared_message()" if imports_shared else "None"
    lines += [
        f'MESSAGE = "{key} says hello"',
        "",
        "",
        "def handler(event, context):",
        f'    body = {{"function": "{key}", "message": MESSAGE, "shared": {shared}}}',
        '    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}',
    ]
    return "\n".join(lines) + "\n"


TYPESCRIPT_SHARED_SOURCE = """\
/** The message that every importing TypeScript handler adds to its response. */
export const SHARED_MESSAGE = "shared typescript message";

export function sharedMessage(): string {
  return SHARED_MESSAGE;
}
"""

PYTHON_SHARED_SOURCE = '''\
"""The message that every importing Python handler adds to its response."""

SHARED_MESSAGE = "shared python message"


def shared_message() -> str:
    return SHARED_MESSAGE
'''

MAIN_TF = """\
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.4"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

locals {
  name_prefix = "scale"
}

data "aws_iam_policy_document" "lambda_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${local.name_prefix}-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume_role.json
}

resource "aws_api_gateway_rest_api" "api" {
  name = "${local.name_prefix}-api"

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}
"""

FUNCTIONS_TF = """\
# One function per entry, each behind GET /<key> on the REST API.

locals {
  functions = {
@ENTRIES@
  }
}

module "function" {
  source   = "./modules/http_function"
  for_each = local.functions

  function_name          = "${local.name_prefix}-${each.key}"
  http_method            = "GET"
  path_part              = each.key
  parent_id              = aws_api_gateway_rest_api.api.root_resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn

  handler    = each.value.handler
  runtime    = each.value.runtime
  source_dir = "${path.module}/../functions/${each.value.source_dir}"
  role_arn   = aws_iam_role.lambda.arn
}

resource "aws_api_gateway_deployment" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id

  triggers = {
    redeployment = sha1(jsonencode([for key, endpoint in module.function : endpoint.invoke_arn]))
  }

  depends_on = [module.function]

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_stage" "api" {
  rest_api_id   = aws_api_gateway_rest_api.api.id
  deployment_id = aws_api_gateway_deployment.api.id
  stage_name    = "dev"
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="directory to create, which must not exist yet")
    parser.add_argument("--functions", type=int, default=200, help="number of functions, half of each language")
    parser.add_argument("--python-group-size", type=int, default=SHARED_IMPORTERS,
                        help="Python functions per source_dir (at least 5)")
    args = parser.parse_args()
    project = generate(args.out_dir, args.functions, args.python_group_size)
    print(f"wrote {project.functions} functions ({len(project.typescript)} TypeScript, "
          f"{len(project.python)} Python) to {project.root}")


if __name__ == "__main__":
    main()
