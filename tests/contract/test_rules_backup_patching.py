"""What Azure refuses in Azure Backup (Microsoft.RecoveryServices) and VM guest patch settings (Microsoft.Compute),
and so does the sandbox; the official examples' requests succeed.

Sources: specification/recoveryservicesbackup/resource-manager/Microsoft.RecoveryServices/stable/2026-10-01 (bms.json,
examples AzureIaasVm/ConfigureProtection.json, ProtectionPolicies_CreateOrUpdate_Simple.json / _Complex.json,
Common/RefreshContainers.json, AzureIaasVm/BackupProtectableItems_List.json, AzureIaasVm/GetBackupStatus.json);
specification/recoveryservices/.../stable/2026-11-01 (PUTVault_WithRedundancySettings.json);
specification/compute/.../virtualMachine.json (patchSettings enums). "Inferred" marks a code not confirmed publicly.
"""

from __future__ import annotations

import pytest

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod-vms"
VAULT = f"{RG}/providers/Microsoft.RecoveryServices/vaults/rsv-contract"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"
DEV_VM = (
    f"/subscriptions/{DEMO_SUBS[1]}/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/vm-contoso-dev-01"
)
B = "api-version=2026-10-01"
V = "api-version=2026-11-01"
C = "api-version=2024-07-01"
CONTAINER = "IaasVMContainer;iaasvmcontainerv2;rg-prod-vms;vm-contoso-app-01"
ITEM = "VM;iaasvmcontainerv2;rg-prod-vms;vm-contoso-app-01"


def simple_policy(time: str = "2026-01-05T02:00:00Z", days: int = 7) -> dict:
    """ProtectionPolicies_CreateOrUpdate_Simple.json, shaped."""
    return {
        "properties": {
            "backupManagementType": "AzureIaasVM",
            "schedulePolicy": {
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": [time],
            },
            "retentionPolicy": {
                "retentionPolicyType": "LongTermRetentionPolicy",
                "dailySchedule": {
                    "retentionTimes": [time],
                    "retentionDuration": {"count": days, "durationType": "Days"},
                },
            },
            "timeZone": "Pacific Standard Time",
        }
    }


def wait(raw, resp) -> None:
    """Poll an operation's Azure-AsyncOperation or Location until it ends."""
    url = resp.headers.get("Azure-AsyncOperation") or resp.headers.get("Location")
    for _ in range(10):
        polled = raw("GET", url)
        if polled.status_code == 200 and (polled.content == b"" or polled.json().get("status") != "InProgress"):
            return
    raise AssertionError("operation never ended")


@pytest.fixture
def vault(raw):
    resp = raw(
        "PUT",
        f"{VAULT}?{V}",
        {
            "location": "westeurope",
            "sku": {"name": "RS0", "tier": "Standard"},
            "properties": {"redundancySettings": {"standardTierStorageRedundancy": "LocallyRedundant"}},
        },
    )
    assert resp.status_code == 201, resp.text
    wait(raw, resp)
    assert raw("PUT", f"{VAULT}/backupPolicies/daily?{B}", simple_policy()).status_code == 200
    return VAULT


def protect(raw, vm: str = VM, container: str = CONTAINER, item: str = ITEM, vault: str = VAULT, policy: str = "daily"):
    body = {
        "properties": {
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "sourceResourceId": vm,
            "policyId": f"{vault}/backupPolicies/{policy}",
        }
    }
    return raw("PUT", f"{vault}/backupFabrics/Azure/protectionContainers/{container}/protectedItems/{item}?{B}", body)


