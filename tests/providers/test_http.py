"""The shared TLS setup: system CAs plus CUDLY_CA_BUNDLE, for every client library."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
import trustme
from google.auth.exceptions import TransportError

from api.config import Settings
from api.providers.base import ProviderError
from api.providers.gcp.client import HttpxRequest
from api.providers.http import botocore_verify, ssl_context


def settings_with(ca_bundle: object) -> Settings:
    return Settings.model_validate(
        {
            "env": "test",
            "database_url": "postgresql://x/y",
            "credential_encryption_key": "ab" * 32,
            "ca_bundle": ca_bundle,
        }
    )


def test_bundle_is_trusted_in_addition_to_system_cas(tmp_path: Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    ctx = ssl_context(settings_with(pem))
    assert ctx.cert_store_stats()["x509_ca"] == system + 1
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ssl_context(settings_with(None)).cert_store_stats()["x509_ca"] == system


def test_botocore_gets_defaults_plus_bundle(tmp_path: Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    assert botocore_verify(settings_with(None)) is None
    combined = Path(botocore_verify(settings_with(pem)) or "")
    text = combined.read_text()
    assert ca.cert_pem.bytes().decode() in text
    assert text.count("BEGIN CERTIFICATE") > 10  # the default CAs are still there


def test_unreadable_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="CUDLY_CA_BUNDLE"):
        ssl_context(settings_with(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ProviderError, match="not a readable PEM"):
        ssl_context(settings_with(junk))


def test_google_transport_only_reaches_configured_endpoints() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        request = HttpxRequest(client, ("https://oauth2.googleapis.com/token",))
        assert request("https://oauth2.googleapis.com/token", method="POST").status == 200
        for url in (
            "https://oauth2.googleapis.com/tokenx",
            "https://evil.example/token",
            "http://169.254.169.254/computeMetadata/v1/",
        ):
            with pytest.raises(TransportError):
                request(url)
    assert seen == ["https://oauth2.googleapis.com/token"]
