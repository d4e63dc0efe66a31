output "service_account_email" {
  description = "gcp_client_email for the accounts in CUDly."
  value       = module.cudly_access.service_account_email
}

output "purchaser_role_ids" {
  description = "Custom purchaser role per project (when purchasing is enabled)."
  value       = module.cudly_access.purchaser_role_ids
}
