data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- execution role: used by ECS to pull the image, write logs and inject DATABASE_URL --------
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "InjectSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat([aws_secretsmanager_secret.database_url.arn], aws_secretsmanager_secret.decrypt_only_keys[*].arn)
  }
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "inject-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- task role: CUDly's own identity ---------------------------------------------------------
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "CUDly server identity: assumes the declared target-account roles"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ReadEncryptionKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.encryption_key.arn]
  }

  statement {
    sid       = "DecryptEncryptionKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  # sts:AssumeRole on exactly the declared target roles, nothing else.
  dynamic "statement" {
    for_each = length(var.target_role_arns) > 0 ? [1] : []
    content {
      sid       = "AssumeTargetAccountRoles"
      actions   = ["sts:AssumeRole"]
      resources = var.target_role_arns
    }
  }

  # organizations:ListAccounts supports no resource-level permission, hence "*".
  dynamic "statement" {
    for_each = var.enable_org_discovery ? [1] : []
    content {
      sid       = "DiscoverOrganizationAccounts"
      actions   = ["organizations:ListAccounts"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "cudly"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}
