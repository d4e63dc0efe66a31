# The Entra ID application CUDly signs in as, with roles on the managed subscriptions.
provider "azuread" {
  tenant_id = var.tenant_id
}

provider "azurerm" {
  features {}
  tenant_id       = var.tenant_id
  subscription_id = var.management_subscription_id
}

module "cudly_access" {
  source = "../../modules/azure-access"

  subscription_ids   = var.subscription_ids
  enable_purchasing  = var.enable_purchasing
  federated_identity = var.federated_identity
}
