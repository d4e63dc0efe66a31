"""Cloud SDK sessions and HTTP clients, built once per process (or CLI run) and reused.

AWS: the process keeps **one** aioboto3 session and, per (service, region), **one** client
made from it, shared by every account: building a client costs 1-10 ms of CPU (botocore
creates its class and ~600 methods for EC2, resolves the endpoint ruleset, opens its own
connection pool), and each new pool pays its own TCP + TLS handshakes. A shared client
keeps its keep-alive connections for everyone.

Credentials stay per account: the shared clients hold placeholder keys of their own that
sign nothing valid (so botocore never resolves the server's ambient chain for them), and an
account's view (:meth:`ProviderClients.aws_account`) binds that account's credentials to
each call it makes through a context variable, which a ``before-sign`` hook hands to
botocore's signer as the request's credentials (botocore's ``request_credentials``). A
call through a shared client with no account bound is refused before signing. The variable
is task-local (each account's sweep is its own task), so concurrent accounts never see each
other's credentials.

REST clouds (ARM, Google) share one ``httpx.AsyncClient`` trusting the system CAs plus
``CUDLY_CA_BUNDLE``; bearer tokens are per request, so sharing the pool never mixes
identities. Token requests share pools too: azure-identity's credentials one aiohttp session
(:attr:`ProviderClients.identity_session`), google-auth's refreshes (in threads) one blocking
``httpx.Client`` (:attr:`ProviderClients.sync_http`; httpx clients may be shared between
threads). None of the shared HTTP clients keeps cookies, so nothing one account's answer set
is ever sent with another's request. Redirects are never followed.

Created in the app lifespan (``app.state.provider_clients``, closed on shutdown) and by the
CLI; collectors and purchasers receive it as an argument.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from contextvars import ContextVar
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import Any

import aiohttp
import httpx
from aiobotocore.credentials import AioCredentials

from api.config import Settings
from api.providers.awssdk import AwsSessionCredentials, client_kwargs, shared_session
from api.providers.http import ssl_context, sync_client, timeout
from api.telemetry.rest import instrument_http_client


def no_cookies() -> CookieJar:
    """A cookie jar that stores nothing (for HTTP clients shared between accounts)."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


# The credentials of the account whose call is being made (set around each call).
_SIGNING_AS: ContextVar[AioCredentials | None] = ContextVar("cudly_aws_signing_as", default=None)
# What the shared clients hold themselves: no account's keys, and never the ambient chain.
PLACEHOLDER_KEY_ID = "CUDLY-NO-ACCOUNT-BOUND"


class UnboundAwsCall(RuntimeError):
    """A shared AWS client was called without an account's credentials bound to the call."""


def _sign_as_bound_account(request: Any, **_: Any) -> None:
    """``before-sign`` hook of every shared client: sign with the bound account's keys."""
    credentials = _SIGNING_AS.get()
    if credentials is None:
        raise UnboundAwsCall(
            "an AWS call through a shared client had no account credentials bound: refusing "
            "to sign it (use ProviderClients.aws_account)"
        )
    request.context.setdefault("signing", {})["request_credentials"] = credentials


async def _call_as(
    credentials: AioCredentials, method: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any
) -> Any:
    token = _SIGNING_AS.set(credentials)
    try:
        return await method(*args, **kwargs)
    finally:
        _SIGNING_AS.reset(token)


class AwsAccountClient:
    """One account's view of a shared client: its API operations sign as that account.

    Operation methods (``describe_reserved_instances`` …) are wrapped; anything else
    (``exceptions``, ``meta``) is the shared client's own. A paginator would call the shared
    client directly and be refused: page with :func:`api.providers.paging.aws_pages`.
    """

    def __init__(self, client: Any, credentials: AioCredentials) -> None:
        self._client = client
        self._credentials = credentials
        self._operations: frozenset[str] = frozenset(client.meta.method_to_api_mapping)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name in self._operations:
            return functools.partial(_call_as, self._credentials, attribute)
        return attribute


