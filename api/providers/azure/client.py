"""Azure: an Entra ID token through azure-identity (aio), then ARM over httpx.

``client_secret`` → ``ClientSecretCredential(tenant, client_id, secret)``;
``workload_identity_federation`` → ``ClientAssertionCredential`` with the stored assertion
(or a token file read at each use). The authority is ``CUDLY_AZURE_AUTHORITY_HOST``, ARM is
``CUDLY_AZURE_MANAGEMENT_URL`` and the token scope ``CUDLY_AZURE_MANAGEMENT_SCOPE``
(default ``https://management.azure.com/.default``: the audience is a property of the cloud,
not of the URL a request goes to, so it is not derived from the management URL).

TLS: azure-identity gets an aiohttp transport whose connector uses the shared SSL context
(system CAs + ``CUDLY_CA_BUNDLE``); ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` cannot override it.
"""

from __future__ import annotations

import re

import aiohttp
import httpx
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import ClientAssertionCredential, ClientSecretCredential

from api.config import Settings
from api.credentials.schemas import AzureClientSecretIn, AzureWifIn
from api.enums import Provider
from api.providers.base import AccountAuth, ConnectivityResult, ProviderError, ensure_identity
from api.providers.clients import ProviderClients
from api.providers.http import async_client, ssl_context
from api.providers.tokens import read_token_file

ARM_API_VERSION = "2022-12-01"
SUBSCRIPTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Tenant: a GUID or a verified domain name (azure-identity's own rule, stricter length).
TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
CLIENT_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_AADSTS = re.compile(r"AADSTS(\d+)")

_AADSTS_HINTS = {
    "7000215": "the client secret is wrong: use the secret's value (not its ID) and check it has not expired",
    "7000222": "the client secret has expired: create a new one and store it",
    "700016": "no application with azure_client_id exists in the tenant: check azure_client_id and azure_tenant_id",
    "90002": "the tenant does not exist: check azure_tenant_id",
    "900023": "azure_tenant_id is not a valid tenant id or domain",
    "700213": "no federated identity credential matches the assertion: check the app's federated credentials (issuer, subject, audience)",
    "700211": "the assertion's issuer is not trusted by the app's federated credentials",
    "700024": "the client assertion has expired or is not yet valid: refresh the token",
    "50126": "the credentials are invalid",
}


def _subscription_id(auth: AccountAuth) -> str:
    value = (auth.account.azure_subscription_id or auth.account.external_id or "").lower()
    if not SUBSCRIPTION_ID.match(value):
        raise ProviderError(
            "the account's azure_subscription_id is not a subscription UUID",
            code="azure_subscription_invalid",
        )
    return value


def _principal(auth: AccountAuth) -> tuple[str, str]:
    tenant = auth.account.azure_tenant_id or ""
    client_id = auth.account.azure_client_id or ""
    if not TENANT_ID.match(tenant):
        raise ProviderError("the account has no valid azure_tenant_id", code="azure_tenant_invalid")
    if not CLIENT_ID.match(client_id):
        raise ProviderError(
            "the account has no valid azure_client_id (the app registration's client id)",
            code="azure_client_invalid",
        )
    return tenant, client_id


def _transport(
    settings: Settings, session: aiohttp.ClientSession | None = None
) -> AioHttpTransport:
    """A transport over ``session`` (shared, left open when the credential closes) or, when
    None, over a session of its own."""
    owner = session is None
    if session is None:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context(settings)),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
    return AioHttpTransport(
        session=session,
        session_owner=owner,
        connection_timeout=settings.clouds.http_timeout_s,
        read_timeout=settings.clouds.http_timeout_s,
    )


async def _read_token_file(path: str, settings: Settings) -> str:
    return await read_token_file(path, "federated token", settings)


async def credential_for(
    auth: AccountAuth, settings: Settings, session: aiohttp.ClientSession | None = None
) -> AsyncTokenCredential:
    """An azure-identity credential for the account's auth mode (use as ``async with``),
    requesting its tokens over ``session`` when given (the process's shared one)."""
    tenant, client_id = _principal(auth)
    creds = auth.credentials
    authority = settings.clouds.azure_authority_host
    if isinstance(creds, AzureClientSecretIn):
        return ClientSecretCredential(
            tenant,
            client_id,
            creds.client_secret.get_secret_value(),
            authority=authority,
            transport=_transport(settings, session),
        )
    if isinstance(creds, AzureWifIn):
        if creds.client_assertion is not None:
            assertion = creds.client_assertion.get_secret_value()
        else:
            assert creds.federated_token_file is not None
            # Read now (in a thread): the credential calls its func synchronously.
            assertion = await _read_token_file(creds.federated_token_file, settings)
        return ClientAssertionCredential(
            tenant,
            client_id,
            lambda: assertion,
            authority=authority,
            transport=_transport(settings, session),
        )
    raise ProviderError("no credentials configured", code="no_credentials")


