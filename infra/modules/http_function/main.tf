# A Lambda function behind one method of a REST API, with a proxy integration.

locals {
  # "{id}" is a path parameter named id, and "{proxy+}" is a greedy one named proxy.
  path_parameter = try(regex("^\\{([A-Za-z0-9_]+)\\+?\\}$", var.path_part)[0], null)
}

resource "aws_lambda_function" "this" {
  function_name    = var.function_name
  role             = var.role_arn
  runtime          = var.runtime
  handler          = var.handler
  timeout          = var.timeout
  memory_size      = var.memory_size
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)

  environment {
    variables = var.environment
  }
}

resource "aws_api_gateway_resource" "this" {
  rest_api_id = var.rest_api_id
  parent_id   = var.parent_id
  path_part   = var.path_part
}

resource "aws_api_gateway_method" "this" {
  rest_api_id   = var.rest_api_id
  resource_id   = aws_api_gateway_resource.this.id
  http_method   = var.http_method
  authorization = "NONE"

  request_parameters = local.path_parameter == null ? {} : {
    "method.request.path.${local.path_parameter}" = true
  }
}

resource "aws_api_gateway_integration" "this" {
  rest_api_id             = var.rest_api_id
  resource_id             = aws_api_gateway_resource.this.id
  http_method             = aws_api_gateway_method.this.http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.this.invoke_arn
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowRestApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"

  # Any stage, this method, this resource's full path such as /items/{id}.
  source_arn = "${var.rest_api_execution_arn}/*/${var.http_method}${aws_api_gateway_resource.this.path}"
}
