"""What Azure refuses in Microsoft.Authorization policy and Microsoft.Insights, and so does the sandbox.

Each negative test sends a request Azure refuses and checks the status and error code Azure answers; its docstring
names the source (a spec file in Azure/azure-rest-api-specs, a docs page, or a public issue quoting Azure's answer).
Where Azure's code could not be confirmed, the docstring says "inferred". Positive tests send the official
example-shaped requests, which must still succeed.
"""

from __future__ import annotations

import pytest

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
OTHER_SUB = DEMO_SUBS[1]
POLICY_API = "api-version=2023-04-01"
PA = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyAssignments"
PD = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyDefinitions"
PSD = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policySetDefinitions"
BUILTIN = "/providers/Microsoft.Authorization/policyDefinitions/"
ALLOWED_LOCATIONS = BUILTIN + "e56962a6-4747-49cd-b67b-bf8b01975c4c"
MANAGED_DISKS = BUILTIN + "06a78e20-9358-41c9-923c-fb736d382a4d"
INHERIT_TAG = BUILTIN + "ea3f2387-9b95-492a-a190-fcdc54f7b070"
VM_BACKUP_TAG = BUILTIN + "345fa903-145c-4fe1-8bcd-93ec2adccde8"
UPDATE_CHECKS = BUILTIN + "59efceea-0c96-497e-a4a1-4eb2290dac15"
DEFENDER_SERVERS = BUILTIN + "4da35fc9-c9e7-4960-aec9-797fe7d9051d"
KV_DIAGNOSTICS = BUILTIN + "951af2fa-529b-416e-ab6e-066fd85ac459"
MCSB = "/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web"
INSIGHTS = f"{RG}/providers/Microsoft.Insights"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"
SITE = f"{RG}/providers/Microsoft.Web/sites/app-contoso-shop-01"
PLAN = f"{RG}/providers/Microsoft.Web/serverfarms/asp-contoso-shop-01"
KV = f"{RG}/providers/Microsoft.KeyVault/vaults/kv-contoso-prod"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/stcontosoprodweb"
SQLDB = (
    f"/subscriptions/{SUB}/resourceGroups/rg-prod-data/providers/Microsoft.Sql/servers/sql-contoso-prod/databases/shop"
)
AG_API = "api-version=2023-01-01"
MA_API = "api-version=2018-03-01"
ALA_API = "api-version=2020-10-01"


def assign(raw, name: str, definition: str, parameters: dict | None = None, **extra):
    """PUT a policy assignment at the subscription."""
    body = {"properties": {"policyDefinitionId": definition, "parameters": parameters or {}}, **extra}
    return raw("PUT", f"{PA}/{name}?{POLICY_API}", body)


# ====================================================================== policy: built-ins and lists
def test_builtins_are_listed_at_subscription_and_tenant_scope_with_customs_only_at_theirs(raw):
    """PolicyDefinitions_List / _ListBuiltIn (policyDefinitions.json): a subscription list holds the built-ins and
    the subscription's custom definitions; the tenant list only built-ins."""
    rule = {"if": {"field": "type", "equals": "x"}, "then": {"effect": "audit"}}
    custom = {"properties": {"displayName": "custom", "mode": "All", "policyRule": rule}}
    assert raw("PUT", f"{PD}/my-custom?{POLICY_API}", custom).status_code == 201
    sub_names = {d["name"] for d in raw("GET", f"{PD}?{POLICY_API}").json()["value"]}
    tenant = raw("GET", f"/providers/Microsoft.Authorization/policyDefinitions?{POLICY_API}").json()["value"]
    assert "my-custom" in sub_names and UPDATE_CHECKS.rsplit("/", 1)[1] in sub_names
    assert "my-custom" not in {d["name"] for d in tenant}
    assert all(d["properties"]["policyType"] == "BuiltIn" for d in tenant)
    builtin_only = raw("GET", f"{PD}?{POLICY_API}&$filter=policyType eq 'BuiltIn'").json()["value"]
    assert "my-custom" not in {d["name"] for d in builtin_only} and len(builtin_only) == len(tenant)
    sets = raw("GET", f"{PSD}?{POLICY_API}").json()["value"]
    assert MCSB.rsplit("/", 1)[1] in {s["name"] for s in sets}


