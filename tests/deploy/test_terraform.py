"""terraform/: every file parses, modules are documented, the security-relevant parts hold,
checkov passes, and (where terraform and the providers are available) `terraform validate`.

checkov runs from its own virtualenv (its pins conflict with the app's):
    python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from ._common import ROOT

TERRAFORM = ROOT / "terraform"
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ENVIRONMENTS = sorted(p for p in (TERRAFORM / "environments").iterdir() if p.is_dir())
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
PROVIDER_MIRROR = Path(os.environ.get("CUDLY_TF_PROVIDER_MIRROR", "/opt/tf-plugins"))

_META_KEYS = {
    "__is_block__",
    "__comments__",
    "__inline_comments__",
    "__start_line__",
    "__end_line__",
}


def _clean(value: Any) -> Any:
    """Normalise python-hcl2 output across versions: no meta keys, no quotes around strings."""
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items() if k not in _META_KEYS}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _parse(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = _clean(hcl2.loads(path.read_text()))
    return parsed


def _load(directory: Path) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, items in _parse(path).items():
            merged.setdefault(kind, []).extend(items if isinstance(items, list) else [items])
    return merged


def _named(config: dict[str, list[Any]], kind: str) -> dict[str, Any]:
    """variable/output blocks by name."""
    return {name: body for item in config.get(kind, []) for name, body in item.items()}


def _typed(config: dict[str, list[Any]], kind: str, type_name: str) -> dict[str, Any]:
    """resource/data blocks of one type, by name."""
    return {
        name: body
        for item in config.get(kind, [])
        for rtype, named in item.items()
        if rtype == type_name
        for name, body in named.items()
    }


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Static and dynamic statement blocks of an aws_iam_policy_document, each with its for_each."""
    found = [dict(s, for_each=None) for s in document.get("statement", [])]
    for dynamic in document.get("dynamic", []):
        for block_name, body in dynamic.items():
            if block_name == "statement":
                found += [dict(c, for_each=body["for_each"]) for c in body["content"]]
    return found


def _id(path: Path) -> str:
    return str(path.relative_to(TERRAFORM))


# --- parsing and documentation -------------------------------------------------------------------


def test_the_layout_is_complete() -> None:
    assert {p.name for p in MODULES} >= {
        "aws-service",
        "aws-target-account-role",
        "azure-access",
        "gcp-access",
    }
    assert len(ENVIRONMENTS) >= 3
    assert len(TF_FILES) >= 30


@pytest.mark.parametrize("path", TF_FILES, ids=_id)
def test_every_tf_file_parses(path: Path) -> None:
    assert isinstance(hcl2.loads(path.read_text()), dict)


@pytest.mark.parametrize("directory", MODULES + ENVIRONMENTS, ids=_id)
def test_variables_and_outputs_are_documented(directory: Path) -> None:
    config = _load(directory)
    variables = _named(config, "variable")
    assert variables, "no variables"
    for name, body in variables.items():
        assert str(body.get("description", "")).strip(), f"variable {name} has no description"
        assert body.get("type"), f"variable {name} has no type"
    assert (directory / "outputs.tf").is_file()
    outputs = _named({"output": _parse(directory / "outputs.tf").get("output", [])}, "output")
    assert outputs, "no outputs"
    for name, body in outputs.items():
        assert str(body.get("description", "")).strip(), f"output {name} has no description"


@pytest.mark.parametrize("directory", MODULES + ENVIRONMENTS, ids=_id)
def test_providers_are_pinned(directory: Path) -> None:
    terraform = _parse(directory / "versions.tf")["terraform"][0]
    assert terraform.get("required_version")
    providers = (
        terraform["required_providers"][0]
        if isinstance(terraform["required_providers"], list)
        else terraform["required_providers"]
    )
    assert providers
    for name, spec in providers.items():
        assert spec["source"].startswith("hashicorp/"), name
        assert re.search(r"<\s*\d", spec["version"]) or spec["version"].startswith("~>"), (
            f"{name} needs an upper bound"
        )


