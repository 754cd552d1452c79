output "resource_id" {
  description = "ID of the API Gateway resource, the parent_id for paths below this one."
  value       = aws_api_gateway_resource.this.id
}

output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "invoke_arn" {
  description = "ARN that API Gateway uses to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.this.arn
}
