variable "function_name" {
  description = "Name of the Lambda function."
  type        = string
}

variable "http_method" {
  description = "HTTP method of the endpoint, such as GET or POST."
  type        = string
}

variable "path_part" {
  description = "Last path segment of the endpoint, such as \"items\", or \"{id}\" for a path parameter."
  type        = string
}

variable "parent_id" {
  description = "ID of the API Gateway resource that the new resource goes under (the API's root_resource_id for a top-level path)."
  type        = string
}

variable "rest_api_id" {
  description = "ID of the REST API."
  type        = string
}

variable "rest_api_execution_arn" {
  description = "Execution ARN of the REST API, which scopes the invoke permission."
  type        = string
}

variable "handler" {
  description = "Lambda handler, such as \"handler.main\" (Node.js) or \"get_item.handler\" (Python)."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime identifier, such as \"nodejs20.x\" or \"python3.11\"."
  type        = string
}

variable "package" {
  description = "Path of the deployment package (a zip that devd builds), relative to the root module directory."
  type        = string
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "role_arn" {
  description = "ARN of the IAM role that the function runs as."
  type        = string
}

variable "timeout" {
  description = "Function timeout, in seconds."
  type        = number
  default     = 10
}

variable "memory_size" {
  description = "Function memory, in MB."
  type        = number
  default     = 256
}
