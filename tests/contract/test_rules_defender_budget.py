"""What Azure refuses in Defender for Cloud pricings, Advisor configurations, budgets and maintenance configurations.

Each negative test sends a request Azure refuses and checks the status and error code the sandbox answers; its
docstring names the source (a spec file in Azure/azure-rest-api-specs, a docs page, or a public issue quoting Azure's
answer). Where Azure's code could not be confirmed, the docstring says "inferred". Positive tests send requests shaped
like the official examples, which must succeed.
"""

from __future__ import annotations

import pytest

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
SUB_ID = f"/subscriptions/{SUB}"
RG = f"{SUB_ID}/resourceGroups/rg-prod-web"
VM = f"{SUB_ID}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/stcontosoprodweb"
AG = f"{RG}/providers/Microsoft.Insights/actionGroups/ag-finops"
SEC_API = "api-version=2024-01-01"
PRICINGS = f"{SUB_ID}/providers/Microsoft.Security/pricings"
ADV_API = "api-version=2023-01-01"
ADV_SUB = f"{SUB_ID}/providers/Microsoft.Advisor/configurations"
ADV_RG = f"{RG}/providers/Microsoft.Advisor/configurations"
BUD_API = "api-version=2024-08-01"
BUDGETS = f"{SUB_ID}/providers/Microsoft.Consumption/budgets"
MNT_API = "api-version=2023-04-01"
CONFIGS = f"{RG}/providers/Microsoft.Maintenance/maintenanceConfigurations"
ASSIGN = "providers/Microsoft.Maintenance/configurationAssignments"
PRICINGS_SPEC = "specification/security/resource-manager/Microsoft.Security/stable/2024-01-01/pricings.json"


@pytest.fixture
def action_group(raw) -> str:
    """An action group in rg-prod-web (for digests and budget contact groups)."""
    body = {"location": "Global", "properties": {"groupShortName": "finops", "enabled": True}}
    assert raw("PUT", f"{AG}?api-version=2023-01-01", body).status_code in (200, 201)
    return AG


# ====================================================================== Defender for Cloud pricings
def put_pricing(raw, plan: str, props: dict, scope: str = SUB_ID):
    """PUT a pricing at a scope."""
    return raw("PUT", f"{scope}/providers/Microsoft.Security/pricings/{plan}?{SEC_API}", {"properties": props})


def test_pricings_shaped_like_the_examples_succeed(raw):
    """examples/Pricings/PutPricingVMsByName_example.json, PutPricingByName_example.json (CloudPosture),
    ListPricings_example.json (StorageAccounts DefenderForStorageV2 with OnUploadMalwareScanning and
    SensitiveDataDiscovery, KeyVaults PerKeyVault, Arm PerSubscription, Api P1)."""
    vms = put_pricing(
        raw,
        "VirtualMachines",
        {
            "pricingTier": "Standard",
            "subPlan": "P2",
            "enforce": "True",
            "extensions": [
                {"name": "AgentlessVmScanning", "isEnabled": "True"},
                {"name": "MdeDesignatedSubscription", "isEnabled": "False"},
            ],
        },
    )
    assert vms.status_code == 200, vms.text
    assert vms.json()["properties"]["subPlan"] == "P2" and vms.json()["properties"]["enforce"] == "True"
    assert (
        put_pricing(
            raw,
            "CloudPosture",
            {
                "pricingTier": "Standard",
                "extensions": [
                    {"name": "SensitiveDataDiscovery", "isEnabled": "True"},
                    {"name": "ContainerRegistriesVulnerabilityAssessments", "isEnabled": "True"},
                    {"name": "AgentlessDiscoveryForKubernetes", "isEnabled": "True"},
                    {
                        "name": "AgentlessVmScanning",
                        "isEnabled": "True",
                        "additionalExtensionProperties": {"ExclusionTags": "[]"},
                    },
                    {"name": "EntraPermissionsManagement", "isEnabled": "True"},
                ],
            },
        ).status_code
        == 200
    )
    malware = {
        "name": "OnUploadMalwareScanning",
        "isEnabled": "True",
        "additionalExtensionProperties": {"capGBPerMonthPerStorageAccount": 10},
    }
    storage = put_pricing(
        raw,
        "StorageAccounts",
        {
            "pricingTier": "Standard",
            "subPlan": "DefenderForStorageV2",
            "extensions": [malware, {"name": "SensitiveDataDiscovery", "isEnabled": "True"}],
        },
    )
    assert storage.status_code == 200, storage.text
    for plan, sub_plan in (
        ("KeyVaults", "PerKeyVault"),
        ("Arm", "PerSubscription"),
        ("Arm", "PerApiCall"),
        ("Api", "P1"),
        ("Api", "P5"),
        ("StorageAccounts", "PerTransaction"),
    ):
        assert put_pricing(raw, plan, {"pricingTier": "Standard", "subPlan": sub_plan}).status_code == 200, plan
    listed = {p["name"]: p["properties"] for p in raw("GET", f"{PRICINGS}?{SEC_API}").json()["value"]}
    assert {
        "VirtualMachines",
        "SqlServers",
        "AppServices",
        "StorageAccounts",
        "SqlServerVirtualMachines",
        "KubernetesService",
        "ContainerRegistry",
        "KeyVaults",
        "Dns",
        "Arm",
        "OpenSourceRelationalDatabases",
        "Containers",
        "CloudPosture",
        "Api",
    } <= set(listed)
    assert listed["KubernetesService"]["deprecated"] is True
    assert listed["KubernetesService"]["replacedBy"] == ["Containers"]
    assert listed["VirtualMachines"]["resourcesCoverageStatus"] == "FullyCovered"
    assert listed["SqlServers"]["pricingTier"] == "Free" and "freeTrialRemainingTime" in listed["SqlServers"]