def test_builtin_definitions_carry_parameters_and_remediation_roles(clients):
    """Built-ins as Azure serves them (learn.microsoft.com/azure/governance/policy/samples/built-in-policies):
    required parameters have no defaultValue; DINE/Modify list then.details.roleDefinitionIds."""
    pc = clients.policy(SUB)
    backup = pc.policy_definitions.get_built_in(VM_BACKUP_TAG.rsplit("/", 1)[1])
    assert backup.display_name.startswith("Configure backup on virtual machines with a given tag")
    assert backup.parameters["effect"].default_value == "deployIfNotExists"
    assert backup.parameters["backupPolicyId"].default_value is None
    assert "9980e02c-c2be-4d73-94e8-173b1dc7cf3c" in str(backup.policy_rule["then"]["details"]["roleDefinitionIds"])
    checks = pc.policy_definitions.get_built_in(UPDATE_CHECKS.rsplit("/", 1)[1])
    assert checks.policy_rule["then"]["effect"] == "modify"
    assert checks.parameters["assessmentMode"].allowed_values == ["ImageDefault", "AutomaticByPlatform"]
    mcsb = pc.policy_set_definitions.get_built_in(MCSB.rsplit("/", 1)[1])
    assert mcsb.policy_type == "BuiltIn" and mcsb.policy_definitions


def test_builtins_cannot_be_changed(raw):
    """Built-in definitions are read-only (policyDefinitions.json: CreateOrUpdate is for custom definitions)."""
    refused(raw("DELETE", f"{ALLOWED_LOCATIONS}?{POLICY_API}"), 403, "AuthorizationFailed")


# ====================================================================== policy: set definitions
def test_set_definition_must_reference_existing_definitions(raw):
    """A member that does not exist: 404 PolicyDefinitionNotFound (Azure/azure-powershell
    src/Resources/Resources.Test/ScenarioTests/PolicyTests.ps1 expects 'PolicyDefinitionNotFound : ')."""
    body = {"properties": {"displayName": "s", "policyDefinitions": [{"policyDefinitionId": f"{PD}/nope"}]}}
    refused(raw("PUT", f"{PSD}/s1?{POLICY_API}", body), 404, "PolicyDefinitionNotFound")


def test_set_definition_parameters_must_be_defined_by_the_member(raw):
    """'The policy set definition 'X' is attempting to assign the parameter(s) 'effect' which are not defined in the
    policy definition ...': 400 UndefinedPolicyParameter (gettek/terraform-azurerm-policy-as-code#47,
    Azure/enterprise-azure-policy-as-code#1076)."""
    member = {"policyDefinitionId": MANAGED_DISKS, "parameters": {"effect": {"value": "Audit"}}}
    body = {"properties": {"policyDefinitions": [member]}}
    refused(raw("PUT", f"{PSD}/s2?{POLICY_API}", body), 400, "UndefinedPolicyParameter")


def test_set_definition_values_must_be_allowed(raw):
    """A literal value outside the member's allowedValues: 400 PolicyParameterValueNotAllowed
    (salesforce/cloud-guardrails#53 quotes Azure refusing a policy set definition so)."""
    member = {"policyDefinitionId": DEFENDER_SERVERS, "parameters": {"effect": {"value": "Deny"}}}
    body = {"properties": {"policyDefinitions": [member]}}
    refused(raw("PUT", f"{PSD}/s3?{POLICY_API}", body), 400, "PolicyParameterValueNotAllowed")


def test_set_definition_missing_member_parameter_is_refused(raw):
    """A member's required parameter left out: 400 MissingPolicyParameter (same rule as assignments; inferred for
    set definitions from the assignment error Azure/azure-sdk-for-net#39734)."""
    body = {"properties": {"policyDefinitions": [{"policyDefinitionId": ALLOWED_LOCATIONS}]}}
    refused(raw("PUT", f"{PSD}/s4?{POLICY_API}", body), 400, "MissingPolicyParameter")


