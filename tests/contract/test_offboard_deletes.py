"""The DELETEs `runbook offboard` makes, refused where Azure refuses them (issue 25): a Lighthouse delegation removed
by the managing tenant only with the Delete Role, by the customer with Owner; a definition still assigned; a locked
resource; a role assignment and a budget gone twice. Each test cites its source; the real SDK over HTTPS."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from azure.core.exceptions import HttpResponseError

from tests.conftest import DEMO_SUBS

SUB, SUB_LIGHTHOUSE = DEMO_SUBS[0], DEMO_SUBS[2]
MSP_TENANT = "0b8e6a2d-93c4-4f5e-8d17-5a9c3e2f1b40"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
DELETE_ROLE = "91c1777a-f3dc-4fae-b103-61d183457e46"
API = "2022-10-01"


def offer(clients, sub: str, authorizations: list[dict]) -> tuple[str, str]:
    """A Lighthouse definition and its assignment on a subscription (the runbook holds Owner there): their ids."""
    scope = f"/subscriptions/{sub}"
    name = str(uuid.uuid4())
    def_id = f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{name}"
    res = clients.resource(sub).resources
    body = {
        "properties": {
            "registrationDefinitionName": "Offboarding test offer",
            "managedByTenantId": MSP_TENANT,
            "authorizations": authorizations,
        }
    }
    res.begin_create_or_update_by_id(def_id, body, api_version=API).result()
    a_id = f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{uuid.uuid4()}"
    res.begin_create_or_update_by_id(
        a_id, {"properties": {"registrationDefinitionId": def_id}}, api_version=API
    ).result()
    return def_id, a_id


def test_the_managing_tenant_removes_a_delegation_only_with_the_delete_role(sandbox, clients):
    """A principal of the managing tenant whose offer delegates Contributor (and User Access Administrator) but not
    the Managed Services Registration Assignment Delete Role: 403 AuthorizationFailed on the assignment's DELETE.
    Source: learn.microsoft.com/azure/lighthouse/how-to/remove-delegation ("Users in a managing tenant can remove
    access to delegated resources if they were granted the Managed Services Registration Assignment Delete Role ...
    If this role isn't assigned to any service provider users, the delegation can only be removed by a user in the
    customer's tenant"); the DELETE is RegistrationAssignments_Delete in specification/managedservices/
    resource-manager/Microsoft.ManagedServices/stable/2022-10-01/managedservices.json."""
    regs = list(
        clients.managed_services().registration_assignments.list(
            f"/subscriptions/{SUB_LIGHTHOUSE}", expand_registration_definition=True
        )
    )
    assert regs  # the demo's delegated subscription: the runbook reaches it through this offer only
    with pytest.raises(HttpResponseError) as err:
        clients.resource(SUB_LIGHTHOUSE).resources.begin_delete_by_id(regs[0].id, api_version=API).result()
    assert err.value.status_code == 403 and err.value.error.code == "AuthorizationFailed"
    assert "registrationAssignments/delete" in err.value.error.message
    assert list(clients.managed_services().registration_assignments.list(f"/subscriptions/{SUB_LIGHTHOUSE}"))


def test_a_principal_delegated_the_delete_role_removes_it(sandbox, clients):
    """The same DELETE by a managing tenant's principal the offer grants the Delete Role: accepted (202, then gone).
    Source: learn.microsoft.com/azure/lighthouse/how-to/remove-delegation (the authorization with roleDefinitionId
    91c1777a-f3dc-4fae-b103-61d183457e46 in the onboarding parameters)."""
    client_id, secret, oid = sandbox.add_principal("msp-offboarder")
    _, a_id = offer(
        clients,
        SUB,
        [
            {"principalId": oid, "roleDefinitionId": CONTRIBUTOR, "principalIdDisplayName": "offboarder"},
            {"principalId": oid, "roleDefinitionId": DELETE_ROLE, "principalIdDisplayName": "offboarder"},
        ],
    )
    from azure.mgmt.resource.resources import ResourceManagementClient

    engineer = ResourceManagementClient(sandbox.credential(client_id, secret), SUB, **clients._kw())
    with engineer:
        engineer.resources.begin_delete_by_id(a_id, api_version=API).result()
    assert a_id.lower() not in {k.lower() for k in sandbox.state.arm}


def test_the_customers_owner_removes_a_delegation_and_then_its_definition(sandbox, clients):
    """The customer's Owner (Microsoft.Authorization/roleAssignments/write: the runbook holds Owner on this subscription
    by RBAC) removes the assignment; the definition cannot go while an assignment uses it (409
    RegistrationDefinitionInUse), and goes after. Source: learn.microsoft.com/azure/lighthouse/how-to/remove-delegation
    (Customers: "Users in the customer's tenant who have a role with the Microsoft.Authorization/roleAssignments/write
    permission, such as Owner, can remove service provider access"); RegistrationDefinitions_Delete in
    managedservices.json (2022-10-01)."""
    def_id, a_id = offer(
        clients,
        SUB,
        [{"principalId": str(uuid.uuid4()), "roleDefinitionId": CONTRIBUTOR, "principalIdDisplayName": "x"}],
    )
    res = clients.resource(SUB).resources
    with pytest.raises(HttpResponseError) as err:
        res.begin_delete_by_id(def_id, api_version=API).result()
    assert err.value.status_code == 409 and err.value.error.code == "RegistrationDefinitionInUse"
    res.begin_delete_by_id(a_id, api_version=API).result()
    res.begin_delete_by_id(def_id, api_version=API).result()
    assert {def_id.lower(), a_id.lower()}.isdisjoint(k.lower() for k in sandbox.state.arm)


def test_a_locked_action_group_is_not_deleted(sandbox, clients):
    """A CanNotDelete lock on a resource: its DELETE is 409 ScopeLocked and the resource stays (the offboarding reports
    it, never lifts the lock). Source: learn.microsoft.com/azure/azure-resource-manager/management/lock-resources
    ("CanNotDelete means authorized users can read and modify a resource, but they can't delete it");
    specification/resources/resource-manager/Microsoft.Authorization/stable/2020-05-01/locks.json."""
    ag = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web/providers/Microsoft.Insights/actionGroups/ag-locked"
    res = clients.resource(SUB).resources
    body = {"location": "Global", "properties": {"groupShortName": "locked", "enabled": True, "emailReceivers": []}}
    res.begin_create_or_update_by_id(ag, body, api_version="2023-01-01").result()
    lock = f"{ag}/providers/Microsoft.Authorization/locks/keep"
    res.begin_create_or_update_by_id(lock, {"properties": {"level": "CanNotDelete"}}, api_version="2020-05-01").result()
    with pytest.raises(HttpResponseError) as err:
        res.begin_delete_by_id(ag, api_version="2023-01-01").result()
    assert err.value.status_code == 409 and err.value.error.code == "ScopeLocked"
    assert res.get_by_id(ag, api_version="2023-01-01").name == "ag-locked"


def test_a_role_assignment_and_a_budget_deleted_twice(sandbox, clients):
    """Role Assignments - Delete: 200 with the deleted assignment, then 204 when it no longer exists
    (specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/
    authorization-RoleAssignmentsCalls.json, learn.microsoft.com/rest/api/authorization/role-assignments/delete);
    Budgets - Delete: 200 (specification/consumption/resource-manager/Microsoft.Consumption/stable/2024-08-01/
    consumption.json, Budgets_Delete)."""
    auth = clients.authorization(SUB)
    scope = f"/subscriptions/{SUB}"
    _, _, oid = sandbox.add_principal("offboard-ra", msp=False)
    name = str(uuid.uuid4())
    auth.role_assignments.create(
        scope,
        name,
        {
            "role_definition_id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "principal_id": oid,
            "principal_type": "ServicePrincipal",
        },
    )
    first = auth.role_assignments.delete(scope, name)
    assert first is not None and first.principal_id == oid
    assert auth.role_assignments.delete(scope, name) is None  # 204: nothing to return
    budget = f"{scope}/providers/Microsoft.Consumption/budgets/offboard-test"
    res = clients.resource(SUB).resources
    body = {
        "properties": {
            "category": "Cost",
            "amount": 10,
            "timeGrain": "Monthly",
            "timePeriod": {"startDate": "2026-12-01T00:00:00Z"},
        }
    }
    res.begin_create_or_update_by_id(budget, body, api_version="2024-08-01").result()
    res.begin_delete_by_id(budget, api_version="2024-08-01").result()
    assert budget.lower() not in {k.lower() for k in sandbox.state.arm}


def _protected_vm(raw, soft_delete: str = "Enabled") -> str:
    """A vault (its soft delete as given) protecting the demo's app VM with a daily policy: the protected item's id."""
    from tests.contract.test_rules_backup_patching import CONTAINER, ITEM, VAULT, V, protect, simple_policy, wait

    body = {
        "location": "westeurope",
        "sku": {"name": "RS0", "tier": "Standard"},
        "properties": {"securitySettings": {"softDeleteSettings": {"softDeleteState": soft_delete}}},
    }
    resp = raw("PUT", f"{VAULT}?{V}", body)
    assert resp.status_code == 201, resp.text
    wait(raw, resp)
    assert raw("PUT", f"{VAULT}/backupPolicies/daily?api-version=2026-10-01", simple_policy()).status_code == 200
    wait(raw, raw("POST", f"{VAULT}/backupFabrics/Azure/refreshContainers?api-version=2026-10-01"))
    wait(raw, protect(raw))
    return f"{VAULT}/backupFabrics/Azure/protectionContainers/{CONTAINER}/protectedItems/{ITEM}"


BACKUP_API = "2026-10-01"


def test_deleting_a_protected_item_soft_deletes_it_and_its_recovery_points(sandbox, clients, raw):
    """Stop protection and delete data: ProtectedItems_Delete (specification/recoveryservicesbackup/resource-manager/
    Microsoft.RecoveryServices/RecoveryServicesBackup/stable/2019-06-15/examples/Common/ProtectedItem_Delete.json:
    202 with Azure-AsyncOperation, Location and Retry-After). With the vault's soft delete on (the default) the item
    stays, soft-deleted for 14 days (bms.json ProtectedItem: isScheduledForDeferredDelete, deferredDeleteTimeInUTC;
    learn.microsoft.com/azure/backup/backup-azure-security-feature-cloud; a GET after the delete still answers it,
    Azure/azure-rest-api-specs#18921); a second DELETE has nothing left to delete. The vault and its policy stay."""
    item = _protected_vm(raw)
    resp = raw("DELETE", f"{item}?api-version={BACKUP_API}")
    assert resp.status_code == 202
    assert {"Azure-AsyncOperation", "Location", "Retry-After"} <= set(resp.headers)
    from tests.contract.test_rules_backup_patching import wait

    wait(raw, resp)
    got = clients.resource(SUB).resources.get_by_id(item, api_version=BACKUP_API).properties
    assert got["isScheduledForDeferredDelete"] is True and got["protectionState"] == "ProtectionStopped"
    assert got["deferredDeleteTimeInUTC"] > datetime.now(timezone.utc).isoformat() and got["policyId"] == ""
    clients.resource(SUB).resources.begin_delete_by_id(item, api_version=BACKUP_API).result()  # 204: already
    assert raw("GET", f"{item.split('/backupFabrics/')[0]}/backupPolicies/daily?api-version={BACKUP_API}").ok


def test_without_soft_delete_the_item_is_gone_and_a_missing_one_is_not_found(sandbox, clients, raw):
    """With soft delete off the deleted item is gone (GET 404); deleting an item that does not exist is 404
    BMSUserErrorDataSourceObjectNotFound ("Item not found. Selected item might have been deleted...", as Azure answers
    it: Azure/azure-rest-api-specs#23842, hashicorp/terraform-provider-azurerm#9452), through the SDK (the generic
    resources client the offboarding uses, begin_delete_by_id)."""
    item = _protected_vm(raw, soft_delete="Disabled")
    res = clients.resource(SUB).resources
    res.begin_delete_by_id(item, api_version=BACKUP_API).result()
    assert raw("GET", f"{item}?api-version={BACKUP_API}").status_code == 404
    with pytest.raises(HttpResponseError) as err:
        res.begin_delete_by_id(item, api_version=BACKUP_API).result()
    assert err.value.status_code == 404 and err.value.error.code == "BMSUserErrorDataSourceObjectNotFound"


def test_a_protected_item_in_a_locked_vault_is_not_deleted(sandbox, clients, raw):
    """A CanNotDelete lock on the vault covers its protected items: the DELETE is 409 ScopeLocked and the item stays
    protected (learn.microsoft.com/azure/azure-resource-manager/management/lock-resources: a lock applies to the
    resource and its child resources; learn.microsoft.com/azure/backup/backup-azure-delete-vault: remove the lock
    first)."""
    item = _protected_vm(raw)
    vault = item.split("/backupFabrics/")[0]
    res = clients.resource(SUB).resources
    res.begin_create_or_update_by_id(
        f"{vault}/providers/Microsoft.Authorization/locks/keep",
        {"properties": {"level": "CanNotDelete"}},
        api_version="2020-05-01",
    ).result()
    with pytest.raises(HttpResponseError) as err:
        res.begin_delete_by_id(item, api_version=BACKUP_API).result()
    assert err.value.status_code == 409 and err.value.error.code == "ScopeLocked"
    got = res.get_by_id(item, api_version=BACKUP_API).properties
    assert got["protectionState"] == "IRPending" and not got.get("isScheduledForDeferredDelete")
