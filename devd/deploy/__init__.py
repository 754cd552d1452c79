"""Deploy one function to AWS with Terraform or a code-only upload, and read its CloudWatch logs."""