def test_custom_definition_default_must_be_an_allowed_value(raw):
    """defaultValue outside allowedValues: 400 PolicyParameterAllowedAndDefaultValuesMismatch
    (Azure/azure-monitor-baseline-alerts#917 quotes Azure's answer)."""
    window = {"type": "String", "allowedValues": ["PT5M", "PT15M"], "defaultValue": "PT1M"}
    body = {
        "properties": {
            "mode": "All",
            "parameters": {"windowSize": window},
            "policyRule": {"if": {"field": "type", "equals": "x"}, "then": {"effect": "audit"}},
        }
    }
    refused(raw("PUT", f"{PD}/bad-default?{POLICY_API}", body), 400, "PolicyParameterAllowedAndDefaultValuesMismatch")


def test_set_definition_example_shape_succeeds(raw):
    """createPolicySetDefinition.json example shape: members with parameters bound to set parameters."""
    body = {
        "properties": {
            "displayName": "Cost Management",
            "metadata": {"category": "Cost Management"},
            "parameters": {"namePrefix": {"type": "String", "defaultValue": "myPrefix"}},
            "policyDefinitions": [
                {
                    "policyDefinitionId": ALLOWED_LOCATIONS,
                    "policyDefinitionReferenceId": "Limit_Skus",
                    "parameters": {"listOfAllowedLocations": {"value": ["westeurope"]}},
                },
                {
                    "policyDefinitionId": DEFENDER_SERVERS,
                    "parameters": {"effect": {"value": "[parameters('namePrefix')]"}},
                },
            ],
        }
    }
    resp = raw("PUT", f"{PSD}/CostManagement?{POLICY_API}", body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["properties"]["policyType"] == "Custom"


# ====================================================================== policy: assignments
def test_assignment_definition_must_exist(raw):
    """Unknown definition: 404 PolicyDefinitionNotFound; unknown initiative: 404 PolicySetDefinitionNotFound
    (Azure/azure-powershell PolicyTests.ps1 error strings; az policy assignment create reports the same codes)."""
    refused(assign(raw, "a1", BUILTIN + "00000000-0000-0000-0000-000000000000"), 404, "PolicyDefinitionNotFound")
    no_set = "/providers/Microsoft.Authorization/policySetDefinitions/00000000-0000-0000-0000-000000000000"
    refused(assign(raw, "a2", no_set), 404, "PolicySetDefinitionNotFound")


def test_assignment_required_parameter_missing(raw):
    """'The policy assignment 'x' is missing the parameter(s) 'y' as defined in the policy definition 'z'.':
    400 MissingPolicyParameter (Azure/azure-sdk-for-net#39734)."""
    resp = assign(raw, "a3", ALLOWED_LOCATIONS)
    refused(resp, 400, "MissingPolicyParameter")
    assert "'listOfAllowedLocations'" in resp.json()["error"]["message"]


def test_assignment_unknown_parameter(raw):
    """'The policy assignment 'x' has the parameter(s) 'effect' which are not defined in the policy definition ...':
    400 UndefinedPolicyParameter (Azure/ALZ-Bicep#585, Azure/terraform-azurerm-caf-enterprise-scale#282)."""
    params = {"listOfAllowedLocations": {"value": ["westeurope"]}, "allowedEffect": {"value": "deny"}}
    refused(assign(raw, "a4", ALLOWED_LOCATIONS, params), 400, "UndefinedPolicyParameter")


def test_assignment_value_not_in_allowed_values(raw):
    """'The value 'deny' is not allowed for policy parameter 'effect' ... The allowed values are ...':
    400 PolicyParameterValueNotAllowed, compared case-sensitively
    (Azure/terraform-azurerm-caf-enterprise-scale#1313)."""
    refused(assign(raw, "a5", DEFENDER_SERVERS, {"effect": {"value": "Deny"}}), 400, "PolicyParameterValueNotAllowed")
    refused(
        assign(raw, "a6", DEFENDER_SERVERS, {"effect": {"value": "auditifnotexists"}}),
        400,
        "PolicyParameterValueNotAllowed",
    )
    assert assign(raw, "a7", DEFENDER_SERVERS, {"effect": {"value": "Disabled"}}).status_code == 201


def test_assignment_parameter_value_must_be_wrapped(raw):
    """A parameter given as a bare value instead of {"value": ...}: 400 InvalidRequestContent
    (krnese/AzureDeploy#22 quotes 'Error converting value ... to type ...PolicyParameter')."""
    body = {"properties": {"policyDefinitionId": DEFENDER_SERVERS, "parameters": {"effect": "Disabled"}}}
    refused(raw("PUT", f"{PA}/a8?{POLICY_API}", body), 400, "InvalidRequestContent")


def test_dine_and_modify_need_a_managed_identity(raw):
    """'Policy assignments must include a 'managed identity' when assigning 'Modify' policy definitions': 400
    ResourceIdentityRequired, also for an initiative containing one (Azure/azure-cli#13150,
    Azure/azure-powershell#11996); a definition that can deploy needs it even when assigned with effect Disabled."""
    refused(assign(raw, "m1", INHERIT_TAG, {"tagName": {"value": "env"}}), 400, "ResourceIdentityRequired")
    disabled = {"logAnalytics": {"value": "/x"}, "effect": {"value": "Disabled"}}
    refused(assign(raw, "m2", KV_DIAGNOSTICS, disabled), 400, "ResourceIdentityRequired")
    body = {"properties": {"policyDefinitions": [{"policyDefinitionId": UPDATE_CHECKS}]}}
    assert raw("PUT", f"{PSD}/updates?{POLICY_API}", body).status_code == 201
    refused(assign(raw, "m3", f"{PSD}/updates"), 400, "ResourceIdentityRequired")


def test_identity_needs_a_location(raw):
    """assignment-structure docs: 'location ... required when utilizing managed identity'. Code inferred:
    400 LocationRequired (ARM's code for a missing location)."""
    tag, system = {"tagName": {"value": "env"}}, {"type": "SystemAssigned"}
    refused(assign(raw, "m4", INHERIT_TAG, tag, identity=system), 400, "LocationRequired")
    refused(
        assign(raw, "m5", INHERIT_TAG, tag, identity=system, location="mars"),
        400,
        "LocationNotAvailableForResourceType",
    )


def test_enforcement_mode_is_an_enum(raw):
    """policyAssignments.json: enforcementMode is Default | DoNotEnforce; anything else cannot be deserialized."""
    body = {"properties": {"policyDefinitionId": MANAGED_DISKS, "enforcementMode": "Sometimes"}}
    refused(raw("PUT", f"{PA}/e1?{POLICY_API}", body), 400, "InvalidRequestContent")
    body["properties"].update(enforcementMode="DoNotEnforce", notScopes=[f"{RG}"])
    resp = raw("PUT", f"{PA}/e1?{POLICY_API}", body)
    assert resp.status_code == 201 and resp.json()["properties"]["notScopes"] == [RG]


def test_system_identity_is_a_managed_identity_principal_that_can_get_roles_until_deleted(sandbox, raw):
    """createPolicyAssignmentWithIdentity.json: identity.principalId is a service principal (servicePrincipalType
    ManagedIdentity) the remediation roles are assigned to; it goes with the assignment (remediate-resources docs)."""
    params = {
        "vaultLocation": {"value": "westeurope"},
        "inclusionTagValue": {"value": ["true"]},
        "backupPolicyId": {"value": f"{RG}/providers/Microsoft.RecoveryServices/vaults/v/backupPolicies/p"},
    }
    system = {"type": "SystemAssigned"}
    resp = assign(raw, "backup-tagged", VM_BACKUP_TAG, params, identity=system, location="westeurope")
    assert resp.status_code == 201, resp.text
    pid = resp.json()["identity"]["principalId"]
    assert sandbox.state.service_principals[pid]["servicePrincipalType"] == "ManagedIdentity"
    again = assign(raw, "backup-tagged", VM_BACKUP_TAG, params, identity=system, location="westeurope")
    assert again.status_code == 200 and again.json()["identity"]["principalId"] == pid
    vm_contributor = (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/9980e02c-c2be-4d73-94e8-173b1dc7cf3c"
    )
    role = {"properties": {"roleDefinitionId": vm_contributor, "principalId": pid, "principalType": "ServicePrincipal"}}
    ra = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments"
    assert raw("PUT", f"{ra}/2b1f5b4a-3f7e-4c1d-9a8e-1c2d3e4f5a6b?api-version=2022-04-01", role).status_code == 201
    assert raw("DELETE", f"{PA}/backup-tagged?{POLICY_API}").status_code == 200
    assert pid not in sandbox.state.service_principals
    gone = raw("PUT", f"{ra}/3c2a6c5b-4a8f-4d2e-8b9f-2d3e4f5a6b7c?api-version=2022-04-01", role)
    refused(gone, 400, "PrincipalNotFound")


def test_assignment_examples_succeed(raw, clients):
    """createPolicyAssignment.json / createPolicyAssignmentWithIdentity.json shapes, an initiative, and the SDK."""
    resp = assign(raw, "EnforceNaming", MANAGED_DISKS, displayName="Enforce resource naming rules")
    assert resp.status_code == 201 and resp.json()["properties"]["enforcementMode"] == "Default"
    linux, system = {"osType": {"value": "Linux"}}, {"type": "SystemAssigned"}
    resp = assign(raw, "updates", UPDATE_CHECKS, linux, identity=system, location="westeurope")
    assert resp.status_code == 201 and resp.json()["identity"]["principalId"]
    assert assign(raw, "mcsb", MCSB, {"vmBackupEffect": {"value": "Disabled"}}).status_code == 201
    pc = clients.policy(SUB)
    body = {
        "properties": {"policyDefinitionId": INHERIT_TAG, "parameters": {"tagName": {"value": "env"}}},
        "identity": {"type": "SystemAssigned"},
        "location": "westeurope",
    }
    pc.policy_assignments.create(f"/subscriptions/{SUB}", "sdk-tag", body)
    assert {"EnforceNaming", "updates", "mcsb", "sdk-tag"} <= {a.name for a in pc.policy_assignments.list()}


# ====================================================================== monitor: metric definitions
@pytest.mark.parametrize("api", ["2018-01-01", "2023-10-01", "2024-02-01"])
def test_metric_definitions_of_each_alerted_type(raw, api):
    """metricDefinitions_API.json MetricDefinitions_List; names/units from the Azure Monitor supported-metrics
    reference; every metric of lib/runbook/data/baseline_alerts.yml is defined for its type."""
    expect = {
        VM: ("Percentage CPU", "Percent"),
        STORAGE: ("Availability", "Percent"),
        SQLDB: ("dtu_consumption_percent", "Percent"),
        SITE: ("Http5xx", "Count"),
        PLAN: ("CpuPercentage", "Percent"),
        KV: ("Availability", "Percent"),
    }
    for rid, (name, unit) in expect.items():
        resp = raw("GET", f"{rid}/providers/Microsoft.Insights/metricDefinitions?api-version={api}")
        assert resp.status_code == 200, resp.text
        found = {d["name"]["value"]: d for d in resp.json()["value"]}
        assert found[name]["unit"] == unit and found[name]["metricAvailabilities"], rid
    listed = raw("GET", f"{VM}/providers/Microsoft.Insights/metricDefinitions?api-version={api}").json()["value"]
    vm = {d["name"]["value"] for d in listed}
    assert "VmAvailabilityMetric" in vm and "cpu_percent" not in vm


def test_metric_definitions_of_a_missing_resource_and_via_sdk(raw, clients):
    """A resource that does not exist: 404 ResourceNotFound (ARM); the SDK (2024-02-01) reads the list."""
    missing = f"{RG}/providers/Microsoft.Web/sites/nope/providers/Microsoft.Insights/metricDefinitions"
    refused(raw("GET", f"{missing}?api-version=2018-01-01"), 404, "ResourceNotFound")
    names = {d.name.value for d in clients.monitor(SUB).metric_definitions.list(SQLDB)}
    assert {"cpu_percent", "dtu_consumption_percent", "storage_percent"} <= names


# ====================================================================== monitor: metric alerts
def metric_alert(scope: str = VM, metric: str = "Percentage CPU", **props) -> dict:
    """The createOrUpdateMetricAlertSingleResource.json example body, with overrides."""
    body = {
        "location": "global",
        "properties": {
            "description": "d",
            "severity": 3,
            "enabled": True,
            "scopes": [scope],
            "evaluationFrequency": "PT1M",
            "windowSize": "PT15M",
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [
                    {
                        "name": "High_CPU_80",
                        "metricName": metric,
                        "operator": "GreaterThan",
                        "threshold": 80.5,
                        "timeAggregation": "Average",
                        "criterionType": "StaticThresholdCriterion",
                    }
                ],
            },
            "autoMitigate": True,
            "actions": [],
        },
    }
    body["properties"].update(props)
    return body


