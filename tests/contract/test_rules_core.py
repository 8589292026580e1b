"""What Azure refuses, and so does the sandbox: identity, paths, body shape, locations, names, tags, $filter, locks,
RBAC and Lighthouse. Each test names its source (azure-rest-api-specs file or Microsoft Learn page) and asserts the
status code and Azure's error code; positive cases sit beside the negative ones."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from runbook.adapters.clients import ARM_SCOPE, GRAPH_SCOPE
from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB, SUB_LIGHTHOUSE = DEMO_SUBS[0], DEMO_SUBS[2]
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web"
VM = f"/subscriptions/{SUB}/resourceGroups/rg-prod-vms/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"
V = "?api-version=2025-04-01"
RUNBOOK_OID = "9a2e4c61-7b3d-4f85-a1c9-0d6e8f2b5a73"
MSP_TENANT = "0b8e6a2d-93c4-4f5e-8d17-5a9c3e2f1b40"
ROLE = "/providers/Microsoft.Authorization/roleDefinitions/"
READER, CONTRIBUTOR, OWNER = (
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
)
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


def token(sandbox, audience: str = "https://management.azure.com", **kw) -> str:
    """A token signed by the sandbox's issuer with chosen claims (another tenant, past expiry, future nbf)."""
    app = sandbox.sandbox.app
    return app.tokens.issue(
        sandbox.conn.client_id, RUNBOOK_OID, audience, f"{sandbox.url}/{sandbox.conn.tenant_id}/v2.0", **kw
    )


# ----------------------------------------------------------------------------------------------------------- identity
def test_arm_refuses_a_graph_token_and_graph_an_arm_token(sandbox, raw):
    """ARM: 401 InvalidAuthenticationTokenAudience; Graph: 401 InvalidAuthenticationToken "Invalid audience".
    Source: learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors (Invalid
    authentication token audience), learn.microsoft.com/graph/resolve-auth-errors (401 Invalid audience)."""
    cred = sandbox.credential(sandbox.conn.client_id, Path(sandbox.conn.secret_path).read_text().strip())
    graph_token = cred.get_token(GRAPH_SCOPE).token
    refused(raw("GET", RG + V, token=graph_token), 401, "InvalidAuthenticationTokenAudience")
    arm_token = cred.get_token(ARM_SCOPE).token
    resp = raw("GET", "/v1.0/organization", token=arm_token)
    refused(resp, 401, "InvalidAuthenticationToken")
    assert "audience" in resp.json()["error"]["message"]
    assert raw("GET", "/v1.0/organization", token=graph_token).status_code == 200
    assert raw("GET", RG + V, token=arm_token).status_code == 200


def test_token_lifetime_and_tenant_are_checked(sandbox, raw):
    """Expired: 401 ExpiredAuthenticationToken; not yet valid: 401 InvalidAuthenticationToken; another tenant's token
    on a subscription it neither owns nor manages: 401 InvalidAuthenticationTokenTenant; a managing (Lighthouse)
    tenant's token on the delegated subscription is accepted. Source: learn.microsoft.com/azure/azure-resource-manager/
    troubleshooting/error-invalid-authentication-token (and ARM's documented error bodies); Lighthouse cross-tenant
    access: learn.microsoft.com/azure/lighthouse/concepts/cross-tenant-management-experience."""
    refused(raw("GET", RG + V, token=token(sandbox, lifetime=-60)), 401, "ExpiredAuthenticationToken")
    refused(raw("GET", RG + V, token=token(sandbox, not_before=3600)), 401, "InvalidAuthenticationToken")
    other = str(uuid.uuid4())
    refused(raw("GET", RG + V, token=token(sandbox, tenant_id=other)), 401, "InvalidAuthenticationTokenTenant")
    msp = token(sandbox, tenant_id=MSP_TENANT)
    refused(raw("GET", RG + V, token=msp), 401, "InvalidAuthenticationTokenTenant")  # sub 1 is not delegated
    assert raw("GET", f"/subscriptions/{SUB_LIGHTHOUSE}/resourcegroups{V}", token=msp).status_code == 200
    expired = raw("GET", RG + V, token=token(sandbox, lifetime=-60))
    assert "ExpiredAuthenticationToken" in expired.headers["WWW-Authenticate"]


