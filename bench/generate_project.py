"""Generate a Terraform project with N Lambda functions behind a REST API and an HTTP API.

The layout follows what teams write by hand. The root module in `infra/` declares both APIs.
Every group of ten functions gets its own file, `infra/group_NNN.tf`, with a map of function
definitions in `locals` and one plain module call. `infra/functions.tf` merges the maps and
calls the local wrapper module `infra/modules/endpoint` with `for_each`. Each function deploys
a prebuilt zip from `dist/` through a literal `filename`, so the project needs only the
hashicorp/aws provider and `terraform plan` runs offline against a local endpoint.

Functions per group: seven on the REST API (six from the map, plus `GET /<group>/{id}` from
the plain call) and three on the HTTP API. Runtimes alternate between Node.js and Python.

Usage: .venv/bin/python bench/generate_project.py OUT_DIR --functions 200 [--aws-endpoint URL]
"""

from __future__ import annotations

import argparse
import zipfile
from dataclasses import dataclass
from pathlib import Path

GROUP_SIZE = 10
DOMAINS = ("orders", "users", "billing", "catalog", "search", "shipping", "reviews", "payments", "reports", "alerts")

# One action per function of a group: (action, HTTP method, API). The first action is the
# plain module call with a path parameter; the others go into the group's for_each map.
ACTIONS = (
    ("get", "GET", "rest"),
    ("list", "GET", "rest"),
    ("create", "POST", "rest"),
    ("update", "PUT", "rest"),
    ("delete", "DELETE", "rest"),
    ("find", "GET", "rest"),
    ("import", "POST", "rest"),
    ("export", "GET", "http"),
    ("notify", "POST", "http"),
    ("summary", "GET", "http"),
)

# Services whose endpoints point at the local server when --aws-endpoint is given.
ENDPOINT_SERVICES = ("apigateway", "apigatewayv2", "iam", "lambda", "logs", "sts")


@dataclass(frozen=True)
class Group:
    """One file of the generated project: a path segment and the actions it serves."""

    index: int
    actions: tuple[tuple[str, str, str], ...]

    @property
    def name(self) -> str:
        domain = DOMAINS[self.index % len(DOMAINS)]
        return domain if self.index < len(DOMAINS) else f"{domain}{self.index // len(DOMAINS) + 1}"

    @property
    def file_name(self) -> str:
        return f"group_{self.index:03d}.tf"

    @property
    def locals_name(self) -> str:
        return f"group_{self.index:03d}_functions"


def generate(out_dir: Path, functions: int, aws_endpoint: str | None = None) -> Path:
    """Write a project with the given number of functions into out_dir and return out_dir.

    Files that already exist are overwritten. The Terraform root module is `out_dir/infra`.
    """
    if functions < 1:
        raise ValueError(f"functions must be at least 1, got {functions}")
    groups = [Group(index, ACTIONS[: min(GROUP_SIZE, functions - start)])
              for index, start in enumerate(range(0, functions, GROUP_SIZE))]
    infra = out_dir / "infra"
    module = infra / "modules" / "endpoint"
    module.mkdir(parents=True, exist_ok=True)
    (out_dir / "dist").mkdir(exist_ok=True)

    (infra / "versions.tf").write_text(_versions(aws_endpoint))
    (infra / "variables.tf").write_text(VARIABLES_TF)
    (infra / "main.tf").write_text(MAIN_TF)
    (infra / "api.tf").write_text(_api(groups))
    (infra / "functions.tf").write_text(_functions(groups))
    (infra / "outputs.tf").write_text(OUTPUTS_TF)
    for group in groups:
        (infra / group.file_name).write_text(_group(group))
    (module / "main.tf").write_text(MODULE_MAIN_TF)
    (module / "variables.tf").write_text(MODULE_VARIABLES_TF)
    (module / "outputs.tf").write_text(MODULE_OUTPUTS_TF)

    for group in groups:
        for position, _ in enumerate(group.actions):
            _write_zip(out_dir / "dist" / f"{_key(group, position)}.zip", _runtime(group, position))
    return out_dir


def _key(group: Group, position: int) -> str:
    return f"{group.name}-{group.actions[position][0]}"


def _runtime(group: Group, position: int) -> str:
    return "nodejs20.x" if (group.index + position) % 2 == 0 else "python3.12"


def _handler(runtime: str) -> str:
    return "index.handler" if runtime.startswith("nodejs") else "app.handler"


def _write_zip(path: Path, runtime: str) -> None:
    """Write a deployable zip with a handler that returns 200, so filebase64sha256 has a file."""
    if runtime.startswith("nodejs"):
        name, code = "index.mjs", "export const handler = async () => ({ statusCode: 200, body: 'ok' });\n"
    else:
        name, code = "app.py", "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        # A fixed timestamp keeps the zip, and so its hash, the same on every run.
        archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), code)


