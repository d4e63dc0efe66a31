# The Google service account CUDly uses, with read roles on each managed project and, when
# enable_purchasing, a custom role that can create commitments and nothing else.
# No key is created here (it would land in Terraform state): use workload identity federation,
# or create a key with `gcloud iam service-accounts keys create` and give it to CUDly.

resource "google_service_account" "this" {
  project      = var.project_id
  account_id   = var.account_id
  display_name = var.display_name
  description  = "CUDly: committed use discount recommendations${var.enable_purchasing ? " and purchases" : ""}"
}

locals {
  member = "serviceAccount:${google_service_account.this.email}"
  # Read access per project:
  #   roles/recommender.computeViewer: Compute Engine recommendations, including the
  #     google.compute.commitment.UsageCommitmentRecommender ones;
  #   roles/browser: resourcemanager.projects.get, CUDly's connectivity test (projects.get).
  read_roles = ["roles/recommender.computeViewer", "roles/browser"]
  project_read_grants = {
    for pair in setproduct(var.target_project_ids, local.read_roles) : "${pair[0]}/${pair[1]}" => {
      project = pair[0]
      role    = pair[1]
    }
  }
}

resource "google_project_iam_member" "read" {
  for_each = local.project_read_grants
  project  = each.value.project
  role     = each.value.role
  member   = local.member
}

# roles/compute.admin would also allow creating and deleting instances, networks and disks.
# CUDly only creates regional commitments and polls the resulting region operation.
resource "google_project_iam_custom_role" "purchaser" {
  for_each    = var.enable_purchasing ? var.target_project_ids : toset([])
  project     = each.value
  role_id     = "cudlyCommitmentPurchaser"
  title       = "CUDly commitment purchaser"
  description = "Create and read Compute Engine committed use discounts"
  permissions = [
    "compute.commitments.create",
    "compute.commitments.get",
    "compute.commitments.list",
    "compute.regionOperations.get",
  ]
}

resource "google_project_iam_member" "purchaser" {
  for_each = google_project_iam_custom_role.purchaser
  project  = each.value.project
  role     = each.value.name
  member   = local.member
}

resource "google_organization_iam_member" "discovery" {
  count  = var.organization_id == null ? 0 : 1
  org_id = var.organization_id
  role   = "roles/browser"
  member = local.member
}

resource "google_billing_account_iam_member" "cud_recommendations" {
  count              = var.billing_account_id == null ? 0 : 1
  billing_account_id = var.billing_account_id
  role               = "roles/recommender.billingAccountCudViewer"
  member             = local.member
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each           = toset(var.workload_identity_principals)
  service_account_id = google_service_account.this.name
  role               = "roles/iam.workloadIdentityUser"
  member             = each.value
}