def test_token_endpoint_refuses_an_unknown_resource(sandbox):
    """Entra ID: AADSTS500011 invalid_resource ("The resource principal named ... was not found in the tenant").
    Source: learn.microsoft.com/entra/identity-platform/reference-error-codes (AADSTS500011)."""
    cred = sandbox.credential(sandbox.conn.client_id, Path(sandbox.conn.secret_path).read_text().strip())
    with pytest.raises(ClientAuthenticationError) as err:
        cred.get_token("https://vault.example.invalid/.default")
    assert "AADSTS500011" in str(err.value)


# ------------------------------------------------------------------------------------------------ paths and names
def test_unicode_and_spaces_in_names_and_any_casing_end_to_end(clients):
    """ARM percent-decodes names; segments compare case-insensitively and IDs keep the casing they were created with.
    Resource group names take Unicode letters but no spaces; many resource types (alerts, action groups) take spaces.
    Source: learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules (resourcegroups: Unicode
    letters, underscores, periods, parentheses, hyphens), resources.json ResourceGroups_CreateOrUpdate."""
    rc = clients.resource(SUB)
    name = "RG-Ünïcode-(Zoë)_1"
    created = rc.resource_groups.create_or_update(name, {"location": "West Europe", "tags": {"owner": "Zoë"}})
    assert created.name == name and created.location == "westeurope"
    again = rc.resource_groups.get(name.lower())
    assert again.id == f"/subscriptions/{SUB}/resourceGroups/{name}"
    merged = rc.tags.begin_update_at_scope(
        again.id, {"operation": "Merge", "properties": {"tags": {"Intercept": "Managed"}}}
    ).result()
    assert merged.properties.tags == {"owner": "Zoë", "Intercept": "Managed"}
    assert name in [g.name for g in rc.resource_groups.list()]
    mon = clients.monitor(SUB)
    group = mon.action_groups.create_or_update(
        name.upper(), "Büro Alerts – Zoë", {"location": "Global", "group_short_name": "buero", "enabled": True}
    )
    assert group.name == "Büro Alerts – Zoë" and f"/resourceGroups/{name}/" in group.id
    assert mon.action_groups.get(name.lower(), "büro alerts – zoë").id == group.id
    with pytest.raises(HttpResponseError) as err:
        rc.resource_groups.create_or_update("rg with space", {"location": "westeurope"})
    assert err.value.error.code == "InvalidResourceGroup"


