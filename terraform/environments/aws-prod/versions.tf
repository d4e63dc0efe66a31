terraform {
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }

  # The state holds the credential encryption key: keep it in an encrypted, access-controlled
  # bucket. Configure with `terraform init -backend-config=backend.hcl` (bucket, key, region,
  # encrypt = true, use_lockfile = true).
  backend "s3" {}
}
