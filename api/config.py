"""Settings from the environment (pydantic-settings), grouped by concern.

Code reads one nested model per concern — ``settings.server``, ``.db``, ``.auth``,
``.crypto``, ``.scheduler``, ``.purchases``, ``.clouds`` — plus ``settings.env``. The
environment stays flat: each field reads exactly one variable, ``CUDLY_<flat name>``, where the
flat name is the field's own name unless its group's ``flat_names`` renames it
(``db.pool_size`` ← ``CUDLY_DB_POOL_SIZE``), except the three names kept for compatibility with
existing deployments: ``CREDENTIAL_ENCRYPTION_KEY``, ``CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN`` and
``DATABASE_URL``. Construction and ``model_copy`` accept the flat names too
(``Settings.model_validate({"database_url": …, "scheduler_enabled": False})``).
``CUDLY_ENV=production`` refuses the insecure defaults (dev encryption key, embedded DB).
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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

ENV_PREFIX = "CUDLY_"
# Flat names whose environment variable carries no prefix (existing deployments set them).
_UNPREFIXED = frozenset(
    {"database_url", "credential_encryption_key", "credential_encryption_key_secret_arn"}
)


def parse_duration(value: str | int | float) -> int:
    """Parse ``6h``/``30m``/``90`` into seconds."""
    if isinstance(value, int | float):
        return int(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"invalid duration {value!r}: use e.g. 90, 30s, 15m, 6h, 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class _Group(BaseModel):
    """One concern's settings; a field's flat name is its own unless ``flat_names`` renames it."""

    # validate_default as BaseSettings does (URL defaults are normalised by their validator).
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)

    flat_names: ClassVar[Mapping[str, str]] = {}


class ServerSettings(_Group):
    """The HTTP server: listen address, limits, logs, the SPA, proxies (docs/security.md)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # Processes of `cudly serve` (each serves requests and claims collection work); unset:
    # WEB_CONCURRENCY if set, else the CPU count.
    workers: int | None = Field(default=None, ge=1, le=256)
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.text
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    frontend_dist: Path | None = None
    # host:port of a separate, unauthenticated /metrics listener for an in-network scraper.
    metrics_bind: str | None = Field(default=None, pattern=r"^(\[[0-9A-Fa-f:]+\]|[^:\s]*):\d{1,5}$")
    # Peers (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed; default none.
    trusted_proxies: str = ""
    # The URL users reach the server at; https turns on HSTS.
    public_url: str | None = None


class DatabaseSettings(_Group):
    """PostgreSQL: an external URL or the embedded server under ``data_dir``, and the pool."""

    flat_names: ClassVar[Mapping[str, str]] = {
        "url": "database_url",
        "pool_size": "db_pool_size",
        "connect_timeout_s": "db_connect_timeout_s",
        "pool_timeout_s": "db_pool_timeout_s",
    }

    url: SecretStr | None = None
    data_dir: Path = Path(".cudly")
    run_migrations: bool = True
    pool_size: int = Field(default=10, ge=1)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    # How long a request waits for a pooled connection before it is answered 503.
    pool_timeout_s: float = Field(default=10.0, gt=0)


class AuthSettings(_Group):
    """The first admin, login tokens and sign-in throttling."""

    admin_email: str | None = None
    admin_password: SecretStr | None = None
    token_ttl_s: int = Field(default=12 * 3600, ge=60)
    # Failed sign-ins per window: per (email, client IP), per email (with backoff), per IP.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_email: int = Field(default=50, ge=1)
    login_max_failures_per_ip: int = Field(default=100, ge=1)
    login_window_s: int = Field(default=300, ge=1)