def test_the_example_flow_discovers_and_protects_a_vm(raw, vault):
    """RefreshContainers.json (202 + Location), BackupProtectableItems_List.json, ConfigureProtection.json
    (202 + Azure-AsyncOperation; the item then IRPending), GetBackupStatus.json."""
    assert raw("GET", f"{VAULT}/backupProtectableItems?{B}").json()["value"] == []  # nothing before discovery
    resp = raw("POST", f"{VAULT}/backupFabrics/Azure/refreshContainers?{B}")
    assert resp.status_code == 202 and "Location" in resp.headers
    wait(raw, resp)
    items = raw("GET", f"{VAULT}/backupProtectableItems?{B}&$filter=backupManagementType eq 'AzureIaasVM'").json()[
        "value"
    ]
    assert {i["properties"]["virtualMachineId"] for i in items} >= {VM}
    assert all(i["properties"]["protectionState"] == "NotProtected" for i in items)
    resp = protect(raw)
    assert resp.status_code == 202 and "Azure-AsyncOperation" in resp.headers
    wait(raw, resp)
    got = raw("GET", f"{VAULT}/backupFabrics/Azure/protectionContainers/{CONTAINER}/protectedItems/{ITEM}?{B}").json()
    assert got["properties"]["protectionState"] == "IRPending" and got["properties"]["sourceResourceId"] == VM
    status = raw(
        "POST",
        f"/subscriptions/{SUB}/providers/Microsoft.RecoveryServices/locations/westeurope/backupStatus?{B}",
        {"resourceId": VM, "resourceType": "VM"},
    ).json()
    assert status["protectionStatus"] == "Protected" and status["vaultId"].lower() == VAULT.lower()
    items = raw("GET", f"{VAULT}/backupProtectableItems?{B}").json()["value"]
    assert VM not in {i["properties"]["virtualMachineId"] for i in items}  # protected: no longer protectable


@pytest.mark.parametrize(
    "policy",
    [
        simple_policy(time="2026-01-05T02:15:00Z"),  # not on the hour or half hour
        simple_policy(days=3),  # daily points under 7 days
        simple_policy(days=10000),  # over 9999
    ],
)
def test_a_policy_azure_cannot_run_is_refused(raw, vault, policy):
    """400 BMSUserErrorInvalidPolicyInput, "Input for create or update policy is not in proper format" (quoted in
    Azure/azure-cli#10270; limits from Azure PowerShell PolicyConstants and terraform-provider-azurerm#7792)."""
    refused(raw("PUT", f"{VAULT}/backupPolicies/bad?{B}", policy), 400, "BMSUserErrorInvalidPolicyInput")


def test_a_policy_for_another_workload_is_refused(raw, vault):
    """400 BMSUserErrorInvalidPolicyForGivenProvider (hashicorp/terraform-provider-azurerm#25845)."""
    body = simple_policy()
    body["properties"]["backupManagementType"] = "AzureStorage"
    refused(raw("PUT", f"{VAULT}/backupPolicies/files?{B}", body), 400, "BMSUserErrorInvalidPolicyForGivenProvider")


def test_protection_refusals(raw, vault):
    """Names that do not match the VM, a policy of another vault, a VM in another region, a VM another vault protects:
    400 BMSUserErrorInvalidConfigureProtectionRequest (hashicorp/terraform-provider-azurerm#2207 for malformed input;
    the others' service code is not public: inferred, messages from the az CLI check and
    Azure/terraform-provider-azapi#398)."""
    code = "BMSUserErrorInvalidConfigureProtectionRequest"
    refused(protect(raw, container="IaasVMContainer;iaasvmcontainerv2;rg-prod-vms;other"), 400, code)
    refused(protect(raw, policy="missing"), 400, code)
    north = f"/subscriptions/{SUB}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-north"
    raw(
        "PUT",
        f"{north}?{C}",
        {"location": "northeurope", "properties": {"hardwareProfile": {"vmSize": "Standard_B2s"}}},
    )
    refused(
        protect(
            raw,
            vm=north,
            container="IaasVMContainer;iaasvmcontainerv2;rg-prod-vms;vm-north",
            item="VM;iaasvmcontainerv2;rg-prod-vms;vm-north",
        ),
        400,
        code,
    )
    wait(raw, protect(raw))
    other = f"{RG}/providers/Microsoft.RecoveryServices/vaults/rsv-other"
    wait(raw, raw("PUT", f"{other}?{V}", {"location": "westeurope", "sku": {"name": "RS0", "tier": "Standard"}}))
    assert raw("PUT", f"{other}/backupPolicies/daily?{B}", simple_policy()).status_code == 200
    err = refused(protect(raw, vault=other), 400, code)
    assert "already registered" in err["message"]