class AwsAccountClients:
    """The AWS clients of one account's sweep, all signing with its credentials.

    Use as ``async with``; ``await clients.client("ce")`` returns the account's view of the
    process's shared client for that service (and region). Nothing to close per account.
    """

    def __init__(self, shared: ProviderClients, credentials: AwsSessionCredentials) -> None:
        self._shared = shared
        self._credentials = AioCredentials(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        )
        self._views: dict[tuple[str, str | None], AwsAccountClient] = {}

    async def client(self, service: str, *, region: str | None = None) -> Any:
        """The account's client for ``service`` (botocore name), in ``region`` or the default."""
        key = (service, region)
        view = self._views.get(key)
        if view is None:
            view = AwsAccountClient(
                await self._shared.aws_client(service, region=region), self._credentials
            )
            self._views[key] = view
        return view

    async def aclose(self) -> None:
        self._views.clear()

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
    """The process-wide cloud clients: one aioboto3 session and one client per AWS service
    and region, one httpx client for REST calls, one pool for each kind of token request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # No credentials of its own: every client made from it is given the account's.
        self.aws_session = shared_session()
        self._http: httpx.AsyncClient | None = None
        self._sync_http: httpx.Client | None = None
        self._identity: aiohttp.ClientSession | None = None
        self._identity_loop: asyncio.AbstractEventLoop | None = None
        self._aws: dict[tuple[str, str | None], Any] = {}
        self._aws_stack = AsyncExitStack()
        self._aws_lock: asyncio.Lock | None = None
        self._aws_loop: asyncio.AbstractEventLoop | None = None

    async def aws_client(self, service: str, *, region: str | None = None) -> Any:
        """The process's shared client for ``service`` in ``region`` (default: the server's).

        It signs only calls made through an account's view (:meth:`aws_account`); called
        directly, an operation raises :class:`UnboundAwsCall`.
        """
        loop = asyncio.get_running_loop()
        if self._aws_loop is not loop:  # clients are bound to the loop that made them
            self._aws, self._aws_stack = {}, AsyncExitStack()
            self._aws_lock, self._aws_loop = asyncio.Lock(), loop
        key = (service, region)
        existing = self._aws.get(key)
        if existing is not None:
            return existing
        assert self._aws_lock is not None
        async with self._aws_lock:  # many accounts start at once: build each client once
            existing = self._aws.get(key)
            if existing is not None:
                return existing
            parallel = max(self.settings.scheduler.max_account_parallelism, 10)
            kwargs = client_kwargs(self.settings, max_pool_connections=parallel)
            if region is not None:
                kwargs["region_name"] = region
            created = await self._aws_stack.enter_async_context(
                self.aws_session.client(
                    service,
                    aws_access_key_id=PLACEHOLDER_KEY_ID,
                    aws_secret_access_key=PLACEHOLDER_KEY_ID,
                    **kwargs,
                )
            )
            created.meta.events.register("before-sign", _sign_as_bound_account)
            self._aws[key] = created
            return created

    @property
    def aws_client_count(self) -> int:
        """How many shared AWS clients this process holds (one per service and region used)."""
        return len(self._aws)

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared REST client (ARM, Google APIs), created on first use."""
        if self._http is None or self._http.is_closed:
            parallel = max(self.settings.scheduler.max_account_parallelism, 10)
            self._http = httpx.AsyncClient(
                verify=ssl_context(self.settings),
                timeout=timeout(self.settings),
                follow_redirects=False,
                limits=httpx.Limits(
                    max_connections=parallel * 2, max_keepalive_connections=parallel
                ),
                cookies=no_cookies(),
            )
            instrument_http_client(self._http, self.settings)  # call series
        return self._http

    @property
    def sync_http(self) -> httpx.Client:
        """The blocking client for google-auth's token refreshes (run in threads)."""
        if self._sync_http is None or self._sync_http.is_closed:
            client = sync_client(self.settings)
            client.cookies = no_cookies()
            self._sync_http = client
        return self._sync_http

    @property
    def identity_session(self) -> aiohttp.ClientSession:
        """The aiohttp session every azure-identity credential's transport uses (not owned
        by the credential: closing a credential leaves it open)."""
        session, loop = self._identity, asyncio.get_running_loop()
        if session is None or session.closed or self._identity_loop is not loop:
            parallel = max(self.settings.scheduler.max_account_parallelism, 10)
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=ssl_context(self.settings), limit=parallel),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._identity, self._identity_loop = session, loop
        return session

    def aws_account(self, credentials: AwsSessionCredentials) -> AwsAccountClients:
        """Clients for one account's sweep, signing with ``credentials`` (``async with``)."""
        return AwsAccountClients(self, credentials)

    async def aclose(self) -> None:
        """Close the shared AWS and HTTP clients (idempotent; rebuilt on next use)."""
        if self._aws_loop is not None:
            self._aws.clear()
            self._aws_loop = None
            stack, self._aws_stack = self._aws_stack, AsyncExitStack()
            await stack.aclose()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._sync_http is not None:
            self._sync_http.close()
            self._sync_http = None
        if self._identity is not None:
            identity, self._identity = self._identity, None
            if self._identity_loop is asyncio.get_running_loop():
                await identity.close()

    async def __aenter__(self) -> ProviderClients:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