def put_alert(raw, name: str, body: dict):
    return raw("PUT", f"{INSIGHTS}/metricAlerts/{name}?{MA_API}", body)


def test_metric_alert_unknown_metric(raw):
    """ "Couldn't find a metric named X": 400 BadRequest (Azure/azure-cli monitor tests,
    test_metrics_alert_metric_name_with_special_characters); skipMetricValidation lets it through."""
    resp = put_alert(raw, "ma1", metric_alert(metric="cpu_percent"))
    refused(resp, 400, "BadRequest")
    assert "Couldn't find a metric named cpu_percent" in resp.json()["error"]["message"]
    ok = metric_alert(metric="cpu_percent")
    ok["properties"]["criteria"]["allOf"][0]["skipMetricValidation"] = True
    assert put_alert(raw, "ma1", ok).status_code == 200


def test_metric_alert_severity_range(raw):
    """metricAlert_API.json: severity 'Alert severity {0, 1, 2, 3, 4}'; code BadRequest (the RP's error code;
    message inferred)."""
    refused(put_alert(raw, "ma2", metric_alert(severity=5)), 400, "BadRequest")
    refused(put_alert(raw, "ma2", metric_alert(severity=-1)), 400, "BadRequest")


def test_metric_alert_required_parts(raw):
    """metricAlert_API.json MetricAlertProperties required: severity, enabled, scopes, evaluationFrequency,
    windowSize, criteria: 400 BadRequest (schema); empty scopes or allOf: 400 BadRequest."""
    body = metric_alert()
    del body["properties"]["criteria"]
    refused(put_alert(raw, "ma3", body), 400, "BadRequest")
    refused(put_alert(raw, "ma3", metric_alert(scopes=[])), 400, "BadRequest")
    empty = metric_alert()
    empty["properties"]["criteria"]["allOf"] = []
    refused(put_alert(raw, "ma3", empty), 400, "BadRequest")


