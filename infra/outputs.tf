output "rest_api_url" {
  description = "Invoke URL of the REST API stage, such as https://<id>.execute-api.<region>.amazonaws.com/dev."
  value       = aws_api_gateway_stage.api.invoke_url
}

output "http_api_endpoint" {
  description = "Endpoint of the HTTP API. Its $default stage serves routes at the root, such as <endpoint>/status."
  value       = aws_apigatewayv2_api.http.api_endpoint
}
