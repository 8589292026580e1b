"""The sandbox answers as recorded Azure traffic answers (issue 27): api-versions Azure serves, defaults Azure fills
in, scopes Azure resolves, fields Azure always returns. Each test names the spec file (azure-rest-api-specs) or the
recorded answer it follows; tests/contract/test_recordings.py replays the recordings themselves."""

from __future__ import annotations

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web"


# ---------------------------------------------------------------------------------------------------- api-versions
def test_older_versions_the_specs_publish_are_served(raw):
    """Every version folder of the type's spec file is served, e.g. actionGroups_API.json stable/2017-04-01,
    consumption.json stable/2018-01-31, storage.json stable/2019-06-01, Workspaces.json stable/2020-08-01,
    resources.json stable/2019-07-01, managedservices.json preview/2018-06-01-preview, advisor.json stable/2020-01-01,
    keyvault.json stable/2019-09-01, vaults.json (recoveryservices) stable/2016-06-01."""
    ag = raw(
        "PUT",
        f"{RG}/providers/microsoft.insights/actionGroups/ag-old?api-version=2017-04-01",
        {"location": "global", "properties": {"groupShortName": "old", "enabled": True}},
    )
    assert ag.status_code == 201, ag.text
    assert raw("GET", f"/subscriptions/{SUB}/resourcegroups/rg-prod-web?api-version=2019-07-01").status_code == 200
    reads = [
        f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts?api-version=2019-06-01",
        f"/subscriptions/{SUB}/providers/Microsoft.OperationalInsights/workspaces?api-version=2020-08-01",
        f"/subscriptions/{SUB}/providers/Microsoft.Consumption/budgets?api-version=2018-01-31",
        f"/subscriptions/{SUB}/providers/Microsoft.Advisor/configurations?api-version=2020-01-01",
        f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/vaults?api-version=2019-09-01",
        f"/subscriptions/{SUB}/providers/Microsoft.RecoveryServices/vaults?api-version=2016-06-01",
        f"/subscriptions/{SUB}/providers/Microsoft.ManagedServices/registrationAssignments?api-version=2018-06-01-preview",
    ]
    for path in reads:
        assert raw("GET", path).status_code == 200, path


def test_a_version_no_spec_folder_holds_is_refused_as_azure_words_it(raw):
    """A provider's type: 400 NoRegisteredProviderFound listing the supported versions oldest first, comma and space
    (Azure/azure-cli#28496, Azure/LogicAppsUX#8196); the versions are those of actionGroups_API.json's folders."""
    bad = raw(
        "PUT",
        f"{RG}/providers/Microsoft.Insights/actionGroups/ag?api-version=2016-01-01",
        {"location": "global", "properties": {"groupShortName": "x", "enabled": True}},
    )
    msg = refused(bad, 400, "NoRegisteredProviderFound")["message"]
    assert msg.startswith(
        "No registered resource provider found for location 'global' and API version '2016-01-01' for type "
        "'actionGroups'. The supported api-versions are '2017-04-01, 2018-03-01, 2018-09-01, 2019-03-01, "
    )
    assert "2023-01-01, 2023-09-01-preview, 2024-10-01-preview'. The supported locations are '" in msg


def test_a_version_of_a_type_arm_hosts_is_invalid_resource_type(raw):
    """Microsoft.Authorization: 400 InvalidResourceType "The resource type 'roleAssignments' could not be found in the
    namespace 'Microsoft.Authorization' for api version '2018-06-01'. The supported api-versions are '...'."
    (Azure/acs-engine#4037); authorization-RoleAssignmentsCalls.json has no 2018-06-01 folder."""
    bad = raw("GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2018-06-01")
    msg = refused(bad, 400, "InvalidResourceType")["message"]
    assert msg.startswith(
        "The resource type 'roleAssignments' could not be found in the namespace 'Microsoft.Authorization' for api "
        "version '2018-06-01'. The supported api-versions are '2015-06-01-preview, 2015-07-01, "
    )
    ok = raw("GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments?api-version=2015-07-01")
    assert ok.status_code == 200


def test_an_arm_path_refuses_with_invalid_api_version_parameter(raw):
    """ARM's own paths (resource groups): 400 InvalidApiVersionParameter "The api-version '2023-02-01' is invalid. The
    supported versions are '...'." newest first (Azure/azure-cli#28038, ansible-collections/azure#1739)."""
    bad = raw("GET", f"/subscriptions/{SUB}/resourcegroups?api-version=2023-02-01")
    msg = refused(bad, 400, "InvalidApiVersionParameter")["message"]
    assert msg.startswith("The api-version '2023-02-01' is invalid. The supported versions are '2025-04-01,2025-03-01,")
    assert msg.endswith(",2015-01-01'.")