def _auth_error(exc: ClientAuthenticationError) -> ProviderError:
    text = str(getattr(exc, "message", "") or exc)
    match = _AADSTS.search(text)
    code = match.group(1) if match else None
    kind = "invalid_client" if "invalid_client" in text else None
    label = ", ".join(p for p in (kind, f"AADSTS{code}" if code else None) if p) or "refused"
    hint = _AADSTS_HINTS.get(code or "", "check azure_tenant_id, azure_client_id and the secret")
    return ProviderError(
        f"Entra ID refused the token request ({label}): {hint}", code="azure_auth_failed"
    )


async def access_token(
    auth: AccountAuth, settings: Settings, clients: ProviderClients | None = None
) -> str:
    """An ARM access token for the account's service principal (over the shared identity
    pool of ``clients`` when given)."""
    session = clients.identity_session if clients is not None else None
    credential = await credential_for(auth, settings, session)
    try:
        async with credential:
            token = await credential.get_token(settings.clouds.azure_management_scope)
    except ClientAuthenticationError as exc:
        raise _auth_error(exc) from None
    except (AzureError, aiohttp.ClientError, OSError) as exc:
        raise ProviderError(
            f"could not reach Entra ID at {settings.clouds.azure_authority_host} "
            f"({type(exc).__name__}): check network access and CUDLY_CA_BUNDLE",
            code="azure_unreachable",
        ) from None
    return str(token.token)


def _arm_error(response: httpx.Response, subscription: str, client_id: str) -> ProviderError:
    try:
        error = response.json().get("error", {})
        code = str(error.get("code", ""))
    except (ValueError, AttributeError):
        code = ""
    status = response.status_code
    if status == 403:
        return ProviderError(
            f"the service principal {client_id} authenticated but may not read subscription "
            f"{subscription} ({code or 'Forbidden'}): assign it the Reader role on the "
            "subscription",
            code="azure_forbidden",
        )
    if status == 404:
        return ProviderError(
            f"subscription {subscription} was not found ({code or 'NotFound'}): check the "
            "subscription id, and that it belongs to azure_tenant_id",
            code="azure_subscription_not_found",
        )
    if status == 401:
        hint = (
            "the subscription belongs to another tenant: check azure_tenant_id"
            if code == "InvalidAuthenticationTokenTenant"
            else "the token was rejected"
        )
        return ProviderError(f"ARM refused the token ({code or 401}): {hint}", code="azure_401")
    if status == 429:
        return ProviderError(
            "ARM throttled the request (429): try again in a minute", code="azure_throttled"
        )
    return ProviderError(
        f"ARM answered {status} {code}".rstrip() + f" for subscription {subscription}",
        code="azure_error",
    )


class AzureProvider:
    """Azure capabilities: connectivity test (more to come: collect, purchase, discover)."""

    provider = Provider.azure

    async def test_connectivity(self, auth: AccountAuth, settings: Settings) -> ConnectivityResult:
        """Get an ARM token, then ``GET /subscriptions/{id}``."""
        subscription = _subscription_id(auth)
        tenant, client_id = _principal(auth)
        token = await access_token(auth, settings)
        url = f"{settings.clouds.azure_management_url}/subscriptions/{subscription}"
        try:
            async with async_client(settings) as http:
                response = await http.get(
                    url,
                    params={"api-version": ARM_API_VERSION},
                    headers={"Authorization": f"Bearer {token}"},
                )
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not reach ARM at {settings.clouds.azure_management_url} "
                f"({type(exc).__name__}): check network access and CUDLY_CA_BUNDLE",
                code="azure_unreachable",
            ) from None
        if response.status_code != 200:
            raise _arm_error(response, subscription, client_id)
        try:
            body = response.json()
        except ValueError:
            body = None
        observed = str(body.get("subscriptionId", "") if isinstance(body, dict) else "").lower()
        ensure_identity(
            Provider.azure, auth.account.external_id, observed, what="Azure subscription"
        )
        return ConnectivityResult.success(f"{client_id} (tenant {tenant})")