def test_unknown_plan_name_is_refused(raw):
    """Azure's message, Azure/azure-powershell#10842 and MicrosoftDocs/azure-docs#49667: "The name 'default' is not a
    valid name. Possible pricing bundle names: VirtualMachines, ..."; code InvalidResourceName as Azure/ResourceModules#453
    shows it."""
    err = refused(put_pricing(raw, "default", {"pricingTier": "Standard"}), 400, "InvalidResourceName")
    assert "Possible pricing bundle names" in err["message"] and "VirtualMachines" in err["message"]
    refused(raw("GET", f"{PRICINGS}/Servers?{SEC_API}"), 400, "InvalidResourceName")


@pytest.mark.parametrize(
    "plan,sub_plan",
    [
        ("VirtualMachines", "P3"),
        ("KeyVaults", "P1"),
        ("Api", "P6"),
        ("Arm", "PerTransaction"),
        ("SqlServers", "P1"),
        ("CloudPosture", "P2"),
    ],
)
def test_sub_plan_outside_the_plan_is_refused(raw, plan, sub_plan):
    """pricings.json PricingProperties.subPlan ("For VirtualMachines plan, available sub plans are 'P1' & 'P2'");
    the other plans' sub-plans per ListPricings_example.json and Azure/azure-rest-api-specs#20473 (storage), Api P1..P5
    (Azure/Microsoft-Defender-for-Cloud#1044). Code inferred."""
    err = refused(put_pricing(raw, plan, {"pricingTier": "Standard", "subPlan": sub_plan}), 400, "BadRequest")
    assert sub_plan in err["message"]


@pytest.mark.parametrize(
    "plan,sub_plan,extension",
    [
        ("SqlServers", None, "OnUploadMalwareScanning"),
        ("VirtualMachines", "P2", "SensitiveDataDiscovery"),
        ("KeyVaults", "PerKeyVault", "AgentlessVmScanning"),
        ("CloudPosture", None, "ContainerSensor"),
    ],
)
def test_extension_of_another_plan_is_refused(raw, plan, sub_plan, extension):
    """pricings.json Extension.name lists each extension with the plans it is "Available for"; InvalidInputJson as
    Azure answers an extension the plan lacks (Azure/Azure-Landing-Zones#822)."""
    props = {"pricingTier": "Standard", "extensions": [{"name": extension, "isEnabled": "True"}]}
    if sub_plan:
        props["subPlan"] = sub_plan
    refused(put_pricing(raw, plan, props), 400, "InvalidInputJson")


@pytest.mark.parametrize(
    "plan,sub_plan,extension",
    [
        ("StorageAccounts", "PerTransaction", "OnUploadMalwareScanning"),
        ("StorageAccounts", "PerTransaction", "SensitiveDataDiscovery"),
        ("VirtualMachines", "P1", "AgentlessVmScanning"),
        ("VirtualMachines", "P1", "FileIntegrityMonitoring"),
    ],
)
def test_extension_of_another_sub_plan_is_refused(raw, plan, sub_plan, extension):
    """pricings.json Extension.name: OnUploadMalwareScanning / SensitiveDataDiscovery "Available for StorageAccounts
    plan (DefenderForStorageV2 sub plan)"; AgentlessVmScanning / FileIntegrityMonitoring for "VirtualMachines plan
    (P2 sub plan)"; InvalidInputJson as Azure/Azure-Landing-Zones#822 shows for AgentlessVmScanning on P1."""
    props = {"pricingTier": "Standard", "subPlan": sub_plan, "extensions": [{"name": extension, "isEnabled": "True"}]}
    refused(put_pricing(raw, plan, props), 400, "InvalidInputJson")


