"""Request and response models of the accounts API. No credential material in any Read model."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from api.accounts import validation as v
from api.accounts.repository import AccountView
from api.enums import AwsAuthMode, AzureAuthMode, GcpAuthMode, Provider


def _blank_to_none(value: Any) -> Any:
    """Forms send ``""`` for an empty optional field: treat it as absent."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_name(value: str) -> str:
    return v.check_text(value, "name")


def _check_description(value: str) -> str:
    return v.check_multiline_text(value, "description")


def _check_email_length(value: str | None) -> str | None:
    if value is not None and len(value) > v.EMAIL_MAX:
        raise ValueError(f"must be at most {v.EMAIL_MAX} characters")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=v.NAME_MAX),
    AfterValidator(_check_name),
    Field(description="Display name, 1-255 characters"),
]
Description = Annotated[
    str, StringConstraints(max_length=v.DESCRIPTION_MAX), AfterValidator(_check_description)
]
# Optional values below accept "" (an empty form field) as null.
OptionalEmail = Annotated[
    EmailStr | None, BeforeValidator(_blank_to_none), AfterValidator(_check_email_length)
]
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=v.EXTERNAL_ID_MAX),
    Field(
        description=(
            "The provider's id of the account. AWS: 12 digits; Azure: subscription UUID "
            "(stored lower-case); GCP: project id ^[a-z][a-z0-9-]{5,29}$. Immutable."
        )
    ),
]
OptionalRoleArn = Annotated[
    Annotated[str, AfterValidator(v.check_role_arn)] | None,
    BeforeValidator(_blank_to_none),
    Field(
        description=(
            "arn:aws:iam::<account>:role/<name>, at most 512 characters; required for "
            "role_arn, bastion and workload_identity_federation"
        )
    ),
]
OptionalAwsExternalId = Annotated[
    Annotated[str, AfterValidator(v.check_aws_external_id)] | None,
    BeforeValidator(_blank_to_none),
    Field(description="sts:ExternalId, 2-1224 printable ASCII characters"),
]
OptionalBastionId = Annotated[
    uuid.UUID | None,
    BeforeValidator(_blank_to_none),
    Field(description="bastion mode: the AWS account whose credentials assume into this one"),
]
OptionalAzureUuid = Annotated[
    Annotated[str, AfterValidator(v.check_azure_uuid)] | None, BeforeValidator(_blank_to_none)
]
OptionalGcpProjectId = Annotated[
    Annotated[str, AfterValidator(v.check_gcp_project_id)] | None,
    BeforeValidator(_blank_to_none),
]


class _AccountFields(BaseModel):
    """The fields create and update share."""

    model_config = ConfigDict(extra="forbid")

    description: Description | None = None
    contact_email: OptionalEmail = None
    aws_auth_mode: AwsAuthMode | None = Field(
        default=None, description="AWS only; default access_keys"
    )
    aws_role_arn: OptionalRoleArn = None
    aws_external_id: OptionalAwsExternalId = None
    aws_bastion_id: OptionalBastionId = None
    azure_subscription_id: OptionalAzureUuid = Field(
        default=None, description="Azure only; equals external_id (filled in when absent)"
    )
    azure_tenant_id: OptionalAzureUuid = Field(
        default=None, description="Azure only; required for Azure accounts"
    )
    azure_client_id: OptionalAzureUuid = None
    azure_auth_mode: AzureAuthMode | None = Field(
        default=None, description="Azure only; default client_secret"
    )
    gcp_project_id: OptionalGcpProjectId = Field(
        default=None, description="GCP only; equals external_id (filled in when absent)"
    )
    gcp_client_email: OptionalEmail = None
    gcp_auth_mode: GcpAuthMode | None = Field(
        default=None, description="GCP only; default service_account_key"
    )


class AccountCreate(_AccountFields):
    """``POST /api/accounts``. ``credentials`` takes the shape of ``POST …/credentials``."""

    name: Name
    enabled: StrictBool = True
    provider: Provider
    external_id: ExternalId
    aws_is_org_root: StrictBool = False
    is_discovery_root: StrictBool = Field(
        default=False, description="Azure/GCP only (AWS uses aws_is_org_root)"
    )
    credentials: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Optional inline credentials, as the body of POST /api/accounts/{id}/credentials; "
            "needs the accounts:manage_credentials permission too. Never returned."
        ),
    )


class AccountUpdate(_AccountFields):
    """``PUT /api/accounts/{id}``: the fields present replace the stored ones; absent ones are kept."""

    name: Name | None = None
    enabled: StrictBool | None = None
    aws_is_org_root: StrictBool | None = None
    is_discovery_root: StrictBool | None = None
    # Accepted only to answer "immutable" rather than "extra field"; hidden from OpenAPI.
    provider: SkipJsonSchema[Any] = None
    external_id: SkipJsonSchema[Any] = None

    @field_validator("provider", "external_id", mode="before")
    @classmethod
    def _refuse_immutable(cls, value: Any, info: ValidationInfo) -> Any:
        raise PydanticCustomError(
            "immutable",
            "{field} is immutable: it cannot be changed after creation and may not appear in an "
            "update, even with its current value",
            {"field": info.field_name},
        )

    @field_validator("name", "enabled", "aws_is_org_root", "is_discovery_root", mode="after")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise PydanticCustomError(
                "not_null", "{field} may not be null", {"field": info.field_name}
            )
        return value


class AccountRead(BaseModel):
    """A cloud account as the API shows it: column names, plus derived fields. Never credentials."""

    id: uuid.UUID
    name: str
    description: str | None
    contact_email: str | None
    enabled: bool
    provider: Provider
    external_id: str
    aws_auth_mode: AwsAuthMode | None
    aws_role_arn: str | None
    aws_external_id: str | None
    aws_bastion_id: uuid.UUID | None
    aws_is_org_root: bool
    azure_subscription_id: str | None
    azure_tenant_id: str | None
    azure_client_id: str | None
    azure_auth_mode: AzureAuthMode | None
    gcp_project_id: str | None
    gcp_client_email: str | None
    gcp_auth_mode: GcpAuthMode | None
    is_discovery_root: bool
    credentials_configured: bool = Field(
        description=(
            "Credentials of the account's auth mode are stored; always true for AWS role_arn "
            "(the server's own identity); for AWS bastion, whether the bastion's are"
        )
    )
    last_collected_at: datetime | None = Field(
        description="When the latest successful collection of this account finished"
    )
    last_collection_error: str | None = Field(
        description="The error of the latest collection when it failed or timed out, else null"
    )
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None

    @classmethod
    def from_view(cls, view: AccountView) -> AccountRead:
        account = view.account
        return cls.model_validate(
            {
                "id": account.id,
                **{field: getattr(account, field) for field in v.ACCOUNT_FIELDS},
                "credentials_configured": view.credentials_configured,
                "last_collected_at": view.last_collected_at,
                "last_collection_error": view.last_collection_error,
                "created_at": account.created_at,
                "updated_at": account.updated_at,
                "created_by": account.created_by,
            }
        )


class AccountList(BaseModel):
    accounts: list[AccountRead]


class AccountRef(BaseModel):
    id: uuid.UUID
    name: str


class AccountDeleteConflict(BaseModel):
    """409 body of ``DELETE /api/accounts/{id}``: what still depends on the account."""

    error: str
    code: str
    executions: list[uuid.UUID] | None = Field(
        default=None, description="pending/running purchase executions of the account"
    )
    dependants: list[AccountRef] | None = Field(
        default=None, description="accounts using this one as their bastion"
    )
