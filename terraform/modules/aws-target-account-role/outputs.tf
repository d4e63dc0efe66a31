output "role_arn" {
  description = "ARN of the role: enter it as the account's aws_role_arn in CUDly and list it (or a matching pattern) in the aws-service module's target_role_arns."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}

output "purchasing_enabled" {
  description = "Whether the purchase policy is attached."
  value       = var.enable_purchasing
}