def test_metric_alert_scopes_must_exist_and_share_a_type(raw):
    """A scope that does not exist: 400 BadRequest ('Alert scope is invalid', Azure/ResourceModules#4550); scopes of
    different types: 400 BadRequest "You can't define a scope that is different from the selected target resource
    type." (learntocloud/learn-to-cloud-app#612, Azure/azure-powershell#17105)."""
    refused(put_alert(raw, "ma4", metric_alert(scope=VM.replace("app-01", "app-99"))), 400, "BadRequest")
    refused(put_alert(raw, "ma4", metric_alert(scopes=[VM, SITE])), 400, "BadRequest")


def test_metric_alert_window_and_frequency(raw):
    """learn.microsoft.com/azure/azure-monitor/alerts/alerts-metric-create-templates: evaluationFrequency in
    PT1M..PT1H, windowSize in PT1M..PT24H, not shorter than the frequency: 400 BadRequest (message inferred)."""
    refused(put_alert(raw, "ma5", metric_alert(evaluationFrequency="PT2M")), 400, "BadRequest")
    refused(put_alert(raw, "ma5", metric_alert(windowSize="PT10M")), 400, "BadRequest")
    refused(put_alert(raw, "ma5", metric_alert(evaluationFrequency="PT1H", windowSize="PT15M")), 400, "BadRequest")
    refused(put_alert(raw, "ma5", metric_alert(windowSize="fifteen")), 400, "BadRequest")


