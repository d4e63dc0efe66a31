"""What every provider offers, one Protocol per capability, and the values they exchange.

Capabilities so far: the connectivity test (``POST /api/accounts/{id}/test``). Collection,
offerings, purchase and discovery get their own Protocols here when they are built, so a
provider can be registered for the capabilities it has.

Providers receive an :class:`AccountAuth`: the account row plus its *decrypted* credentials
(and, for AWS bastion mode, the bastion's own :class:`AccountAuth`). It lives only for the
call that needs it and renders as ``[REDACTED]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from api.config import Settings
from api.enums import Provider

if TYPE_CHECKING:
    from api.credentials.schemas import CredentialsIn
    from api.models import CloudAccount


class ProviderError(Exception):
    """A cloud call failed in a way the user can act on.

    ``message`` says what went wrong and what to do, and never contains a secret (the
    providers build it from error codes and identifiers, never from credential material).
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class ConnectivityResult:
    """Outcome of a connectivity test: the identity the cloud saw, or what to fix."""

    ok: bool
    caller_identity: str | None = None
    error: str | None = None

    @classmethod
    def success(cls, caller_identity: str) -> ConnectivityResult:
        return cls(ok=True, caller_identity=caller_identity)

    @classmethod
    def failure(cls, error: str) -> ConnectivityResult:
        return cls(ok=False, error=error)


@dataclass(frozen=True, repr=False)
class AccountAuth:
    """How to act as one account: its row, its decrypted credentials, its bastion (AWS).

    ``fingerprint`` identifies the stored credential version (it changes whenever the
    credentials are replaced), so caches derived from them are never reused after a change.
    """

    account: CloudAccount
    credentials: CredentialsIn | None
    fingerprint: str | None
    bastion: AccountAuth | None = None

    def __repr__(self) -> str:
        return (
            f"AccountAuth(account={self.account.id}, provider={self.account.provider}, "
            f"credentials=[REDACTED], bastion={self.bastion!r})"
        )

    __str__ = __repr__


class ConnectivityTester(Protocol):
    """Confirms an account's credentials work, with the cheapest identity call the cloud has."""

    provider: Provider

    async def test_connectivity(self, auth: AccountAuth, settings: Settings) -> ConnectivityResult:
        """Resolve a session the account's auth mode prescribes and ask who we are.

        Raises :class:`ProviderError` for failures the user can fix.
        """
        ...


@dataclass(frozen=True)
class DiscoveredMember:
    """One account, subscription or project a discovery root can see."""

    external_id: str
    name: str
    state: str
    active: bool
    # Azure: the subscription's own tenant (members may sit in the root's tenant only).
    tenant_id: str | None = None


class Discoverer(Protocol):
    """Lists the member accounts under a discovery root (organisation, tenant, organisation)."""

    provider: Provider

    async def discover(self, auth: AccountAuth, settings: Settings) -> list[DiscoveredMember]:
        """Every member the root's identity can see, all pages. Raises :class:`ProviderError`."""
        ...
