variable "display_name" {
  description = "Display name of the Entra ID application and service principal CUDly signs in as."
  type        = string
  default     = "CUDly"
}

variable "subscription_ids" {
  description = "Subscriptions CUDly manages (lower-case UUIDs). Each gets Cost Management Reader for the service principal, plus Reservation Purchaser when enable_purchasing is true."
  type        = set(string)

  validation {
    condition     = length(var.subscription_ids) > 0 && alltrue([for id in var.subscription_ids : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "subscription_ids must be a non-empty set of lower-case subscription UUIDs."
  }
}

variable "enable_purchasing" {
  description = "Also assign the built-in Reservation Purchaser role on every subscription. Off by default: Cost Management Reader alone lets CUDly collect recommendations and run dry-run plans."
  type        = bool
  default     = false
}

variable "federated_identity" {
  description = "Optional workload identity federation (azure_auth_mode = workload_identity_federation): trust tokens from this OIDC issuer and subject instead of a client secret. Null creates no federated credential; then create a client secret outside Terraform (az ad app credential reset) so it never enters state."
  type = object({
    issuer    = string
    subject   = string
    audiences = optional(list(string), ["api://AzureADTokenExchange"])
  })
  default = null

  validation {
    condition     = var.federated_identity == null ? true : startswith(var.federated_identity.issuer, "https://")
    error_message = "federated_identity.issuer must be an https URL."
  }

  validation {
    condition     = var.federated_identity == null ? true : (length(var.federated_identity.subject) > 0 && !strcontains(var.federated_identity.subject, "*"))
    error_message = "federated_identity.subject must name exactly one workload (no wildcard)."
  }
}

variable "owner_object_ids" {
  description = "Additional Entra ID object ids owning the application (the identity running Terraform is always an owner)."
  type        = list(string)
  default     = []
}
