"""s3-patching-deployed and s3-backup-deployed against the sandbox: the agreed schedule deployed, read back, a re-run
planning nothing; hostile cases named (a VM another vault protects, a locked resource group) with nothing half-done
left unreported."""

from __future__ import annotations

import pytest
from azure.core.rest import HttpRequest

from runbook.customer import params as P
from runbook.steps.backup import API_BACKUP, BackupDeployed, container_and_item
from runbook.steps.base import Context, execute
from runbook.steps.patching import API_VM, PatchingDeployed
from runbook.steps.tagging import prepare_sheet
from tests.conftest import DEMO_SUBS

PROD = DEMO_SUBS[0]
DEV_VM = (
    f"/subscriptions/{DEMO_SUBS[1]}/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/vm-contoso-dev-01"
)
APP_VM = (
    f"/subscriptions/{PROD}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"
)


def call(clients, sub, method, url, body=None):
    resp = clients.resource(sub).send_request(HttpRequest(method, url, json=body))
    resp.raise_for_status()
    return resp.json() if resp.content else None


@pytest.fixture
def ctx(clients, params_dir):
    context = Context(P.load("demo"), lambda: clients, apply=True, ran_by="test")
    prepare_sheet(context)  # the demo marks every resource managed
    return context


# ====================================================================== patching
def test_patch_windows_and_vm_settings_are_deployed_and_a_rerun_plans_nothing(ctx, clients):
    done = execute(PatchingDeployed(), ctx)
    assert done.status == "fulfilled", (done.summary, done.missing)
    assert "8 managed VM(s) follow the user schedule" in done.summary and "every Sunday at 02:00" in done.summary
    config = call(
        clients,
        PROD,
        "GET",
        f"/subscriptions/{PROD}/resourceGroups/rg-intercept-monitoring/providers/Microsoft.Maintenance/maintenanceConfigurations/intercept-patch-default?api-version=2023-04-01",
    )
    window = config["properties"]["maintenanceWindow"]
    assert (window["duration"], window["timeZone"], window["recurEvery"]) == (
        "03:00",
        "W. Europe Standard Time",
        "Week Sunday",
    )
    scope = call(
        clients,
        PROD,
        "GET",
        f"/subscriptions/{PROD}/providers/Microsoft.Maintenance/configurationAssignments/intercept-patch-default?api-version=2023-04-01",
    )
    assert scope["properties"]["filter"]["tagSettings"]["tags"] == {"Intercept": ["Managed"]}
    linux = call(clients, DEMO_SUBS[1], "GET", f"{DEV_VM}?api-version={API_VM}")["properties"]["osProfile"]
    ps = linux["linuxConfiguration"]["patchSettings"]
    assert (
        ps["patchMode"] == "AutomaticByPlatform"
        and ps["automaticByPlatformSettings"]["bypassPlatformSafetyChecksOnUserSchedule"]
    )
    assert linux["computerName"] == "vm-contoso-dev-01"  # the PATCH left the rest of the VM as it was
    windows = call(clients, PROD, "GET", f"{APP_VM}?api-version={API_VM}")["properties"]["osProfile"][
        "windowsConfiguration"
    ]
    assert windows["patchSettings"]["assessmentMode"] == "AutomaticByPlatform" and windows["enableAutomaticUpdates"]
    again = execute(PatchingDeployed(), ctx)
    assert again.status == "fulfilled" and again.planned == []


def test_several_windows_each_scope_the_vms_tagged_for_it(ctx, clients, params_dir):
    text = (
        (params_dir / "demo.yml")
        .read_text()
        .replace(
            'patching: {day: Sunday, start: "02:00", duration_hours: 3}',
            "patching: {tag_key: PatchWindow, windows: [{name: sun, days: [Sunday], tag_value: sun}, "
            "{name: wed, days: [Wednesday], start: '22:00', duration_hours: 2, tag_value: wed, reboot: Never}]}",
        )
    )
    (params_dir / "demo.yml").write_text(text)
    ctx.params = P.load("demo")
    done = execute(PatchingDeployed(), ctx)
    assert done.status == "fulfilled", (done.summary, done.missing)
    wed = call(
        clients,
        PROD,
        "GET",
        f"/subscriptions/{PROD}/providers/Microsoft.Maintenance/configurationAssignments/intercept-patch-wed?api-version=2023-04-01",
    )
    assert wed["properties"]["filter"]["tagSettings"]["tags"] == {"PatchWindow": ["wed"]}
    rows = [r for r in done.observed if r["kind"] == "agreed window"]
    assert [r["name"] for r in rows] == ["sun", "wed"] and "reboot Never" in rows[1]["state"]


def test_a_vm_whose_patch_settings_azure_refuses_is_named(ctx, clients, sandbox):
    """A VM created with automatic updates off (patch mode Manual): enableAutomaticUpdates is fixed at creation, and
    AutomaticByPlatform needs it on, so Azure refuses; the item names the VM and Azure's reason, and the others are
    set."""
    vm = sandbox.state.get(APP_VM)
    vm["properties"]["osProfile"]["windowsConfiguration"].update(
        enableAutomaticUpdates=False, patchSettings={"patchMode": "Manual", "assessmentMode": "ImageDefault"}
    )
    done = execute(PatchingDeployed(), ctx)
    assert done.status == "failed"
    named = next(m for m in done.missing if "vm-contoso-app-01" in m)
    assert "InvalidParameter" in named and "enableAutomaticUpdates" in named
    assert sum(1 for c in done.applied if c.detail["kind"] == "VM patch settings") == 7


