"""Azure Policy at work in the sandbox: deny refuses writes, modify changes them, evaluation computes compliance,
remediation changes what does not comply, exemptions exempt until they expire.

Sources per test (Azure/azure-rest-api-specs paths under specification/; learn.microsoft.com pages under
azure/governance/policy/); "inferred" where Azure's exact code could not be confirmed. Built-in rules are the
published ones (Azure/azure-policy built-in-policies/policyDefinitions, commit f4a50bac).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
POLICY_API = "api-version=2023-04-01"
EXEMPTION_API = "api-version=2022-07-01-preview"
STATES_API = "api-version=2019-10-01"
REMEDIATION_API = "api-version=2021-10-01"
SCOPE = f"/subscriptions/{SUB}"
PA = f"{SCOPE}/providers/Microsoft.Authorization/policyAssignments"
PD = f"{SCOPE}/providers/Microsoft.Authorization/policyDefinitions"
PSD = f"{SCOPE}/providers/Microsoft.Authorization/policySetDefinitions"
EX = f"{SCOPE}/providers/Microsoft.Authorization/policyExemptions"
STATES = f"{SCOPE}/providers/Microsoft.PolicyInsights/policyStates"
REM = f"{SCOPE}/providers/Microsoft.PolicyInsights/remediations"
BUILTIN = "/providers/Microsoft.Authorization/policyDefinitions/"
ALLOWED_LOCATIONS = BUILTIN + "e56962a6-4747-49cd-b67b-bf8b01975c4c"
REQUIRE_TAG = BUILTIN + "871b6d14-10aa-478d-b590-94f262ecfa99"
INHERIT_TAG = BUILTIN + "ea3f2387-9b95-492a-a190-fcdc54f7b070"
RG_REQUIRE_TAG = BUILTIN + "96670d01-0a4d-4649-9c89-2d3abc0a5025"
DEFENDER_SERVERS = BUILTIN + "4da35fc9-c9e7-4960-aec9-797fe7d9051d"
VM_BACKUP = BUILTIN + "013e242c-8828-4970-87b3-ab247555486d"
RG = f"{SCOPE}/resourceGroups/rg-prod-web"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/stcontosoprodweb"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
STORAGE_API = "api-version=2023-05-01"


def assign(raw, name: str, definition: str, parameters: dict | None = None, scope: str = SCOPE, **extra):
    body = {"properties": {"policyDefinitionId": definition, "parameters": parameters or {}, **extra.pop("props", {})}}
    body.update(extra)
    return raw("PUT", f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}?{POLICY_API}", body)


def evaluate(raw, scope: str = SCOPE) -> None:
    """Trigger an evaluation and poll its Location until it ends (PolicyStates_TriggerSubscriptionEvaluation)."""
    resp = raw("POST", f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation?{STATES_API}")
    assert resp.status_code == 202, resp.text
    for _ in range(10):
        polled = raw("GET", resp.headers["Location"])
        if polled.status_code == 200:
            return
    raise AssertionError("evaluation never ended")


def summary(raw, scope: str = SCOPE) -> dict:
    resp = raw("POST", f"{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?{STATES_API}")
    assert resp.status_code == 200, resp.text
    return resp.json()["value"][0]


def put_storage(raw, name: str, location: str = "westeurope", tags: dict | None = None):
    body = {"location": location, "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "tags": tags or {}}
    return raw("PUT", f"{RG}/providers/Microsoft.Storage/storageAccounts/{name}?{STORAGE_API}", body)


# ====================================================================== deny
def test_deny_refuses_a_write_with_request_disallowed_by_policy(raw):
    """A deny effect refuses the write: 403 RequestDisallowedByPolicy, "Resource 'x' was disallowed by policy.
    Policy identifiers: ...", additionalInfo of type PolicyViolation naming the assignment and definition
    (learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-policy-requestdisallowedbypolicy;
    MicrosoftDocs azure-docs automation/enforce-job-execution-hybrid-worker.md quotes the body)."""
    params = {"listOfAllowedLocations": {"value": ["westeurope", "northeurope"]}}
    assert assign(raw, "allowed-locations", ALLOWED_LOCATIONS, params).status_code == 201
    err = refused(put_storage(raw, "stmarseast", location="eastus"), 403, "RequestDisallowedByPolicy")
    assert err["message"].startswith("Resource 'stmarseast' was disallowed by policy. Policy identifiers: ")
    info = err["additionalInfo"][0]
    assert info["type"] == "PolicyViolation"
    assert info["info"]["policyAssignmentName"] == "allowed-locations"
    assert info["info"]["policyDefinitionName"] == "e56962a6-4747-49cd-b67b-bf8b01975c4c"
    assert put_storage(raw, "stallowedweu").status_code in (200, 201, 202)


def test_deny_applies_to_tag_writes_and_resource_groups(raw):
    """A tags write is evaluated as the resource it leaves (Tags_UpdateAtScope); a mode All definition also judges
    resource groups (ResourceGroupRequireTag_Deny.json). Tag names compare case-insensitively."""
    assert assign(raw, "need-owner", REQUIRE_TAG, {"tagName": {"value": "owner"}}).status_code == 201
    tags = f"{STORAGE}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01"
    refused(raw("PUT", tags, {"properties": {"tags": {"env": "prod"}}}), 403, "RequestDisallowedByPolicy")
    ok = raw("PUT", tags, {"properties": {"tags": {"env": "prod", "Owner": "it"}}})
    assert ok.status_code == 200, ok.text
    assert assign(raw, "rg-need-cc", RG_REQUIRE_TAG, {"tagName": {"value": "costcenter"}}).status_code == 201
    body = {"location": "westeurope", "tags": {}}
    refused(
        raw("PUT", f"{SCOPE}/resourcegroups/rg-untagged?api-version=2021-04-01", body), 403, "RequestDisallowedByPolicy"
    )
    body["tags"] = {"costcenter": "1"}
    assert raw("PUT", f"{SCOPE}/resourcegroups/rg-tagged?api-version=2021-04-01", body).status_code == 201


def test_do_not_enforce_and_exemptions_let_the_write_through_until_the_exemption_expires(raw):
    """enforcementMode DoNotEnforce: effects are not enforced (assignment-structure#enforcement-mode); an exemption
    (Waiver) at the resource group exempts it; expired, it "is no longer honored" (exemption-structure#expiration).
    Exemptions: Microsoft.Authorization/preview/2022-07-01-preview/policyExemptions.json."""
    params = {"tagName": {"value": "owner"}}
    assert assign(raw, "soft", REQUIRE_TAG, params, props={"enforcementMode": "DoNotEnforce"}).status_code == 201
    assert put_storage(raw, "stsoft01").status_code in (200, 201, 202)
    assert assign(raw, "hard", REQUIRE_TAG, params).status_code == 201
    refused(put_storage(raw, "sthard01"), 403, "RequestDisallowedByPolicy")
    future = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ex = {"properties": {"policyAssignmentId": f"{PA}/hard", "exemptionCategory": "Waiver", "expiresOn": future}}
    url = f"{RG}/providers/Microsoft.Authorization/policyExemptions/waive-owner?{EXEMPTION_API}"
    resp = raw("PUT", url, ex)
    assert resp.status_code == 201, resp.text
    assert resp.json()["properties"]["exemptionCategory"] == "Waiver"
    assert put_storage(raw, "sthard02").status_code in (200, 201, 202)
    past = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ex["properties"]["expiresOn"] = past
    assert raw("PUT", url, ex).status_code == 200
    refused(put_storage(raw, "sthard03"), 403, "RequestDisallowedByPolicy")
    listed = raw("GET", f"{EX}?{EXEMPTION_API}").json()["value"]
    assert [e["name"] for e in listed] == ["waive-owner"]


def test_exemption_refusals(raw):
    """policyExemptions.json requires policyAssignmentId and exemptionCategory (Waiver | Mitigated); a missing
    assignment or a scope outside it: 400 InvalidCreatePolicyExemptionRequest (azure-sdk-for-net LivePolicyTests
    ValidatePolicyExemptionErrorHandling; 'not at or under' as matched by terraform-provider-azurerm); a reference id
    on an assignment of a single definition: Azure's message quoted in Azure/enterprise-azure-policy-as-code#267;
    an unknown reference id: InvalidPolicyDefinitionReference (same SDK test)."""
    assert assign(raw, "one", REQUIRE_TAG, {"tagName": {"value": "owner"}}, scope=RG).status_code == 201
    url = f"{RG}/providers/Microsoft.Authorization/policyExemptions/e1?{EXEMPTION_API}"
    rg_pa = f"{RG}/providers/Microsoft.Authorization/policyAssignments/one"
    refused(raw("PUT", url, {"properties": {"exemptionCategory": "Waiver"}}), 400, "InvalidRequestContent")
    bad_cat = {"properties": {"policyAssignmentId": rg_pa, "exemptionCategory": "Forever"}}
    refused(raw("PUT", url, bad_cat), 400, "InvalidRequestContent")
    missing = {"properties": {"policyAssignmentId": f"{PA}/nope", "exemptionCategory": "Waiver"}}
    refused(raw("PUT", url, missing), 400, "InvalidCreatePolicyExemptionRequest")
    above = f"{SCOPE}/providers/Microsoft.Authorization/policyExemptions/e2?{EXEMPTION_API}"
    refused(
        raw("PUT", above, {"properties": {"policyAssignmentId": rg_pa, "exemptionCategory": "Waiver"}}),
        400,
        "InvalidCreatePolicyExemptionRequest",
    )
    refs = {"policyAssignmentId": rg_pa, "exemptionCategory": "Mitigated", "policyDefinitionReferenceIds": ["x"]}
    refused(raw("PUT", url, {"properties": refs}), 400, "InvalidCreatePolicyExemptionRequest")


# ====================================================================== modify
def test_modify_changes_the_write_and_remediation_fixes_existing_resources(raw, sandbox):
    """Modify (effect-modify): a create gets the inherited tag on the way in (InheritTag_Add_Modify.json); existing
    resources stay non-compliant until a remediation task (remediations.json 2021-10-01, Remediations_CreateAtSubscription)
    runs as the assignment's identity, which needs the definition's roleDefinitionIds (Contributor): without the
    role the deployments fail, with it they succeed and the resources comply."""
    body = {"location": "westeurope", "tags": {"env": "prod", "costcenter": "4100"}}
    assert raw("PATCH", f"{RG}?api-version=2021-04-01", {"tags": body["tags"]}).status_code == 200
    identity = {"type": "SystemAssigned"}
    resp = assign(
        raw, "inherit-cc", INHERIT_TAG, {"tagName": {"value": "costcenter"}}, identity=identity, location="westeurope"
    )
    assert resp.status_code == 201, resp.text
    principal = resp.json()["identity"]["principalId"]
    created = put_storage(raw, "stinherit01", tags={"env": "prod"})
    assert created.json()["tags"] == {"env": "prod", "costcenter": "4100"}
    evaluate(raw)
    before = summary(raw)
    pa = next(a for a in before["policyAssignments"] if a["policyAssignmentId"].endswith("/inherit-cc"))
    assert pa["results"]["nonCompliantResources"] >= 4  # the group's web apps, plans, vault, storage
    rem = {"properties": {"policyAssignmentId": f"{PA}/inherit-cc"}}
    resp = raw("PUT", f"{REM}/fix-cc-1?{REMEDIATION_API}", rem)
    assert resp.status_code == 201 and resp.json()["properties"]["provisioningState"] == "Accepted"
    done = _wait(raw, f"{REM}/fix-cc-1?{REMEDIATION_API}")
    assert done["properties"]["provisioningState"] == "Failed"
    deps = raw("POST", f"{REM}/fix-cc-1/listDeployments?{REMEDIATION_API}").json()["value"]
    assert deps and all(d["error"]["code"] == "AuthorizationFailed" for d in deps)
    grant = {
        "properties": {
            "roleDefinitionId": f"{SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }
    }
    ra = raw(
        "PUT",
        f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments/4b1a7f0e-0c53-4f2b-9d9a-1c2b3d4e5f60?api-version=2022-04-01",
        grant,
    )
    assert ra.status_code == 201, ra.text
    assert raw("PUT", f"{REM}/fix-cc-2?{REMEDIATION_API}", rem).status_code == 201
    done = _wait(raw, f"{REM}/fix-cc-2?{REMEDIATION_API}")
    assert done["properties"]["provisioningState"] == "Succeeded", done
    assert done["properties"]["deploymentStatus"]["successfulDeployments"] == pa["results"]["nonCompliantResources"]
    assert raw("GET", f"{STORAGE}?{STORAGE_API}").json()["tags"]["costcenter"] == "4100"
    after = summary(raw)
    pa = next(a for a in after["policyAssignments"] if a["policyAssignmentId"].endswith("/inherit-cc"))
    assert pa["results"]["nonCompliantResources"] == 0


def _wait(raw, url: str) -> dict:
    for _ in range(10):
        body = raw("GET", url).json()
        if body["properties"]["provisioningState"] not in ("Accepted", "Evaluating", "Running"):
            return body
    raise AssertionError("remediation never ended")


def test_remediation_refusals(raw):
    """A remediation of a policy without deployIfNotExists / modify, of an initiative without the reference id, or of
    an assignment that does not exist is refused (remediations.json; codes inferred from
    'InvalidCreateRemediationRequest' in azure-sdk-for-python policyinsights live tests)."""
    assert (
        assign(
            raw,
            "audit-loc",
            ALLOWED_LOCATIONS,
            {"listOfAllowedLocations": {"value": ["westeurope"]}, "effect": {"value": "Audit"}},
        ).status_code
        == 201
    )
    refused(
        raw("PUT", f"{REM}/r1?{REMEDIATION_API}", {"properties": {"policyAssignmentId": f"{PA}/audit-loc"}}),
        400,
        "InvalidCreateRemediationRequest",
    )
    refused(
        raw("PUT", f"{REM}/r2?{REMEDIATION_API}", {"properties": {"policyAssignmentId": f"{PA}/none"}}),
        404,
        "PolicyAssignmentNotFound",
    )
    bad_mode = {"properties": {"policyAssignmentId": f"{PA}/audit-loc", "resourceDiscoveryMode": "Everything"}}
    refused(raw("PUT", f"{REM}/r3?{REMEDIATION_API}", bad_mode), 400, "InvalidRequestContent")


# ====================================================================== compliance
def test_compliance_is_computed_only_after_an_evaluation_and_counts_what_the_rule_selects(raw):
    """A new assignment has no states until an evaluation covers it (how-to/get-compliance-data: on-demand scan,
    202 + Location); then summarize (PolicyStates_SummarizeForSubscription) counts per policy; auditIfNotExists on
    the subscription (ASC_EnableAdvancedThreatProtectionOnVM_Audit.json) is compliant once the Defender pricing is
    Standard; resources a rule's type condition does not select are not counted (concepts/policy-applicability)."""
    assert assign(raw, "defender", DEFENDER_SERVERS).status_code == 201
    assert assign(raw, "vm-backup", VM_BACKUP).status_code == 201
    assert not [
        a for a in summary(raw)["policyAssignments"] if a["policyAssignmentId"].endswith(("/defender", "/vm-backup"))
    ]
    evaluate(raw)
    got = {a["policyAssignmentId"].rsplit("/", 1)[-1]: a["results"] for a in summary(raw)["policyAssignments"]}
    assert got["defender"]["nonCompliantResources"] == 1  # the subscription, Servers plan Free
    assert got["vm-backup"]["nonCompliantResources"] == 5  # the five VMs, none protected
    assert sum(d["count"] for d in got["vm-backup"]["resourceDetails"]) == 5  # only VMs are counted
    pricing = {"properties": {"pricingTier": "Standard", "subPlan": "P2"}}
    assert (
        raw(
            "PUT", f"{SCOPE}/providers/Microsoft.Security/pricings/VirtualMachines?api-version=2024-01-01", pricing
        ).status_code
        == 200
    )
    got = {a["policyAssignmentId"].rsplit("/", 1)[-1]: a["results"] for a in summary(raw)["policyAssignments"]}
    assert got["defender"]["nonCompliantResources"] == 0
    rows = raw(
        "POST",
        f"{STATES}/latest/queryResults?{STATES_API}&$filter=complianceState eq 'NonCompliant' and policyAssignmentName eq 'vm-backup'",
    ).json()["value"]
    assert len(rows) == 5 and {r["resourceType"] for r in rows} == {"Microsoft.Compute/virtualMachines"}


def test_a_new_identity_may_not_be_found_at_once(raw, sandbox):
    """A role assignment for a just-created managed identity can fail with 400 PrincipalNotFound while the directory
    replicates (Azure's message quoted in Azure/HubAndSpokeResearchEnclave#50; fault switch identity_replication)."""
    sandbox.set_faults(identity_replication=1)
    resp = assign(
        raw,
        "inherit-x",
        INHERIT_TAG,
        {"tagName": {"value": "x"}},
        identity={"type": "SystemAssigned"},
        location="westeurope",
    )
    principal = resp.json()["identity"]["principalId"]
    grant = {
        "properties": {
            "roleDefinitionId": f"{SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }
    }
    url = f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments/5c2b8f1e-0c53-4f2b-9d9a-1c2b3d4e5f61?api-version=2022-04-01"
    err = refused(raw("PUT", url, grant), 400, "PrincipalNotFound")
    assert "replication delay" in err["message"]
    assert raw("PUT", url, grant).status_code == 201


@pytest.mark.parametrize("rule", [{"count": {"field": "x[*]"}, "greater": 0}])
def test_rules_outside_the_emulated_language_are_reported_unknown_not_guessed(raw, rule):
    """A custom rule using what the sandbox does not evaluate ('count') gets complianceState Unknown rather than a
    made-up verdict (sandbox limit, documented in docs/sandbox.md)."""
    definition = {"properties": {"mode": "Indexed", "policyRule": {"if": rule, "then": {"effect": "audit"}}}}
    assert raw("PUT", f"{PD}/uses-count?{POLICY_API}", definition).status_code == 201
    assert assign(raw, "uses-count", f"{PD}/uses-count").status_code == 201
    evaluate(raw)
    rows = raw(
        "POST", f"{STATES}/latest/queryResults?{STATES_API}&$filter=policyAssignmentName eq 'uses-count'"
    ).json()["value"]
    assert rows and {r["complianceState"] for r in rows} == {"Unknown"}


def test_the_sdk_sees_the_deny(clients):
    """The real SDK surfaces the deny as HttpResponseError with Azure's code."""
    pc = clients.policy(SUB)
    pc.policy_assignments.create(
        SCOPE,
        "sdk-locations",
        {
            "properties": {
                "policyDefinitionId": ALLOWED_LOCATIONS,
                "parameters": {"listOfAllowedLocations": {"value": ["westeurope"]}},
            }
        },
    )
    body = {"location": "northeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}}
    with pytest.raises(HttpResponseError) as err:
        clients.resource(SUB).resources.begin_create_or_update_by_id(
            f"{RG}/providers/Microsoft.Storage/storageAccounts/stnorth01", body, api_version="2023-05-01"
        ).result()
    assert err.value.error is not None and err.value.error.code == "RequestDisallowedByPolicy"
    # mode Indexed: resource groups are not judged by this definition (a separate built-in covers them)
    clients.resource(SUB).resource_groups.create_or_update("rg-in-the-north", {"location": "northeurope"})
