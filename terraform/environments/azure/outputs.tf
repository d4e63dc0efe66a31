output "tenant_id" {
  description = "azure_tenant_id for the accounts in CUDly."
  value       = module.cudly_access.tenant_id
}

output "client_id" {
  description = "azure_client_id for the accounts in CUDly."
  value       = module.cudly_access.client_id
}

output "role_assignments" {
  description = "Roles assigned per subscription."
  value       = module.cudly_access.role_assignments
}