def test_metric_alert_action_group_must_exist_in_the_subscription(raw):
    """'Arm resource <id> is invalid or in a different subscription as alert rule.': 400 BadRequest
    (Azure/azure-powershell#11102)."""
    missing = f"{INSIGHTS}/actionGroups/nope"
    refused(put_alert(raw, "ma6", metric_alert(actions=[{"actionGroupId": missing}])), 400, "BadRequest")
    other = f"/subscriptions/{OTHER_SUB}/resourceGroups/rg-x/providers/Microsoft.Insights/actionGroups/ag"
    refused(put_alert(raw, "ma6", metric_alert(actions=[{"actionGroupId": other}])), 400, "BadRequest")


def test_metric_alert_location_is_global(raw):
    """Metric alerts are a global resource (metricAlert_API.json examples; the provider registers the type for
    'global' only): another location is 400 LocationNotAvailableForResourceType."""
    body = metric_alert()
    body["location"] = "westeurope"
    refused(put_alert(raw, "ma7", body), 400, "LocationNotAvailableForResourceType")


def test_metric_alert_example_and_baseline_metrics_succeed(raw):
    """The single-resource example, with an existing action group, and one alert per baseline metric."""
    ag = {"location": "Global", "properties": {"groupShortName": "msp", "enabled": True}}
    assert raw("PUT", f"{INSIGHTS}/actionGroups/ag?{AG_API}", ag).status_code == 201
    action = {"actionGroupId": f"{INSIGHTS}/actionGroups/ag", "webHookProperties": {"key11": "value11"}}
    resp = put_alert(raw, "highcpu", metric_alert(actions=[action]))
    assert resp.status_code == 200, resp.text
    for rid, metric, agg in (
        (STORAGE, "Availability", "Average"),
        (SQLDB, "dtu_consumption_percent", "Average"),
        (SITE, "Http5xx", "Total"),
        (PLAN, "CpuPercentage", "Average"),
        (KV, "Availability", "Average"),
        (VM, "VmAvailabilityMetric", "Average"),
    ):
        body = metric_alert(scope=rid, metric=metric)
        body["properties"]["criteria"]["allOf"][0]["timeAggregation"] = agg
        assert put_alert(raw, f"ma-{metric}-{rid.rsplit('/', 1)[1]}", body).status_code == 200, rid


