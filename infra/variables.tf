variable "project" {
  description = "Project name, the first part of every resource name."
  type        = string
  default     = "devd-example"
}

variable "stage" {
  description = "Deployment stage: the REST API stage name and the second part of every resource name."
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
  description = "Environment variables added to every function. A key here overrides STAGE or LOG_LEVEL."
  type        = map(string)
  default     = {}
}