def test_resource_group_names_and_locations_are_validated(raw):
    """Unknown location: 400 LocationNotAvailableForResourceGroup / ...ForResourceType; bad group name: 400
    InvalidResourceGroup; locations come from Subscriptions_ListLocations. Sources: resources.json (resourceGroupName
    pattern ^[-\\w\\._\\(\\)]+$, max 90), subscriptions.json Subscriptions_ListLocations, resource-name-rules."""
    base = f"/subscriptions/{SUB}/resourcegroups"
    refused(raw("PUT", f"{base}/rg-mars{V}", {"location": "marsnorth"}), 400, "LocationNotAvailableForResourceGroup")
    refused(raw("PUT", f"{base}/rg-none{V}", {}), 400, "LocationRequired")
    refused(raw("PUT", f"{base}/rg*star{V}", {"location": "westeurope"}), 400, "InvalidResourceGroup")
    refused(raw("PUT", f"{base}/rg-dot.{V}", {"location": "westeurope"}), 400, "InvalidResourceGroup")
    refused(raw("PUT", f"{base}/{'r' * 91}{V}", {"location": "westeurope"}), 400, "InvalidResourceGroup")
    assert raw("PUT", f"{base}/{'r' * 90}{V}", {"location": "North Europe"}).status_code == 201
    st = "/providers/Microsoft.Storage/storageAccounts/"
    refused(
        raw(
            "PUT",
            f"{RG}{st}stmars?api-version=2023-05-01",
            {"location": "marsnorth", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
        ),
        400,
        "LocationNotAvailableForResourceType",
    )
    refused(
        raw("PUT", f"{RG}{st}Bad_Name?api-version=2023-05-01", {"location": "westeurope"}), 400, "InvalidResourceName"
    )
    locations = raw("GET", f"/subscriptions/{SUB}/locations?api-version=2022-12-01").json()["value"]
    assert {"westeurope", "northeurope", "eastus"} <= {loc["name"] for loc in locations}


@pytest.mark.parametrize("body", [[{"location": "westeurope"}], "westeurope", 42])
def test_a_body_that_is_not_a_json_object_is_400_not_a_dropped_connection(raw, body):
    """Any non-object body: 400 InvalidRequestContent. Source: ARM's request deserialization (common error
    'InvalidRequestContent', learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors)."""
    refused(raw("PUT", f"/subscriptions/{SUB}/resourcegroups/rg-shape{V}", body), 400, "InvalidRequestContent")
    resp = raw.session.put(
        raw.base + f"/subscriptions/{SUB}/resourcegroups/rg-shape{V}",
        data=b"{not json",
        headers={"Authorization": f"Bearer {raw.token}", "Content-Type": "application/json"},
        verify=raw.verify,
    )
    refused(resp, 400, "InvalidRequestContent")


# ------------------------------------------------------------------------------------------------------------ tags
def many(n: int) -> dict[str, str]:
    return {f"t{i:02d}": "v" for i in range(n)}


def test_tag_limits_on_every_write_path(raw):
    """At most 50 tags; name <= 512, value <= 256; names without < > % & \\ ? /; values are strings. Source:
    learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations."""
    tags_api = f"{VM}/providers/Microsoft.Resources/tags/default{V}"
    refused(raw("PUT", tags_api, {"properties": {"tags": many(51)}}), 400, "InvalidTags")
    refused(raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": many(51)}}), 400, "InvalidTags")
    refused(
        raw("PUT", f"/subscriptions/{SUB}/resourcegroups/rg-tags{V}", {"location": "westeurope", "tags": many(51)}),
        400,
        "InvalidTags",
    )
    refused(raw("PATCH", RG + V, {"tags": many(51)}), 400, "InvalidTags")
    action_group = f"{RG}/providers/Microsoft.Insights/actionGroups/ag-tags?api-version=2023-01-01"
    refused(
        raw(
            "PUT",
            action_group,
            {"location": "Global", "tags": many(60), "properties": {"groupShortName": "ag", "enabled": True}},
        ),
        400,
        "InvalidTags",
    )
    # merging 45 new tags into a resource holding 6 goes over the limit
    assert raw("PUT", tags_api, {"properties": {"tags": many(6)}}).status_code == 200
    refused(
        raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {f"n{i}": "v" for i in range(45)}}}),
        400,
        "InvalidTags",
    )
    assert (
        raw(
            "PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {f"n{i}": "v" for i in range(44)}}}
        ).status_code
        == 200
    )
    refused(
        raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {"x" * 513: "v"}}}), 400, "InvalidTagName"
    )
    refused(
        raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {"k": "v" * 257}}}),
        400,
        "InvalidTagValueLength",
    )
    for bad in ("a<b", "a>b", "50%", "a&b", "a\\b", "a?b", "a/b"):
        refused(
            raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {bad: "v"}}}),
            400,
            "InvalidTagNameCharacters",
        )
    refused(raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {" ": "v"}}}), 400, "InvalidTagName")
    refused(
        raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {"k": 5}}}), 400, "InvalidRequestContent"
    )
    refused(
        raw("PATCH", tags_api, {"operation": "Upsert", "properties": {"tags": {"k": "v"}}}),
        400,
        "InvalidRequestContent",
    )
    ok = raw("PATCH", tags_api, {"operation": "Merge", "properties": {"tags": {"t00": "w", "x" * 512: "v" * 256}}})
    refused(ok, 400, "InvalidTags")  # 51 with the long one
    ok = raw("PUT", tags_api, {"properties": {"tags": {**many(49), "x" * 512: "v" * 256}}})
    assert ok.status_code == 200 and len(ok.json()["properties"]["tags"]) == 50