def test_schema_refuses_tier_and_extension_shape(raw):
    """pricings.json: pricingTier enum Free|Standard (required); Extension requires name and isEnabled."""
    refused(put_pricing(raw, "VirtualMachines", {"pricingTier": "Premium"}), 400, "InvalidInputJson")
    refused(put_pricing(raw, "VirtualMachines", {"subPlan": "P1"}), 400, "InvalidInputJson")
    refused(
        put_pricing(raw, "CloudPosture", {"pricingTier": "Standard", "extensions": [{"name": "ApiPosture"}]}),
        400,
        "InvalidInputJson",
    )


def test_resource_level_pricing_for_a_vm(raw):
    """PutResourcePricingByNameVirtualMachines_example.json (P1 on a VM: inherited "False"),
    GetResourcePricingByNameVirtualMachines_example.json (inherited from the subscription), DeleteResourcePricing
    (200, then 204 "Pricing does not exist"); subscription coverage becomes PartiallyCovered."""
    assert put_pricing(raw, "VirtualMachines", {"pricingTier": "Standard", "subPlan": "P2"}).status_code == 200
    inherited = raw("GET", f"{VM}/providers/Microsoft.Security/pricings/VirtualMachines?{SEC_API}").json()["properties"]
    assert inherited["inherited"] == "True" and inherited["inheritedFrom"] == SUB_ID
    own = put_pricing(raw, "VirtualMachines", {"pricingTier": "Free"}, VM)
    assert own.status_code == 200 and own.json()["properties"]["inherited"] == "False", own.text
    sub = raw("GET", f"{PRICINGS}/VirtualMachines?{SEC_API}").json()["properties"]
    assert sub["resourcesCoverageStatus"] == "PartiallyCovered"
    assert put_pricing(raw, "VirtualMachines", {"pricingTier": "Standard", "subPlan": "P1"}, VM).status_code == 200
    listed = raw("GET", f"{VM}/providers/Microsoft.Security/pricings?{SEC_API}").json()["value"]
    assert [p["name"] for p in listed] == ["VirtualMachines"]
    url = f"{VM}/providers/Microsoft.Security/pricings/VirtualMachines?{SEC_API}"
    assert raw("DELETE", url).status_code == 200
    assert raw("DELETE", url).status_code == 204


def test_resource_level_pricing_outside_vms_is_refused(raw):
    """pricings.json Pricings_Update: "Valid scopes are: subscription id or a specific resource id (Supported resources
    are: 'VirtualMachines, VMSS and ARC Machines' and only for plan='VirtualMachines' and subPlan='P1')"; enforce "is
    only available for subscription-level pricing". Codes inferred."""
    refused(put_pricing(raw, "StorageAccounts", {"pricingTier": "Standard"}, STORAGE), 400, "BadRequest")
    refused(
        put_pricing(raw, "VirtualMachines", {"pricingTier": "Standard", "subPlan": "P1"}, STORAGE), 400, "BadRequest"
    )
    refused(put_pricing(raw, "VirtualMachines", {"pricingTier": "Standard", "subPlan": "P2"}, VM), 400, "BadRequest")
    refused(
        put_pricing(raw, "VirtualMachines", {"pricingTier": "Standard", "subPlan": "P1", "enforce": "True"}, VM),
        400,
        "BadRequest",
    )
    refused(put_pricing(raw, "KeyVaults", {"pricingTier": "Standard"}, RG), 400, "BadRequest")
    missing = VM.replace("vm-contoso-app-01", "vm-nope")
    refused(put_pricing(raw, "VirtualMachines", {"pricingTier": "Free"}, missing), 404, "ResourceNotFound")


def test_delete_is_only_for_resource_scope(raw):
    """pricings.json Pricings_Delete: "Valid only for resource scope". Code inferred."""
    refused(raw("DELETE", f"{PRICINGS}/VirtualMachines?{SEC_API}"), 400, "BadRequest")


def test_enforced_subscription_pricing_blocks_resource_overrides(raw):
    """pricings.json PricingProperties.enforce: "True" "prevents overrides and forces this pricing configuration on all
    the descendants of this scope". Code inferred (409 Conflict)."""
    assert (
        put_pricing(raw, "VirtualMachines", {"pricingTier": "Standard", "subPlan": "P2", "enforce": "True"}).status_code
        == 200
    )
    refused(put_pricing(raw, "VirtualMachines", {"pricingTier": "Free"}, VM), 409, "Conflict")
    got = raw("GET", f"{VM}/providers/Microsoft.Security/pricings/VirtualMachines?{SEC_API}").json()["properties"]
    assert got["inherited"] == "True" and got["pricingTier"] == "Standard"


