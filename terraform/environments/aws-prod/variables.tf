variable "region" {
  description = "AWS region of the deployment."
  type        = string
}

variable "name" {
  description = "Name prefix of the resources."
  type        = string
  default     = "cudly"
}

variable "image" {
  description = "CUDly container image, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/cudly@sha256:..."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the deployment."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (two or more AZs) for the tasks and the database."
  type        = list(string)
}

variable "load_balancer_subnet_ids" {
  description = "Subnets of the (internal by default) load balancer."
  type        = list(string)
}

variable "allowed_cidr_blocks" {
  description = "Networks allowed to reach CUDly over HTTPS."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener."
  type        = string
}

variable "credential_encryption_key" {
  description = "64-hex credential encryption key. Supply it as TF_VAR_credential_encryption_key from a secret store, never in a file in the repository."
  type        = string
  sensitive   = true
}

variable "credential_decrypt_only_keys" {
  description = "Old keys accepted for decryption during a key rotation (TF_VAR_credential_decrypt_only_keys='[\"<old key>\"]'); empty otherwise."
  type        = list(string)
  default     = []
  sensitive   = true
}

variable "max_account_parallelism" {
  description = "Accounts collected or executed concurrently."
  type        = number
  default     = 10
}

variable "desired_count" {
  description = "Number of CUDly tasks (replicas); all of them share each collection run."
  type        = number
  default     = 2
}

variable "workers" {
  description = "Server processes per task (CUDLY_WORKERS); null: one per vCPU of the task."
  type        = number
  default     = null
}

variable "purchases_enabled" {
  description = "Allow real purchases on the server (plans must also set dry_run = false)."
  type        = bool
  default     = false
}

variable "target_role_arns" {
  description = "Roles in managed accounts CUDly may assume, e.g. [\"arn:aws:iam::*:role/CUDly\"] for every account of an organisation that deployed the aws-target-account-role module. This account's own role is added automatically."
  type        = list(string)
  default     = []
}

variable "enable_org_discovery" {
  description = "This account is the Organizations management or delegated administrator account: allow the server to list member accounts."
  type        = bool
  default     = false
}

variable "self_external_id" {
  description = "ExternalId of the CUDly role in this (the deployment) account, so CUDly can manage its own account's commitments too."
  type        = string
}

variable "self_enable_purchasing" {
  description = "Attach the purchase policy to the CUDly role of this account."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Default tags of every resource."
  type        = map(string)
  default     = {}
}
