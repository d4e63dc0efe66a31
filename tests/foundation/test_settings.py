from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.config import Settings, env_var_for, env_var_names, parse_duration


def test_production_refuses_the_dev_encryption_key() -> None:
    with pytest.raises(ValidationError, match="dev key is refused"):
        Settings(env="production", database_url="postgresql://db/cudly")


def test_production_refuses_the_embedded_database() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(env="production", credential_encryption_key="a" * 64)


def test_production_accepts_explicit_settings() -> None:
    settings = Settings(
        env="production", credential_encryption_key="a" * 64, database_url="postgresql://db/x"
    )
    assert settings.env.value == "production"
    assert "a" * 64 not in repr(settings)


def test_compatibility_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDLY_MAX_ACCOUNT_PARALLELISM", "7")
    monkeypatch.setenv(
        "CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:k",
    )
    settings = Settings()
    assert settings.scheduler.max_account_parallelism == 7
    assert settings.crypto.key_secret_arn is not None
    assert {
        "CREDENTIAL_ENCRYPTION_KEY",
        "DATABASE_URL",
        "CUDLY_MAX_ACCOUNT_PARALLELISM",
    } <= env_var_names()


@pytest.mark.parametrize(
    ("text", "seconds"), [("6h", 21600), ("30m", 1800), ("90", 90), ("1d", 86400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_names_the_format() -> None:
    with pytest.raises(ValueError, match=r"use e\.g\."):
        parse_duration("soon")


def test_collect_interval_has_a_floor() -> None:
    # A cycle sweeps every account: a few seconds between cycles would only pile up runs.
    with pytest.raises(ValueError, match="collect_interval"):
        Settings.model_validate({"env": "test", "collect_interval": "30s"})
    settings = Settings.model_validate({"env": "test", "collect_interval": "5m"})
    assert settings.scheduler.collect_interval == 300


# --- grouped settings, flat environment -----------------------------------------------------


def test_groups_read_the_flat_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("cudly_db_pool_size", "3")  # names are case-insensitive, as before
    monkeypatch.setenv("CUDLY_SCHEDULER_ENABLED", "false")
    monkeypatch.setenv("CUDLY_PURCHASES_ENABLED", "true")
    monkeypatch.setenv("CUDLY_APPROVAL_TTL", "3d")
    monkeypatch.setenv("CUDLY_CLOUD_HTTP_TIMEOUT_S", "4")
    monkeypatch.setenv("CREDENTIAL_ENCRYPTION_KEY", "b" * 64)
    settings = Settings(auth={"token_ttl_s": 600})
    assert settings.db.url is not None
    assert settings.db.url.get_secret_value() == "postgresql://db/x"
    assert settings.db.pool_size == 3
    assert settings.scheduler.enabled is False
    assert settings.purchases.enabled is True
    assert settings.purchases.approval_ttl == 3 * 86400
    assert settings.clouds.http_timeout_s == 4.0
    assert settings.crypto.key is not None
    assert settings.auth.token_ttl_s == 600


def test_keyword_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDLY_DB_POOL_SIZE", "3")
    monkeypatch.setenv("CUDLY_PORT", "9000")
    settings = Settings(db_pool_size=5, server={"port": 9001})
    assert (settings.db.pool_size, settings.server.port) == (5, 9001)


def test_flat_names_construct_and_copy_into_groups() -> None:
    settings = Settings.model_validate(
        {"env": "test", "database_url": "postgresql://x/y", "scheduler_enabled": False}
    )
    assert settings.scheduler.enabled is False
    copied = settings.model_copy(update={"execution_stale_after_s": 0.5, "ca_bundle": None})
    assert copied.purchases.execution_stale_after_s == 0.5
    # the copy owns its groups: the original is untouched
    assert settings.purchases.execution_stale_after_s == 300.0
    copied.purchases.grace_days = 1
    assert settings.purchases.grace_days == 7


def test_every_setting_has_one_environment_name() -> None:
    names = env_var_names()
    defaults = Settings.model_validate({})
    groups = [getattr(defaults, name) for name in Settings.model_fields if name != "env"]
    assert len(names) == 1 + sum(len(type(group).model_fields) for group in groups)
    assert {
        "CUDLY_ENV",
        "CUDLY_DB_POOL_SIZE",
        "CUDLY_SCHEDULER_ENABLED",
        "CUDLY_PURCHASES_ENABLED",
    } <= names
    assert {"CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN", "CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS"} <= names


def test_an_error_names_the_environment_variable_not_the_group() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings.model_validate({"db_pool_size": 0, "credential_encryption_key": "short"})
    assert sorted(env_var_for(error["loc"]) for error in caught.value.errors()) == [
        "CREDENTIAL_ENCRYPTION_KEY",
        "CUDLY_DB_POOL_SIZE",
    ]
    assert "short" not in str(caught.value)
