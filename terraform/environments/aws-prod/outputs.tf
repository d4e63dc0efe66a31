output "url" {
  description = "HTTPS URL of CUDly's load balancer."
  value       = module.cudly.url
}

output "task_role_arn" {
  description = "Principal to trust in every target-account role (cudly_principal_arn)."
  value       = module.cudly.task_role_arn
}

output "self_role_arn" {
  description = "aws_role_arn to register this account with in CUDly (auth mode role_arn, with self_external_id)."
  value       = module.self_role.role_arn
}

output "ecs_cluster_name" {
  description = "ECS cluster, for one-off `cudly migrate` / `cudly rekey` tasks."
  value       = module.cudly.ecs_cluster_name
}

output "task_definition_arn" {
  description = "Task definition, for one-off tasks."
  value       = module.cudly.task_definition_arn
}

output "db_instance_identifier" {
  description = "RDS instance, for snapshots and restores."
  value       = module.cudly.db_instance_identifier
}

output "encryption_key_secret_arn" {
  description = "Secret holding the credential encryption key."
  value       = module.cudly.encryption_key_secret_arn
}

output "processes" {
  description = "Server processes sharing each collection run: replicas x workers per replica."
  value       = module.cudly.replicas * module.cudly.workers_per_replica
}