# ---------------------------------------------------------------------------------------------------------- $filter
@pytest.mark.parametrize(
    "expr",
    [
        "tagName eq 'env' and resourceType eq 'Microsoft.Compute/virtualMachines'",  # tag filters stand alone
        "tagValue eq 'prod'",  # tagValue needs tagName
        "startswith(name, 'vm')",  # not a supported function
        "substringof('vm', location)",  # substringof only on name and resourceGroup
        "sku eq 'Standard'",  # not a filterable property
        "name eq 'a' or location eq 'westeurope'",  # or joins only substringof clauses
        "location eq 'westeurope' and name eq 'vm'",  # not a documented combination
    ],
)
def test_unsupported_resource_filters_are_400(raw, expr):
    """Resources_List $filter: the documented properties, substringof(value, name|resourceGroup), and the documented
    combinations only. Source: resources.json (2025-04-01) Resources_List `$filter` description."""
    refused(raw("GET", f"/subscriptions/{SUB}/resources{V}&$filter={expr}"), 400, "InvalidFilterInQueryString")


def test_supported_resource_filters_and_tags_hidden_under_a_tag_value_filter(raw):
    """The documented forms work; "when you filter by a tag name and value, the tags for each resource are not returned
    in the results". Source: resources.json (2025-04-01) Resources_List `$filter` description."""
    by_type = raw(
        "GET", f"/subscriptions/{SUB}/resources{V}&$filter=resourceType eq 'Microsoft.Compute/virtualMachines'"
    ).json()["value"]
    assert by_type and all(r["type"] == "Microsoft.Compute/virtualMachines" for r in by_type)
    combo = raw(
        "GET",
        f"/subscriptions/{SUB}/resources{V}&$filter=substringof('dc', name) and resourceType eq 'Microsoft.Compute/virtualMachines'",
    ).json()["value"]
    assert [r["name"] for r in combo] == ["vm-contoso-dc-01"]
    either = raw(
        "GET", f"/subscriptions/{SUB}/resources{V}&$filter=substringof('-dc-', name) or substringof('-app-01', name)"
    ).json()["value"]
    assert {"vm-contoso-dc-01", "vm-contoso-app-01"} <= {r["name"] for r in either}
    tagged = raw("GET", f"/subscriptions/{SUB}/resources{V}&$filter=tagName eq 'role' and tagValue eq 'dc'").json()[
        "value"
    ]
    assert tagged and all("tags" not in r for r in tagged)
    named = raw("GET", f"/subscriptions/{SUB}/resources{V}&$filter=tagName eq 'role'").json()["value"]
    assert named and all("role" in r["tags"] for r in named)
    refused(
        raw("GET", f"/subscriptions/{SUB}/resourcegroups{V}&$filter=location eq 'westeurope'"),
        400,
        "InvalidFilterInQueryString",
    )


# ------------------------------------------------------------------------------------------------------------ locks
def test_lock_level_is_required_and_an_enum(raw, clients):
    """ManagementLockProperties.level is required, one of CanNotDelete / ReadOnly. Source: specification/resources/
    resource-manager/Microsoft.Authorization/locks/stable/2020-05-01/locks.json (ManagementLockProperties)."""
    lock = f"{RG}/providers/Microsoft.Authorization/locks/lk?api-version=2020-05-01"
    refused(raw("PUT", lock, {"properties": {}}), 400, "InvalidRequestContent")
    refused(raw("PUT", lock, {"properties": {"level": "Frozen"}}), 400, "InvalidRequestContent")
    refused(raw("PUT", lock, {"properties": {"level": "NotSpecified"}}), 400, "LockLevelNotSupported")
    # the refused locks left nothing behind: writes in the group still work
    assert raw("PATCH", f"{RG}{V}", {"tags": {"env": "prod"}}).status_code == 200
    assert raw("PUT", lock, {"properties": {"level": "canNotDelete", "notes": "MSP"}}).status_code == 201
    assert clients.locks(SUB).management_locks.get_at_resource_group_level("rg-prod-web", "lk").level == "CanNotDelete"


# ------------------------------------------------------------------------------------------------------------- RBAC
def assignment(
    scope: str, name: str, role: str, principal: str, principal_type: str | None = "ServicePrincipal"
) -> tuple[str, dict]:
    props = {"roleDefinitionId": f"{scope}{ROLE}{role}", "principalId": principal}
    if principal_type:
        props["principalType"] = principal_type
    return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01", {
        "properties": props
    }


