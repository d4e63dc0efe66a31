variable "name" {
  description = "Name prefix of every resource (ECS cluster and service, RDS instance, secrets, roles)."
  type        = string
  default     = "cudly"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "image" {
  description = "Container image of CUDly (built from the repository Dockerfile), ideally pinned by digest."
  type        = string
}

variable "vpc_id" {
  description = "VPC that holds the load balancer, the tasks and the database."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two AZs) for the tasks and the database. They need outbound HTTPS (NAT or VPC endpoints) to reach the cloud APIs."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "Give at least two private subnets in different availability zones."
  }
}

variable "load_balancer_subnet_ids" {
  description = "Subnets of the Application Load Balancer: private ones for an internal ALB, public ones when load_balancer_internal is false."
  type        = list(string)

  validation {
    condition     = length(var.load_balancer_subnet_ids) >= 2
    error_message = "An ALB needs subnets in at least two availability zones."
  }
}

variable "load_balancer_internal" {
  description = "Keep the ALB internal (reachable from the VPC and connected networks only). CUDly is an operator tool: make it internet-facing only behind a WAF."
  type        = bool
  default     = true
}

variable "allowed_cidr_blocks" {
  description = "CIDR blocks allowed to reach the ALB on HTTPS (443)."
  type        = list(string)

  validation {
    condition     = alltrue([for cidr in var.allowed_cidr_blocks : can(cidrnetmask(cidr))])
    error_message = "allowed_cidr_blocks must be IPv4 CIDR blocks."
  }
}

variable "certificate_arn" {
  description = "ACM certificate ARN of the HTTPS listener."
  type        = string
}

variable "alb_access_logs_bucket" {
  description = "Existing S3 bucket receiving ALB access logs; null disables them."
  type        = string
  default     = null
}

variable "desired_count" {
  description = "Number of CUDly tasks (replicas) on the one database. Every task's processes claim their share of each collection run's accounts from PostgreSQL (CUDLY_MAX_ACCOUNT_PARALLELISM stays a bound across all of them); sessions live in the database and an advisory lock lets exactly one replica start each collection cycle. Sizing: docs/operations.md, scaling."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1
    error_message = "desired_count must be at least 1."
  }
}

variable "workers" {
  description = "Server processes per task (CUDLY_WORKERS); each serves requests and claims collection work. null: one per vCPU of task_cpu (task_cpu / 1024, at least 1)."
  type        = number
  default     = null

  validation {
    condition     = var.workers == null ? true : (var.workers >= 1 && var.workers <= 64 && floor(var.workers) == var.workers)
    error_message = "workers must be null or an integer between 1 and 64."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Fargate task memory, MiB."
  type        = number
  default     = 2048
}

variable "credential_encryption_key" {
  description = "AES-256 key (64 hex characters) encrypting the stored cloud credentials. Stored in Secrets Manager and read by the tasks through CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN. Back it up apart from the database: without it the credentials are unrecoverable. Pass it as TF_VAR_credential_encryption_key, never in a committed file; it is kept in Terraform state, so the state must be encrypted and access-controlled."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[0-9a-fA-F]{64}$", var.credential_encryption_key))
    error_message = "credential_encryption_key must be exactly 64 hexadecimal characters (openssl rand -hex 32)."
  }
}

variable "credential_decrypt_only_keys" {
  description = "Previous encryption keys still accepted for decryption during a key rotation (each 64 hex characters); becomes CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS. Empty outside a rotation."
  type        = list(string)
  default     = []
  sensitive   = true

  validation {
    condition     = alltrue([for key in var.credential_decrypt_only_keys : can(regex("^[0-9a-fA-F]{64}$", key))])
    error_message = "Every decrypt-only key must be exactly 64 hexadecimal characters."
  }
}

variable "max_account_parallelism" {
  description = "How many cloud accounts are collected or executed concurrently (CUDLY_MAX_ACCOUNT_PARALLELISM)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_account_parallelism >= 1 && var.max_account_parallelism <= 1000 && floor(var.max_account_parallelism) == var.max_account_parallelism
    error_message = "max_account_parallelism must be an integer between 1 and 1000."
  }
}

variable "purchases_enabled" {
  description = "Allow real purchases (CUDLY_PURCHASES_ENABLED); plans must also have dry_run = false."
  type        = bool
  default     = false
}

variable "target_role_arns" {
  description = "IAM roles in the managed accounts that the CUDly task role may assume (the aws-target-account-role module's role). The task role gets sts:AssumeRole on exactly these ARNs; an account-id wildcard such as arn:aws:iam::*:role/CUDly is allowed for large organisations."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.target_role_arns : can(regex("^arn:aws[a-z-]*:iam::(\\d{12}|\\*):role/[\\w+=,.@/*-]+$", arn))])
    error_message = "Each target role must be an IAM role ARN (arn:aws:iam::<12 digits or *>:role/<name>)."
  }
}

variable "enable_org_discovery" {
  description = "Grant the task role organizations:ListAccounts, for deployments in the AWS Organizations management (or delegated administrator) account that discover member accounts with the server's own identity."
  type        = bool
  default     = false
}

variable "run_migrations_on_start" {
  description = "Let every task apply database migrations on start (CUDLY_RUN_MIGRATIONS). Set false to run `cudly migrate` as a one-off task before each deployment instead."
  type        = bool
  default     = true
}

variable "extra_environment" {
  description = "Further non-secret CUDly settings for the container, e.g. { CUDLY_COLLECT_INTERVAL = \"12h\" }. Names must be CUDLY_* settings or botocore AWS_* variables."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name in keys(var.extra_environment) : can(regex("^(CUDLY|AWS)_[A-Z0-9_]+$", name))])
    error_message = "extra_environment names must start with CUDLY_ or AWS_."
  }
}

variable "db_instance_class" {
  description = "RDS instance class of the PostgreSQL database."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_engine_version" {
  description = "PostgreSQL major (or major.minor) version."
  type        = string
  default     = "16"
}

variable "db_allocated_storage" {
  description = "Initial database storage, GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Upper bound of storage autoscaling, GiB."
  type        = number
  default     = 200
}

variable "db_multi_az" {
  description = "Run the database with a synchronous standby in a second availability zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery window); at least 7."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 7 and 35."
  }
}

variable "db_password_version" {
  description = "Increment to generate a new database password: it is written (write-only) to RDS and to the DATABASE_URL secret, then the service is redeployed by Terraform."
  type        = number
  default     = 1
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log group, days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs supports."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