@pytest.mark.parametrize("directory", ENVIRONMENTS, ids=_id)
def test_environments_ship_an_example_and_no_secret(directory: Path) -> None:
    example = directory / "terraform.tfvars.example"
    assert example.is_file()
    values = _clean(hcl2.loads(example.read_text()))
    assert "credential_encryption_key" not in values
    assert "credential_decrypt_only_keys" not in values
    for config in _named(_load(directory), "module").values():
        assert str(config["source"]).startswith("../../modules/")


def _committable_files(directory: Path) -> list[Path]:
    """Tracked plus untracked-but-not-ignored files (what `git add -A` would take)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", str(directory)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return [p for p in directory.rglob("*") if p.is_file() and ".terraform" not in p.parts]
    return [ROOT / name for name in listing.split("\0") if name]


def test_no_state_or_real_tfvars_can_be_committed() -> None:
    files = _committable_files(TERRAFORM)
    assert any(p.name == "terraform.tfvars.example" for p in files)
    for path in files:
        assert not re.search(r"\.tfstate|\.tfvars(\.json)?$|\.tfplan$|^backend\.hcl$", path.name), (
            path
        )


# --- what the service module promises ------------------------------------------------------------


@pytest.fixture(scope="module")
def service() -> dict[str, list[Any]]:
    return _load(TERRAFORM / "modules" / "aws-service")


def test_credential_encryption_key_is_sensitive_and_validated(
    service: dict[str, list[Any]],
) -> None:
    key = _named(service, "variable")["credential_encryption_key"]
    assert key["sensitive"] is True
    assert "default" not in key
    assert any("{64}" in v["condition"] for v in key["validation"])
    env_key = _named(_load(TERRAFORM / "environments" / "aws-prod"), "variable")[
        "credential_encryption_key"
    ]
    assert env_key["sensitive"] is True


def test_max_account_parallelism_defaults_to_10_and_reaches_the_container(
    service: dict[str, list[Any]],
) -> None:
    variable = _named(service, "variable")["max_account_parallelism"]
    assert variable["default"] == 10
    assert "number" in variable["type"]
    environment = str(
        next(local["environment"] for local in service["locals"] if "environment" in local)
    )

    def maps(
        name: str, expression: str
    ) -> bool:  # `NAME = expr` (the rendering varies by python-hcl2 version)
        return (
            re.search(rf"{name}['\"]?\s*[=:]\s*['\"]?(\$\{{)?{re.escape(expression)}", environment)
            is not None
        )

    assert maps("CUDLY_MAX_ACCOUNT_PARALLELISM", "tostring(var.max_account_parallelism)")
    assert maps(
        "CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN", "aws_secretsmanager_secret.encryption_key.arn"
    )


def test_replicas_and_workers_are_variables_reaching_the_service(
    service: dict[str, list[Any]],
) -> None:
    variables = _named(service, "variable")
    assert variables["desired_count"]["default"] == 2
    assert variables["workers"]["default"] is None and "number" in variables["workers"]["type"]
    environment = str(
        next(local["environment"] for local in service["locals"] if "environment" in local)
    )
    assert re.search(
        r"CUDLY_WORKERS['\"]?\s*[=:]\s*['\"]?(\$\{)?tostring\(local\.workers\)", environment
    )
    workers = str(next(local["workers"] for local in service["locals"] if "workers" in local))
    assert "var.workers" in workers and "var.task_cpu / 1024" in workers
    [ecs] = _typed(service, "resource", "aws_ecs_service").values()
    assert "var.desired_count" in str(ecs["desired_count"])
    assert {"replicas", "workers_per_replica"} <= set(_named(service, "output"))


def test_database_is_encrypted_private_backed_up_and_protected(
    service: dict[str, list[Any]],
) -> None:
    db = _typed(service, "resource", "aws_db_instance")["this"]
    assert db["engine"] == "postgres"
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert db["deletion_protection"] is True
    assert db["skip_final_snapshot"] is False
    assert "password" not in db, "the password must be write-only (password_wo)"
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}"
    retention = _named(service, "variable")["db_backup_retention_days"]
    assert retention["default"] >= 7
    assert any(">= 7" in v["condition"] for v in retention["validation"])


def test_log_group_has_retention_and_kms(service: dict[str, list[Any]]) -> None:
    group = _typed(service, "resource", "aws_cloudwatch_log_group")["this"]
    assert group["retention_in_days"] and group["kms_key_id"]


def test_secrets_are_encrypted_with_the_cmk(service: dict[str, list[Any]]) -> None:
    secrets = _typed(service, "resource", "aws_secretsmanager_secret")
    assert {"encryption_key", "database_url"} <= set(secrets)
    for secret in secrets.values():
        assert secret["kms_key_id"] == "${aws_kms_key.this.arn}"


def test_task_role_assumes_only_declared_roles(service: dict[str, list[Any]]) -> None:
    statements = _statements(_typed(service, "data", "aws_iam_policy_document")["task"])
    assume = [s for s in statements if any("sts:AssumeRole" in a for a in s["actions"])]
    assert len(assume) == 1
    assert assume[0]["actions"] == ["sts:AssumeRole"]
    assert assume[0]["resources"] == "${var.target_role_arns}"
    org = [s for s in statements if any(a.startswith("organizations:") for a in s["actions"])]
    assert len(org) == 1 and org[0]["actions"] == ["organizations:ListAccounts"]
    assert "var.enable_org_discovery" in org[0]["for_each"]
    assert _named(service, "variable")["enable_org_discovery"]["default"] is False
    for s in statements:
        assert not any("*" in a for a in s["actions"]), s


# --- the target-account role -------------------------------------------------------------------


@pytest.fixture(scope="module")
def target_role() -> dict[str, list[Any]]:
    return _load(TERRAFORM / "modules" / "aws-target-account-role")


def test_target_role_trust_is_pinned_with_an_external_id(target_role: dict[str, list[Any]]) -> None:
    role = _typed(target_role, "resource", "aws_iam_role")["this"]
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.trust.json}"
    statements = _statements(_typed(target_role, "data", "aws_iam_policy_document")["trust"])
    assert len(statements) == 1
    trust = statements[0]
    assert trust["actions"] == ["sts:AssumeRole"]
    assert trust.get("effect", "Allow") == "Allow"
    assert trust["principals"] == [{"type": "AWS", "identifiers": ["${var.cudly_principal_arn}"]}]
    assert trust["condition"] == [
        {"test": "StringEquals", "variable": "sts:ExternalId", "values": ["${var.external_id}"]}
    ]
    assert "default" not in _named(target_role, "variable")["external_id"]


def test_target_role_read_and_purchase_policies(target_role: dict[str, list[Any]]) -> None:
    documents = _typed(target_role, "data", "aws_iam_policy_document")
    read = {
        a for s in _statements(documents["read"]) if s["for_each"] is None for a in s["actions"]
    }
    assert {
        "ce:GetReservationPurchaseRecommendation",
        "ce:GetSavingsPlansPurchaseRecommendation",
    } <= read
    assert not any("Purchase" in a.split(":")[1] and not a.startswith("ce:") for a in read)

    purchase = {a for s in _statements(documents["purchase"]) for a in s["actions"]}
    assert purchase >= {
        "ec2:PurchaseReservedInstancesOffering",
        "ec2:DescribeReservedInstancesOfferings",
        "rds:PurchaseReservedDBInstancesOffering",
        "rds:DescribeReservedDBInstancesOfferings",
        "elasticache:PurchaseReservedCacheNodesOffering",
        "elasticache:DescribeReservedCacheNodesOfferings",
        "es:PurchaseReservedInstanceOffering",
        "es:DescribeReservedInstanceOfferings",
        "redshift:PurchaseReservedNodeOffering",
        "redshift:DescribeReservedNodeOfferings",
        "memorydb:PurchaseReservedNodesOffering",
        "memorydb:DescribeReservedNodesOfferings",
        "savingsplans:CreateSavingsPlan",
        "savingsplans:DescribeSavingsPlansOfferings",
    }
    policy = _typed(target_role, "resource", "aws_iam_role_policy")["purchase"]
    assert policy["count"] == "${var.enable_purchasing ? 1 : 0}"
    assert _named(target_role, "variable")["enable_purchasing"]["default"] is False


def test_azure_and_gcp_purchasing_is_opt_in() -> None:
    azure = _load(TERRAFORM / "modules" / "azure-access")
    assignments = _typed(azure, "resource", "azurerm_role_assignment")
    assert assignments["cost_management_reader"]["role_definition_name"] == "Cost Management Reader"
    assert assignments["reservation_purchaser"]["role_definition_name"] == "Reservation Purchaser"
    assert "var.enable_purchasing" in assignments["reservation_purchaser"]["for_each"]
    assert _named(azure, "variable")["enable_purchasing"]["default"] is False

    gcp = _load(TERRAFORM / "modules" / "gcp-access")
    text = " ".join(p.read_text() for p in (TERRAFORM / "modules" / "gcp-access").glob("*.tf"))
    assert "roles/recommender.computeViewer" in text
    assert not re.search(r'"roles/(owner|editor|compute\.admin)"', text)
    purchaser = _typed(gcp, "resource", "google_project_iam_custom_role")["purchaser"]
    assert "var.enable_purchasing" in purchaser["for_each"]
    assert "compute.commitments.create" in purchaser["permissions"]
    assert _named(gcp, "variable")["enable_purchasing"]["default"] is False


# --- checkov and terraform validate --------------------------------------------------------------


def test_checkov_passes() -> None:
    if not CHECKOV.exists():
        pytest.fail(
            f"{CHECKOV.relative_to(ROOT)} is missing. Create it with:\n"
            "    python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    env["LOG_LEVEL"] = "WARNING"
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            "terraform",
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]


def _required_providers(directory: Path) -> set[str]:
    terraform = _parse(directory / "versions.tf")["terraform"][0]
    providers = terraform["required_providers"]
    providers = providers[0] if isinstance(providers, list) else providers
    return {spec["source"] for spec in providers.values()}


def _mirrored(directory: Path) -> bool:
    return all(
        (PROVIDER_MIRROR / "registry.terraform.io" / source).is_dir()
        for source in _required_providers(directory)
    )


# Full schema validation needs the providers: this machine mirrors the AWS one in
# /opt/tf-plugins, so the AWS modules and environment are validated; the Azure and GCP ones
# are covered by the HCL, variable/output and checkov tests above.
VALIDATABLE = [d for d in MODULES + ENVIRONMENTS if PROVIDER_MIRROR.is_dir() and _mirrored(d)]


def test_the_aws_terraform_is_validated() -> None:
    assert shutil.which("terraform"), "terraform CLI missing: it ships with this machine image"
    assert {d.name for d in VALIDATABLE} >= {"aws-service", "aws-target-account-role", "aws-prod"}


@pytest.mark.parametrize("directory", VALIDATABLE, ids=_id)
def test_terraform_validate(directory: Path, tmp_path: Path) -> None:
    """``terraform validate`` against the provider schemas from the local mirror."""
    terraform = shutil.which("terraform")
    assert terraform is not None
    shutil.copytree(TERRAFORM, tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    cli_config = tmp_path / "terraform.rc"
    cli_config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path = "{PROVIDER_MIRROR}"\n  }}\n'
        "}\n"
    )
    env = dict(
        os.environ, TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1"
    )
    workdir = tmp_path / "terraform" / directory.relative_to(TERRAFORM)
    for command in (
        ["init", "-backend=false", "-input=false", "-no-color"],
        ["validate", "-no-color"],
    ):
        result = subprocess.run(
            [terraform, *command], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stdout + result.stderr
