# The credential encryption key. The tasks read it through CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN
# with their own role, so it never appears in the task definition or the container environment.
resource "aws_secretsmanager_secret" "encryption_key" {
  # checkov:skip=CKV2_AWS_57:Rotation cannot be automatic: a new key must be paired with `cudly rekey` (docs/operations.md, "Rotate the encryption key").
  name                    = "${var.name}/credential-encryption-key"
  description             = "CUDly AES-256-GCM key (64 hex) for stored cloud credentials"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 30
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "encryption_key" {
  secret_id     = aws_secretsmanager_secret.encryption_key.id
  secret_string = var.credential_encryption_key
}

# Old keys accepted for decryption while a rotation is in progress (only then).
locals {
  decrypt_only_keys_enabled = nonsensitive(length(var.credential_decrypt_only_keys) > 0)
}

resource "aws_secretsmanager_secret" "decrypt_only_keys" {
  # checkov:skip=CKV2_AWS_57:Holds previous keys during a manual rotation only; nothing to rotate automatically.
  count                   = local.decrypt_only_keys_enabled ? 1 : 0
  name                    = "${var.name}/credential-decrypt-only-keys"
  description             = "CUDly previous encryption keys, accepted for decryption during a rotation"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "decrypt_only_keys" {
  count         = local.decrypt_only_keys_enabled ? 1 : 0
  secret_id     = aws_secretsmanager_secret.decrypt_only_keys[0].id
  secret_string = join(",", var.credential_decrypt_only_keys)
}

# DATABASE_URL, injected into the container by ECS. The password is generated ephemerally and
# written write-only to RDS and to this secret: it is in neither the state nor a plan.
ephemeral "aws_secretsmanager_random_password" "db" {
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "database_url" {
  # checkov:skip=CKV2_AWS_57:Rotated by incrementing db_password_version, which updates RDS and this secret together and redeploys the service.
  name                    = "${var.name}/database-url"
  description             = "CUDly DATABASE_URL (postgresql://...)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id                = aws_secretsmanager_secret.database_url.id
  secret_string_wo         = "postgresql://${local.db_username}:${ephemeral.aws_secretsmanager_random_password.db.random_password}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${local.db_name}?ssl=require"
  secret_string_wo_version = var.db_password_version
}
