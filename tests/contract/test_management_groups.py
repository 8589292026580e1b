"""Management groups as a scope (issue 27, "scope rules for definitions: built-in, management group, subscription"):
the tenant root group, roles assigned at it, policy definitions stored at it, and the refusals Azure gives.

Sources: specification/managementgroups/resource-manager/Microsoft.Management/ManagementGroups/stable/2023-04-01/
(management.json; examples/GetManagementGroupWithExpand.json, ListManagementGroups.json); azure-cli#15871 and
pulumi/pulumi-azure-nextgen#263 (an unknown or unreadable group is 403 AuthorizationFailed "... or the scope is
invalid"); the Policy Definitions - List reference ("including those that apply directly or from management groups
that contain the given subscription"); Azure/Azure-Landing-Zones#2063 and Azure/Enterprise-Scale#901
(InvalidCreatePolicyAssignmentRequest "... is out of scope ...")."""

from __future__ import annotations

import pytest

from runbook.adapters.clients import ARM_SCOPE
from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

API = "api-version=2023-04-01"
POLICY_API = "api-version=2023-04-01"
DEFINITION = {
    "properties": {
        "displayName": "Require an owner tag",
        "mode": "Indexed",
        "policyRule": {"if": {"field": "tags['owner']", "exists": "false"}, "then": {"effect": "audit"}},
    }
}


@pytest.fixture
def root(sandbox) -> str:
    return f"/providers/Microsoft.Management/managementGroups/{sandbox.conn.tenant_id}"


def token_of(sandbox, name: str, role: str, scope: str) -> str:
    client_id, secret, _ = sandbox.add_principal(name, role, scope)
    return sandbox.credential(client_id, secret).get_token(ARM_SCOPE).token


def test_the_root_group_is_read_with_its_subscriptions_as_children(sandbox, raw, root):
    """GetManagementGroupWithExpand.json: id, type, name = the tenant id, properties.tenantId / displayName /
    details.parent, `$expand=children` lists the subscriptions (type "/subscriptions")."""
    token = token_of(sandbox, "mg-reader", "Reader", root)
    got = raw("GET", f"{root}?{API}&$expand=children", token=token)
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["id"], body["type"], body["name"]) == (
        root,
        "Microsoft.Management/managementGroups",
        sandbox.conn.tenant_id,
    )
    assert body["properties"]["tenantId"] == sandbox.conn.tenant_id and body["properties"]["details"]["parent"] is None
    children = {c["name"]: c["type"] for c in body["properties"]["children"]}
    assert set(DEMO_SUBS) <= set(children) and set(children.values()) == {"/subscriptions"}
    listed = raw("GET", f"/providers/Microsoft.Management/managementGroups?{API}", token=token).json()["value"]
    assert [g["name"] for g in listed] == [sandbox.conn.tenant_id]


def test_a_group_the_caller_cannot_read_or_that_does_not_exist_is_403(raw, root):
    """The runbook's principal holds roles on subscriptions (Lighthouse), none at the root group: reading it is 403,
    as is any group name that does not exist; the list holds nothing."""
    err = refused(raw("GET", f"{root}?{API}"), 403, "AuthorizationFailed")
    assert (
        "Microsoft.Management/managementGroups/read" in err["message"] and "or the scope is invalid" in err["message"]
    )
    missing = "/providers/Microsoft.Management/managementGroups/mg-contoso-does-not-exist"
    err = refused(raw("GET", f"{missing}?{API}"), 403, "AuthorizationFailed")
    assert missing in err["message"]
    assert raw("GET", f"/providers/Microsoft.Management/managementGroups?{API}").json()["value"] == []
    bad = raw("GET", "/providers/Microsoft.Management/managementGroups?api-version=2099-01-01")
    refused(bad, 400, "NoRegisteredProviderFound")


def test_a_role_assigned_at_the_root_group_reaches_every_subscription(sandbox, raw, root):
    """RBAC inheritance: a Reader at the root group reads each subscription's resource groups."""
    token = token_of(sandbox, "mg-wide-reader", "Reader", root)
    for sub in DEMO_SUBS:
        assert raw("GET", f"/subscriptions/{sub}/resourcegroups?api-version=2025-04-01", token=token).status_code == 200
    assignments = raw(
        "GET", f"/subscriptions/{DEMO_SUBS[0]}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
    ).json()["value"]
    assert any(a["properties"]["scope"].lower() == root.lower() for a in assignments)  # listed where it applies


