"""Credential rules: store (encrypt + audit), load (decrypt), resolve per auth mode, test.

Decrypted material lives only inside the call that needs it: :func:`load_credentials` and
:func:`resolve_account_auth` return objects that render as ``[REDACTED]``, and nothing here
logs or raises a credential value.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import traceback
import uuid
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts import repository as accounts_repository
from api.accounts import service as accounts_service
from api.accounts.repository import AccountView
from api.accounts.schemas import AccountCreate
from api.accounts.service import load_account
from api.audit import service as audit
from api.auth.permissions import AccountScope, Principal
from api.config import Settings
from api.credentials import repository
from api.credentials.schemas import (
    CredentialsIn,
    check_endpoints,
    check_type_matches,
    credentials_from_plaintext,
    effective_auth_mode,
    expected_credential_type,
    parse_inline_credentials,
)
from api.db import unit_of_work
from api.enums import Action, AwsAuthMode, CredentialType, Provider, Resource
from api.errors import Forbidden, TooManyRequests
from api.kit import ratelimit
from api.kit.crypto import DecryptionFailed, KeyRing
from api.models import AccountCredential, CloudAccount
from api.providers.base import AccountAuth, AccountSnapshot, ConnectivityResult, ProviderError
from api.providers.registry import connectivity_tester

logger = logging.getLogger(__name__)

NO_CREDENTIALS = "no credentials configured"
TEST_WINDOW_S = 60


class DecryptedCredentials:
    """An account's credentials, decrypted. Renders as ``[REDACTED]``; never log its fields."""

    __slots__ = ("credential_type", "credentials", "fingerprint")

    def __init__(
        self, credential_type: CredentialType, credentials: CredentialsIn, fingerprint: str
    ) -> None:
        self.credential_type = credential_type
        self.credentials = credentials
        # Changes whenever the blob is rewritten (random nonce), so caches keyed on it
        # never outlive a credential change, in any worker.
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"DecryptedCredentials(type={self.credential_type.value}, [REDACTED])"

    __str__ = __repr__


async def store_credentials(
    session: AsyncSession,
    key_ring: KeyRing,
    account: CloudAccount,
    credentials: CredentialsIn,
    principal: Principal | None,
    settings: Settings,
) -> None:
    """Encrypt and store (replace) the account's credentials; audit ``credentials.update``.

    400 when the type does not fit the account's provider and auth mode, or when the
    credentials name a host other than the configured cloud endpoints (SPEC §1).
    ``settings`` are the app's (``request.app.state.settings``).
    """
    check_type_matches(account.provider, _mode(account), credentials.type)
    check_endpoints(credentials, settings)
    plaintext = json.dumps(credentials.plaintext(), separators=(",", ":")).encode()
    blob = key_ring.encrypt(
        plaintext, account_id=account.id, credential_type=credentials.type.value
    )
    await repository.upsert_credential(
        session, account.id, credentials.type.value, key_ring.active_key_id, blob
    )
    await audit.record(
        session,
        principal,
        "credentials.update",
        "cloud_account",
        account.id,
        credentials.set_field_names(),
    )


async def create_account_with_credentials(
    session: AsyncSession,
    key_ring: KeyRing,
    settings: Settings,
    principal: Principal,
    scope: AccountScope,
    payload: AccountCreate,
) -> AccountView:
    """Create an account and store its inline ``credentials`` in one transaction (SPEC §3).

    Needs ``accounts:manage_credentials`` besides ``accounts:create`` (403 first); then the
    account is validated as any new account, the credentials against its auth mode, and the
    two are written together.
    """
    assert payload.credentials is not None, "use accounts.service.create_account"
    if not principal.can(Action.manage_credentials, Resource.accounts):
        raise Forbidden(
            "inline credentials need the manage_credentials permission on accounts",
            code="permission_denied",
        )
    accounts_service.require_some_scope(
        principal.scope(Action.manage_credentials, Resource.accounts)
    )
    values = await accounts_service.new_account_values(session, scope, payload)
    provider = Provider(values["provider"])
    credentials = parse_inline_credentials(
        provider, values[f"{provider.value}_auth_mode"], payload.credentials, settings=settings
    )
    account = await accounts_service.insert_account(session, principal, values)
    await store_credentials(session, key_ring, account, credentials, principal, settings)
    changed = [*accounts_service.set_fields(payload), "credentials"]
    return await accounts_service.account_created(session, principal, account.id, changed)