# ====================================================================== monitor: action groups
def action_group(**props) -> dict:
    """The createOrUpdateActionGroup.json example body (2023-01-01), with overrides."""
    body = {
        "location": "Global",
        "tags": {},
        "properties": {
            "groupShortName": "sample",
            "enabled": True,
            "emailReceivers": [
                {"name": "John Doe's email", "emailAddress": "johndoe@email.com", "useCommonAlertSchema": False}
            ],
            "smsReceivers": [{"name": "John Doe's mobile", "countryCode": "1", "phoneNumber": "1234567890"}],
            "webhookReceivers": [
                {
                    "name": "Sample webhook 1",
                    "serviceUri": "http://www.example.com/webhook1",
                    "useCommonAlertSchema": True,
                }
            ],
            "voiceReceivers": [{"name": "Sample voice", "countryCode": "1", "phoneNumber": "1234567890"}],
        },
    }
    body["properties"].update(props)
    return body


def put_ag(raw, name: str, body: dict):
    return raw("PUT", f"{INSIGHTS}/actionGroups/{name}?{AG_API}", body)


def test_action_group_short_name(raw):
    """ "The action group short name 'x' is too long. Please specify a short name with '12' or less characters":
    400 GroupShortNameIsTooLong (Azure/bellhop#72, Azure/azure-rest-api-specs#2840). Missing short name
    (actionGroups_API.json requires it): 400 GroupShortNameIsNullOrEmpty (code inferred from the RP's naming,
    e.g. AutomationRunbookReceiverNameIsNullOrEmpty in MicrosoftDocs/azure-docs#37405)."""
    refused(put_ag(raw, "ag1", action_group(groupShortName="testascalev2-ag")), 400, "GroupShortNameIsTooLong")
    body = action_group()
    del body["properties"]["groupShortName"]
    refused(put_ag(raw, "ag1", body), 400, "GroupShortNameIsNullOrEmpty")


