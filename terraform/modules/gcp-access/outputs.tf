output "service_account_email" {
  description = "Email of the service account: the account's gcp_client_email in CUDly."
  value       = google_service_account.this.email
}

output "service_account_name" {
  description = "Fully qualified name of the service account (projects/.../serviceAccounts/...)."
  value       = google_service_account.this.name
}

output "purchaser_role_ids" {
  description = "Custom purchaser role per project (empty unless enable_purchasing)."
  value       = { for project, role in google_project_iam_custom_role.purchaser : project => role.name }
}