# ====================================================================== backup
def test_every_managed_vm_is_protected_by_the_agreed_policy_and_a_rerun_plans_nothing(ctx, clients):
    done = execute(BackupDeployed(), ctx)
    assert done.status == "fulfilled", (done.summary, done.missing)
    assert "8 managed VM(s) protected" in done.summary
    vault = f"/subscriptions/{PROD}/resourceGroups/rg-intercept-monitoring/providers/Microsoft.RecoveryServices/vaults/rsv-intercept-westeurope"
    policy = call(clients, PROD, "GET", f"{vault}/backupPolicies/intercept-vm?api-version={API_BACKUP}")["properties"]
    assert policy["schedulePolicy"]["scheduleRunTimes"] == ["2026-01-05T23:00:00Z"]
    assert policy["retentionPolicy"]["dailySchedule"]["retentionDuration"] == {"count": 30, "durationType": "Days"}
    assert policy["timeZone"] == "W. Europe Standard Time" and policy["protectedItemsCount"] == 5
    status = call(
        clients,
        PROD,
        "POST",
        f"/subscriptions/{PROD}/providers/Microsoft.RecoveryServices/locations/westeurope/backupStatus?api-version={API_BACKUP}",
        {"resourceId": APP_VM, "resourceType": "VM"},
    )
    assert status["protectionStatus"] == "Protected" and status["vaultId"].lower() == vault.lower()
    again = execute(BackupDeployed(), ctx)
    assert again.status == "fulfilled" and again.planned == []


def test_a_vm_another_vault_protects_is_named_not_moved(ctx, clients):
    """The customer's own vault protects one VM: the item stays open naming it; the others are protected."""
    rg = f"/subscriptions/{PROD}/resourceGroups/rg-prod-vms"
    theirs = f"{rg}/providers/Microsoft.RecoveryServices/vaults/rsv-contoso"
    clients.resource(PROD).resources.begin_create_or_update_by_id(
        theirs, {"location": "westeurope", "sku": {"name": "RS0", "tier": "Standard"}}, api_version="2026-11-01"
    ).result()
    body = {
        "properties": {
            "backupManagementType": "AzureIaasVM",
            "schedulePolicy": {
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": ["2026-01-05T20:00:00Z"],
            },
            "retentionPolicy": {
                "retentionPolicyType": "LongTermRetentionPolicy",
                "dailySchedule": {
                    "retentionTimes": ["2026-01-05T20:00:00Z"],
                    "retentionDuration": {"count": 7, "durationType": "Days"},
                },
            },
            "timeZone": "UTC",
        }
    }
    call(clients, PROD, "PUT", f"{theirs}/backupPolicies/theirs?api-version={API_BACKUP}", body)
    container, item = container_and_item(APP_VM)
    clients.resource(PROD).resources.begin_create_or_update_by_id(
        f"{theirs}/backupFabrics/Azure/protectionContainers/{container}/protectedItems/{item}",
        {
            "properties": {
                "protectedItemType": "Microsoft.Compute/virtualMachines",
                "sourceResourceId": APP_VM,
                "policyId": f"{theirs}/backupPolicies/theirs",
            }
        },
        api_version=API_BACKUP,
    ).result()
    done = execute(BackupDeployed(), ctx)
    assert done.status == "open", done.summary
    assert "7 managed VM(s) protected" in done.summary and "1 VM(s) are protected elsewhere" in done.summary
    assert any(APP_VM in m and "rsv-contoso" in m and "not moved" in m for m in done.missing)
    again = execute(BackupDeployed(), ctx)
    assert again.planned == [] and again.status == "open"


def test_a_locked_resource_group_is_named_and_nothing_is_left_unreported(ctx, clients):
    """A ReadOnly lock on the MSP resource group of production: its vault cannot be written (409 ScopeLocked), the
    other subscription is done, and every refused change is named."""
    rg = f"/subscriptions/{PROD}/resourceGroups/rg-intercept-monitoring"
    call(clients, PROD, "PUT", f"{rg}?api-version=2021-04-01", {"location": "westeurope"})
    call(
        clients,
        PROD,
        "PUT",
        f"{rg}/providers/Microsoft.Authorization/locks/freeze?api-version=2020-05-01",
        {"properties": {"level": "ReadOnly"}},
    )
    done = execute(BackupDeployed(), ctx)
    assert done.status == "failed"
    assert "ScopeLocked" in done.summary
    assert any("rsv-intercept-westeurope" in m and "ScopeLocked" in m for m in done.missing)
    applied = {c.target.split("/")[2] for c in done.applied}
    assert DEMO_SUBS[1] in applied  # the other subscription went on, and what was done is on the record
    dev = execute(BackupDeployed(), Context(ctx.params, lambda: clients, apply=False, ran_by="test"))
    assert all(c.target.split("/")[2] == PROD for c in dev.planned)  # only the locked one is left
