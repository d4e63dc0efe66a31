output "tenant_id" {
  description = "Entra ID tenant id: the account's azure_tenant_id in CUDly."
  value       = data.azuread_client_config.current.tenant_id
}

output "client_id" {
  description = "Application (client) id: the account's azure_client_id in CUDly."
  value       = azuread_application.this.client_id
}

output "service_principal_object_id" {
  description = "Object id of the service principal that holds the role assignments."
  value       = azuread_service_principal.this.object_id
}

output "role_assignments" {
  description = "Role names assigned per subscription id."
  value = {
    for id in var.subscription_ids : id => compact([
      "Cost Management Reader",
      var.enable_purchasing ? "Reservation Purchaser" : "",
    ])
  }
}
