"""GCP service-account key JSON for tests: a real RSA key, so google-auth signs a real
RS256 JWT that the simulator verifies against the registered public half."""

from __future__ import annotations

import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .app import SimState


def make_gcp_key(
    client_email: str,
    token_uri: str,
    *,
    project_id: str = "sim-project",
    state: SimState | None = None,
    client_id: str | None = None,
) -> dict[str, Any]:
    """Return a service-account key dict; with ``state``, register its public key there."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_id = secrets.token_hex(20)
    if state is not None:
        state.add_gcp_service_account(client_email, key.public_key(), key_id)
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": client_email,
        "client_id": client_id or str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{client_email}",
        "universe_domain": "googleapis.com",
    }
