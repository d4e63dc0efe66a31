"""Credential input models (write-only: no schema ever returns credential material).

The body of ``POST /api/accounts/{account_id}/credentials`` is one of these, chosen by
``type``. Secret fields are ``SecretStr`` and every model renders as ``[REDACTED]`` in
``repr``/``str``, so a credential object in a log line or traceback shows nothing.

Which type an account takes follows its provider and auth mode
(:func:`expected_credential_type`); AWS ``role_arn`` and ``bastion`` accounts store none.

Decisions where the SPEC is silent:
- ``service_account_json`` / ``external_account_json`` may be sent as JSON text (as the
  SPEC says) or as a JSON object; both are stored as text.
- A WIF token file is a path on the CUDly server (e.g. a projected Kubernetes token), read
  at every use; it must be absolute.
- GCP ``external_account`` configs may only read their subject token from a ``file``
  (``url`` and ``executable`` sources would let a user pick a host or run a command), and
  their ``token_url`` / impersonation URL must be the configured Google endpoints
  (checked by :func:`check_endpoints`, which needs the settings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from api.config import Settings
from api.enums import AwsAuthMode, AzureAuthMode, CredentialType, GcpAuthMode, Provider
from api.errors import FieldError, ValidationFailed
from api.providers.tokens import PATH_REFUSED, allowed_token_path

JSON_DOC_MAX_BYTES = 64 * 1024
TOKEN_MAX = 16 * 1024
PATH_MAX = 1024
GCP_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GCP_UNIVERSE = "googleapis.com"
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255}$")
# AWS issues 16-128 alphanumerics; stand-ins (moto's "testing") are shorter, so only the
# characters are enforced: the id goes into a signed header.
_ACCESS_KEY_ID = r"^[A-Za-z0-9_-]{1,128}$"


class _Credentials(BaseModel):
    """Base of every credential model: strict, and redacted wherever it is printed."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    type: CredentialType

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type.value}, [REDACTED])"

    __str__ = __repr__

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Used by rich/devtools pretty printers: the type only.
        yield "type", self.type.value

    def set_field_names(self) -> list[str]:
        """Names of the fields carrying a value (for the audit log: names, never values)."""
        return sorted(name for name in type(self).model_fields if getattr(self, name) is not None)

    def plaintext(self) -> dict[str, Any]:
        """Every field with secrets revealed: the payload that gets encrypted. Handle with care."""
        values: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, CredentialType):
                value = value.value
            values[name] = value
        return values

    def secret_values(self) -> list[str]:
        """The secret strings to scrub from any error text."""
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
        return found


