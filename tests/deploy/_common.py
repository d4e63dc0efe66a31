"""Shared helpers for the deployment-artefact tests (no database, no network)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if str(ROOT) not in sys.path:  # the tests also run without the editable install
    sys.path.insert(0, str(ROOT))

# botocore's own environment variables, read by the AWS SDK rather than by Settings.
AWS_SDK_VARIABLES = frozenset(
    {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CA_BUNDLE",
        "AWS_STS_REGIONAL_ENDPOINTS",
        "AWS_RETRY_MODE",
        "AWS_MAX_ATTEMPTS",
        "AWS_ENDPOINT_URL",
    }
)
_AWS_SERVICE_ENDPOINT = re.compile(r"^AWS_ENDPOINT_URL_[A-Z0-9_]+$")


def setting_names() -> set[str]:
    from api.config import env_var_names

    return env_var_names()


def is_known_variable(name: str, settings: set[str]) -> bool:
    """A CUDly setting or one of botocore's standard variables."""
    return name in settings or name in AWS_SDK_VARIABLES or bool(_AWS_SERVICE_ENDPOINT.match(name))