def test_a_definition_at_the_root_group_serves_assignments_below_it(sandbox, raw, root):
    """A custom definition stored at the group: read there (200), not at a subscription (404), listed at each
    subscription below it, assignable at a subscription below it."""
    token = token_of(sandbox, "mg-policy", "Resource Policy Contributor", root)
    def_path = f"{root}/providers/Microsoft.Authorization/policyDefinitions/require-owner-tag"
    made = raw("PUT", f"{def_path}?{POLICY_API}", DEFINITION, token=token)
    assert made.status_code == 201, made.text
    assert made.json()["id"].lower() == def_path.lower() and made.json()["properties"]["policyType"] == "Custom"
    assert raw("GET", f"{def_path}?{POLICY_API}", token=token).status_code == 200
    at_sub = f"/subscriptions/{DEMO_SUBS[0]}/providers/Microsoft.Authorization/policyDefinitions/require-owner-tag"
    refused(raw("GET", f"{at_sub}?{POLICY_API}"), 404, "PolicyDefinitionNotFound")
    listed = raw(
        "GET",
        f"/subscriptions/{DEMO_SUBS[1]}/providers/Microsoft.Authorization/policyDefinitions?{POLICY_API}&$filter=policyType eq 'Custom'",
    ).json()["value"]
    assert [d["id"].lower() for d in listed] == [def_path.lower()]
    assignment = f"/subscriptions/{DEMO_SUBS[0]}/providers/Microsoft.Authorization/policyAssignments/owner-tag"
    body = {"properties": {"policyDefinitionId": def_path, "displayName": "Owner tag"}}
    assert raw("PUT", f"{assignment}?{POLICY_API}", body).status_code == 201


def test_a_definition_below_or_beside_the_assignment_scope_is_out_of_scope(raw):
    """A definition stored at one subscription cannot be assigned at another: 400 InvalidCreatePolicyAssignmentRequest
    "... is out of scope. Policy definitions should be specified only at or above the policy assignment scope ..."."""
    own = f"/subscriptions/{DEMO_SUBS[0]}/providers/Microsoft.Authorization/policyDefinitions/local-audit"
    assert raw("PUT", f"{own}?{POLICY_API}", DEFINITION).status_code == 201
    elsewhere = f"/subscriptions/{DEMO_SUBS[1]}/providers/Microsoft.Authorization/policyAssignments/local-audit"
    body = {"properties": {"policyDefinitionId": own}}
    err = refused(raw("PUT", f"{elsewhere}?{POLICY_API}", body), 400, "InvalidCreatePolicyAssignmentRequest")
    assert "'local-audit' is out of scope" in err["message"]
    same = f"/subscriptions/{DEMO_SUBS[0]}/providers/Microsoft.Authorization/policyAssignments/local-audit"
    assert raw("PUT", f"{same}?{POLICY_API}", body).status_code == 201


def test_writes_at_a_group_need_a_role_there_and_an_existing_group(raw, root):
    """The runbook's principal (roles on subscriptions only) cannot write at the root group (403 for the write
    action), and a group that does not exist is 403 "or the scope is invalid" whatever the caller holds."""
    def_path = f"{root}/providers/Microsoft.Authorization/policyDefinitions/not-mine"
    err = refused(raw("PUT", f"{def_path}?{POLICY_API}", DEFINITION), 403, "AuthorizationFailed")
    assert "Microsoft.Authorization/policyDefinitions/write" in err["message"]
    ghost = "/providers/Microsoft.Management/managementGroups/mg-ghost/providers/Microsoft.Authorization/policyDefinitions/x"
    err = refused(raw("PUT", f"{ghost}?{POLICY_API}", DEFINITION), 403, "AuthorizationFailed")
    assert "/providers/Microsoft.Management/managementGroups/mg-ghost" in err["message"]