class CryptoSettings(_Group):
    """The credential encryption key (or the secret holding it) and decrypt-only old keys."""

    flat_names: ClassVar[Mapping[str, str]] = {
        "key": "credential_encryption_key",
        "key_secret_arn": "credential_encryption_key_secret_arn",
        "decrypt_only_keys": "credential_decrypt_only_keys",
    }

    key: SecretStr | None = None
    key_secret_arn: str | None = None
    # Comma-separated 64-hex keys accepted for decryption only (key rotation window).
    decrypt_only_keys: SecretStr | None = None

    @field_validator("key")
    @classmethod
    def _hex_key(cls, value: SecretStr | None) -> SecretStr | None:
        # A clear startup error instead of a failure at the first credential write.
        if value is not None and not _HEX_KEY.match(value.get_secret_value().strip()):
            raise ValueError("must be 64 hexadecimal characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("decrypt_only_keys")
    @classmethod
    def _hex_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = [p.strip() for p in value.get_secret_value().split(",") if p.strip()]
            if not all(_HEX_KEY.match(p) for p in parts):
                raise ValueError("must be comma-separated keys of 64 hexadecimal characters each")
        return value


class SchedulerSettings(_Group):
    """The periodic loop and the fan-out over accounts (collection, execution, discovery)."""

    flat_names: ClassVar[Mapping[str, str]] = {"enabled": "scheduler_enabled"}

    enabled: bool = True
    # A cycle sweeps every account; more often than every 5 minutes only piles up runs.
    collect_interval: int = Field(default=6 * 3600, ge=300)
    reconcile_interval_s: float = Field(default=300.0, gt=0)
    max_account_parallelism: int = Field(default=10, ge=1, le=1000)
    account_timeout_s: float = Field(default=120.0, gt=0)
    # A running collection run's process refreshes its heartbeat this often; a run whose
    # heartbeat is older than collect_stale_after_s is closed as failed by any replica.
    collect_heartbeat_s: float = Field(default=10.0, gt=0)
    collect_stale_after_s: float = Field(default=60.0, gt=0)

    @field_validator("collect_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        return parse_duration(value)


class PurchaseSettings(_Group):
    """Purchases (SPEC §6 Guardrails), their execution and approval."""

    flat_names: ClassVar[Mapping[str, str]] = {
        "enabled": "purchases_enabled",
        "grace_days": "purchase_grace_days",
        "max_upfront": "max_purchase_upfront",
        "approval": "purchase_approval",
    }

    enabled: bool = False
    # What was bought for the same account and key within the grace window is subtracted
    # before sizing; the server-wide upfront cap per group.
    grace_days: int = Field(default=7, ge=0, le=365)
    max_upfront: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    # An execution's worker refreshes its heartbeat per line; a running execution whose
    # heartbeat is older than execution_stale_after_s is reconciled and finished by any worker.
    execution_timeout_s: float = Field(default=900.0, gt=0)
    execution_stale_after_s: float = Field(default=300.0, gt=0)
    # Approval of real execution groups: unset = required in production, none otherwise.
    approval: ApprovalMode | None = None
    approval_ttl: int = Field(default=72 * 3600, ge=60)

    @field_validator("approval_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int:
        return parse_duration(value)


class CloudSettings(_Group):
    """Where and how the server reaches the clouds (SPEC §1 Cloud endpoints)."""

    flat_names: ClassVar[Mapping[str, str]] = {"http_timeout_s": "cloud_http_timeout_s"}

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
    http_timeout_s: float = Field(default=30.0, gt=0)
    # Directories (comma-separated, absolute) that workload-identity token files may live in.
    wif_token_dirs: str = ""
    # Connectivity tests per account per minute.
    test_rate_limit_per_minute: int = Field(default=10, ge=1)

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


class _FlatEnvSource(PydanticBaseSettingsSource):
    """Reads every field from its one flat environment variable, case-insensitively."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the variables itself

    def __call__(self) -> dict[str, Any]:
        environ = {name.upper(): value for name, value in os.environ.items()}
        values: dict[str, Any] = {}
        for flat, (group, field) in _flat_fields().items():
            value = environ.get(env_var_name(flat))
            if value is None:
                continue
            if group:
                values.setdefault(group, {})[field] = value
            else:
                values[field] = value
        return values


class Settings(BaseSettings):
    """All runtime configuration, one group per concern. Read once through :func:`get_settings`."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        # Startup errors must not print a mistyped key, password or database URL.
        hide_input_in_errors=True,
    )

    env: Environment = Environment.development
    server: ServerSettings = Field(default_factory=ServerSettings)
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    crypto: CryptoSettings = Field(default_factory=CryptoSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    purchases: PurchaseSettings = Field(default_factory=PurchaseSettings)
    clouds: CloudSettings = Field(default_factory=CloudSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keyword arguments first, then the flat environment names; no .env or secrets dir.
        return init_settings, _FlatEnvSource(settings_cls)

    @model_validator(mode="before")
    @classmethod
    def _fold_flat_names(cls, data: Any) -> Any:
        """``{"db_pool_size": 5}`` → ``{"db": {"pool_size": 5}}``; a flat name beats a group's."""
        if not isinstance(data, Mapping):
            return data
        top, groups = _split_flat(data)
        for group, changes in groups.items():
            given = top.get(group)
            base = dict(given) if isinstance(given, Mapping | _Group) else {}
            top[group] = {**base, **changes}
        return top

    @model_validator(mode="after")
    def _refuse_insecure_production(self) -> Self:
        if self.env is Environment.production:
            if not (self.crypto.key or self.crypto.key_secret_arn):
                raise ValueError(
                    "CUDLY_ENV=production needs CREDENTIAL_ENCRYPTION_KEY or "
                    "CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN: the dev key is refused"
                )
            if self.db.url is None:
                raise ValueError(
                    "CUDLY_ENV=production needs DATABASE_URL: the embedded PostgreSQL is "
                    "for development only"
                )
            if not self.clouds.azure_authority_host.startswith("https://"):
                raise ValueError("CUDLY_AZURE_AUTHORITY_HOST must be https in production")
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with its own groups; ``update`` may use flat names (``{"ca_bundle": None}``)."""
        top, groups = _split_flat(update or {})
        copied = super().model_copy(update=top, deep=deep)
        for group in _groups():
            current: _Group = getattr(copied, group)
            copied.__dict__[group] = current.model_copy(update=groups.get(group))
        return copied


def _groups() -> dict[str, type[_Group]]:
    """The group fields of :class:`Settings` and their models."""
    groups: dict[str, type[_Group]] = {}
    for name, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, _Group):
            groups[name] = model
    return groups


@lru_cache(maxsize=1)
def _flat_fields() -> dict[str, tuple[str, str]]:
    """Flat name → (group, field); a top-level field (``env``) has the group ``""``."""
    fields: dict[str, tuple[str, str]] = {}
    groups = _groups()
    for name in Settings.model_fields:
        if name not in groups:
            fields[name] = ("", name)
    for group, model in groups.items():
        for field in model.model_fields:
            flat = model.flat_names.get(field, field)
            if flat in fields:
                raise RuntimeError(f"two settings share the flat name {flat!r}")
            fields[flat] = (group, field)
    return fields


def _split_flat(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Top-level keys as given, and flat names (any case) sorted into their groups."""
    flat = _flat_fields()
    top: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        target = flat.get(key.lower()) if isinstance(key, str) else None
        if target is None:
            top[key] = value
        elif target[0]:
            groups.setdefault(target[0], {})[target[1]] = value
        else:
            top[target[1]] = value
    return top, groups


def env_var_name(flat: str) -> str:
    """The environment variable a flat name is read from."""
    return flat.upper() if flat in _UNPREFIXED else f"{ENV_PREFIX}{flat}".upper()


def env_var_for(loc: Sequence[str | int]) -> str:
    """The environment variable behind a validation error location (``("db", "pool_size")``)."""
    names = {(group, field): flat for flat, (group, field) in _flat_fields().items()}
    parts = [str(part) for part in loc]
    if len(parts) >= 2 and (parts[0], parts[1]) in names:
        return env_var_name(names[(parts[0], parts[1])])
    if parts and ("", parts[0]) in names:
        return env_var_name(parts[0])
    if parts and parts[0].lower() in _flat_fields():
        return env_var_name(parts[0].lower())
    return ".".join(parts).upper()


def env_var_names() -> set[str]:
    """Every environment variable name the settings model reads (upper case)."""
    return {env_var_name(flat) for flat in _flat_fields()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
