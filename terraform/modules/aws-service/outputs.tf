output "url" {
  description = "HTTPS URL of the load balancer (point a DNS name matching the certificate at alb_dns_name)."
  value       = "https://${aws_lb.this.dns_name}"
}

output "alb_dns_name" {
  description = "DNS name of the Application Load Balancer."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone id of the load balancer, for an alias record."
  value       = aws_lb.this.zone_id
}

output "task_role_arn" {
  description = "ARN of the role CUDly runs as: the principal every target-account role must trust (aws-target-account-role's cudly_principal_arn)."
  value       = aws_iam_role.task.arn
}

output "ecs_cluster_name" {
  description = "ECS cluster name (for `aws ecs run-task ... cudly migrate` and similar one-off commands)."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "Task definition ARN, for one-off tasks such as `cudly migrate` or `cudly rekey`."
  value       = aws_ecs_task_definition.this.arn
}

output "task_security_group_id" {
  description = "Security group of the tasks (use it for one-off tasks too)."
  value       = aws_security_group.task.id
}

output "db_instance_identifier" {
  description = "RDS instance identifier (snapshots, restores)."
  value       = aws_db_instance.this.identifier
}

output "db_endpoint" {
  description = "RDS endpoint, host:port."
  value       = aws_db_instance.this.endpoint
}

output "database_url_secret_arn" {
  description = "Secrets Manager secret holding DATABASE_URL."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "encryption_key_secret_arn" {
  description = "Secrets Manager secret holding the credential encryption key (CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN)."
  value       = aws_secretsmanager_secret.encryption_key.arn
}

output "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the secrets, the database and the logs."
  value       = aws_kms_key.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the service."
  value       = aws_cloudwatch_log_group.this.name
}

output "replicas" {
  description = "Number of CUDly tasks (desired_count)."
  value       = var.desired_count
}

output "workers_per_replica" {
  description = "Server processes per task (CUDLY_WORKERS); replicas x workers_per_replica processes share each collection run."
  value       = local.workers
}
