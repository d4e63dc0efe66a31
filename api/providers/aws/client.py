"""AWS sessions per auth mode (SPEC §3) and the connectivity test (``sts:GetCallerIdentity``).

Only aioboto3, and never an ``endpoint_url``: botocore reads ``AWS_ENDPOINT_URL[_<SERVICE>]``
itself, so the same code runs against AWS and any stand-in. Region from
``CUDLY_AWS_REGION``; retries in botocore's ``standard`` mode; ``CUDLY_CA_BUNDLE`` trusted
in addition to the default CAs.

How a session is obtained:

| mode | STS calls to resolve |
|---|---|
| ``access_keys`` | none: the stored static keys |
| ``role_arn`` | ``AssumeRole(aws_role_arn, ExternalId)`` signed by the server's ambient identity |
| ``workload_identity_federation`` | ``AssumeRoleWithWebIdentity`` (unsigned) with the stored token or token file |
| ``bastion`` | the bastion's own resolution (above: 0 or 1 call), then ``AssumeRole`` into the target with the *target's* ExternalId, signed by the bastion's session |

So a bastion in ``role_arn`` mode resolves in exactly two STS calls (bastion ``AssumeRole``,
then target ``AssumeRole``) and a bastion holding access keys in one; a connectivity test
adds one ``GetCallerIdentity`` with the target's session.

Assumed-role sessions are cached in-process per (account, role, ExternalId, source
credentials) until five minutes before their ``Expiration``; a failed identity call evicts
the account's entries.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aioboto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from api.config import Settings
from api.credentials.schemas import AwsAccessKeysIn, AwsWifIn, effective_auth_mode
from api.enums import AwsAuthMode, Provider
from api.providers.awssdk import AwsSessionCredentials, client_kwargs, shared_session
from api.providers.base import AccountAuth, ConnectivityResult, ProviderError, ensure_identity
from api.providers.tokens import read_token_file
from api.telemetry.aws import instrument_aws_session

ROLE_ARN = re.compile(r"^arn:aws:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,500}$")
EXTERNAL_ID = re.compile(r"^[\x21-\x7e ]{2,1224}$")
CACHE_MARGIN = timedelta(minutes=5)
_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
}
_WEB_IDENTITY_REJECTED = {
    "InvalidIdentityToken",
    "IDPRejectedClaim",
    "ExpiredTokenException",
    "IDPCommunicationError",
    "AccessDenied",
}


CacheKey = tuple[str, str, str, str]


class AssumedRoleCache:
    """Assumed-role sessions by (account id, role ARN, ExternalId, source fingerprint).

    An entry is served until ``margin`` before its ``Expiration``. In-process: each worker
    keeps its own (a cache miss costs one ``AssumeRole``, never a wrong identity).
    """

    def __init__(self, margin: timedelta = CACHE_MARGIN, max_entries: int = 10_000) -> None:
        self.margin = margin
        self.max_entries = max_entries
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._entries: OrderedDict[CacheKey, AwsSessionCredentials] = OrderedDict()
        self._locks: dict[CacheKey, asyncio.Lock] = {}

    def get(self, key: CacheKey) -> AwsSessionCredentials | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expiration is None or entry.expiration - self.margin <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: CacheKey, credentials: AwsSessionCredentials) -> None:
        if credentials.expiration is None:
            return
        self._entries[key] = credentials
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def evict_account(self, account_id: uuid.UUID) -> None:
        """Drop every entry of the account (e.g. after its session was refused)."""
        for key in [k for k in self._entries if k[0] == str(account_id)]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    async def get_or_fetch(
        self, key: CacheKey, fetch: Callable[[], Awaitable[AwsSessionCredentials]]
    ) -> AwsSessionCredentials:
        """The cached session, or ``fetch()`` once even when many callers ask at once."""
        cached = self.get(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                cached = self.get(key)
                if cached is not None:
                    return cached
                fresh = await fetch()
                self.put(key, fresh)
                return fresh
        finally:
            if not lock.locked():
                self._locks.pop(key, None)


assumed_role_cache = AssumedRoleCache()


# --- clients ---------------------------------------------------------------------------------


class SigningSession:
    """``.client(...)`` from the shared session, signing with the given credentials."""

    def __init__(self, credentials: AwsSessionCredentials) -> None:
        self._credentials = credentials

    def client(self, service: str, **kwargs: Any) -> Any:
        credentials = self._credentials
        return shared_session().client(
            service,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            **kwargs,
        )


# What the ambient chain reads from the environment: a change to any (or to the files they
# name) gets a fresh ambient session.
_AMBIENT_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
)
_ambient: tuple[tuple[object, ...], aioboto3.Session] | None = None


def _file_version(path: str) -> tuple[float, int] | None:
    try:
        stat = os.stat(os.path.expanduser(path))
    except OSError:
        return None
    return stat.st_mtime, stat.st_size


def _ambient_key() -> tuple[object, ...]:
    env = tuple(os.environ.get(name) for name in _AMBIENT_ENV)
    files = (
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
        os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config",
    )
    return (*env, *(_file_version(path) for path in files))


def ambient_session() -> aioboto3.Session:
    """The session resolving the server's own (ambient) chain.

    One per process while the environment and the shared credentials/config files stay the
    same: a new session reloads botocore's data (~145 ms CPU for its first client), which
    ``role_arn`` mode paid on every ``AssumeRole``. Instance and container roles rotate by
    themselves (botocore refreshes them before they expire); a change to the ``AWS_*``
    variables or to the files gets a fresh session.
    """
    global _ambient
    key = _ambient_key()
    if _ambient is None or _ambient[0] != key:
        _ambient = (key, instrument_aws_session(aioboto3.Session()))
    return _ambient[1]


def session_for(credentials: AwsSessionCredentials | None) -> aioboto3.Session | SigningSession:
    """A session signing with ``credentials``, or the server's ambient chain when None
    (:func:`ambient_session`; what it resolved is cached by the assumed-role cache too)."""
    if credentials is None:
        return ambient_session()
    return SigningSession(credentials)


# --- errors ------------------------------------------------------------------------------------


def _code(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "Unknown")), str(error.get("Message", ""))[:300]


def _signer_error(code: str, signer: str) -> ProviderError | None:
    """Errors about the credentials that signed the request, whatever the operation."""
    if code in {"InvalidClientTokenId", "UnrecognizedClientException"}:
        return ProviderError(
            f"AWS rejected the access key ({code}) of {signer}: check the access key id and secret",
            code="aws_invalid_key",
        )
    if code == "SignatureDoesNotMatch":
        return ProviderError(
            f"AWS rejected the secret access key ({code}) of {signer}: check the secret access key",
            code="aws_invalid_key",
        )
    if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
        return ProviderError(
            f"the AWS session token of {signer} has expired ({code}): store fresh credentials",
            code="aws_expired_token",
        )
    if code in _THROTTLING:
        return ProviderError(
            f"AWS throttled the request ({code}): try again in a minute", code="aws_throttled"
        )
    return None


def _transport_error(exc: BaseException) -> ProviderError:
    return ProviderError(
        f"could not reach AWS STS ({type(exc).__name__}): check the server's network access "
        "to AWS (proxy, firewall, AWS_ENDPOINT_URL_STS)",
        code="aws_unreachable",
    )


# --- resolution ----------------------------------------------------------------------------------


def sdk_error(exc: BotoCoreError, operation: str) -> ProviderError:
    """A botocore failure other than an AWS error answer: the network, or the SDK itself."""
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return _transport_error(exc)
    return ProviderError(f"{operation} failed ({type(exc).__name__})", code="aws_error")


def _role_arn(auth: AccountAuth) -> str:
    role_arn = auth.account.aws_role_arn
    if not role_arn or not ROLE_ARN.match(role_arn):
        raise ProviderError(
            f"account {auth.account.name!r} has no valid aws_role_arn "
            "(arn:aws:iam::<12 digits>:role/<name>)",
            code="aws_role_arn_invalid",
        )
    return role_arn


def _external_id(auth: AccountAuth) -> str | None:
    external_id = auth.account.aws_external_id
    if external_id is not None and not EXTERNAL_ID.match(external_id):
        raise ProviderError(
            "aws_external_id must be 2-1224 printable ASCII characters", code="aws_external_id"
        )
    return external_id


def role_session_name(account_id: uuid.UUID) -> str:
    """``cudly-<first 12 hex of the account id>``: shows in CloudTrail who assumed the role."""
    return f"cudly-{account_id.hex[:12]}"


def _mode(auth: AccountAuth) -> str:
    return effective_auth_mode(Provider.aws, auth.account.aws_auth_mode)


def _temporary(answer: dict[str, Any]) -> AwsSessionCredentials:
    creds = answer["Credentials"]
    expiration = creds.get("Expiration")
    if isinstance(expiration, datetime) and expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return AwsSessionCredentials(
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds.get("SessionToken"),
        expiration=expiration if isinstance(expiration, datetime) else None,
    )


async def _assume_role(
    settings: Settings,
    source: AwsSessionCredentials | None,
    signer: str,
    role_arn: str,
    external_id: str | None,
    session_name: str,
) -> AwsSessionCredentials:
    params: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": session_name}
    if external_id:
        params["ExternalId"] = external_id
    try:
        async with session_for(source).client("sts", **client_kwargs(settings)) as sts:
            answer = await sts.assume_role(**params)
    except NoCredentialsError:
        raise ProviderError(
            f"the CUDly server has no AWS credentials of its own to assume {role_arn}: give "
            "the server an AWS identity (task/instance role or AWS_* environment variables)",
            code="aws_no_ambient_credentials",
        ) from None
    except ClientError as exc:
        code, message = _code(exc)
        known = _signer_error(code, signer)
        if known is not None:
            raise known from None
        if code == "AccessDenied":
            raise ProviderError(
                f"AWS refused AssumeRole into {role_arn} (AccessDenied) for {signer}: check "
                "that the role's trust policy allows that identity to assume it and that its "
                "sts:ExternalId condition matches the account's aws_external_id",
                code="aws_assume_role_denied",
            ) from None
        raise ProviderError(
            f"AWS refused AssumeRole into {role_arn} ({code}): {message}",
            code="aws_assume_role_failed",
        ) from None
    except BotoCoreError as exc:
        raise sdk_error(exc, f"AssumeRole into {role_arn}") from None
    return _temporary(answer)


async def _read_token_file(path: str, settings: Settings) -> str:
    return await read_token_file(path, "web identity token", settings)


async def _assume_role_with_web_identity(
    settings: Settings, credentials: AwsWifIn, role_arn: str, session_name: str
) -> AwsSessionCredentials:
    if credentials.web_identity_token is not None:
        token = credentials.web_identity_token.get_secret_value()
    else:
        assert credentials.web_identity_token_file is not None
        token = await _read_token_file(credentials.web_identity_token_file, settings)
    try:
        # Unsigned: the token is the credential (and the server may have no AWS identity).
        # Placeholder keys keep the shared session from resolving (and caching) the ambient
        # chain; an unsigned request never uses them.
        unsigned = AwsSessionCredentials("unsigned", "unsigned")
        async with session_for(unsigned).client(
            "sts", **client_kwargs(settings, unsigned=True)
        ) as sts:
            answer = await sts.assume_role_with_web_identity(
                RoleArn=role_arn, RoleSessionName=session_name, WebIdentityToken=token
            )
    except ClientError as exc:
        code, message = _code(exc)
        if code in _WEB_IDENTITY_REJECTED:
            raise ProviderError(
                f"AWS rejected the web identity token for {role_arn} ({code}): check the "
                "OIDC identity provider registered in IAM, the role's trust policy (aud/sub "
                "conditions) and that the token has not expired",
                code="aws_web_identity_rejected",
            ) from None
        known = _signer_error(code, "the web identity session")
        if known is not None:
            raise known from None
        raise ProviderError(
            f"AWS refused AssumeRoleWithWebIdentity into {role_arn} ({code}): {message}",
            code="aws_web_identity_failed",
        ) from None
    except BotoCoreError as exc:
        raise sdk_error(exc, "AssumeRoleWithWebIdentity") from None
    return _temporary(answer)


def _describe(auth: AccountAuth) -> str:
    return f"account {auth.account.name!r}"


async def resolve_session(auth: AccountAuth, settings: Settings) -> AwsSessionCredentials:
    """Credentials acting as the account, through its auth mode (see the module docstring).

    Raises :class:`ProviderError` with a message saying what to fix; never falls back to
    another identity.
    """
    account = auth.account
    mode = _mode(auth)
    if mode == AwsAuthMode.access_keys:
        keys = auth.credentials
        if not isinstance(keys, AwsAccessKeysIn):
            raise ProviderError("no credentials configured", code="no_credentials")
        return AwsSessionCredentials(
            access_key_id=keys.access_key_id,
            secret_access_key=keys.secret_access_key.get_secret_value(),
            session_token=keys.session_token.get_secret_value() if keys.session_token else None,
        )
    role_arn = _role_arn(auth)
    session_name = role_session_name(account.id)
    if mode == AwsAuthMode.role_arn:
        external_id = _external_id(auth)
        key: CacheKey = (str(account.id), role_arn, external_id or "", "ambient")
        return await assumed_role_cache.get_or_fetch(
            key,
            lambda: _assume_role(
                settings,
                None,
                "the CUDly server's AWS identity",
                role_arn,
                external_id,
                session_name,
            ),
        )
    if mode == AwsAuthMode.workload_identity_federation:
        wif = auth.credentials
        if not isinstance(wif, AwsWifIn):
            raise ProviderError("no credentials configured", code="no_credentials")
        key = (str(account.id), role_arn, "", f"wif:{auth.fingerprint}")
        return await assumed_role_cache.get_or_fetch(
            key, lambda: _assume_role_with_web_identity(settings, wif, role_arn, session_name)
        )
    if mode == AwsAuthMode.bastion:
        bastion = auth.bastion
        if bastion is None:
            raise ProviderError("the bastion account is not configured", code="bastion_missing")
        if _mode(bastion) == AwsAuthMode.bastion:
            raise ProviderError("bastion chaining is not supported", code="bastion_chaining")
        external_id = _external_id(auth)
        source = (
            f"bastion:{bastion.account.id}:{_mode(bastion)}:{bastion.account.aws_role_arn}:"
            f"{bastion.account.aws_external_id}:{bastion.fingerprint}"
        )
        key = (str(account.id), role_arn, external_id or "", source)

        async def via_bastion() -> AwsSessionCredentials:
            try:
                base = await resolve_session(bastion, settings)
            except ProviderError as exc:
                raise ProviderError(
                    f"the bastion {_describe(bastion)} cannot be used: {exc.message}",
                    code=exc.code,
                ) from None
            return await _assume_role(
                settings,
                base,
                f"the bastion {_describe(bastion)}",
                role_arn,
                external_id,
                session_name,
            )

        return await assumed_role_cache.get_or_fetch(key, via_bastion)
    raise ProviderError(f"unsupported aws_auth_mode {mode!r}", code="aws_auth_mode")


async def caller_identity(
    credentials: AwsSessionCredentials, settings: Settings, signer: str
) -> str:
    """``sts:GetCallerIdentity`` → the ARN AWS sees."""
    try:
        async with session_for(credentials).client("sts", **client_kwargs(settings)) as sts:
            answer = await sts.get_caller_identity()
    except ClientError as exc:
        code, message = _code(exc)
        known = _signer_error(code, signer)
        if known is not None:
            raise known from None
        raise ProviderError(
            f"AWS refused GetCallerIdentity ({code}): {message}", code="aws_identity_failed"
        ) from None
    except BotoCoreError as exc:
        raise sdk_error(exc, "GetCallerIdentity") from None
    return str(answer["Arn"])


class AwsProvider:
    """AWS capabilities: connectivity test (more to come: collect, purchase, discover)."""

    provider = Provider.aws

    async def test_connectivity(self, auth: AccountAuth, settings: Settings) -> ConnectivityResult:
        """Resolve the account's session, then ``GetCallerIdentity`` with it."""
        credentials = await resolve_session(auth, settings)
        try:
            arn = await caller_identity(credentials, settings, _describe(auth))
            # arn:aws:sts::<account>:assumed-role/… — keys of another account never pass.
            observed = arn.split(":")[4] if arn.count(":") >= 5 else arn
            ensure_identity(Provider.aws, auth.account.external_id, observed, what="AWS account")
        except ProviderError:
            assumed_role_cache.evict_account(auth.account.id)
            raise
        return ConnectivityResult.success(arn)