def test_redundancy_is_locked_once_an_item_is_protected(raw, vault):
    """400 StorageModelModifyError, "Storage Redundancy option is locked when the first machine is registered with the
    vault" (quoted in hashicorp/terraform-provider-azurerm#8813); before that it may change."""
    geo = {
        "location": "westeurope",
        "sku": {"name": "RS0", "tier": "Standard"},
        "properties": {"redundancySettings": {"standardTierStorageRedundancy": "GeoRedundant"}},
    }
    assert raw("PUT", f"{VAULT}?{V}", geo).status_code == 200
    wait(raw, protect(raw))
    geo["properties"]["redundancySettings"]["standardTierStorageRedundancy"] = "ZoneRedundant"
    refused(raw("PUT", f"{VAULT}?{V}", geo), 400, "StorageModelModifyError")


# ====================================================================== VM guest patch settings
def patch_vm(raw, vm: str, os_profile: dict):
    sub = vm.split("/")[2]
    assert sub
    return raw("PATCH", f"{vm}?{C}", {"properties": {"osProfile": os_profile}})


def test_patch_settings_follow_the_user_schedule_when_valid(raw):
    """VirtualMachine_Create_WindowsVmWithPatchSettingModeOfAutomaticByPlatform... (virtualMachine.json): the PATCH
    merges into osProfile, leaving computerName and the rest."""
    settings = {
        "patchMode": "AutomaticByPlatform",
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {
            "rebootSetting": "IfRequired",
            "bypassPlatformSafetyChecksOnUserSchedule": True,
        },
    }
    resp = patch_vm(raw, VM, {"windowsConfiguration": {"enableAutomaticUpdates": True, "patchSettings": settings}})
    assert resp.status_code == 200, resp.text
    got = resp.json()["properties"]["osProfile"]
    assert got["computerName"] == "vm-contoso-app-" and got["windowsConfiguration"]["provisionVMAgent"] is True
    assert got["windowsConfiguration"]["patchSettings"] == settings


@pytest.mark.parametrize(
    ("vm", "os_profile", "status", "code"),
    [
        (DEV_VM, {"linuxConfiguration": {"patchSettings": {"patchMode": "AutomaticByOS"}}}, 400, "InvalidParameter"),
        (VM, {"windowsConfiguration": {"patchSettings": {"patchMode": "Sometimes"}}}, 400, "InvalidParameter"),
        (
            VM,
            {
                "windowsConfiguration": {
                    "enableAutomaticUpdates": False,
                    "patchSettings": {"patchMode": "AutomaticByPlatform"},
                }
            },
            409,
            "PropertyChangeNotAllowed",
        ),
        (
            VM,
            {
                "windowsConfiguration": {
                    "patchSettings": {
                        "patchMode": "Manual",
                        "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True},
                    }
                }
            },
            400,
            "InvalidParameter",
        ),
        (VM, {"computerName": "renamed"}, 409, "PropertyChangeNotAllowed"),
        (VM, {"windowsConfiguration": {"patchSettings": {"patchMode": "Manual"}}}, 400, "InvalidParameter"),
        (VM, {"windowsConfiguration": {"enableAutomaticUpdates": False}}, 409, "PropertyChangeNotAllowed"),
    ],
)
def test_patch_settings_azure_refuses(raw, vm, os_profile, status, code):
    """patchMode per OS (WindowsVMGuestPatchMode / LinuxVMGuestPatchMode enums, computeRPCommon.json 2024-07-01);
    Manual needs automatic updates off, the Automatic modes on ("The patchMode 'AutomaticByOS' is invalid. For
    patchMode 'AutomaticByOS', the property 'enableAutomaticUpdates' must be set to true.",
    kumarvna/terraform-azurerm-virtual-machine#13); automaticByPlatformSettings only with AutomaticByPlatform
    (Azure/bicep-registry-modules#2081): 400 InvalidParameter; computerName and enableAutomaticUpdates are fixed at
    creation: 409 PropertyChangeNotAllowed (Azure/azure-sdk-for-net#3433, MicrosoftDocs/azure-docs#112633)."""
    refused(patch_vm(raw, vm, os_profile), status, code)
