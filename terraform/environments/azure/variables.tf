variable "tenant_id" {
  description = "Entra ID tenant that holds the subscriptions."
  type        = string
}

variable "management_subscription_id" {
  description = "Subscription the azurerm provider authenticates against (any subscription in the tenant)."
  type        = string
}

variable "subscription_ids" {
  description = "Subscriptions CUDly manages."
  type        = set(string)
}

variable "enable_purchasing" {
  description = "Assign Reservation Purchaser in addition to Cost Management Reader."
  type        = bool
  default     = false
}

variable "federated_identity" {
  description = "Optional OIDC issuer and subject of CUDly's workload identity (instead of a client secret)."
  type = object({
    issuer    = string
    subject   = string
    audiences = optional(list(string), ["api://AzureADTokenExchange"])
  })
  default = null
}