def _absolute_path(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith("/") or "\x00" in value or "/../" in f"{value}/":
        raise ValueError("must be an absolute path on the CUDly server, without '..'")
    return value


def _json_text(value: Any) -> Any:
    """Accept a JSON object too, stored as text."""
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _check_json_size(text: str) -> None:
    if len(text.encode("utf-8")) > JSON_DOC_MAX_BYTES:
        raise ValueError(f"must be at most {JSON_DOC_MAX_BYTES} bytes of JSON text")


def _parse_object(text: str) -> dict[str, Any]:
    _check_json_size(text)
    try:
        doc = json.loads(text)
    except ValueError:
        raise ValueError("is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("must be a JSON object")
    return doc


class AwsAccessKeysIn(_Credentials):
    """Static IAM access keys (auth mode ``access_keys``)."""

    type: Literal[CredentialType.aws_access_keys]
    access_key_id: str = Field(pattern=_ACCESS_KEY_ID, max_length=128)
    secret_access_key: SecretStr = Field(min_length=1, max_length=128)
    session_token: SecretStr | None = Field(default=None, min_length=1, max_length=8192)


class AwsWifIn(_Credentials):
    """An OIDC token for ``AssumeRoleWithWebIdentity``: inline, or a file on the server."""

    type: Literal[CredentialType.aws_wif]
    web_identity_token: SecretStr | None = Field(default=None, min_length=4, max_length=TOKEN_MAX)
    web_identity_token_file: str | None = Field(default=None, min_length=2, max_length=PATH_MAX)

    @field_validator("web_identity_token_file")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return _absolute_path(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> AwsWifIn:
        if (self.web_identity_token is None) == (self.web_identity_token_file is None):
            raise ValueError("give exactly one of web_identity_token or web_identity_token_file")
        return self


class AzureClientSecretIn(_Credentials):
    """The service principal's client secret (auth mode ``client_secret``)."""

    type: Literal[CredentialType.azure_client_secret]
    client_secret: SecretStr = Field(min_length=1, max_length=1024)


class AzureWifIn(_Credentials):
    """A federated client assertion (JWT) for ``ClientAssertionCredential``, or its file."""

    type: Literal[CredentialType.azure_wif]
    client_assertion: SecretStr | None = Field(default=None, min_length=1, max_length=TOKEN_MAX)
    federated_token_file: str | None = Field(default=None, min_length=2, max_length=PATH_MAX)

    @field_validator("federated_token_file")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return _absolute_path(value)

    @model_validator(mode="after")
    def _exactly_one(self) -> AzureWifIn:
        if (self.client_assertion is None) == (self.federated_token_file is None):
            raise ValueError("give exactly one of client_assertion or federated_token_file")
        return self


class GcpServiceAccountIn(_Credentials):
    """A service-account key file (JSON text, at most 64 KiB)."""

    type: Literal[CredentialType.gcp_service_account]
    service_account_json: SecretStr = Field(max_length=JSON_DOC_MAX_BYTES)

    @field_validator("service_account_json", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return _json_text(value)

    @field_validator("service_account_json")
    @classmethod
    def _service_account_key(cls, value: SecretStr) -> SecretStr:
        doc = _parse_object(value.get_secret_value())
        if doc.get("type") != "service_account":
            raise ValueError('must be a service-account key ("type": "service_account")')
        for key in ("client_email", "private_key", "token_uri"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                raise ValueError(f"the key has no {key}")
        if len(doc["client_email"]) > 320 or not _EMAIL.match(doc["client_email"]):
            raise ValueError("client_email is not an email address")
        universe = doc.get("universe_domain", GCP_UNIVERSE)
        if universe != GCP_UNIVERSE:
            raise ValueError(f"universe_domain must be {GCP_UNIVERSE}")
        try:
            private_key = serialization.load_pem_private_key(
                doc["private_key"].encode(), password=None
            )
        except (ValueError, TypeError):
            raise ValueError("private_key is not an unencrypted PEM private key") from None
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("private_key must be an RSA key")
        return value

    def info(self) -> dict[str, Any]:
        """The parsed key (contains the private key: never log it)."""
        return dict(json.loads(self.service_account_json.get_secret_value()))

    def secret_values(self) -> list[str]:
        info = self.info()
        parts = [info["private_key"], *info["private_key"].splitlines()]
        return [*super().secret_values(), *(p for p in parts if len(p) >= 16)]


_EXTERNAL_ACCOUNT_KEYS = {
    "type",
    "audience",
    "subject_token_type",
    "token_url",
    "service_account_impersonation_url",
    "service_account_impersonation",
    "credential_source",
    "quota_project_id",
    "workforce_pool_user_project",
    "universe_domain",
}
_CREDENTIAL_SOURCE_KEYS = {"file", "format"}


class GcpWifIn(_Credentials):
    """An ``external_account`` (workload identity federation) configuration, file-sourced."""

    type: Literal[CredentialType.gcp_wif]
    external_account_json: SecretStr = Field(max_length=JSON_DOC_MAX_BYTES)

    @field_validator("external_account_json", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return _json_text(value)

    @field_validator("external_account_json")
    @classmethod
    def _external_account(cls, value: SecretStr) -> SecretStr:
        doc = _parse_object(value.get_secret_value())
        if doc.get("type") != "external_account":
            raise ValueError('must be an external-account config ("type": "external_account")')
        unknown = sorted(set(doc) - _EXTERNAL_ACCOUNT_KEYS)
        if unknown:
            raise ValueError(f"unsupported keys: {', '.join(unknown)[:200]}")
        for key in ("audience", "subject_token_type", "token_url"):
            if not isinstance(doc.get(key), str) or not doc[key] or len(doc[key]) > 1024:
                raise ValueError(f"{key} is required (a string)")
        if doc.get("universe_domain", GCP_UNIVERSE) != GCP_UNIVERSE:
            raise ValueError(f"universe_domain must be {GCP_UNIVERSE}")
        source = doc.get("credential_source")
        if not isinstance(source, dict) or set(source) - _CREDENTIAL_SOURCE_KEYS:
            raise ValueError(
                'credential_source must be {"file": "/path/to/token"} (with an optional '
                '"format"): url and executable sources are not allowed'
            )
        if not isinstance(source.get("file"), str) or len(source["file"]) > PATH_MAX:
            raise ValueError("credential_source.file is required (an absolute path)")
        _absolute_path(source["file"])
        impersonation = doc.get("service_account_impersonation_url")
        if impersonation is not None and (
            not isinstance(impersonation, str) or len(impersonation) > 1024
        ):
            raise ValueError("service_account_impersonation_url must be a string")
        return value

    def info(self) -> dict[str, Any]:
        """The parsed configuration."""
        return dict(json.loads(self.external_account_json.get_secret_value()))


CredentialsIn = Annotated[
    AwsAccessKeysIn | AwsWifIn | AzureClientSecretIn | AzureWifIn | GcpServiceAccountIn | GcpWifIn,
    Discriminator("type"),
]
"""The body of ``POST /api/accounts/{account_id}/credentials``."""

CREDENTIALS_ADAPTER: TypeAdapter[CredentialsIn] = TypeAdapter(
    CredentialsIn, config=ConfigDict(hide_input_in_errors=True)
)


# --- which credentials an account takes ----------------------------------------------------

# (provider, auth mode) -> the credential type it stores; None: the mode stores none.
_EXPECTED: dict[tuple[Provider, str], CredentialType | None] = {
    (Provider.aws, AwsAuthMode.access_keys): CredentialType.aws_access_keys,
    (Provider.aws, AwsAuthMode.role_arn): None,
    (Provider.aws, AwsAuthMode.bastion): None,
    (Provider.aws, AwsAuthMode.workload_identity_federation): CredentialType.aws_wif,
    (Provider.azure, AzureAuthMode.client_secret): CredentialType.azure_client_secret,
    (Provider.azure, AzureAuthMode.workload_identity_federation): CredentialType.azure_wif,
    (Provider.gcp, GcpAuthMode.service_account_key): CredentialType.gcp_service_account,
    (Provider.gcp, GcpAuthMode.workload_identity_federation): CredentialType.gcp_wif,
}

# An account stored without a mode uses its provider's default (as account creation does).
DEFAULT_AUTH_MODE: dict[Provider, str] = {
    Provider.aws: AwsAuthMode.access_keys,
    Provider.azure: AzureAuthMode.client_secret,
    Provider.gcp: GcpAuthMode.service_account_key,
}

_NO_STORED_CREDENTIALS = {
    AwsAuthMode.role_arn.value: (
        "aws accounts in role_arn mode use the CUDly server's own AWS identity to assume "
        "aws_role_arn: no credentials are stored"
    ),
    AwsAuthMode.bastion.value: (
        "aws accounts in bastion mode use their bastion account's credentials to assume "
        "aws_role_arn: no credentials are stored (set them on the bastion account)"
    ),
}


def effective_auth_mode(provider: Provider | str, auth_mode: str | None) -> str:
    """The account's auth mode, or its provider's default when none is stored."""
    return auth_mode or DEFAULT_AUTH_MODE[Provider(provider)]


def expected_credential_type(
    provider: Provider | str, auth_mode: str | None
) -> CredentialType | None:
    """The credential type an account with this provider and mode stores (None: none)."""
    mode = effective_auth_mode(provider, auth_mode)
    return _EXPECTED.get((Provider(provider), mode))


def check_type_matches(
    provider: Provider | str,
    auth_mode: str | None,
    credential_type: CredentialType,
    *,
    prefix: str = "",
) -> None:
    """400 naming ``type`` unless ``credential_type`` is what this provider/mode takes."""
    mode = effective_auth_mode(provider, auth_mode)
    expected = expected_credential_type(provider, mode)
    if expected is None:
        raise ValidationFailed.for_field(
            f"{prefix}type",
            _NO_STORED_CREDENTIALS.get(
                mode, f"{provider} accounts in {mode} mode store no credentials"
            ),
        )
    if credential_type is not expected:
        raise ValidationFailed.for_field(
            f"{prefix}type",
            f"{credential_type.value} does not fit a {Provider(provider).value} account in "
            f"{mode} mode: send type {expected.value}",
        )


# --- endpoint policy (SPEC §1: no user-supplied value chooses where the server connects) ----

_IMPERSONATION_PATH = re.compile(
    r"^/v1/projects/-/serviceAccounts/([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,255}):generateAccessToken$"
)


def impersonated_service_account(url: str, settings: Settings) -> str | None:
    """The service-account email of an impersonation URL on the configured IAM credentials
    host, or None when the URL points anywhere else."""
    base = settings.clouds.gcp_api_base_iamcredentials
    if not url.startswith(base + "/"):
        return None
    match = _IMPERSONATION_PATH.match(url[len(base) :])
    return match.group(1) if match else None


def _token_file(credentials: BaseModel) -> tuple[str, str] | None:
    """(field, path) of the server-side token file a WIF credential names, if any."""
    if isinstance(credentials, AwsWifIn) and credentials.web_identity_token_file is not None:
        return "web_identity_token_file", credentials.web_identity_token_file
    if isinstance(credentials, AzureWifIn) and credentials.federated_token_file is not None:
        return "federated_token_file", credentials.federated_token_file
    if isinstance(credentials, GcpWifIn):
        return "external_account_json", str(credentials.info()["credential_source"]["file"])
    return None


def check_endpoints(credentials: BaseModel, settings: Settings, *, prefix: str = "") -> None:
    """400 when a credential names a host other than the configured cloud endpoints, or a
    token file outside ``CUDLY_WIF_TOKEN_DIRS`` (symlinks resolved; the file is not opened,
    so the answer is the same whatever is, or is not, at that path)."""
    token_file = _token_file(credentials)
    if token_file is not None and allowed_token_path(token_file[1], settings) is None:
        raise ValidationFailed.for_field(f"{prefix}{token_file[0]}", PATH_REFUSED)
    if isinstance(credentials, GcpServiceAccountIn):
        token_uri = credentials.info()["token_uri"]
        if token_uri != settings.clouds.gcp_token_uri:
            raise ValidationFailed.for_field(
                f"{prefix}service_account_json",
                f"token_uri must be {settings.clouds.gcp_token_uri}: the server only sends keys to "
                "its configured Google token endpoint (CUDLY_GCP_TOKEN_URI)",
            )
    elif isinstance(credentials, GcpWifIn):
        info = credentials.info()
        if info["token_url"] != settings.clouds.gcp_sts_token_uri:
            raise ValidationFailed.for_field(
                f"{prefix}external_account_json",
                f"token_url must be {settings.clouds.gcp_sts_token_uri} (CUDLY_GCP_STS_TOKEN_URI)",
            )
        url = info.get("service_account_impersonation_url")
        if url is not None and impersonated_service_account(url, settings) is None:
            raise ValidationFailed.for_field(
                f"{prefix}external_account_json",
                "service_account_impersonation_url must be "
                f"{settings.clouds.gcp_api_base_iamcredentials}/v1/projects/-/serviceAccounts/"
                "<email>:generateAccessToken",
            )


# --- inline credentials (account create) ----------------------------------------------------


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {t.value for t in CredentialType}:
        parts = parts[1:]  # the union's tag, not a field
    return ".".join(parts)


def validation_fields(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Field errors for a credentials validation failure (messages only, never inputs)."""
    fields: list[FieldError] = []
    for err in exc.errors(include_input=False, include_url=False):
        if err["type"] in {"union_tag_not_found", "union_tag_invalid"}:
            name, message = "type", "must be one of " + ", ".join(t.value for t in CredentialType)
        else:
            name, message = _field_name(tuple(err["loc"])), str(err["msg"])
        full = f"{prefix}{name}" if name else prefix.rstrip(".") or "body"
        fields.append(FieldError(field=full, message=message))
    return fields


def parse_inline_credentials(
    provider: Provider | str,
    auth_mode: str | None,
    raw: dict[str, Any],
    *,
    settings: Settings | None = None,
) -> CredentialsIn:
    """Validate the ``credentials`` object of an account-create body.

    ``type`` may be absent (inferred from provider and auth mode); when present it must fit.
    Errors are :class:`ValidationFailed` with field names prefixed ``credentials.``. With
    ``settings``, the endpoint policy (GCP token URIs) is checked too; ``store_credentials``
    always checks it.
    """
    prefix = "credentials."
    if not isinstance(raw, dict):
        raise ValidationFailed.for_field("credentials", "must be a JSON object")
    mode = effective_auth_mode(provider, auth_mode)
    expected = expected_credential_type(provider, mode)
    given = raw.get("type")
    if expected is None:
        raise ValidationFailed.for_field(
            "credentials", _NO_STORED_CREDENTIALS.get(mode, f"{mode} mode stores no credentials")
        )
    if given is not None and given != expected.value:
        if given in {t.value for t in CredentialType}:
            check_type_matches(provider, mode, CredentialType(given), prefix=prefix)
        raise ValidationFailed.for_field(
            f"{prefix}type", f"must be {expected.value} for this provider and auth mode"
        )
    try:
        credentials = CREDENTIALS_ADAPTER.validate_python({**raw, "type": expected.value})
    except ValidationError as exc:
        fields = validation_fields(exc, prefix)
        summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
        raise ValidationFailed(f"invalid credentials: {summary}", fields=fields) from None
    if settings is not None:
        check_endpoints(credentials, settings, prefix=prefix)
    return credentials


def credentials_from_plaintext(payload: dict[str, Any]) -> CredentialsIn:
    """Rebuild a credential model from its decrypted payload (trusted: it was validated)."""
    return CREDENTIALS_ADAPTER.validate_python(payload)


class ConnectivityTestOut(BaseModel):
    """``{"ok": true, "caller_identity": "…"}`` or ``{"ok": false, "error": "…"}``."""

    ok: bool
    caller_identity: str | None = None
    error: str | None = None
