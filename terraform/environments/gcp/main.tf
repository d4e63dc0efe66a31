# The Google service account CUDly uses, with roles on the managed projects.
provider "google" {
  project = var.project_id
}

module "cudly_access" {
  source = "../../modules/gcp-access"

  project_id                   = var.project_id
  target_project_ids           = var.target_project_ids
  enable_purchasing            = var.enable_purchasing
  organization_id              = var.organization_id
  billing_account_id           = var.billing_account_id
  workload_identity_principals = var.workload_identity_principals
}
