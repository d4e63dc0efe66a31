variable "project_id" {
  description = "Project that owns the CUDly service account."
  type        = string
}

variable "account_id" {
  description = "Service account id (the part before @)."
  type        = string
  default     = "cudly"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.account_id))
    error_message = "account_id must be 6-30 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "display_name" {
  description = "Display name of the service account."
  type        = string
  default     = "CUDly"
}

variable "target_project_ids" {
  description = "Projects CUDly manages: each grants the service account recommendation read access, plus the commitment purchaser role when enable_purchasing is true."
  type        = set(string)

  validation {
    condition     = length(var.target_project_ids) > 0 && alltrue([for id in var.target_project_ids : can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", id))])
    error_message = "target_project_ids must be a non-empty set of project ids."
  }
}

variable "enable_purchasing" {
  description = "Grant a custom role limited to creating and reading Compute Engine commitments in every target project. Off by default: the read roles alone let CUDly collect recommendations and run dry-run plans."
  type        = bool
  default     = false
}

variable "organization_id" {
  description = "Numeric organization id, for organisation discovery (is_discovery_root): grants roles/browser on the organization so CUDly can list its projects. Null grants nothing at organization level."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null ? true : can(regex("^[0-9]+$", var.organization_id))
    error_message = "organization_id must be the numeric organization id."
  }
}

variable "billing_account_id" {
  description = "Billing account (XXXXXX-XXXXXX-XXXXXX) whose spend-based CUD recommendations (Cloud SQL) CUDly reads; grants roles/recommender.billingAccountCudViewer. Null grants nothing."
  type        = string
  default     = null

  validation {
    condition     = var.billing_account_id == null ? true : can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account_id))
    error_message = "billing_account_id must look like 012345-6789AB-CDEF01."
  }
}

variable "workload_identity_principals" {
  description = "Workload identity federation principals allowed to impersonate the service account (gcp_auth_mode = workload_identity_federation), e.g. principalSet://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/attribute.aws_role/arn:aws:sts::ACCOUNT:assumed-role/cudly-task. Empty for service-account keys."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for p in var.workload_identity_principals : can(regex("^principal(Set)?://iam\\.googleapis\\.com/", p))])
    error_message = "Each principal must be a principal:// or principalSet:// workload identity pool member."
  }
}
