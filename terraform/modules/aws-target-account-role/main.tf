# The role CUDly assumes in one managed AWS account: trust pinned to CUDly's own role plus an
# ExternalId, a read policy, and (only when enable_purchasing) a purchase policy.

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "CUDlyOnly"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.cudly_principal_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  description          = "Assumed by CUDly to read commitment recommendations${var.enable_purchasing ? " and purchase commitments" : ""}"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  arn_prefix = "arn:${data.aws_partition.current.partition}"
  account_id = data.aws_caller_identity.current.account_id
  # The account's own reservations, for the actions that accept a resource ARN.
  reservation_arns = [
    "${local.arn_prefix}:rds:*:${local.account_id}:ri:*",
    "${local.arn_prefix}:elasticache:*:${local.account_id}:reserved-instance:*",
    "${local.arn_prefix}:memorydb:*:${local.account_id}:reservednode/*",
    "${local.arn_prefix}:savingsplans::${local.account_id}:savingsplan/*",
  ]
}

# --- read: recommendations and existing commitments ------------------------------------------
data "aws_iam_policy_document" "read" {
  statement {
    sid = "CostExplorerRecommendations"
    actions = [
      "ce:GetReservationPurchaseRecommendation",
      "ce:GetSavingsPlansPurchaseRecommendation",
    ]
    resources = ["*"]
  }

  # Actions without resource-level permissions.
  statement {
    sid = "DescribeCommitments"
    actions = [
      "ec2:DescribeReservedInstances",
      "es:DescribeReservedInstances",
      "redshift:DescribeReservedNodes",
    ]
    resources = ["*"]
  }

  statement {
    sid = "DescribeOwnReservations"
    actions = [
      "rds:DescribeReservedDBInstances",
      "elasticache:DescribeReservedCacheNodes",
      "memorydb:DescribeReservedNodes",
      "savingsplans:DescribeSavingsPlans",
    ]
    resources = local.reservation_arns
  }

  dynamic "statement" {
    for_each = var.enable_org_discovery ? [1] : []
    content {
      sid       = "DiscoverOrganizationAccounts"
      actions   = ["organizations:ListAccounts"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = length(var.bastion_target_role_arns) > 0 ? [1] : []
    content {
      sid       = "HopToMemberAccounts"
      actions   = ["sts:AssumeRole"]
      resources = var.bastion_target_role_arns
    }
  }
}

resource "aws_iam_role_policy" "read" {
  name   = "cudly-read"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.read.json
}

# --- purchase: only with enable_purchasing -----------------------------------------------------
data "aws_iam_policy_document" "purchase" {
  # Offering look-ups and the EC2, OpenSearch, Redshift and Savings Plans purchases support no
  # resource-level permissions; the RDS, ElastiCache and MemoryDB purchases are scoped below.
  statement {
    sid = "PurchaseUnscopable"
    actions = [
      "ec2:DescribeReservedInstancesOfferings",
      "ec2:PurchaseReservedInstancesOffering",
      "rds:DescribeReservedDBInstancesOfferings",
      "elasticache:DescribeReservedCacheNodesOfferings",
      "es:DescribeReservedInstanceOfferings",
      "es:PurchaseReservedInstanceOffering",
      "redshift:DescribeReservedNodeOfferings",
      "redshift:PurchaseReservedNodeOffering",
      "memorydb:DescribeReservedNodesOfferings",
    ]
    resources = ["*"]
  }

  statement {
    sid = "PurchaseOwnReservations"
    actions = [
      "rds:PurchaseReservedDBInstancesOffering",
      "elasticache:PurchaseReservedCacheNodesOffering",
      "memorydb:PurchaseReservedNodesOffering",
    ]
    resources = local.reservation_arns
  }

  statement {
    sid = "SavingsPlans"
    actions = [
      "savingsplans:DescribeSavingsPlansOfferings",
      "savingsplans:DescribeSavingsPlansOfferingRates",
      "savingsplans:CreateSavingsPlan",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "purchase" {
  count  = var.enable_purchasing ? 1 : 0
  name   = "cudly-purchase"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.purchase.json
}
