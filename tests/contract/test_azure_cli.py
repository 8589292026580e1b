"""An independent real client, azure-cli, registered against the sandbox as a custom cloud.

azure-cli is installed by the tests into its own virtual environment (.cache/azcli): its pins clash
with ours. Each command must succeed and see the state our SDK calls made, and the reverse.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook import PROJECT_ROOT
from tests.conftest import DEMO_SUBS

pytestmark = pytest.mark.azcli
AZCLI_VERSION = "2.91.0"
VENV = PROJECT_ROOT / ".cache" / "azcli"
SUB = DEMO_SUBS[0]


@pytest.fixture(scope="session")
def az_bin() -> Path:
    """azure-cli in its own venv, installed once and reused across runs."""
    az = VENV / "bin" / "az"
    marker = VENV / f".installed-{AZCLI_VERSION}"
    if not marker.exists():
        log = PROJECT_ROOT / ".cache" / "azcli-install.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, stdout=out, stderr=out)
            subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"azure-cli=={AZCLI_VERSION}"], check=True, stdout=out, stderr=out, timeout=1500)
        marker.touch()
    return az


class Az:
    """Runs az with a private config dir, trusting the sandbox CA, and parses JSON output."""

    def __init__(self, az_bin: Path, sandbox, config_dir: Path) -> None:
        self.bin = az_bin
        self.env = {**os.environ, "AZURE_CONFIG_DIR": str(config_dir), "REQUESTS_CA_BUNDLE": sandbox.conn.ca_path, "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_ONLY_SHOW_ERRORS": "true", "AZURE_CORE_INSTANCE_DISCOVERY": "false", "AZURE_CORE_NO_COLOR": "true"}

    def __call__(self, *args: str):
        out = subprocess.run([str(self.bin), *args, "-o", "json"], env=self.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"az {' '.join(args)} failed: {out.stderr[-2000:]}"
        return json.loads(out.stdout) if out.stdout.strip() else None


@pytest.fixture
def az(az_bin, sandbox, tmp_path) -> Az:
    """az signed in to the sandbox as the runbook's service principal, on the production subscription."""
    run = Az(az_bin, sandbox, tmp_path / "azure-config")
    run("cloud", "register", "--name", "Sandbox", "--endpoint-resource-manager", sandbox.url)
    run("cloud", "set", "--name", "Sandbox")
    secret = Path(sandbox.conn.secret_path).read_text()
    accounts = run("login", "--service-principal", "-u", sandbox.conn.client_id, "-p", secret, "--tenant", sandbox.conn.tenant_id)
    assert sorted(a["id"] for a in accounts) == sorted(DEMO_SUBS)
    run("account", "set", "--subscription", SUB)
    return run


def test_groups_both_ways(az, clients):
    rc = clients.resource(SUB)
    assert sorted(az("group", "list", "--query", "[].name")) == sorted(g.name for g in rc.resource_groups.list())
    az("group", "create", "--name", "rg-from-cli", "--location", "westeurope")
    assert rc.resource_groups.get("rg-from-cli").location == "westeurope"
    rc.resource_groups.create_or_update("rg-from-sdk", {"location": "northeurope"})
    assert "rg-from-sdk" in az("group", "list", "--query", "[].name")
    az("group", "delete", "--name", "rg-from-cli", "--yes")
    assert not rc.resource_groups.check_existence("rg-from-cli")


def test_resources_by_tag_and_tag_update(az, clients):
    rc = clients.resource(SUB)
    site = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web/providers/Microsoft.Web/sites/app-contoso-api-01"
    rc.tags.begin_update_at_scope(site, {"operation": "Merge", "properties": {"tags": {"Intercept": "Managed"}}}).result()
    assert "app-contoso-api-01" in az("resource", "list", "--tag", "Intercept=Managed", "--query", "[].name")
    az("tag", "update", "--resource-id", site, "--operation", "Merge", "--tags", "owner=cli")
    assert rc.tags.get_at_scope(site).properties.tags == {"env": "prod", "Intercept": "Managed", "owner": "cli"}


def test_policy_assignments_both_ways(az, clients):
    scope = f"/subscriptions/{SUB}"
    az("policy", "assignment", "create", "--name", "from-cli", "--policy", "06a78e20-9358-41c9-923c-fb736d382a4d", "--scope", scope)
    pc = clients.policy(SUB)
    assert "from-cli" in [a.name for a in pc.policy_assignments.list()]
    pc.policy_assignments.create(scope, "from-sdk", {"properties": {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c"}})
    assert {"from-cli", "from-sdk"} <= set(az("policy", "assignment", "list", "--query", "[].name"))


def test_defender_pricings_both_ways(az, clients):
    az("security", "pricing", "create", "--name", "VirtualMachines", "--tier", "standard")
    sec = clients.security(SUB)
    assert sec.pricings.get(f"subscriptions/{SUB}", "VirtualMachines").pricing_tier == "Standard"
    sec.pricings.update(f"subscriptions/{SUB}", "KeyVaults", {"pricing_tier": "Standard"})
    tiers = {p["name"]: p["pricingTier"] for p in az("security", "pricing", "list")["value"]}
    assert tiers["KeyVaults"] == "Standard" and tiers["SqlServers"] == "Free"


def test_action_groups_both_ways(az, clients):
    az("monitor", "action-group", "create", "--name", "ag-cli", "--resource-group", "rg-prod-web", "--short-name", "agcli")
    mon = clients.monitor(SUB)
    assert "ag-cli" in [g.name for g in mon.action_groups.list_by_subscription_id()]
    mon.action_groups.create_or_update("rg-prod-data", "ag-sdk", {"location": "Global", "group_short_name": "agsdk", "enabled": True})
    assert {"ag-cli", "ag-sdk"} <= set(az("monitor", "action-group", "list", "--query", "[].name"))


def test_budgets_seen_by_cli(az, clients):
    assert az("consumption", "budget", "list") == []
    budget = {"properties": {"category": "Cost", "amount": 4500, "timeGrain": "Monthly", "timePeriod": {"startDate": "2026-12-01T00:00:00Z", "endDate": "2027-11-30T00:00:00Z"}}}
    clients.consumption(SUB).budgets.create_or_update(f"/subscriptions/{SUB}", "monthly", budget)
    (listed,) = az("consumption", "budget", "list")
    assert listed["name"] == "monthly" and float(listed["amount"]) == 4500
