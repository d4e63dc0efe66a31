from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.config import Settings, env_var_names, parse_duration


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
    assert settings.max_account_parallelism == 7
    assert settings.credential_encryption_key_secret_arn is not None
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
    assert (
        Settings.model_validate({"env": "test", "collect_interval": "5m"}).collect_interval == 300
    )