# ---------------------------------------------------------------------------------------------------- defaults
def test_defender_fills_in_the_sub_plan_a_standard_put_leaves_out(raw):
    """pricings.json (2023-01-01) PricingProperties.subPlan is optional; Azure answers VirtualMachines enabled without
    one as P2 (azure-cli test_security_pricings.yaml), so extensions that need P2 are accepted; naming P1 with them
    is still refused."""
    url = f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/VirtualMachines?api-version=2023-01-01"
    ext = [{"name": "AgentlessVmScanning", "isEnabled": "True"}]
    ok = raw("PUT", url, {"properties": {"pricingTier": "standard", "extensions": ext}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["properties"]["subPlan"] == "P2"
    assert ok.json()["properties"]["extensions"][0]["operationStatus"]["code"] == "Succeeded"
    assert raw("GET", url).json()["properties"]["subPlan"] == "P2"
    bad = raw("PUT", url, {"properties": {"pricingTier": "Standard", "subPlan": "P1", "extensions": ext}})
    refused(bad, 400, "InvalidInputJson")


def test_a_workspace_put_without_optional_properties_gets_azures_defaults(raw):
    """Workspaces.json (2020-08-01): sku, retentionInDays, publicNetworkAccessFor* are optional; Azure returns them
    filled in with customerId, features and workspaceCapping (azure-cli test_monitor_log_analytics_workspace_default)."""
    url = f"{RG}/providers/Microsoft.OperationalInsights/workspaces/law-defaults?api-version=2020-08-01"
    made = raw("PUT", url, {"location": "westeurope"})
    assert made.status_code == 201, made.text
    props = raw("GET", url).json()["properties"]
    assert props["sku"]["name"] == "PerGB2018" and props["retentionInDays"] == 30
    assert props["publicNetworkAccessForQuery"] == "Enabled" and props["workspaceCapping"]["dailyQuotaGb"] == -1.0
    again = raw("PUT", url, {"location": "westeurope", "properties": {"retentionInDays": 90}}).json()["properties"]
    assert again["customerId"] == props["customerId"] and again["retentionInDays"] == 90


# ---------------------------------------------------------------------------------------------------- fields
def test_arm_writes_carry_system_data_naming_the_caller(raw, sandbox):
    """common-types v5 systemData: createdBy the caller's appid (app-only token: createdByType Application),
    createdAt kept on updates, lastModifiedAt moved."""
    url = f"{RG}/providers/Microsoft.Insights/actionGroups/ag-sd?api-version=2023-01-01"
    body = {"location": "global", "properties": {"groupShortName": "sd", "enabled": True}}
    first = raw("PUT", url, body).json()["systemData"]
    assert first["createdBy"] == sandbox.conn.client_id and first["createdByType"] == "Application"
    assert first["lastModifiedBy"] == sandbox.conn.client_id and first["createdAt"] == first["lastModifiedAt"]
    second = raw("PUT", url, body).json()["systemData"]
    assert second["createdAt"] == first["createdAt"] and second["lastModifiedAt"] >= first["lastModifiedAt"]
    assert raw("GET", url).json()["systemData"] == second


def test_policy_objects_carry_the_metadata_azure_stamps(raw):
    """policyAssignments.json metadata: createdBy / createdOn at creation, updatedBy / updatedOn null until an
    update."""
    url = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments/pa-meta?api-version=2023-04-01"
    body = {
        "properties": {
            "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/06a78e20-9358-41c9-923c-fb736d382a4d"
        }
    }
    meta = raw("PUT", url, body).json()["properties"]["metadata"]
    assert meta["createdBy"] and meta["createdOn"] and meta["updatedBy"] is None and meta["updatedOn"] is None
    later = raw("PUT", url, body).json()["properties"]["metadata"]
    assert later["createdOn"] == meta["createdOn"] and later["updatedOn"] is not None


def test_lighthouse_definitions_name_the_managing_tenant(raw, sandbox):
    """managedservices.json RegistrationDefinitionProperties.managedByTenantName (read-only): the managing tenant's
    name, for the MSP's tenant its own; the expanded definition of an assignment carries it too."""
    shared = DEMO_SUBS[2]
    listed = raw(
        "GET",
        f"/subscriptions/{shared}/providers/Microsoft.ManagedServices/registrationAssignments"
        "?api-version=2022-10-01&$expandRegistrationDefinition=true",
    ).json()["value"]
    assert listed[0]["properties"]["registrationDefinition"]["properties"]["managedByTenantName"]
    url = f"/subscriptions/{SUB}/providers/Microsoft.ManagedServices/registrationDefinitions/0b7cbd53-0f7a-4d8c-b6a3-6d5b1a1f0c11?api-version=2022-10-01"
    body = {
        "properties": {
            "registrationDefinitionName": "n",
            "managedByTenantId": sandbox.conn.msp_tenant_id,
            "authorizations": [
                {
                    "principalId": "d6f6c88a-5b7a-455e-ba40-ce146d4d3671",
                    "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
                }
            ],
        }
    }
    made = raw("PUT", url, body)
    assert made.status_code == 201, made.text
    assert made.json()["properties"]["managedByTenantName"] == sandbox.state.msp_tenant_name


# ---------------------------------------------------------------------------------------------------- scopes
BUILTIN = "e56962a6-4747-49cd-b67b-bf8b01975c4c"  # Allowed locations


def test_a_built_in_definition_is_read_at_the_built_in_scope_only(raw):
    """policyDefinitions.json: PolicyDefinitions_GetBuiltIn is /providers/Microsoft.Authorization/policyDefinitions/
    {name}; PolicyDefinitions_Get at a subscription finds only that subscription's definitions (404
    PolicyDefinitionNotFound for a built-in, which is why azure-cli's `policy definition show` falls back to the
    built-in path); the subscription's list still includes the built-ins."""
    api = "api-version=2023-04-01"
    at_sub = raw("GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyDefinitions/{BUILTIN}?{api}")
    refused(at_sub, 404, "PolicyDefinitionNotFound")
    assert raw("GET", f"/providers/Microsoft.Authorization/policyDefinitions/{BUILTIN}?{api}").status_code == 200
    listed = raw("GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyDefinitions?{api}")
    assert BUILTIN in [d["name"] for d in listed.json()["value"]]
    custom = {
        "properties": {
            "mode": "All",
            "policyRule": {"if": {"field": "location", "equals": "x"}, "then": {"effect": "audit"}},
        }
    }
    path = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyDefinitions/mine?{api}"
    assert raw("PUT", path, custom).status_code == 201
    assert raw("GET", path).status_code == 200
    other = f"/subscriptions/{DEMO_SUBS[1]}/providers/Microsoft.Authorization/policyDefinitions/mine?{api}"
    refused(raw("GET", other), 404, "PolicyDefinitionNotFound")


def test_compliance_queries_scoped_under_one_assignment(raw):
    """policyStates.json (2019-10-01) PolicyStates_ListQueryResultsForSubscriptionLevelPolicyAssignment /
    SummarizeForSubscriptionLevelPolicyAssignment: {subscription}/providers/Microsoft.Authorization/policyAssignments/
    {a}/providers/Microsoft.PolicyInsights/policyStates/latest/...: the states of that assignment only."""
    pa = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments"
    for name in ("pa-one", "pa-two"):
        body = {
            "properties": {
                "policyDefinitionId": f"/providers/Microsoft.Authorization/policyDefinitions/{BUILTIN}",
                "parameters": {"listOfAllowedLocations": {"value": ["westeurope"]}},
            }
        }
        assert raw("PUT", f"{pa}/{name}?api-version=2023-04-01", body).status_code == 201
    scan = raw(
        "POST",
        f"/subscriptions/{SUB}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation?api-version=2019-10-01",
    )
    while raw("GET", scan.headers["Location"]).status_code == 202:
        pass
    states = "providers/Microsoft.PolicyInsights/policyStates/latest"
    every = raw("POST", f"/subscriptions/{SUB}/{states}/queryResults?api-version=2019-10-01").json()["value"]
    one = raw("POST", f"{pa}/pa-one/{states}/queryResults?api-version=2019-10-01").json()["value"]
    assert one and len(one) < len(every)
    assert {s["policyAssignmentId"].rsplit("/", 1)[-1] for s in one} == {"pa-one"}
    summary = raw("POST", f"{pa}/pa-two/{states}/summarize?api-version=2019-10-01").json()["value"][0]
    assert [a["policyAssignmentId"].rsplit("/", 1)[-1] for a in summary["policyAssignments"]] == ["pa-two"]
    assert raw("POST", f"{pa}/none/{states}/queryResults?api-version=2019-10-01").json()["value"] == []
