# The Entra ID identity CUDly uses for Azure: an application and its service principal, with
# least-privilege built-in roles on each managed subscription.

data "azuread_client_config" "current" {}

resource "azuread_application" "this" {
  display_name     = var.display_name
  description      = "CUDly: reads reservation recommendations${var.enable_purchasing ? " and purchases reservations" : ""}"
  sign_in_audience = "AzureADMyOrg"
  owners           = distinct(concat([data.azuread_client_config.current.object_id], var.owner_object_ids))
}

resource "azuread_service_principal" "this" {
  client_id                    = azuread_application.this.client_id
  app_role_assignment_required = true
  owners                       = distinct(concat([data.azuread_client_config.current.object_id], var.owner_object_ids))
}

resource "azuread_application_federated_identity_credential" "this" {
  # checkov:skip=CKV_AZURE_249:The subject comes from var.federated_identity, whose validation requires one exact subject (no wildcard); the issuer is CUDly's own workload platform, not GitHub Actions.
  count          = var.federated_identity == null ? 0 : 1
  application_id = azuread_application.this.id
  display_name   = "cudly-workload-identity"
  description    = "CUDly workload identity federation"
  issuer         = var.federated_identity.issuer
  subject        = var.federated_identity.subject
  audiences      = var.federated_identity.audiences
}

# Read: Microsoft.Consumption reservation recommendations and GET /subscriptions/{id}
# (Cost Management Reader includes Microsoft.Consumption/*/read and subscriptions/read).
resource "azurerm_role_assignment" "cost_management_reader" {
  for_each                         = var.subscription_ids
  scope                            = "/subscriptions/${each.value}"
  role_definition_name             = "Cost Management Reader"
  principal_id                     = azuread_service_principal.this.object_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}

# Purchase: Microsoft.Capacity calculatePrice and reservationOrders, nothing else.
resource "azurerm_role_assignment" "reservation_purchaser" {
  for_each                         = var.enable_purchasing ? var.subscription_ids : toset([])
  scope                            = "/subscriptions/${each.value}"
  role_definition_name             = "Reservation Purchaser"
  principal_id                     = azuread_service_principal.this.object_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}