async def load_credentials(
    session: AsyncSession,
    key_ring: KeyRing,
    account: CloudAccount,
    stored: Mapping[uuid.UUID, AccountCredential | None] | None = None,
) -> DecryptedCredentials | None:
    """The account's decrypted credentials, or None when none are stored.

    ``stored``: credential rows already read (None: no row), by account id; an account
    missing from it reads its own. Raises :class:`~api.kit.crypto.DecryptionFailed` when the
    blob cannot be opened (unknown key, tampering, or a blob sealed for another account or type).
    """
    if stored is not None and account.id in stored:
        row = stored[account.id]
    else:
        row = await repository.get_credential(session, account.id)
    if row is None:
        return None
    plaintext = key_ring.decrypt(
        row.blob, account_id=account.id, credential_type=row.credential_type
    )
    try:
        credentials = credentials_from_plaintext(json.loads(plaintext))
    except ValueError:
        raise DecryptionFailed("stored credentials are unreadable: store them again") from None
    if credentials.type.value != row.credential_type:
        raise DecryptionFailed("stored credentials do not match their recorded type")
    fingerprint = hashlib.sha256(row.blob.encode()).hexdigest()[:16]
    return DecryptedCredentials(credentials.type, credentials, fingerprint)


def _mode(account: CloudAccount) -> str:
    provider = Provider(account.provider)
    mode = {
        Provider.aws: account.aws_auth_mode,
        Provider.azure: account.azure_auth_mode,
        Provider.gcp: account.gcp_auth_mode,
    }[provider]
    return effective_auth_mode(provider, mode)


async def _own_auth(
    session: AsyncSession,
    key_ring: KeyRing,
    account: CloudAccount,
    stored: Mapping[uuid.UUID, AccountCredential | None] | None = None,
) -> AccountAuth:
    mode = _mode(account)
    expected = expected_credential_type(account.provider, mode)
    if expected is None:
        return AccountAuth(account=AccountSnapshot.of(account), credentials=None, fingerprint=None)
    try:
        decrypted = await load_credentials(session, key_ring, account, stored)
    except DecryptionFailed as exc:
        raise ProviderError(exc.message, code="credentials_undecryptable") from None
    if decrypted is None:
        raise ProviderError(NO_CREDENTIALS, code="no_credentials")
    if decrypted.credential_type is not expected:
        raise ProviderError(
            f"the stored credentials are {decrypted.credential_type.value} but the account's "
            f"auth mode {mode} needs {expected.value}: store new credentials",
            code="credential_type_mismatch",
        )
    return AccountAuth(
        account=AccountSnapshot.of(account),
        credentials=decrypted.credentials,
        fingerprint=decrypted.fingerprint,
    )


async def resolve_account_auth(
    session: AsyncSession,
    key_ring: KeyRing,
    account: CloudAccount,
    stored: Mapping[uuid.UUID, AccountCredential | None] | None = None,
) -> AccountAuth:
    """Everything a provider needs to act as ``account`` under its auth mode.

    AWS bastion mode adds the bastion's own auth (its mode must not be bastion). Raises
    :class:`~api.providers.base.ProviderError` with a user-facing message when the account
    cannot be resolved (no credentials, undecryptable, missing or chained bastion); it never
    falls back to another identity. ``stored`` as in :func:`load_credentials` (the collection
    reads a whole claimed batch's rows in one query).
    """
    auth = await _own_auth(session, key_ring, account, stored)
    if account.provider != Provider.aws or _mode(account) != AwsAuthMode.bastion:
        return auth
    if account.aws_bastion_id is None:
        raise ProviderError(
            "the account is in bastion mode but names no bastion account (aws_bastion_id)",
            code="bastion_missing",
        )
    bastion = await accounts_repository.get_account(session, account.aws_bastion_id)
    if bastion is None or bastion.provider != Provider.aws:
        raise ProviderError("the bastion account does not exist", code="bastion_missing")
    if _mode(bastion) == AwsAuthMode.bastion:
        raise ProviderError(
            f"bastion chaining is not supported: the bastion account {bastion.name!r} is "
            "itself in bastion mode",
            code="bastion_chaining",
        )
    try:
        bastion_auth = await _own_auth(session, key_ring, bastion)
    except ProviderError as exc:
        raise ProviderError(
            f"the bastion account {bastion.name!r} cannot be used: {exc.message}", code=exc.code
        ) from None
    return AccountAuth(
        account=AccountSnapshot.of(account),
        credentials=None,
        fingerprint=None,
        bastion=bastion_auth,
    )


