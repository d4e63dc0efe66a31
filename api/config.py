"""Settings from the environment (pydantic-settings), grouped by concern.

Every variable is prefixed ``CUDLY_`` except the three names kept for compatibility with
existing deployments: ``CREDENTIAL_ENCRYPTION_KEY``, ``CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN``
and ``DATABASE_URL`` (``CUDLY_MAX_ACCOUNT_PARALLELISM`` already carries the prefix).
``CUDLY_ENV=production`` refuses the insecure defaults (dev encryption key, embedded DB).
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.enums import ApprovalMode


class Environment(enum.StrEnum):
    development = "development"
    test = "test"
    production = "production"


class LogFormat(enum.StrEnum):
    text = "text"
    json = "json"


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


def parse_duration(value: str | int | float) -> int:
    """Parse ``6h``/``30m``/``90`` into seconds."""
    if isinstance(value, int | float):
        return int(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"invalid duration {value!r}: use e.g. 90, 30s, 15m, 6h, 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _env(name: str) -> Any:
    """Bind a field to exactly one environment variable name."""
    return AliasChoices(name)


class Settings(BaseSettings):
    """All runtime configuration. Read once through :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="CUDLY_",
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
        # Startup errors must not print a mistyped key, password or database URL.
        hide_input_in_errors=True,
    )

    # --- runtime ---------------------------------------------------------------------------
    env: Environment = Environment.development
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path(".cudly")
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.text
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    run_migrations: bool = True
    frontend_dist: Path | None = None
    # host:port of a separate, unauthenticated /metrics listener for an in-network scraper.
    metrics_bind: str | None = Field(default=None, pattern=r"^(\[[0-9A-Fa-f:]+\]|[^:\s]*):\d{1,5}$")

    # --- database --------------------------------------------------------------------------
    database_url: SecretStr | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    db_pool_size: int = Field(default=10, ge=1)
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    # How long a request waits for a pooled connection before it is answered 503.
    db_pool_timeout_s: float = Field(default=10.0, gt=0)

    # --- auth ------------------------------------------------------------------------------
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    token_ttl_s: int = Field(default=12 * 3600, ge=60)
    # Failed sign-ins per window: per (email, client IP), per email (with backoff), per IP.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_email: int = Field(default=50, ge=1)
    login_max_failures_per_ip: int = Field(default=100, ge=1)
    login_window_s: int = Field(default=300, ge=1)

    # --- web (docs/security.md) ------------------------------------------------------------
    # Peers (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed; default none.
    trusted_proxies: str = ""
    # The URL users reach the server at; https turns on HSTS.
    public_url: str | None = None
    # Directories (comma-separated, absolute) that workload-identity token files may live in.
    wif_token_dirs: str = ""

    # --- credentials crypto ----------------------------------------------------------------
    credential_encryption_key: SecretStr | None = Field(
        default=None, validation_alias=_env("CREDENTIAL_ENCRYPTION_KEY")
    )
    credential_encryption_key_secret_arn: str | None = Field(
        default=None, validation_alias=_env("CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN")
    )
    # Comma-separated 64-hex keys accepted for decryption only (key rotation window).
    credential_decrypt_only_keys: SecretStr | None = None

    # --- scheduler / fan-out ---------------------------------------------------------------
    max_account_parallelism: int = Field(
        default=10, ge=1, le=1000, validation_alias=_env("CUDLY_MAX_ACCOUNT_PARALLELISM")
    )
    account_timeout_s: float = Field(default=120.0, gt=0)
    # A cycle sweeps every account; more often than every 5 minutes only piles up runs.
    collect_interval: int = Field(default=6 * 3600, ge=300)
    scheduler_enabled: bool = True
    # A running collection run's process refreshes its heartbeat this often; a run whose
    # heartbeat is older than collect_stale_after_s is closed as failed by any replica.
    collect_heartbeat_s: float = Field(default=10.0, gt=0)
    collect_stale_after_s: float = Field(default=60.0, gt=0)
    purchases_enabled: bool = False
    # Purchases (SPEC §6 Guardrails): what was bought for the same account and key within
    # the grace window is subtracted before sizing; the server-wide upfront cap per group.
    purchase_grace_days: int = Field(default=7, ge=0, le=365)
    max_purchase_upfront: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    # An execution's worker refreshes its heartbeat per line; a running execution whose
    # heartbeat is older than execution_stale_after_s is reconciled and finished by any worker.
    execution_timeout_s: float = Field(default=900.0, gt=0)
    execution_stale_after_s: float = Field(default=300.0, gt=0)
    reconcile_interval_s: float = Field(default=300.0, gt=0)
    # Approval of real execution groups: unset = required in production, none otherwise.
    purchase_approval: ApprovalMode | None = None
    approval_ttl: int = Field(default=72 * 3600, ge=60)
    test_rate_limit_per_minute: int = Field(default=10, ge=1)

    # --- clouds ----------------------------------------------------------------------------
    aws_region: str = "us-east-1"
    discovery_role_name: str = Field(default="CUDly", pattern=r"^[\w+=,.@-]{1,64}$")
    azure_authority_host: str = "https://login.microsoftonline.com"
    azure_management_url: str = "https://management.azure.com"
    # The token audience for ARM. Not derived from the URL: sovereign clouds name theirs
    # differently (e.g. https://management.core.usgovcloudapi.net/.default).
    azure_management_scope: str = Field(
        default="https://management.azure.com/.default", min_length=1, max_length=512
    )
    gcp_token_uri: str = "https://oauth2.googleapis.com/token"
    # The only STS token URL a GCP workload-identity (external_account) config may name.
    gcp_sts_token_uri: str = "https://sts.googleapis.com/v1/token"
    gcp_api_base_recommender: str = "https://recommender.googleapis.com"
    gcp_api_base_cloudresourcemanager: str = "https://cloudresourcemanager.googleapis.com"
    gcp_api_base_compute: str = "https://compute.googleapis.com"
    gcp_api_base_iamcredentials: str = "https://iamcredentials.googleapis.com"
    ca_bundle: Path | None = None
    cloud_http_timeout_s: float = Field(default=30.0, gt=0)

    @field_validator("collect_interval", "approval_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        return parse_duration(value)

    @field_validator(
        "azure_authority_host",
        "azure_management_url",
        "gcp_token_uri",
        "gcp_sts_token_uri",
        "gcp_api_base_recommender",
        "gcp_api_base_cloudresourcemanager",
        "gcp_api_base_compute",
        "gcp_api_base_iamcredentials",
    )
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("credential_encryption_key")
    @classmethod
    def _hex_key(cls, value: SecretStr | None) -> SecretStr | None:
        # A clear startup error instead of a failure at the first credential write.
        if value is not None and not _HEX_KEY.match(value.get_secret_value().strip()):
            raise ValueError("must be 64 hexadecimal characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("credential_decrypt_only_keys")
    @classmethod
    def _hex_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = [p.strip() for p in value.get_secret_value().split(",") if p.strip()]
            if not all(_HEX_KEY.match(p) for p in parts):
                raise ValueError("must be comma-separated keys of 64 hexadecimal characters each")
        return value

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Settings:
        if self.env is Environment.production:
            if not (self.credential_encryption_key or self.credential_encryption_key_secret_arn):
                raise ValueError(
                    "CUDLY_ENV=production needs CREDENTIAL_ENCRYPTION_KEY or "
                    "CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN: the dev key is refused"
                )
            if self.database_url is None:
                raise ValueError(
                    "CUDLY_ENV=production needs DATABASE_URL: the embedded PostgreSQL is "
                    "for development only"
                )
            if not self.azure_authority_host.startswith("https://"):
                raise ValueError("CUDLY_AZURE_AUTHORITY_HOST must be https in production")
        return self


def env_var_names() -> set[str]:
    """Every environment variable name the settings model reads (upper case)."""
    names: set[str] = set()
    prefix = Settings.model_config.get("env_prefix", "")
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
