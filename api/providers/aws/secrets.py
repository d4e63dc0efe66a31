"""AWS Secrets Manager: the credential encryption key's source when
``CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN`` is set (the server's own AWS identity reads it)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from api.config import Settings
from api.kit.crypto import CredentialKeyError
from api.providers.aws.client import session_for
from api.providers.awssdk import client_kwargs


async def get_secret_string(settings: Settings, secret_arn: str) -> str:
    """``GetSecretValue(SecretId=arn).SecretString`` (errors name the code, never the value)."""
    async with session_for(None).client("secretsmanager", **client_kwargs(settings)) as client:
        try:
            answer = await client.get_secret_value(SecretId=secret_arn)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise CredentialKeyError(
                f"cannot read the credential key from Secrets Manager ({code}) for "
                f"CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN={secret_arn}"
            ) from None
        except BotoCoreError as exc:
            raise CredentialKeyError(
                f"cannot reach Secrets Manager for the credential key ({type(exc).__name__})"
            ) from None
    secret = answer.get("SecretString")
    if not isinstance(secret, str):
        raise CredentialKeyError(
            "the credential key secret has no SecretString (store the 64 hex characters as text)"
        )
    return secret
