"""The import contracts of pyproject.toml ([tool.importlinter]) hold: STYLE habit 1.

One test per contract, so a failure names the rule that broke; the contracts use wildcards
(``api.*.endpoints``), so every domain package is checked, including ones added later.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_import_contract_is_kept(contract: str) -> None:
    run = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "--contract", contract],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_contract_has_an_id_and_a_name() -> None:
    ids = [c.get("id") for c in CONTRACTS]
    assert all(ids) and len(set(ids)) == len(ids)
    assert all(c.get("name") for c in CONTRACTS)