def test_action_group_receivers_are_checked(raw):
    """Receiver names unique, e-mail addresses, SMS country codes and numbers, webhook URIs well-formed
    (learn.microsoft.com/azure/azure-monitor/alerts/action-groups). Codes inferred from the RP's naming pattern."""
    dup = action_group(webhookReceivers=[{"name": "John Doe's email", "serviceUri": "https://example.com/x"}])
    refused(put_ag(raw, "ag2", dup), 400, "ReceiverNamesAreNotUnique")
    bad_mail = [{"name": "e", "emailAddress": "not-an-address"}]
    refused(put_ag(raw, "ag2", action_group(emailReceivers=bad_mail)), 400, "EmailAddressIsInvalid")
    refused(
        put_ag(raw, "ag2", action_group(smsReceivers=[{"name": "s", "countryCode": "+31", "phoneNumber": "6123"}])),
        400,
        "SmsReceiverCountryCodeIsInvalid",
    )
    refused(
        put_ag(raw, "ag2", action_group(smsReceivers=[{"name": "s", "countryCode": "31", "phoneNumber": "06-12"}])),
        400,
        "SmsReceiverPhoneNumberIsInvalid",
    )
    bad_hook = [{"name": "w", "serviceUri": "example.com/hook"}]
    refused(put_ag(raw, "ag2", action_group(webhookReceivers=bad_hook)), 400, "WebhookReceiverServiceUriIsInvalid")


def test_action_group_example_succeeds(raw):
    """createOrUpdateActionGroup.json: 201, receivers Enabled; a regional location is accepted too (regional action
    groups, action-groups docs)."""
    resp = put_ag(raw, "SampleActionGroup", action_group())
    assert resp.status_code == 201, resp.text
    assert resp.json()["properties"]["smsReceivers"][0]["status"] == "Enabled"
    assert put_ag(raw, "regional", {**action_group(), "location": "swedencentral"}).status_code == 201


# ====================================================================== monitor: activity log alerts
def activity_alert(**props) -> dict:
    """The ActivityLogAlertRule_CreateOrUpdate.json example body (2020-10-01), with overrides."""
    body = {
        "location": "Global",
        "tags": {},
        "properties": {
            "scopes": [f"/subscriptions/{SUB}"],
            "condition": {
                "allOf": [{"field": "category", "equals": "Administrative"}, {"field": "level", "equals": "Error"}]
            },
            "actions": {
                "actionGroups": [
                    {
                        "actionGroupId": f"{INSIGHTS}/actionGroups/SampleActionGroup",
                        "webhookProperties": {"sampleWebhookProperty": "SamplePropertyValue"},
                    }
                ]
            },
            "enabled": True,
            "description": "Description of sample Activity Log Alert rule.",
        },
    }
    body["properties"].update(props)
    return body


def put_ala(raw, name: str, body: dict):
    return raw("PUT", f"{INSIGHTS}/activityLogAlerts/{name}?{ALA_API}", body)


def test_activity_log_alert_needs_condition_and_existing_scopes(raw):
    """activityLogAlerts_API.json AlertRuleProperties requires scopes, condition (allOf) and actions: 400
    BadRequest; a scope that does not exist: 400 BadRequest (message inferred)."""
    refused(put_ala(raw, "ala1", activity_alert(condition={"allOf": []})), 400, "BadRequest")
    body = activity_alert()
    del body["properties"]["condition"]
    refused(put_ala(raw, "ala1", body), 400, "BadRequest")
    refused(put_ala(raw, "ala1", activity_alert(scopes=[])), 400, "BadRequest")
    nowhere = [f"/subscriptions/{SUB}/resourceGroups/rg-nope"]
    refused(put_ala(raw, "ala1", activity_alert(scopes=nowhere)), 400, "BadRequest")
    body = activity_alert()
    del body["properties"]["actions"]
    refused(put_ala(raw, "ala1", body), 400, "BadRequest")


def test_activity_log_alert_location_is_global(raw):
    """activityLogAlerts_API.json: 'Since Azure Activity Log Alerts is a global service, the location of the rules
    should always be 'global''; another location: 400 LocationNotAvailableForResourceType."""
    refused(
        put_ala(raw, "ala2", {**activity_alert(), "location": "westeurope"}), 400, "LocationNotAvailableForResourceType"
    )


def test_activity_log_alert_example_succeeds(raw):
    """ActivityLogAlertRule_CreateOrUpdate.json: 201 then 200."""
    assert put_ag(raw, "SampleActionGroup", action_group()).status_code == 201
    assert put_ala(raw, "SampleActivityLogAlertRule", activity_alert()).status_code == 201
    assert put_ala(raw, "SampleActivityLogAlertRule", activity_alert()).status_code == 200