def _versions(aws_endpoint: str | None) -> str:
    lines = [
        "terraform {",
        '  required_version = ">= 1.5"',
        "",
        "  required_providers {",
        "    aws = {",
        '      source  = "hashicorp/aws"',
        '      version = "~> 5.0"',
        "    }",
        "  }",
        "}",
        "",
        'provider "aws" {',
        "  region = var.region",
    ]
    if aws_endpoint:
        lines += [
            "",
            "  # A local AWS endpoint (such as a moto server) with fake credentials, so that",
            "  # `terraform plan` runs without an AWS account.",
            '  access_key                  = "test"',
            '  secret_key                  = "test"',
            "  skip_credentials_validation = true",
            "  skip_requesting_account_id  = true",
            "  skip_metadata_api_check     = true",
            "",
            "  endpoints {",
            *[f'    {service:<12} = "{aws_endpoint}"' for service in ENDPOINT_SERVICES],
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _api(groups: list[Group]) -> str:
    names = ", ".join(f'"{group.name}"' for group in groups)
    return API_TF.replace("@GROUPS@", names)


def _functions(groups: list[Group]) -> str:
    maps = "".join(f"    local.{group.locals_name},\n" for group in groups)
    return FUNCTIONS_TF.replace("@MAPS@", maps)


def _group(group: Group) -> str:
    entries = []
    for position, (action, method, api) in enumerate(group.actions):
        if position == 0:
            continue
        runtime = _runtime(group, position)
        entries.append(GROUP_ENTRY.format(
            key=_key(group, position), group=group.name, action=action, method=method, api=api,
            runtime=runtime, handler=_handler(runtime), memory=128 + 64 * (position % 4)))
    text = f"# Functions under /{group.name}.\n\nlocals {{\n  {group.locals_name} = {{\n"
    text += "\n".join(entries)
    text += "  }\n}\n"
    runtime = _runtime(group, 0)
    text += GROUP_PLAIN_CALL.format(
        label=f"{group.name.replace('-', '_')}_get", key=_key(group, 0), group=group.name,
        runtime=runtime, handler=_handler(runtime))
    return text


VARIABLES_TF = """\
variable "project" {
  description = "Project name, the first part of every resource name."
  type        = string
  default     = "shop"
}

variable "stage" {
  description = "Deployment stage: the REST API stage name and part of every resource name."
  type        = string
  default     = "dev"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "log_level" {
  description = "Value of LOG_LEVEL in every function's environment."
  type        = string
  default     = "info"
}

variable "extra_environment" {
  description = "Environment variables added to every function."
  type        = map(string)
  default     = {}
}
"""

MAIN_TF = """\
locals {
  name_prefix = "${var.project}-${var.stage}"

  common_environment = merge(
    {
      STAGE     = var.stage
      LOG_LEVEL = var.log_level
    },
    var.extra_environment,
  )

  tags = {
    Project = var.project
    Stage   = var.stage
  }
}

resource "aws_iam_role" "lambda" {
  name = "${local.name_prefix}-lambda"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "lambda_logs" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}
"""

API_TF = """\
locals {
  groups = [@GROUPS@]
}

resource "aws_api_gateway_rest_api" "api" {
  name = "${local.name_prefix}-api"

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

resource "aws_api_gateway_resource" "group" {
  for_each = toset(local.groups)

  rest_api_id = aws_api_gateway_rest_api.api.id
  parent_id   = aws_api_gateway_rest_api.api.root_resource_id
  path_part   = each.key
}

resource "aws_api_gateway_deployment" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id

  triggers = {
    redeployment = sha1(jsonencode([for key, endpoint in module.functions : endpoint.function_arn]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [module.functions]
}

resource "aws_api_gateway_stage" "api" {
  rest_api_id   = aws_api_gateway_rest_api.api.id
  deployment_id = aws_api_gateway_deployment.api.id
  stage_name    = var.stage
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${local.name_prefix}-http"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
}
"""

FUNCTIONS_TF = """\
locals {
  functions = merge(
@MAPS@  )
}

module "functions" {
  source   = "./modules/endpoint"
  for_each = local.functions

  name        = "${local.name_prefix}-${each.key}"
  runtime     = each.value.runtime
  handler     = each.value.handler
  memory_size = each.value.memory
  filename    = "${path.module}/../dist/${each.key}.zip"
  role_arn    = aws_iam_role.lambda.arn
  environment = merge(local.common_environment, each.value.environment)
  tags        = local.tags

  api                    = each.value.api
  method                 = each.value.method
  path_part              = each.value.path_part
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_parent_id         = aws_api_gateway_resource.group[each.value.group].id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn
  http_api_id            = aws_apigatewayv2_api.http.id
  http_api_execution_arn = aws_apigatewayv2_api.http.execution_arn
  http_route_path        = "/${each.value.group}/${each.value.path_part}"
}
"""

GROUP_ENTRY = """\
    "{key}" = {{
      group       = "{group}"
      path_part   = "{action}"
      method      = "{method}"
      api         = "{api}"
      runtime     = "{runtime}"
      handler     = "{handler}"
      memory      = {memory}
      environment = {{
        TABLE_NAME = "${{local.name_prefix}}-{group}"
        ACTION     = "{action}"
      }}
    }}
"""

GROUP_PLAIN_CALL = """
module "{label}" {{
  source = "./modules/endpoint"

  name        = "${{local.name_prefix}}-{key}"
  runtime     = "{runtime}"
  handler     = "{handler}"
  filename    = "${{path.module}}/../dist/{key}.zip"
  role_arn    = aws_iam_role.lambda.arn
  environment = merge(local.common_environment, {{ TABLE_NAME = "${{local.name_prefix}}-{group}" }})
  tags        = local.tags

  api                    = "rest"
  method                 = "GET"
  path_part              = "{{id}}"
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_parent_id         = aws_api_gateway_resource.group["{group}"].id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn
  http_api_id            = aws_apigatewayv2_api.http.id
  http_api_execution_arn = aws_apigatewayv2_api.http.execution_arn
}}
"""

OUTPUTS_TF = """\
output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.api.id
}

output "http_api_endpoint" {
  description = "Endpoint of the HTTP API."
  value       = aws_apigatewayv2_api.http.api_endpoint
}

output "function_names" {
  description = "Names of the functions from the for_each map, by key."
  value       = { for key, endpoint in module.functions : key => endpoint.function_name }
}
"""

MODULE_MAIN_TF = """\
# One Lambda function from a prebuilt zip, behind either one REST API method or one HTTP API
# route.

locals {
  rest = var.api == "rest" ? 1 : 0
  http = var.api == "http" ? 1 : 0
}

resource "aws_lambda_function" "this" {
  function_name    = var.name
  role             = var.role_arn
  runtime          = var.runtime
  handler          = var.handler
  timeout          = var.timeout
  memory_size      = var.memory_size
  filename         = var.filename
  source_code_hash = filebase64sha256(var.filename)
  tags             = var.tags

  environment {
    variables = var.environment
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = 14
  tags              = var.tags
}

resource "aws_api_gateway_resource" "this" {
  count = local.rest

  rest_api_id = var.rest_api_id
  parent_id   = var.rest_parent_id
  path_part   = var.path_part
}

resource "aws_api_gateway_method" "this" {
  count = local.rest

  rest_api_id   = var.rest_api_id
  resource_id   = aws_api_gateway_resource.this[0].id
  http_method   = var.method
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "this" {
  count = local.rest

  rest_api_id             = var.rest_api_id
  resource_id             = aws_api_gateway_resource.this[0].id
  http_method             = aws_api_gateway_method.this[0].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this.invoke_arn
}

resource "aws_apigatewayv2_integration" "this" {
  count = local.http

  api_id                 = var.http_api_id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "this" {
  count = local.http

  api_id    = var.http_api_id
  route_key = "${var.method} ${var.http_route_path}"
  target    = "integrations/${aws_apigatewayv2_integration.this[0].id}"
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${var.api == "rest" ? var.rest_api_execution_arn : var.http_api_execution_arn}/*/*"
}
"""

MODULE_VARIABLES_TF = """\
variable "name" {
  description = "Function name."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime, such as nodejs20.x or python3.12."
  type        = string
}

variable "handler" {
  description = "Handler, such as index.handler."
  type        = string
}

variable "filename" {
  description = "Path of the deployment zip."
  type        = string
}

variable "role_arn" {
  description = "ARN of the execution role."
  type        = string
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 10
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 128
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}

variable "api" {
  description = "The API that serves the function: rest or http."
  type        = string

  validation {
    condition     = contains(["rest", "http"], var.api)
    error_message = "api must be rest or http."
  }
}

variable "method" {
  description = "HTTP method."
  type        = string
}

variable "path_part" {
  description = "Last path segment of the REST resource, such as list or {id}."
  type        = string
  default     = null
}

variable "rest_api_id" {
  description = "ID of the REST API."
  type        = string
}

variable "rest_parent_id" {
  description = "ID of the parent REST resource."
  type        = string
}

variable "rest_api_execution_arn" {
  description = "Execution ARN of the REST API."
  type        = string
}

variable "http_api_id" {
  description = "ID of the HTTP API."
  type        = string
}

variable "http_api_execution_arn" {
  description = "Execution ARN of the HTTP API."
  type        = string
}

variable "http_route_path" {
  description = "Path of the HTTP API route, such as /orders/export."
  type        = string
  default     = null
}
"""

MODULE_OUTPUTS_TF = """\
output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="directory to write the project into (created if missing)")
    parser.add_argument("--functions", type=int, default=100, help="number of Lambda functions (default 100)")
    parser.add_argument("--aws-endpoint", help="URL of a local AWS endpoint for the provider, such as "
                        "http://127.0.0.1:5000 (default: none, so the provider talks to AWS)")
    args = parser.parse_args()
    generate(args.out_dir, args.functions, args.aws_endpoint)
    print(f"wrote {args.functions} functions to {args.out_dir}")


if __name__ == "__main__":
    main()
