"""GCP: google-auth credentials refreshed in a thread over httpx, then Google REST over httpx.

``service_account_key`` → ``service_account.Credentials.from_service_account_info`` once
the key's ``token_uri`` is verified equal to ``CUDLY_GCP_TOKEN_URI``;
``workload_identity_federation`` → ``identity_pool.Credentials`` from the stored
``external_account`` JSON (token URL = ``CUDLY_GCP_STS_TOKEN_URI``, impersonation under
``CUDLY_GCP_API_BASE_IAMCREDENTIALS``). google-auth's transport here is httpx with the shared
SSL context, and it refuses any URL outside those configured endpoints (SSRF guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping
from typing import Any

import httpx
from google.auth import exceptions as google_exceptions
from google.auth import identity_pool
from google.auth import transport as google_transport
from google.oauth2 import service_account

from api.config import Settings
from api.credentials.schemas import (
    GCP_SCOPE,
    GcpServiceAccountIn,
    GcpWifIn,
    impersonated_service_account,
)
from api.enums import Provider
from api.providers.base import AccountAuth, ConnectivityResult, ProviderError, ensure_identity
from api.providers.clients import ProviderClients
from api.providers.http import async_client, sync_client
from api.providers.tokens import allowed_token_path, read_token_file_sync

PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{5,29}$")


class _Response(google_transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(google_transport.Request):
    """google-auth transport over httpx (shared SSL context), limited to ``allowed`` URL
    prefixes: a credential file cannot make the server call anywhere else."""

    def __init__(self, client: httpx.Client, allowed: tuple[str, ...]) -> None:
        self._client = client
        self._allowed = allowed

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        if not any(url == prefix or url.startswith(prefix + "/") for prefix in self._allowed):
            raise google_exceptions.TransportError(  # type: ignore[no-untyped-call]
                "refusing to contact a host that is not a configured Google endpoint"
            )
        try:
            response = self._client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise google_exceptions.TransportError(  # type: ignore[no-untyped-call]
                type(exc).__name__
            ) from None
        return _Response(response)


def _project_id(auth: AccountAuth) -> str:
    project = auth.account.gcp_project_id or auth.account.external_id or ""
    if not PROJECT_ID.match(project):
        raise ProviderError(
            "the account's gcp_project_id is not a valid project id", code="gcp_project_invalid"
        )
    return project


def _refresh_error(
    exc: google_exceptions.RefreshError | google_exceptions.OAuthError, wif: bool
) -> ProviderError:
    text = str(exc.args[0]) if exc.args else ""
    if "invalid_grant" in text:
        if wif:
            return ProviderError(
                "Google STS rejected the subject token (invalid_grant): check the workload "
                "identity pool provider (audience, attribute conditions) and the token",
                code="gcp_invalid_grant",
            )
        return ProviderError(
            "Google rejected the service-account key (invalid_grant): the key may have been "
            "deleted or disabled (or the server clock is off) - create a new key and store it",
            code="gcp_invalid_grant",
        )
    if "invalid_client" in text or "unauthorized_client" in text:
        return ProviderError(
            "Google rejected the client (invalid_client): check the key or WIF configuration",
            code="gcp_invalid_client",
        )
    if "was not found" in text or "No such file" in text:
        return ProviderError(
            "the subject token file of the workload identity configuration cannot be read",
            code="wif_token_file",
        )
    if "impersonated" in text:
        return ProviderError(
            "the federated identity may not impersonate the service account: grant it "
            "roles/iam.workloadIdentityUser (or Service Account Token Creator)",
            code="gcp_impersonation_denied",
        )
    return ProviderError(
        "Google refused the token request: check the stored credentials", code="gcp_auth_failed"
    )


def _token_sync(
    auth: AccountAuth, settings: Settings, shared: httpx.Client | None = None
) -> tuple[str, str]:
    """(access token, identity) — blocking: run in a thread. Over ``shared`` (left open)
    when given, else over a client of its own."""
    creds_in = auth.credentials
    allowed = (
        settings.clouds.gcp_token_uri,
        settings.clouds.gcp_sts_token_uri,
        settings.clouds.gcp_api_base_iamcredentials,
    )
    scope: contextlib.AbstractContextManager[httpx.Client] = (
        contextlib.nullcontext(shared) if shared is not None else sync_client(settings)
    )
    with scope as http:
        request = HttpxRequest(http, allowed)
        if isinstance(creds_in, GcpServiceAccountIn):
            info = creds_in.info()
            if info.get("token_uri") != settings.clouds.gcp_token_uri:
                raise ProviderError(
                    f"the stored key's token_uri is not {settings.clouds.gcp_token_uri} "
                    "(CUDLY_GCP_TOKEN_URI): store the key again",
                    code="gcp_token_uri",
                )
            credentials: Any = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[GCP_SCOPE]
            )
            identity = str(info["client_email"])
            wif = False
        elif isinstance(creds_in, GcpWifIn):
            info = creds_in.info()
            if info.get("token_url") != settings.clouds.gcp_sts_token_uri:
                raise ProviderError(
                    f"the stored configuration's token_url is not {settings.clouds.gcp_sts_token_uri}: "
                    "store it again",
                    code="gcp_token_uri",
                )
            impersonation = info.get("service_account_impersonation_url")
            impersonated = (
                impersonated_service_account(impersonation, settings) if impersonation else None
            )
            if impersonation and impersonated is None:
                raise ProviderError(
                    "the stored configuration's service_account_impersonation_url is not on "
                    "CUDLY_GCP_API_BASE_IAMCREDENTIALS: store it again",
                    code="gcp_token_uri",
                )
            source = info["credential_source"]
            # Server configuration only: under CUDLY_WIF_TOKEN_DIRS, one error for every problem.
            read_token_file_sync(str(source.get("file", "")), "subject token", settings)
            source["file"] = str(allowed_token_path(str(source["file"]), settings))
            credentials = identity_pool.Credentials.from_info(  # type: ignore[no-untyped-call]
                info, scopes=[GCP_SCOPE]
            )
            identity = impersonated or f"external account ({info['audience'][:200]})"
            wif = True
        else:
            raise ProviderError("no credentials configured", code="no_credentials")
        try:
            credentials.refresh(request)
        except (google_exceptions.RefreshError, google_exceptions.OAuthError) as exc:
            raise _refresh_error(exc, wif) from None
        except google_exceptions.TransportError as exc:
            raise ProviderError(
                f"could not reach the Google token endpoint ({exc.args[0] if exc.args else 'error'}): "
                "check network access and CUDLY_CA_BUNDLE",
                code="gcp_unreachable",
            ) from None
        except (google_exceptions.GoogleAuthError, ValueError) as exc:
            raise ProviderError(
                f"the stored GCP credentials cannot be used ({type(exc).__name__})",
                code="gcp_auth_failed",
            ) from None
        return str(credentials.token), identity


async def access_token(
    auth: AccountAuth, settings: Settings, clients: ProviderClients | None = None
) -> tuple[str, str]:
    """An OAuth access token for the account, and the identity it acts as (refreshed over
    the shared token pool of ``clients`` when given)."""
    shared = clients.sync_http if clients is not None else None
    return await asyncio.to_thread(_token_sync, auth, settings, shared)


def _api_error(response: httpx.Response, project: str, identity: str) -> ProviderError:
    try:
        status_name = str(response.json().get("error", {}).get("status", ""))
    except (ValueError, AttributeError):
        status_name = ""
    status = response.status_code
    if status == 403:
        return ProviderError(
            f"{identity} authenticated but may not read project {project} "
            f"({status_name or 'PERMISSION_DENIED'}): grant it resourcemanager.projects.get "
            "(e.g. roles/browser) on the project",
            code="gcp_forbidden",
        )
    if status == 404:
        return ProviderError(
            f"project {project} was not found ({status_name or 'NOT_FOUND'}): check gcp_project_id",
            code="gcp_project_not_found",
        )
    if status == 401:
        return ProviderError(
            "Google rejected the access token (UNAUTHENTICATED)", code="gcp_unauthenticated"
        )
    if status == 429:
        return ProviderError(
            "Google throttled the request (RESOURCE_EXHAUSTED): try again in a minute",
            code="gcp_throttled",
        )
    return ProviderError(
        f"Cloud Resource Manager answered {status} {status_name}".rstrip(), code="gcp_error"
    )


class GcpProvider:
    """GCP capabilities: connectivity test (more to come: collect, purchase, discover)."""

    provider = Provider.gcp

    async def test_connectivity(self, auth: AccountAuth, settings: Settings) -> ConnectivityResult:
        """Get an access token, then Cloud Resource Manager ``projects.get``."""
        project = _project_id(auth)
        token, identity = await access_token(auth, settings)
        url = f"{settings.clouds.gcp_api_base_cloudresourcemanager}/v3/projects/{project}"
        try:
            async with async_client(settings) as http:
                response = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not reach Cloud Resource Manager ({type(exc).__name__}): check network "
                "access and CUDLY_CA_BUNDLE",
                code="gcp_unreachable",
            ) from None
        if response.status_code != 200:
            raise _api_error(response, project, identity)
        try:
            body = response.json()
        except ValueError:
            body = None
        observed = str(body.get("projectId", "") if isinstance(body, dict) else "")
        ensure_identity(Provider.gcp, auth.account.external_id, observed, what="GCP project")
        return ConnectivityResult.success(identity)