def test_role_assignment_rules(sandbox, raw):
    """Name must be a GUID (InvalidRoleAssignmentId), the principal must exist (PrincipalNotFound), principalType must
    match (UnmatchedPrincipalType), the role must exist (RoleDefinitionDoesNotExist), no duplicates
    (RoleAssignmentExists). Sources: learn.microsoft.com/azure/role-based-access-control/role-assignments-rest,
    .../troubleshooting; authorization-RoleAssignmentsCalls.json (2022-04-01)."""
    scope = f"/subscriptions/{SUB}"
    _, _, sp = sandbox.add_principal("assignee")
    refused(raw("PUT", *assignment(scope, "not-a-guid", READER, sp)), 400, "InvalidRoleAssignmentId")
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), READER, str(uuid.uuid4()))), 400, "PrincipalNotFound")
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), READER, "not-a-guid")), 400, "InvalidPrincipalId")
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), READER, sp, "User")), 400, "UnmatchedPrincipalType")
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), str(uuid.uuid4()), sp)), 400, "RoleDefinitionDoesNotExist")
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), READER, sp, "Robot")), 400, "InvalidRoleAssignmentRequest")
    ok = raw("PUT", *assignment(scope, str(uuid.uuid4()), READER, sp))
    assert ok.status_code == 201 and ok.json()["properties"]["principalType"] == "ServicePrincipal"
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), READER, sp)), 409, "RoleAssignmentExists")
    user = raw("PUT", *assignment(scope, str(uuid.uuid4()), READER, "ce2ce14e-85d7-4629-bdbc-454d0519d987", None))
    assert user.status_code == 201 and user.json()["properties"]["principalType"] == "User"


def test_builtin_role_catalogue_covers_the_roles_msps_use(raw):
    """Built-in roles have the same ids in every tenant. Source: learn.microsoft.com/azure/role-based-access-control/
    built-in-roles."""
    for name in (
        "Backup Contributor",
        "Virtual Machine Contributor",
        "Log Analytics Contributor",
        "Cost Management Contributor",
        "Monitoring Reader",
        "Security Reader",
        "Managed Identity Operator",
        "Resource Policy Contributor",
    ):
        found = raw(
            "GET", f"/subscriptions/{SUB}{ROLE[:-1]}?api-version=2022-04-01&$filter=roleName eq '{name}'"
        ).json()["value"]
        assert [r["properties"]["roleName"] for r in found] == [name]


# ------------------------------------------------------------------------------------------------------- Lighthouse
def definition(managed_by: str = MSP_TENANT, auths: list[dict] | None = None) -> dict:
    default = [{"principalId": str(uuid.uuid4()), "roleDefinitionId": CONTRIBUTOR}]
    return {
        "properties": {
            "registrationDefinitionName": "Offer",
            "managedByTenantId": managed_by,
            "authorizations": default if auths is None else auths,
        }
    }


