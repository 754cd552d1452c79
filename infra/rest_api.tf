# REST API: GET /hello (TypeScript), POST /items and GET /items/{id} (Python).

resource "aws_api_gateway_rest_api" "api" {
  name        = "${local.name_prefix}-api"
  description = "REST API of the devd example"

  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

module "get_hello" {
  source = "./modules/http_function"

  function_name          = "${local.name_prefix}-get-hello"
  http_method            = "GET"
  path_part              = "hello"
  parent_id              = aws_api_gateway_rest_api.api.root_resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn

  # functions/hello contains TypeScript: devd bundles it with esbuild into the zip's
  # handler.js (see [packages] in devd.toml).
  handler    = "handler.main"
  runtime    = "nodejs20.x"
  package    = "${path.module}/../dist/get-hello.zip"
  role_arn   = aws_iam_role.lambda.arn

  environment = merge(local.common_environment, {
    GREETING = "Hello"
  })
}

module "create_item" {
  source = "./modules/http_function"

  function_name          = "${local.name_prefix}-create-item"
  http_method            = "POST"
  path_part              = "items"
  parent_id              = aws_api_gateway_rest_api.api.root_resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn

  handler     = "create_item.handler"
  runtime     = "python3.11"
  package     = "${path.module}/../dist/create-item.zip"
  role_arn    = aws_iam_role.lambda.arn
  environment = local.common_environment
}

module "get_item" {
  source = "./modules/http_function"

  function_name          = "${local.name_prefix}-get-item"
  http_method            = "GET"
  path_part              = "{id}"
  parent_id              = module.create_item.resource_id
  rest_api_id            = aws_api_gateway_rest_api.api.id
  rest_api_execution_arn = aws_api_gateway_rest_api.api.execution_arn

  handler     = "get_item.handler"
  runtime     = "python3.11"
  package     = "${path.module}/../dist/get-item.zip"
  role_arn    = aws_iam_role.lambda.arn
  environment = local.common_environment
}

resource "aws_api_gateway_deployment" "api" {
  rest_api_id = aws_api_gateway_rest_api.api.id

  # A deployment is a snapshot of the API, so it has to be replaced whenever an endpoint's
  # resource or function changes.
  triggers = {
    redeployment = sha1(jsonencode([
      module.get_hello.resource_id,
      module.get_hello.invoke_arn,
      module.create_item.resource_id,
      module.create_item.invoke_arn,
      module.get_item.resource_id,
      module.get_item.invoke_arn,
    ]))
  }

  # The methods and integrations must exist before API Gateway can take the snapshot.
  depends_on = [
    module.get_hello,
    module.create_item,
    module.get_item,
  ]

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_stage" "api" {
  rest_api_id   = aws_api_gateway_rest_api.api.id
  deployment_id = aws_api_gateway_deployment.api.id
  stage_name    = var.stage
}