async def enforce_test_rate_limit(
    session: AsyncSession, settings: Settings, account_id: uuid.UUID
) -> None:
    """429 with ``Retry-After`` past ``test_rate_limit_per_minute`` tests of one account.

    Counted in PostgreSQL on the request's own session (one atomic check-and-count), so
    the limit holds across workers and replicas without a second pooled connection.
    """
    limit = ratelimit.Limit(
        f"test:{account_id}", settings.clouds.test_rate_limit_per_minute, TEST_WINDOW_S
    )
    blocked = await ratelimit.consume(session, [limit])
    if blocked is not None:
        raise TooManyRequests(
            f"at most {settings.clouds.test_rate_limit_per_minute} connectivity tests per account "
            f"per minute: retry in {blocked.retry_after_s} s",
            blocked.retry_after_s,
        )


def secrets_of(auth: AccountAuth) -> list[str]:
    found: list[str] = []
    for each in (auth, auth.bastion):
        if each is not None and each.credentials is not None:
            found.extend(s for s in each.credentials.secret_values() if len(s) >= 4)
    return found


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value replaced by ``[REDACTED]`` (defence in depth)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "[REDACTED]")
    return text


async def test_connectivity(
    maker: async_sessionmaker[AsyncSession],
    key_ring: KeyRing,
    settings: Settings,
    scope: AccountScope,
    account_id: uuid.UUID,
) -> ConnectivityResult:
    """Resolve the account's credentials and ask the cloud who we are (SPEC §3).

    404/403 for an unknown or out-of-scope account, 429 past the rate limit. Otherwise never
    raises for a cloud or credential problem: the result carries a secret-free message telling
    the user what to fix. The account, its credentials and the rate-limit count are read and
    committed first; the cloud is asked with no transaction open and no pooled connection held.
    """
    async with unit_of_work(maker) as session:
        account = await load_account(session, account_id, scope)
        await enforce_test_rate_limit(session, settings, account.id)
        snapshot = AccountSnapshot.of(account)
        try:
            auth = await resolve_account_auth(session, key_ring, account)
        except ProviderError as exc:
            return ConnectivityResult.failure(exc.message)  # leaving commits the count
    return await _ask_cloud(snapshot, auth, settings)


async def _ask_cloud(
    account: AccountSnapshot, auth: AccountAuth, settings: Settings
) -> ConnectivityResult:
    tester = connectivity_tester(Provider(account.provider))
    try:
        async with asyncio.timeout(settings.scheduler.account_timeout_s):
            result = await tester.test_connectivity(auth, settings)
    except ProviderError as exc:
        result = ConnectivityResult.failure(exc.message)
    except TimeoutError:
        result = ConnectivityResult.failure(
            f"no answer from {account.provider} within {settings.scheduler.account_timeout_s:g} s: "
            "check the server's network access to the cloud (proxy, firewall)"
        )
    except Exception as exc:  # a bug or an unexpected SDK error: type only, never its text
        logger.error(
            "connectivity test crashed",
            extra={
                "account_id": str(account.id),
                "error_type": type(exc).__name__,
                # Frames only: an exception's message may quote what it was given.
                "stack": "".join(traceback.format_tb(exc.__traceback__)),
            },
        )
        result = ConnectivityResult.failure(
            f"unexpected error while contacting {account.provider} ({type(exc).__name__})"
        )
    if result.error is not None:
        result = ConnectivityResult.failure(scrub(result.error, secrets_of(auth)))
        logger.info(
            "connectivity test failed",
            extra={"account_id": str(account.id), "provider": account.provider},
        )
    return result
