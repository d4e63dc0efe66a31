variable "role_name" {
  description = "Name of the role CUDly assumes in this account. Accounts created by organisation discovery use CUDLY_DISCOVERY_ROLE_NAME (default CUDly), so keep the two equal."
  type        = string
  default     = "CUDly"

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.role_name))
    error_message = "role_name must be a valid IAM role name (1-64 of letters, digits and +=,.@_-)."
  }
}

variable "cudly_principal_arn" {
  description = "The only principal allowed to assume this role: the CUDly task role (aws-service output task_role_arn), or, for accounts reached through a bastion, the bastion account's CUDly role."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$", var.cudly_principal_arn))
    error_message = "cudly_principal_arn must be an IAM role ARN."
  }
}

variable "external_id" {
  description = "sts:ExternalId required to assume the role; enter the same value as the account's aws_external_id in CUDly. Generate one per account (e.g. uuidgen)."
  type        = string

  validation {
    condition     = length(var.external_id) >= 2 && length(var.external_id) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", var.external_id))
    error_message = "external_id must be 2-1224 characters of letters, digits and +=,.@:/-_."
  }
}

variable "enable_purchasing" {
  description = "Attach the purchase policy (Reserved Instances, reserved nodes and Savings Plans). Off by default: the read policy alone lets CUDly collect recommendations and run dry-run plans."
  type        = bool
  default     = false
}

variable "enable_org_discovery" {
  description = "For the AWS Organizations management (or delegated administrator) account: allow organizations:ListAccounts so CUDly can discover member accounts."
  type        = bool
  default     = false
}

variable "bastion_target_role_arns" {
  description = "For a bastion or organisation-root account: roles in other accounts this role may assume to reach them (e.g. arn:aws:iam::*:role/CUDly). Empty for an ordinary member account."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.bastion_target_role_arns : can(regex("^arn:aws[a-z-]*:iam::(\\d{12}|\\*):role/[\\w+=,.@/*-]+$", arn))])
    error_message = "Each entry must be an IAM role ARN (the account id may be *)."
  }
}

variable "max_session_duration" {
  description = "Maximum session length of the role, seconds (3600-43200)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "permissions_boundary_arn" {
  description = "Optional permissions boundary policy ARN for the role."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to the role and its policies."
  type        = map(string)
  default     = {}
}
