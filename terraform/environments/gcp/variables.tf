variable "project_id" {
  description = "Project that owns the CUDly service account."
  type        = string
}

variable "target_project_ids" {
  description = "Projects CUDly manages."
  type        = set(string)
}

variable "enable_purchasing" {
  description = "Grant the commitment purchaser custom role in every target project."
  type        = bool
  default     = false
}

variable "organization_id" {
  description = "Organization id for project discovery, or null."
  type        = string
  default     = null
}

variable "billing_account_id" {
  description = "Billing account for spend-based (Cloud SQL) CUD recommendations, or null."
  type        = string
  default     = null
}

variable "workload_identity_principals" {
  description = "Workload identity federation principals allowed to impersonate the service account."
  type        = list(string)
  default     = []
}
