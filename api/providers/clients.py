"""Cloud SDK sessions and HTTP clients, built once per process (or CLI run) and reused.

Building an ``aioboto3.Session`` loads botocore's service models (~145 ms CPU for one EC2
client); a client made from one shared session costs 1-10 ms. So the process keeps **one**
session and makes per-account clients from it, each signing with that account's own
credentials (never the session's ambient chain), and an account's sweep reuses its clients
for every call (:meth:`ProviderClients.aws_account`).

REST clouds (ARM, Google) share one ``httpx.AsyncClient`` trusting the system CAs plus
``CUDLY_CA_BUNDLE``; bearer tokens are per request, so sharing the pool never mixes
identities. Redirects are never followed.

Created in the app lifespan (``app.state.provider_clients``, closed on shutdown) and by the
CLI; collectors and purchasers receive it as an argument.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

import aioboto3
import httpx

from api.config import Settings
from api.providers.awssdk import AwsSessionCredentials, client_kwargs, shared_session
from api.providers.http import ssl_context, timeout
from api.telemetry.rest import instrument_http_client


class AwsAccountClients:
    """The aioboto3 clients of one account's sweep, all signing with its credentials.

    Use as ``async with``; ``await clients.client("ce")`` creates a service's client on
    first use and returns the same one afterwards. Closed together at the end.
    """

    def __init__(
        self, session: aioboto3.Session, credentials: AwsSessionCredentials, settings: Settings
    ) -> None:
        self._session = session
        self._credentials = credentials
        self._settings = settings
        self._stack = AsyncExitStack()
        self._clients: dict[tuple[str, str | None], Any] = {}

    async def client(self, service: str, *, region: str | None = None) -> Any:
        """The account's client for ``service`` (botocore name), in ``region`` or the default."""
        key = (service, region)
        existing = self._clients.get(key)
        if existing is not None:
            return existing
        kwargs = client_kwargs(self._settings)
        if region is not None:
            kwargs["region_name"] = region
        credentials = self._credentials
        created = await self._stack.enter_async_context(
            self._session.client(
                service,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                **kwargs,
            )
        )
        self._clients[key] = created
        return created

    async def aclose(self) -> None:
        self._clients.clear()
        await self._stack.aclose()

    async def __aenter__(self) -> AwsAccountClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class ProviderClients:
    """The process-wide cloud clients: one aioboto3 session, one httpx client."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # No credentials of its own: every client made from it is given the account's.
        self.aws_session = shared_session()
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared REST client (ARM, Google APIs), created on first use."""
        if self._http is None or self._http.is_closed:
            parallel = max(self.settings.max_account_parallelism, 10)
            self._http = httpx.AsyncClient(
                verify=ssl_context(self.settings),
                timeout=timeout(self.settings),
                follow_redirects=False,
                limits=httpx.Limits(
                    max_connections=parallel * 2, max_keepalive_connections=parallel
                ),
            )
            instrument_http_client(self._http, self.settings)  # call series
        return self._http

    def aws_account(self, credentials: AwsSessionCredentials) -> AwsAccountClients:
        """Clients for one account's sweep, signing with ``credentials`` (``async with``)."""
        return AwsAccountClients(self.aws_session, credentials, self.settings)

    async def aclose(self) -> None:
        """Close the shared HTTP client (idempotent)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> ProviderClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