# ====================================================================== Advisor configurations
def digest(**overrides) -> dict:
    """A digest as in advisor 2023-01-01 examples/CreateConfiguration.json."""
    base = {
        "name": "digestConfigName",
        "actionGroupResourceId": AG,
        "frequency": 30,
        "categories": ["HighAvailability", "Security", "Performance", "Cost", "OperationalExcellence"],
        "language": "en",
        "state": "Active",
    }
    return {**base, **overrides}


def test_advisor_configuration_like_the_example(raw, action_group):
    """advisor.json 2023-01-01 examples/CreateConfiguration.json (200 with the configuration)."""
    body = {"properties": {"exclude": True, "lowCpuThreshold": "5", "digests": [digest()]}}
    resp = raw("PUT", f"{ADV_SUB}/default?{ADV_API}", body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["properties"]["digests"][0]["frequency"] == 30
    assert (
        raw(
            "PUT",
            f"{ADV_SUB}/default?api-version=2020-01-01",
            {"properties": {"lowCpuThreshold": "20", "duration": "14"}},
        ).status_code
        == 200
    )


def test_advisor_configuration_name_must_be_default(raw):
    """advisor.json: configurationName "Value must be 'default'" (enum ConfigurationName). Code inferred."""
    refused(raw("PUT", f"{ADV_SUB}/custom?{ADV_API}", {"properties": {"exclude": False}}), 400, "BadRequest")
    refused(raw("PUT", f"{ADV_RG}/mine?{ADV_API}", {"properties": {"exclude": False}}), 400, "BadRequest")


def test_advisor_enums(raw, action_group):
    """advisor.json ConfigDataProperties: lowCpuThreshold 5|10|15|20 (no 100 in 2020-01-01/2023-01-01); DigestConfig
    categories and state enums (schema -> InvalidRequestContent); duration 7|14|21|30|60|90 (code inferred)."""
    for props in (
        {"lowCpuThreshold": "100"},
        {"lowCpuThreshold": "7"},
        {"digests": [digest(categories=["Reliability"])]},
        {"digests": [digest(state="On")]},
    ):
        refused(raw("PUT", f"{ADV_SUB}/default?{ADV_API}", {"properties": props}), 400, "InvalidRequestContent")
    refused(raw("PUT", f"{ADV_SUB}/default?{ADV_API}", {"properties": {"duration": "8"}}), 400, "BadRequest")


def test_advisor_digest_rules(raw, action_group):
    """advisor.json DigestConfig: frequency "between 7 and 30 days inclusive"; name "must be unique within a
    subscription"; actionGroupResourceId "Action group resource id used by digest" (must exist). Codes inferred."""
    for digests in (
        [digest(frequency=6)],
        [digest(frequency=31)],
        [digest(), digest(name="DIGESTCONFIGNAME")],
        [digest(actionGroupResourceId=AG.replace("ag-finops", "ag-missing"))],
        [digest(actionGroupResourceId=STORAGE)],
    ):
        refused(raw("PUT", f"{ADV_SUB}/default?{ADV_API}", {"properties": {"digests": digests}}), 400, "BadRequest")


def test_advisor_subscription_only_properties_refused_on_groups(raw, action_group):
    """advisor.json: lowCpuThreshold, duration and digests are "Valid only for subscriptions". Code inferred."""
    for props in ({"lowCpuThreshold": "10"}, {"duration": "30"}, {"digests": [digest()]}):
        refused(raw("PUT", f"{ADV_RG}/default?{ADV_API}", {"properties": props}), 400, "BadRequest")


def test_advisor_subscription_write_deletes_group_configurations(raw):
    """advisor.json Configurations_CreateInSubscription: "Create/Overwrite Azure Advisor configuration and also delete
    all configurations of contained resource groups"; Configurations_ListBySubscription: "also retrieve configurations
    of contained resource groups"."""
    assert raw("PUT", f"{ADV_RG}/default?{ADV_API}", {"properties": {"exclude": True}}).status_code == 200
    listed = raw("GET", f"{ADV_SUB}?{ADV_API}").json()["value"]
    assert sorted(c["id"] for c in listed) == sorted([f"{ADV_SUB}/default", f"{ADV_RG}/default"])
    group_list = raw("GET", f"{ADV_RG}?{ADV_API}").json()["value"]
    assert [c["properties"]["exclude"] for c in group_list] == [True]
    assert raw("PUT", f"{ADV_SUB}/default?{ADV_API}", {"properties": {"lowCpuThreshold": "10"}}).status_code == 200
    listed = raw("GET", f"{ADV_SUB}?{ADV_API}").json()["value"]
    assert [c["id"] for c in listed] == [f"{ADV_SUB}/default"]
    assert raw("GET", f"{ADV_RG}?{ADV_API}").json()["value"][0]["properties"]["exclude"] is False


# ====================================================================== Budgets
def budget(**props) -> dict:
    """A budget body shaped like consumption 2024-08-01 examples (CreateOrUpdateBudget)."""
    base = {
        "category": "Cost",
        "amount": 100.65,
        "timeGrain": "Monthly",
        "timePeriod": {"startDate": "2026-12-01T00:00:00Z", "endDate": "2027-10-31T00:00:00Z"},
        "notifications": {
            "Actual_GreaterThan_80_Percent": {
                "enabled": True,
                "operator": "GreaterThan",
                "threshold": 80,
                "locale": "en-us",
                "contactEmails": ["johndoe@contoso.com", "janesmith@contoso.com"],
                "contactRoles": ["Contributor", "Reader"],
                "thresholdType": "Actual",
            }
        },
    }
    return {"properties": {**base, **props}}


def note(**fields) -> dict:
    """One notification."""
    return {"enabled": True, "operator": "GreaterThan", "threshold": 80, "contactEmails": ["a@contoso.com"], **fields}


def test_budget_like_the_example(raw, action_group):
    """consumption 2024-08-01 CreateOrUpdateBudget example: 201 with an eTag, then 200; contact groups (action group
    IDs) and Forecasted thresholds accepted; contactGroups alone suffice at subscription scope
    (Notification.contactEmails description)."""
    body = budget(
        notifications={
            "Actual_GreaterThan_80_Percent": note(contactGroups=[action_group]),
            "Forecasted_100": note(
                thresholdType="Forecasted", threshold=100, contactEmails=[], contactGroups=[action_group]
            ),
        }
    )
    created = raw("PUT", f"{BUDGETS}/TestBudget?{BUD_API}", body)
    assert created.status_code == 201, created.text
    assert created.json()["eTag"] and created.json()["properties"]["currentSpend"]["amount"] == 0.0
    assert raw("PUT", f"{BUDGETS}/TestBudget?{BUD_API}", body).status_code == 200  # no eTag: overwrite
    no_end = budget(timePeriod={"startDate": "2026-12-01T00:00:00Z"})
    got = raw("PUT", f"{BUDGETS}/NoEnd?{BUD_API}", no_end).json()
    assert got["properties"]["timePeriod"]["endDate"].startswith("2036-12-01")  # "10 years from the start date"


@pytest.mark.parametrize(
    "props,why",
    [
        ({"timePeriod": {"startDate": "2026-12-15T00:00:00Z"}}, "start date must be first of the month"),
        ({"timePeriod": {"startDate": "2017-05-01T00:00:00Z"}}, "on or after June 1, 2017"),
        ({"timePeriod": {"startDate": "2026-12-01T00:00:00Z", "endDate": "2026-11-30T00:00:00Z"}}, "less than the end"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
    ],
)
def test_budget_dates_and_amount(raw, props, why):
    """consumption.json 2024-08-01 BudgetTimePeriod: "The start date must be first of the month and should be less
    than the end date. Budget start date must be on or after June 1, 2017." Amount > 0: inferred. The Consumption RP
    answers with code "400" (MicrosoftDocs/azure-docs#34023, Azure/CanadaPubSecALZ#317)."""
    refused(raw("PUT", f"{BUDGETS}/b?{BUD_API}", budget(**props)), 400, "400")


@pytest.mark.parametrize(
    "notifications",
    [
        {f"n{i}": note(threshold=10 * (i + 1)) for i in range(6)},
        {"n": note(threshold=1001)},
        {"n": note(threshold=-1)},
        {"n": note(contactEmails=[])},
        {"n": note(operator="LessThan")},
        {"n": note(thresholdType="Predicted")},
        {"n": note(locale="xx-xx")},
        {"n": note(contactGroups=["ag-finops"])},
        {"n": {"enabled": True, "threshold": 80, "contactEmails": ["a@contoso.com"]}},
    ],
)
def test_budget_notifications(raw, notifications):
    """consumption.json 2024-08-01: "Budget can have up to five notifications"; threshold "has to be between 0 and
    1000"; "Must have at least one contact email or contact group"; contactGroups "fully qualified Azure resource id";
    operator EqualTo|GreaterThan|GreaterThanOrEqualTo, thresholdType Actual|Forecasted, locale enum, operator
    required. Code "400" as the RP answers (see test_budget_dates_and_amount)."""
    refused(raw("PUT", f"{BUDGETS}/b?{BUD_API}", budget(notifications=notifications)), 400, "400")


def test_budget_schema(raw):
    """consumption.json 2024-08-01 BudgetProperties: timeGrain Monthly|Quarterly|Annually|BillingMonth|BillingQuarter|
    BillingAnnual, category Cost, amount and timePeriod required."""
    for props in ({"timeGrain": "Weekly"}, {"category": "Usage"}, {"timePeriod": None}):
        refused(raw("PUT", f"{BUDGETS}/b?{BUD_API}", budget(**props)), 400, "400")


def test_budget_etag_and_start_date(raw):
    """Budgets_CreateOrUpdate: "You can optionally provide an eTag if desired as a form of concurrency control" - a
    stale eTag: 400 "There are changes made to Budget {name}. Please get the latest budget to avoid overwrite."
    (MicrosoftDocs/azure-docs#34023, code "400"); "Start date of budgets cannot be updated. Please delete and create a
    new budget." (Azure/CanadaPubSecALZ#317; jpsnover/ai-triad-research#1697 "400: ...")."""
    first = raw("PUT", f"{BUDGETS}/b?{BUD_API}", budget()).json()
    current = {**budget(), "eTag": first["eTag"]}
    second = raw("PUT", f"{BUDGETS}/b?{BUD_API}", current)
    assert second.status_code == 200 and second.json()["eTag"] != first["eTag"]
    err = refused(raw("PUT", f"{BUDGETS}/b?{BUD_API}", current), 400, "400")
    assert "There are changes made to Budget b" in err["message"]
    fresh = {**budget(), "eTag": raw("GET", f"{BUDGETS}/b?{BUD_API}").json()["eTag"]}
    assert raw("PUT", f"{BUDGETS}/b?{BUD_API}", fresh).status_code == 200
    moved = budget(timePeriod={"startDate": "2027-01-01T00:00:00Z", "endDate": "2027-10-31T00:00:00Z"})
    err = refused(raw("PUT", f"{BUDGETS}/b?{BUD_API}", moved), 400, "400")
    assert "Start date of budgets cannot be updated" in err["message"]


# ====================================================================== Maintenance configurations
def guest_patch(**window) -> dict:
    """An InGuestPatch configuration shaped like MaintenanceConfigurations_GetForResource_GuestOSPatchWindows.json."""
    win = {
        "startDateTime": "2026-12-06 02:00",
        "expirationDateTime": "9999-12-31 00:00",
        "duration": "03:55",
        "timeZone": "Pacific Standard Time",
        "recurEvery": "5Days",
        **window,
    }
    return {
        "location": "westeurope",
        "properties": {
            "namespace": "Microsoft.Maintenance",
            "maintenanceScope": "InGuestPatch",
            "visibility": "Custom",
            "extensionProperties": {"InGuestPatchMode": "User"},
            "maintenanceWindow": win,
            "installPatches": {
                "rebootSetting": "Always",
                "windowsParameters": {
                    "classificationsToInclude": ["Security"],
                    "kbNumbersToInclude": ["KB123456"],
                    "kbNumbersToExclude": ["KB234567"],
                    "excludeKbsRequiringReboot": False,
                },
                "linuxParameters": {"classificationsToInclude": ["Critical", "Security"]},
            },
        },
    }


def put_config(raw, body: dict, name: str = "configuration1"):
    """PUT a maintenance configuration in rg-prod-web."""
    return raw("PUT", f"{CONFIGS}/{name}?{MNT_API}", body)


def test_maintenance_configuration_like_the_example(raw):
    """Maintenance.json 2023-04-01 MaintenanceConfigurations_CreateOrUpdateForResource / GetForResource_GuestOSPatch*
    (200). The example's 05:00 duration is above the documented InGuestPatch limit, so 03:55 is used."""
    resp = put_config(raw, guest_patch())
    assert resp.status_code == 200, resp.text
    assert resp.json()["properties"]["maintenanceWindow"]["recurEvery"] == "5Days"
    for recur in (
        "Day",
        "3Days",
        "Week",
        "3Weeks",
        "Week Saturday,Sunday",
        "Month",
        "2Months",
        "Month day23,day24",
        "Month Last Sunday",
        "Month Fourth Monday",
        "Month Last Sunday Offset-3",
        "Month Third Sunday Offset6",
        "Month Second Tuesday",
        "1Week Sunday",
    ):
        assert put_config(raw, guest_patch(recurEvery=recur)).status_code == 200, recur
    for zone in ("UTC", "W. Europe Standard Time", "Korea Standard Time", "Cen. Australia Standard Time"):
        assert put_config(raw, guest_patch(timeZone=zone)).status_code == 200, zone
    host = {"location": "westeurope", "properties": {"maintenanceScope": "Host"}}
    assert put_config(raw, host, "host").status_code == 200


def test_maintenance_scope_and_reboot_enums(raw):
    """Maintenance.json: maintenanceScope Host|Resource|OSImage|Extension|InGuestPatch|SQLDB|SQLManagedInstance,
    visibility Custom|Public, rebootSetting IfRequired|Never|Always (schema: InvalidRequestContent, inferred)."""
    bad_scope = guest_patch()
    bad_scope["properties"]["maintenanceScope"] = "Guest"
    refused(put_config(raw, bad_scope), 400, "InvalidRequestContent")
    bad_reboot = guest_patch()
    bad_reboot["properties"]["installPatches"]["rebootSetting"] = "Sometimes"
    refused(put_config(raw, bad_reboot), 400, "InvalidRequestContent")


@pytest.mark.parametrize(
    "window",
    [
        {"startDateTime": "2026-12-06T02:00:00Z"},
        {"startDateTime": "06/12/2026 02:00"},
        {"expirationDateTime": "2026-12-01 00:00"},
        {"duration": "3h"},
        {"duration": "01:29"},
        {"duration": "04:00"},
        {"timeZone": "Europe/Berlin"},
        {"timeZone": "CET"},
        {"recurEvery": "Fortnight"},
        {"recurEvery": "Month Second"},
        {"recurEvery": "Month Last Sunday Offset7"},
        {"recurEvery": "Week Funday"},
        {"recurEvery": "4Hours"},
        {"recurEvery": None},
        {"timeZone": None},
    ],
)
def test_maintenance_window_rules(raw, window):
    """Maintenance.json MaintenanceWindow: "YYYY-MM-DD hh:mm", expiration in the future of the start, "HH:mm", Windows
    time zone names, recurEvery grammar (offset -6..6); InGuestPatch limits 01:30-03:55 and at least 6 hours between
    windows (learn.microsoft.com/azure/virtual-machines/maintenance-configurations). Code InvalidMaintenanceWindow as
    Azure answered in hashicorp/terraform-provider-azurerm#29738."""
    refused(put_config(raw, guest_patch(**window)), 400, "InvalidMaintenanceWindow")


def test_in_guest_patch_needs_window_patches_and_mode(raw):
    """Docs (maintenance-configurations, Guest scope) and Maintenance.json InputPatchConfiguration /
    InputWindowsParameters / InputLinuxParameters classifications. Codes: InvalidMaintenanceWindow for the missing
    window (#29738); the others inferred (BadRequest)."""
    no_window = guest_patch()
    del no_window["properties"]["maintenanceWindow"]
    refused(put_config(raw, no_window), 400, "InvalidMaintenanceWindow")
    no_patches = guest_patch()
    del no_patches["properties"]["installPatches"]
    refused(put_config(raw, no_patches), 400, "BadRequest")
    no_mode = guest_patch()
    no_mode["properties"]["extensionProperties"] = {}
    refused(put_config(raw, no_mode), 400, "BadRequest")
    bad_win = guest_patch()
    bad_win["properties"]["installPatches"]["windowsParameters"]["classificationsToInclude"] = ["Drivers"]
    refused(put_config(raw, bad_win), 400, "BadRequest")
    bad_linux = guest_patch()
    bad_linux["properties"]["installPatches"]["linuxParameters"]["classificationsToInclude"] = ["Updates"]
    refused(put_config(raw, bad_linux), 400, "BadRequest")


def test_configuration_assignments(raw):
    """Maintenance.json 2023-04-01 examples ConfigurationAssignments_CreateOrUpdate (on a resource) and
    ConfigurationAssignmentsForSubscriptions_CreateOrUpdate (dynamic scope filter): 200 with properties.resourceId."""
    config = f"{CONFIGS}/configuration1"
    assert put_config(raw, guest_patch()).status_code == 200
    on_vm = raw(
        "PUT", f"{VM}/{ASSIGN}/workervmConfiguration?{MNT_API}", {"properties": {"maintenanceConfigurationId": config}}
    )
    assert on_vm.status_code == 200, on_vm.text
    assert on_vm.json()["properties"]["resourceId"] == VM
    dynamic = {
        "properties": {
            "maintenanceConfigurationId": config,
            "filter": {
                "resourceTypes": ["Microsoft.HybridCompute/machines", "Microsoft.Compute/virtualMachines"],
                "resourceGroups": ["RG1", "RG2"],
                "locations": ["Japan East", "UK South"],
                "tagSettings": {
                    "tags": {"tag1": ["tag1Value1", "tag1Value2"], "tag2": ["tag2Value1"]},
                    "filterOperator": "Any",
                },
            },
        }
    }
    on_sub = raw("PUT", f"{SUB_ID}/{ASSIGN}/workervmConfiguration?{MNT_API}", dynamic)
    assert on_sub.status_code == 200, on_sub.text
    assert on_sub.json()["properties"]["resourceId"] == SUB_ID


def test_configuration_assignment_rules(raw):
    """The configuration must exist; dynamic scopes only at subscription/resource-group scope, for InGuestPatch, over
    VMs and Arc machines, in known regions, filterOperator All|Any (schema). Codes inferred; a missing target resource
    is ARM's 404 ResourceNotFound."""
    config = f"{CONFIGS}/configuration1"
    assert put_config(raw, guest_patch()).status_code == 200
    assert (
        put_config(raw, {"location": "westeurope", "properties": {"maintenanceScope": "Host"}}, "host").status_code
        == 200
    )
    flt = {"resourceTypes": ["Microsoft.Compute/virtualMachines"], "locations": ["West Europe"]}
    cases = [
        (f"{VM}/{ASSIGN}/a", {"maintenanceConfigurationId": f"{CONFIGS}/missing"}, 400, "BadRequest"),
        (f"{VM}/{ASSIGN}/a", {"maintenanceConfigurationId": STORAGE}, 400, "BadRequest"),
        (f"{VM}/{ASSIGN}/a", {"maintenanceConfigurationId": config, "filter": flt}, 400, "BadRequest"),
        (f"{SUB_ID}/{ASSIGN}/a", {"maintenanceConfigurationId": f"{CONFIGS}/host", "filter": flt}, 400, "BadRequest"),
        (
            f"{SUB_ID}/{ASSIGN}/a",
            {"maintenanceConfigurationId": config, "filter": {"resourceTypes": ["Microsoft.Storage/storageAccounts"]}},
            400,
            "BadRequest",
        ),
        (
            f"{SUB_ID}/{ASSIGN}/a",
            {"maintenanceConfigurationId": config, "filter": {"locations": ["Atlantis"]}},
            400,
            "BadRequest",
        ),
        (
            f"{SUB_ID}/{ASSIGN}/a",
            {"maintenanceConfigurationId": config, "filter": {"tagSettings": {"tags": {}, "filterOperator": "Some"}}},
            400,
            "InvalidRequestContent",
        ),
        (
            VM.replace("vm-contoso-app-01", "vm-nope") + f"/{ASSIGN}/a",
            {"maintenanceConfigurationId": config},
            404,
            "ResourceNotFound",
        ),
    ]
    for path, props, status, code in cases:
        refused(raw("PUT", f"{path}?{MNT_API}", {"properties": props}), status, code)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{PRICINGS}/KeyVaults?{SEC_API}", {"properties": {"pricingTier": "Standard", "subPlan": "PerKeyVault"}}),
        (f"{ADV_SUB}/default?{ADV_API}", {"properties": {"exclude": False}}),
        (
            f"{BUDGETS}/locked?{BUD_API}",
            {
                "properties": {
                    "category": "Cost",
                    "amount": 100,
                    "timeGrain": "Monthly",
                    "timePeriod": {"startDate": "2026-11-01T00:00:00Z"},
                }
            },
        ),
    ],
    ids=["pricing", "advisor", "budget"],
)
def test_a_read_only_lock_on_the_subscription_blocks_extension_resources_too(raw, clients, path, body):
    """learn.microsoft.com/azure/azure-resource-manager/management/lock-resources ("Lock inheritance": a lock at a
    parent scope applies to every resource in it; ReadOnly blocks PUT and DELETE through Resource Manager): 409
    ScopeLocked, as for resources in resource groups (test_protocol.py). Reads still work."""
    clients.locks(SUB).management_locks.create_or_update_at_subscription_level("freeze", {"level": "ReadOnly"})
    err = refused(raw("PUT", path, body), 409, "ScopeLocked")
    assert SUB in err["message"]
    assert raw("GET", path.replace("/locked?", "?") if "budgets" in path else path).status_code == 200


def test_a_subscription_cost_management_does_not_serve_refuses_budgets(raw, sandbox):
    """Azure/azure-powershell#11642 and MicrosoftDocs/azure-docs#60672 quote Azure's answer for an offer Cost
    Management does not support (status 400): "Cost Management supports only Enterprise Agreement, Web direct and
    Microsoft Customer Agreement offer types. Subscription ... is not associated with a valid offer type." The error
    code is UNVERIFIED (the issues quote the message only); the sandbox answers 400 with its budget code "400".
    Fixture switch: `cost_management: false` on a subscription."""
    sub = sandbox.state.get(SUB_ID)
    sub["_cost_management"] = False
    sandbox.state.put(sub)
    body = {
        "properties": {
            "category": "Cost",
            "amount": 100,
            "timeGrain": "Monthly",
            "timePeriod": {"startDate": "2026-11-01T00:00:00Z"},
        }
    }
    resp = raw("PUT", f"{BUDGETS}/csp?{BUD_API}", body)
    assert resp.status_code == 400 and "Cost Management supports only" in resp.json()["error"]["message"]
    assert raw("GET", f"{BUDGETS}?{BUD_API}").status_code == 400  # reads are refused too
