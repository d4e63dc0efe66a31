"""deploy/monitoring/: the alert rules pass promtool (syntax and unit tests), and every
expression there and on the dashboard names a series /metrics exports (and docs list them)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from api.telemetry import metrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
SERIES = re.compile(r"\bcudly_[a-z0-9_]+\b")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make promtool` installs Debian's prometheus package"
    return subprocess.run(
        [promtool, *args], cwd=MONITORING, capture_output=True, text=True, check=False
    )


def test_promtool_checks_the_rules() -> None:
    done = _promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_every_alert() -> None:
    done = _promtool("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"][0]["rules"]
    tests = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert {rule["alert"] for rule in rules} == tested == fired


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())

    def walk(panels: list[dict[str, Any]]) -> list[str]:
        found: list[str] = []
        for panel in panels:
            found += [target["expr"] for target in panel.get("targets", [])]
            found += walk(panel.get("panels", []))
        return found

    return walk(dashboard["panels"])


@pytest.fixture
async def exported(admin_client: httpx.AsyncClient) -> tuple[set[str], set[str]]:
    """(sample names, family names) of a scrape after every record function has run once."""
    metrics.record_cloud_call("aws", "sts", "GetCallerIdentity", "ok")
    metrics.record_throttle("aws", "sts", "GetCallerIdentity")
    metrics.record_retry("aws", "sts", "GetCallerIdentity")
    metrics.observe_account_sweep(1.0, "ok", provider="aws")
    metrics.record_run("completed", 10.0)
    metrics.record_execution("completed", 2.0, provider="aws")
    metrics.record_decryption_failure()
    metrics.set_scheduler_leader(False)
    await admin_client.get("/api/health")  # a request is counted once it has been answered
    body = (await admin_client.get("/metrics")).text
    families = list(text_string_to_metric_families(body))
    names = {sample.name for family in families for sample in family.samples}
    return names, {family.name for family in families if family.name.startswith("cudly_")}


def test_dashboard_and_rules_name_only_exported_series(
    exported: tuple[set[str], set[str]],
) -> None:
    names, _ = exported
    for expr in _rule_exprs() + _dashboard_exprs():
        assert set(SERIES.findall(expr)) <= names, expr


def test_the_dashboard_shows_every_family_and_the_docs_list_it(
    exported: tuple[set[str], set[str]],
) -> None:
    _, families = exported
    shown = {name for expr in _dashboard_exprs() for name in SERIES.findall(expr)}
    documented = set(SERIES.findall((ROOT / "docs" / "operations.md").read_text()))
    for family in families:
        variants = {family, f"{family}_total", f"{family}_bucket", f"{family}_count"}
        assert variants & shown, f"{family} is on no dashboard panel"
        assert variants & documented, f"{family} is not in docs/operations.md"


def test_container_and_load_balancer_health_checks_use_readiness() -> None:
    checked = {
        "Dockerfile": (ROOT / "Dockerfile").read_text(),
        "docker-compose.yml": (ROOT / "docker-compose.yml").read_text(),
        "alb.tf": (ROOT / "terraform/modules/aws-service/alb.tf").read_text(),
        "ecs.tf": (ROOT / "terraform/modules/aws-service/ecs.tf").read_text(),
    }
    for name, text in checked.items():
        assert "/api/ready" in text, name
        assert "/api/health" not in text, name