def test_lighthouse_definition_rules(sandbox, raw):
    """Owner (and roles with data actions, e.g. Log Analytics Contributor) cannot be delegated; User Access
    Administrator needs delegatedRoleDefinitionIds; authorizations and a managing tenant other than the customer's
    are required; offers live at subscription scope. Sources: managedservices.json (2020-02-01-preview)
    RegistrationDefinitionProperties (required: managedByTenantId, authorizations); learn.microsoft.com/azure/
    lighthouse/concepts/tenants-users-roles (role support); MicrosoftDocs/azure-docs#52919 and #80795 (code
    InvalidRegistrationDefinitionCreateRequest, "is restricted for registration definition");
    Azure/Azure-Lighthouse-samples#137 (data-action roles) and #31 (InvalidRegistrationDefinitionUri)."""
    url = f"/subscriptions/{SUB}/providers/Microsoft.ManagedServices/registrationDefinitions/{uuid.uuid4()}?api-version=2020-02-01-preview"
    owner = [{"principalId": str(uuid.uuid4()), "roleDefinitionId": OWNER}]
    uaa = [{"principalId": str(uuid.uuid4()), "roleDefinitionId": UAA}]
    bad = "InvalidRegistrationDefinitionCreateRequest"
    resp = raw("PUT", url, definition(auths=owner))
    refused(resp, 400, bad)
    assert "is restricted for registration definition" in resp.json()["error"]["message"]
    refused(
        raw(
            "PUT",
            url,
            definition(
                auths=[{"principalId": str(uuid.uuid4()), "roleDefinitionId": "92aaf0da-9dab-42b6-94a3-d43ce8d16293"}]
            ),
        ),
        400,
        bad,
    )
    refused(raw("PUT", url, definition(auths=uaa)), 400, bad)
    refused(raw("PUT", url, {"properties": {"managedByTenantId": MSP_TENANT}}), 400, "InvalidRequestContent")
    refused(raw("PUT", url, definition(auths=[])), 400, bad)
    refused(raw("PUT", url, definition(managed_by=sandbox.conn.tenant_id)), 400, bad)
    rg_scope = url.replace(f"/subscriptions/{SUB}/", f"/subscriptions/{SUB}/resourceGroups/rg-prod-web/")
    refused(raw("PUT", rg_scope, definition()), 400, "InvalidRegistrationDefinitionUri")
    uaa[0]["delegatedRoleDefinitionIds"] = [CONTRIBUTOR]
    assert raw("PUT", url, definition(auths=uaa)).status_code == 201


def test_a_delegated_user_access_administrator_assigns_only_delegated_roles_to_managed_identities(sandbox, raw):
    """Through Lighthouse (Contributor + UAA with delegatedRoleDefinitionIds [Contributor]) the runbook may assign
    Contributor to a managed identity, and nothing else: not Owner, not to an application's service principal.
    Source: learn.microsoft.com/azure/lighthouse/how-to/deploy-policy-remediation ("the user can assign these
    built-in roles only to managed identities"; the role assignment names the resource holding the identity in
    delegatedManagedIdentityResourceId, else it "fails if it tries to locate the identity in the wrong tenant": the
    code, PrincipalNotFound naming the managing tenant, is inferred)."""
    from azure_sandbox.providers import graph

    scope = f"/subscriptions/{SUB_LIGHTHOUSE}"
    holder = f"{scope}/providers/Microsoft.Authorization/policyAssignments/x"
    _, _, app_sp = sandbox.add_principal("some-app")
    mi = graph.new_managed_identity(sandbox.state, "policy-mi", holder)["id"]
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), OWNER, app_sp)), 403, "AuthorizationFailed")
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), OWNER, mi)), 403, "AuthorizationFailed")
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), CONTRIBUTOR, app_sp)), 403, "AuthorizationFailed")
    # without delegatedManagedIdentityResourceId ARM looks the identity up in the managing tenant, and misses it
    refused(raw("PUT", *assignment(scope, str(uuid.uuid4()), CONTRIBUTOR, mi)), 400, "PrincipalNotFound")
    url, body = assignment(scope, str(uuid.uuid4()), CONTRIBUTOR, mi)
    body["properties"]["delegatedManagedIdentityResourceId"] = holder.replace("/x", "/another")
    refused(raw("PUT", url, body), 400, "PrincipalNotFound")
    body["properties"]["delegatedManagedIdentityResourceId"] = holder
    assert raw("PUT", url, body).status_code == 201
    # with RBAC Owner (subscription 1) the same principal may assign anything to anyone
    assert raw("PUT", *assignment(f"/subscriptions/{SUB}", str(uuid.uuid4()), OWNER, app_sp)).status_code == 201


def test_sdk_surfaces_refusals_as_http_errors(clients):
    """The real SDK sees the same refusals (no dropped connection, an ARM error body it can parse)."""
    with pytest.raises(HttpResponseError) as err:
        clients.resource(SUB).resource_groups.create_or_update("rg-mars", {"location": "marsnorth"})
    assert err.value.status_code == 400 and err.value.error.code == "LocationNotAvailableForResourceGroup"
    with pytest.raises(HttpResponseError) as err:
        clients.resource(SUB).tags.begin_update_at_scope(VM, {"operation": "Merge", "properties": {"tags": many(51)}})
    assert err.value.status_code == 400 and err.value.error.code == "InvalidTags"
