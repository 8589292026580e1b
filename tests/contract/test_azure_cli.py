"""An independent real client, azure-cli, registered against the sandbox as a custom cloud.

azure-cli is installed by the tests into its own virtual environment (.cache/azcli): its pins clash
with ours. Each command must succeed and see the state our SDK calls made, and the reverse.
"""

from __future__ import annotations

import pytest

from tests.conftest import DEMO_SUBS
from tests.support.azcli import AzCli, ensure_installed

pytestmark = pytest.mark.azcli
SUB = DEMO_SUBS[0]


@pytest.fixture(scope="session")
def az_bin():
    """azure-cli in its own venv (.cache/azcli), installed once and reused across runs."""
    return ensure_installed()


@pytest.fixture
def az(az_bin, sandbox, tmp_path) -> AzCli:
    """az signed in to the sandbox as the runbook's service principal, on the production subscription."""
    cli = AzCli(az_bin, sandbox.conn, tmp_path / "azure-config")
    accounts = cli.login(SUB)
    assert sorted(a["id"] for a in accounts) == sorted(DEMO_SUBS)
    return cli


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
    rc.tags.begin_update_at_scope(
        site, {"operation": "Merge", "properties": {"tags": {"Intercept": "Managed"}}}
    ).result()
    assert "app-contoso-api-01" in az("resource", "list", "--tag", "Intercept=Managed", "--query", "[].name")
    az("tag", "update", "--resource-id", site, "--operation", "Merge", "--tags", "owner=cli")
    assert rc.tags.get_at_scope(site).properties.tags == {"env": "prod", "Intercept": "Managed", "owner": "cli"}


def test_policy_assignments_both_ways(az, clients):
    scope = f"/subscriptions/{SUB}"
    az(
        "policy",
        "assignment",
        "create",
        "--name",
        "from-cli",
        "--policy",
        "06a78e20-9358-41c9-923c-fb736d382a4d",
        "--scope",
        scope,
    )
    pc = clients.policy(SUB)
    assert "from-cli" in [a.name for a in pc.policy_assignments.list()]
    # Allowed locations declares listOfAllowedLocations without a default: Azure refuses the assignment without it
    allowed = {"listOfAllowedLocations": {"value": ["westeurope"]}}
    pc.policy_assignments.create(
        scope,
        "from-sdk",
        {
            "properties": {
                "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c",
                "parameters": allowed,
            }
        },
    )
    assert {"from-cli", "from-sdk"} <= set(az("policy", "assignment", "list", "--query", "[].name"))


def test_defender_pricings_both_ways(az, clients):
    az("security", "pricing", "create", "--name", "VirtualMachines", "--tier", "standard")
    sec = clients.security(SUB)
    assert sec.pricings.get(f"subscriptions/{SUB}", "VirtualMachines").pricing_tier == "Standard"
    sec.pricings.update(f"subscriptions/{SUB}", "KeyVaults", {"pricing_tier": "Standard"})
    tiers = {p["name"]: p["pricingTier"] for p in az("security", "pricing", "list")["value"]}
    assert tiers["KeyVaults"] == "Standard" and tiers["SqlServers"] == "Free"


def test_action_groups_both_ways(az, clients):
    az(
        "monitor",
        "action-group",
        "create",
        "--name",
        "ag-cli",
        "--resource-group",
        "rg-prod-web",
        "--short-name",
        "agcli",
    )
    mon = clients.monitor(SUB)
    assert "ag-cli" in [g.name for g in mon.action_groups.list_by_subscription_id()]
    mon.action_groups.create_or_update(
        "rg-prod-data", "ag-sdk", {"location": "Global", "group_short_name": "agsdk", "enabled": True}
    )
    assert {"ag-cli", "ag-sdk"} <= set(az("monitor", "action-group", "list", "--query", "[].name"))


def test_budgets_seen_by_cli(az, clients):
    assert az("consumption", "budget", "list") == []
    budget = {
        "properties": {
            "category": "Cost",
            "amount": 4500,
            "timeGrain": "Monthly",
            "timePeriod": {"startDate": "2026-12-01T00:00:00Z", "endDate": "2027-11-30T00:00:00Z"},
        }
    }
    clients.consumption(SUB).budgets.create_or_update(f"/subscriptions/{SUB}", "monthly", budget)
    (listed,) = az("consumption", "budget", "list")
    assert listed["name"] == "monthly" and float(listed["amount"]) == 4500


def test_role_assignments_and_definitions_both_ways(az, clients):
    """az role (authorization 2022-04-01 / 2022-05-01-preview, Graph directoryObjects/getByIds for names)."""
    assert az("role", "definition", "list", "--name", "Backup Contributor", "--query", "[].roleName") == [
        "Backup Contributor"
    ]
    user = "ce2ce14e-85d7-4629-bdbc-454d0519d987"
    az(
        "role",
        "assignment",
        "create",
        "--assignee-object-id",
        user,
        "--assignee-principal-type",
        "User",
        "--role",
        "Reader",
        "--scope",
        f"/subscriptions/{SUB}",
    )
    sdk = [
        ra
        for ra in clients.authorization(SUB).role_assignments.list_for_scope(
            f"/subscriptions/{SUB}", filter=f"principalId eq '{user}'"
        )
    ]
    assert [ra.role_definition_id.rsplit("/", 1)[-1] for ra in sdk] == ["acdd72a7-3385-48ef-bd42-f606fba81ae7"]
    listed = az("role", "assignment", "list", "--all", "--query", "[].[roleDefinitionName, principalName]")
    assert ["Reader", "anna.devries@contosodemo.onmicrosoft.com"] in listed
    failed = az.run(
        "role",
        "assignment",
        "create",
        "--assignee-object-id",
        "00000000-0000-0000-0000-0000000000aa",
        "--assignee-principal-type",
        "ServicePrincipal",
        "--role",
        "Reader",
        "--scope",
        f"/subscriptions/{SUB}",
        check=False,
    )
    assert failed.returncode != 0 and "PrincipalNotFound" in failed.stderr


def test_lighthouse_backup_log_analytics_and_predefined_tags(az, clients):
    """az managedservices (2019-06-01), az backup vault (2026-07-01), az monitor log-analytics (2025-02-01),
    az tag create/add-value/list (tagNames, 2024-11-01)."""
    shared = DEMO_SUBS[2]
    offers = az(
        "managedservices",
        "assignment",
        "list",
        "--subscription",
        shared,
        "--include-definition",
        "true",
        "--query",
        "[].properties.registrationDefinition.properties.registrationDefinitionName",
    )
    assert offers == ["Intercept Managed Services"]
    az("backup", "vault", "create", "-g", "rg-prod-vms", "-n", "rsv-cli", "-l", "westeurope")
    assert "rsv-cli" in az("backup", "vault", "list", "--query", "[].name")
    az("monitor", "log-analytics", "workspace", "create", "-g", "rg-prod-vms", "-n", "law-cli", "-l", "westeurope")
    names = [
        r.name
        for r in clients.resource(SUB).resources.list(
            filter="resourceType eq 'Microsoft.OperationalInsights/workspaces'"
        )
    ]
    assert "law-cli" in names
    az("tag", "create", "--name", "costcenter")
    az("tag", "add-value", "--name", "costcenter", "--value", "4100")
    tags = {t["tagName"]: [v["tagValue"] for v in t["values"]] for t in az("tag", "list")}
    assert "4100" in tags["costcenter"] and "prod" in tags["env"]
