import tempfile

import pytest

from tests.credentials.fixtures import aws, sts_proxy

__all__ = ["WIF_TOKEN_DIRS", "aws", "sts_proxy"]

# Where these tests put workload-identity token files: pytest's tmp_path and /var/run.
WIF_TOKEN_DIRS = f"{tempfile.gettempdir()},/var/run"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"wif_token_dirs": WIF_TOKEN_DIRS}
