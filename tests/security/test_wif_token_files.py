"""Workload-identity token files cannot read the server's files (issue 19 item 5)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.models import CloudAccount
from api.providers.base import ProviderError
from api.providers.tokens import PATH_REFUSED, TOKEN_FILE_MAX_BYTES, read_token_file_sync
from tests.conftest import make_settings
from tests.credentials.fixtures import add_account

ATTACKS = ["/proc/self/environ", "/etc/shadow", "/etc/passwd", "/root/.ssh/id_rsa"]


def gcp_wif(path: str) -> dict[str, Any]:
    return {
        "type": "gcp_wif",
        "external_account_json": json.dumps(
            {
                "type": "external_account",
                "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "https://sts.googleapis.com/v1/token",
                "credential_source": {"file": path},
            }
        ),
    }


def bodies(path: str) -> list[tuple[str, dict[str, Any], str]]:
    return [
        ("aws", {"type": "aws_wif", "web_identity_token_file": path}, "web_identity_token_file"),
        ("azure", {"type": "azure_wif", "federated_token_file": path}, "federated_token_file"),
        ("gcp", gcp_wif(path), "external_account_json"),
    ]


async def wif_account(session: AsyncSession, provider: str) -> CloudAccount:
    modes = {
        "aws": {
            "aws_auth_mode": "workload_identity_federation",
            "aws_role_arn": "arn:aws:iam::123456789012:role/R",
        },
        "azure": {"azure_auth_mode": "workload_identity_federation"},
        "gcp": {"gcp_auth_mode": "workload_identity_federation"},
    }
    if provider == "azure":
        subscription = str(uuid.uuid4())
        modes["azure"] |= {"external_id": subscription, "azure_subscription_id": subscription}
    if provider == "gcp":
        project = f"p-{uuid.uuid4().hex[:12]}"
        modes["gcp"] |= {"external_id": project, "gcp_project_id": project}
    return await add_account(session, provider, **modes[provider])


@pytest.mark.parametrize("path", ATTACKS)
async def test_no_token_file_is_accepted_without_configured_directories(
    admin_client: httpx.AsyncClient, session: AsyncSession, path: str
) -> None:
    for provider, body, field in bodies(path):
        account = await wif_account(session, provider)
        response = await admin_client.post(f"/api/accounts/{account.id}/credentials", json=body)
        assert response.status_code == 400, (provider, response.text)
        assert response.json()["fields"] == [{"field": field, "message": PATH_REFUSED}]


class TestConfiguredDirectory:
    @pytest.fixture
    def token_dir(self, tmp_path: Path) -> Path:
        directory = tmp_path / "tokens"
        directory.mkdir()
        return directory

    @pytest.fixture
    def settings_overrides(self, token_dir: Path) -> dict[str, object]:
        return {"wif_token_dirs": str(token_dir)}

    async def test_a_symlink_out_of_the_directory_is_refused(
        self, admin_client: httpx.AsyncClient, session: AsyncSession, token_dir: Path
    ) -> None:
        (token_dir / "innocent").symlink_to("/etc/passwd")
        (token_dir / "fine").write_text("a.jwt.token")
        for provider, body, field in bodies(str(token_dir / "innocent")):
            account = await wif_account(session, provider)
            response = await admin_client.post(f"/api/accounts/{account.id}/credentials", json=body)
            assert response.status_code == 400, (provider, response.text)
            assert response.json()["fields"][0]["field"] == field
        for provider, body, _ in bodies(str(token_dir / "fine")):
            account = await wif_account(session, provider)
            response = await admin_client.post(f"/api/accounts/{account.id}/credentials", json=body)
            assert response.status_code == 204, (provider, response.text)


def test_every_file_problem_reads_the_same(tmp_path: Path) -> None:
    allowed = tmp_path / "tokens"
    allowed.mkdir()
    settings = make_settings("postgresql://u@/db", wif_token_dirs=str(allowed))
    (allowed / "big").write_bytes(b"x" * (TOKEN_FILE_MAX_BYTES + 1))
    (allowed / "empty").write_text("  \n")
    (allowed / "dir").mkdir()
    (allowed / "binary").write_bytes(b"\xff\xfe\x00")
    (allowed / "escape").symlink_to("/etc/hostname")
    (allowed / "ok").write_text("the.jwt\n")
    unreadable = allowed / "secret"
    unreadable.write_text("x")
    os.chmod(unreadable, 0)  # root reads it anyway; the other problems still differ
    problems = ["big", "empty", "dir", "binary", "escape", "absent", "../../etc/hostname"]
    messages = set()
    for name in problems:
        with pytest.raises(ProviderError) as caught:
            read_token_file_sync(str(allowed / name), "web identity token", settings)
        messages.add(caught.value.message)
    with pytest.raises(ProviderError) as outside:
        read_token_file_sync("/proc/self/environ", "web identity token", settings)
    messages.add(outside.value.message)
    assert len(messages) == 1, messages
    (message,) = messages
    assert "/" not in message.replace("CUDLY_WIF_TOKEN_DIRS", "")  # no path echoed
    assert read_token_file_sync(str(allowed / "ok"), "web identity token", settings) == "the.jwt"


def test_files_are_off_until_an_operator_allows_a_directory(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("the.jwt")
    settings: Settings = make_settings("postgresql://u@/db")
    assert settings.clouds.wif_token_dirs == ""
    with pytest.raises(ProviderError):
        read_token_file_sync(str(token), "federated token", settings)
