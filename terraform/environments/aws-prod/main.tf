# CUDly in one AWS account, plus the target role that lets it manage that same account.
# Other accounts get the aws-target-account-role module applied with their own providers
# (see docs/operations.md).

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ "app" = "cudly", "environment" = "prod" }, var.tags)
  }
}

module "cudly" {
  source = "../../modules/aws-service"

  name                         = var.name
  image                        = var.image
  vpc_id                       = var.vpc_id
  private_subnet_ids           = var.private_subnet_ids
  load_balancer_subnet_ids     = var.load_balancer_subnet_ids
  allowed_cidr_blocks          = var.allowed_cidr_blocks
  certificate_arn              = var.certificate_arn
  credential_encryption_key    = var.credential_encryption_key
  credential_decrypt_only_keys = var.credential_decrypt_only_keys
  max_account_parallelism      = var.max_account_parallelism
  desired_count                = var.desired_count
  workers                      = var.workers
  purchases_enabled            = var.purchases_enabled
  enable_org_discovery         = var.enable_org_discovery
  target_role_arns             = concat(var.target_role_arns, [module.self_role.role_arn])
}

module "self_role" {
  source = "../../modules/aws-target-account-role"

  cudly_principal_arn = module.cudly.task_role_arn
  external_id         = var.self_external_id
  enable_purchasing   = var.self_enable_purchasing
}
