"""ARM protocol behaviour: api-versions, paths, auth, errors, paging, long-running operations, locks."""

import pytest
from azure.core.exceptions import HttpResponseError

from runbook.adapters.clients import ARM_SCOPE
from tests.conftest import DEMO_SUBS

SUB = DEMO_SUBS[0]
RG_PATH = f"/subscriptions/{SUB}/resourceGroups/rg-prod-web"


def error_code(resp):
    return resp.json()["error"]["code"]


def test_api_version_is_required_and_checked(raw):
    assert error_code(raw("GET", RG_PATH)) == "MissingApiVersionParameter"
    bad = raw("GET", RG_PATH + "?api-version=2099-01-01")
    assert (
        bad.status_code == 400
        and error_code(bad) == "InvalidApiVersionParameter"
        and "2025-04-01" in bad.json()["error"]["message"]
    )
    bad = raw("GET", f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings?api-version=2099-01-01")
    assert bad.status_code == 400 and error_code(bad) == "NoRegisteredProviderFound"


def test_paths_are_case_insensitive_and_slashes_collapse(raw):
    for path in (
        RG_PATH.upper().replace("SUBSCRIPTIONS", "subscriptions"),
        "//" + RG_PATH.replace("resourceGroups", "resourcegroups//").lstrip("/"),
    ):
        resp = raw("GET", path + "?api-version=2025-04-01")
        assert resp.status_code == 200, path
        assert resp.json()["id"] == RG_PATH  # stored casing comes back


def test_missing_or_forged_token_is_401(raw):
    resp = raw("GET", RG_PATH + "?api-version=2025-04-01", token=None)
    assert resp.status_code == 401 and error_code(resp) == "AuthenticationFailed" and "WWW-Authenticate" in resp.headers
    resp = raw("GET", RG_PATH + "?api-version=2025-04-01", headers={"Authorization": "Basic abc"}, token=None)
    assert resp.status_code == 401 and error_code(resp) == "InvalidAuthenticationToken"
    head, body, _sig = raw.token.split(".")
    assert raw("GET", RG_PATH + "?api-version=2025-04-01", token=f"{head}.{body}.forged").status_code == 401


def test_role_assignments_are_enforced(sandbox, raw):
    client_id, secret, oid = sandbox.add_principal("reader", "Reader", f"/subscriptions/{SUB}")
    token = sandbox.credential(client_id, secret).get_token(ARM_SCOPE).token
    assert raw("GET", RG_PATH + "?api-version=2025-04-01", token=token).status_code == 200
    denied = raw("PUT", RG_PATH + "?api-version=2025-04-01", {"location": "westeurope"}, token=token)
    assert denied.status_code == 403 and error_code(denied) == "AuthorizationFailed"
    assert (
        "Microsoft.Resources/subscriptions/resourceGroups/write" in denied.json()["error"]["message"]
        and oid in denied.json()["error"]["message"]
    )
    subs = raw("GET", "/subscriptions?api-version=2022-12-01", token=token).json()["value"]
    assert [s["subscriptionId"] for s in subs] == [SUB]  # only what the principal can see


def test_contributor_cannot_assign_roles(sandbox, raw):
    client_id, secret, _ = sandbox.add_principal("contrib", "Contributor", f"/subscriptions/{SUB}")
    token = sandbox.credential(client_id, secret).get_token(ARM_SCOPE).token
    body = {
        "properties": {
            "roleDefinitionId": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "principalId": "ce2ce14e-85d7-4629-bdbc-454d0519d987",
        }
    }
    resp = raw(
        "PUT",
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/05c5a614-a7d6-4502-b150-c2fb455033ff?api-version=2022-04-01",
        body,
        token=token,
    )
    assert (
        resp.status_code == 403 and "Microsoft.Authorization/roleAssignments/write" in resp.json()["error"]["message"]
    )


def test_wrong_secret_is_refused_by_the_token_endpoint(sandbox):
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError) as exc:
        sandbox.credential(sandbox.conn.client_id, "wrong-secret").get_token(ARM_SCOPE)
    assert "AADSTS7000215" in str(exc.value)


def test_not_found_codes(raw):
    assert (
        error_code(raw("GET", f"/subscriptions/{SUB}/resourceGroups/nope?api-version=2025-04-01"))
        == "ResourceGroupNotFound"
    )
    assert (
        error_code(raw("GET", f"{RG_PATH}/providers/Microsoft.Web/sites/nope?api-version=2024-04-01"))
        == "ResourceNotFound"
    )
    assert (
        error_code(
            raw("GET", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups?api-version=2025-04-01")
        )
        == "SubscriptionNotFound"
    )
    assert raw("HEAD", f"/subscriptions/{SUB}/resourceGroups/nope?api-version=2025-04-01").status_code == 404
    assert raw("HEAD", RG_PATH + "?api-version=2025-04-01").status_code == 204


def test_paging_with_next_link(raw, clients):
    first = raw("GET", f"/subscriptions/{SUB}/resources?api-version=2025-04-01&$top=10").json()
    seen, page = list(first["value"]), first
    while "nextLink" in page:
        assert page["nextLink"].startswith(raw.base + "/")
        page = raw("GET", page["nextLink"]).json()
        seen += page["value"]
    via_sdk = [r.id for r in clients.resource(SUB).resources.list(top=7)]
    assert len(seen) == len(via_sdk) == 35 and len({r["id"] for r in seen}) == 35


def test_filter_by_tag_and_type(clients):
    rc = clients.resource(SUB)
    managed = [r.name for r in rc.resources.list(filter="tagName eq 'Intercept' and tagValue eq 'Managed'")]
    assert (
        "vm-contoso-dc-01" in managed and "sql-contoso-prod" in managed
    )  # tag names and values match case-insensitively
    vms = list(rc.resources.list(filter="resourceType eq 'Microsoft.Compute/virtualMachines'"))
    assert len(vms) == 5


def test_resource_group_delete_is_a_long_running_operation(raw, clients):
    resp = raw("DELETE", RG_PATH + "?api-version=2025-04-01")
    assert resp.status_code == 202 and "Retry-After" in resp.headers
    poll = raw("GET", resp.headers["Location"])
    assert poll.status_code == 202
    assert raw("GET", resp.headers["Location"]).status_code == 200
    assert raw("GET", RG_PATH + "?api-version=2025-04-01").status_code == 404
    assert (
        raw("GET", f"{RG_PATH}/providers/Microsoft.Web/sites/app-contoso-shop-01?api-version=2024-04-01").status_code
        == 404
    )  # cascade
    rc = clients.resource(SUB)
    rc.resource_groups.begin_delete("rg-prod-data").result()
    assert not rc.resource_groups.check_existence("rg-prod-data")


def test_failed_long_running_operation_surfaces_in_the_sdk(sandbox, clients):
    sandbox.set_faults(lro_fail_types=["Microsoft.RecoveryServices/vaults"])
    body = {"location": "westeurope", "sku": {"name": "Standard"}, "properties": {}}
    rid = f"{RG_PATH}/providers/Microsoft.RecoveryServices/vaults/rsv-x"
    with pytest.raises(HttpResponseError) as exc:
        clients.resource(SUB).resources.begin_create_or_update_by_id(rid, body, api_version="2026-11-01").result()
    assert "failed" in str(exc.value).lower()


def test_azure_asyncoperation_answers_the_operation_resource_until_it_ends(raw):
    """azure-resource-manager-rpc v1.0/async-api-reference.md "Azure-AsyncOperation Resource format": reading the
    operation is always 200; `status` is required (InProgress, then a terminal Succeeded/Failed/Canceled), `id`
    matches the URL polled and `name` its last segment; startTime and, once ended, endTime as ISO 8601."""
    rid = f"{RG_PATH}/providers/Microsoft.RecoveryServices/vaults/rsv-async"
    body = {"location": "westeurope", "sku": {"name": "Standard"}, "properties": {}}
    started = raw("PUT", rid + "?api-version=2026-11-01", body)
    assert started.status_code == 201 and "Azure-AsyncOperation" in started.headers
    url = started.headers["Azure-AsyncOperation"]
    running = raw("GET", url)
    assert running.status_code == 200 and running.json()["status"] == "InProgress" and "endTime" not in running.json()
    op = running.json()
    assert url.split("?")[0].lower().endswith(op["id"].lower()) and op["name"] == op["id"].rsplit("/", 1)[-1]
    assert op["startTime"].endswith("Z")
    while (ended := raw("GET", url).json())["status"] == "InProgress":
        pass
    assert ended["status"] == "Succeeded" and ended["endTime"] >= ended["startTime"] and "error" not in ended


def test_a_failed_operation_names_its_error_and_another_subscription_cannot_poll_it(sandbox, raw):
    """async-api-reference.md: `error.code` and `error.message` are required when status is Failed; "Operation result
    rules" 1-2: the result API is called in the subscription the operation started in, else 404."""
    sandbox.set_faults(lro_fail_types=["Microsoft.RecoveryServices/vaults"])
    rid = f"{RG_PATH}/providers/Microsoft.RecoveryServices/vaults/rsv-fails"
    body = {"location": "westeurope", "sku": {"name": "Standard"}, "properties": {}}
    url = raw("PUT", rid + "?api-version=2026-11-01", body).headers["Azure-AsyncOperation"]
    elsewhere = url.replace(f"/subscriptions/{SUB}/", f"/subscriptions/{DEMO_SUBS[1]}/")
    other = raw("GET", elsewhere)
    assert other.status_code == 404 and error_code(other) == "OperationNotFound"
    while (op := raw("GET", url).json())["status"] == "InProgress":
        pass
    assert op["status"] == "Failed" and op["error"]["code"] and op["error"]["message"] and "endTime" in op


def test_read_only_lock_blocks_writes_with_scope_locked(raw, clients):
    locks = clients.locks(SUB)
    locks.management_locks.create_or_update_at_resource_group_level("rg-prod-web", "freeze", {"level": "ReadOnly"})
    site = f"{RG_PATH}/providers/Microsoft.Web/sites/app-contoso-shop-01"
    resp = raw(
        "PATCH",
        f"{site}/providers/Microsoft.Resources/tags/default?api-version=2025-04-01",
        {"operation": "Merge", "properties": {"tags": {"a": "b"}}},
    )
    assert (
        resp.status_code == 409
        and error_code(resp) == "ScopeLocked"
        and "rg-prod-web" in resp.json()["error"]["message"]
    )
    assert raw("GET", f"{site}?api-version=2024-04-01").status_code == 200  # reads still work
    assert error_code(raw("DELETE", RG_PATH + "?api-version=2025-04-01")) == "ScopeLocked"
    locks.management_locks.delete_at_resource_group_level("rg-prod-web", "freeze")
    assert (
        raw(
            "PATCH",
            f"{site}/providers/Microsoft.Resources/tags/default?api-version=2025-04-01",
            {"operation": "Merge", "properties": {"tags": {"a": "b"}}},
        ).status_code
        == 200
    )


def test_tag_operations_merge_replace_delete(clients):
    rc = clients.resource(SUB)
    rid = f"{RG_PATH}/providers/Microsoft.Web/sites/app-contoso-api-01"
    tags = (
        rc.tags.begin_update_at_scope(
            rid, {"operation": "Merge", "properties": {"tags": {"ENV": "production", "owner": "eva"}}}
        )
        .result()
        .properties.tags
    )
    assert tags == {"env": "production", "owner": "eva"}  # existing key casing kept, value updated
    tags = (
        rc.tags.begin_update_at_scope(rid, {"operation": "Delete", "properties": {"tags": {"owner": "eva"}}})
        .result()
        .properties.tags
    )
    assert tags == {"env": "production"}
    tags = (
        rc.tags.begin_update_at_scope(rid, {"operation": "Replace", "properties": {"tags": {"only": "this"}}})
        .result()
        .properties.tags
    )
    assert tags == {"only": "this"} and rc.tags.get_at_scope(rid).properties.tags == {"only": "this"}


def test_defender_pricing_computes_trial_fields(clients):
    sec = clients.security(SUB)
    scope = f"subscriptions/{SUB}"
    before = sec.pricings.get(scope, "SqlServers")
    assert before.pricing_tier == "Free" and before.free_trial_remaining_time.days == 30
    after = sec.pricings.update(scope, "SqlServers", {"pricing_tier": "Standard"})
    assert after.pricing_tier == "Standard" and after.enablement_time is not None
    assert 29 <= after.free_trial_remaining_time.days <= 30
    assert len(sec.pricings.list(scope).value) >= 10


def test_unknown_type_and_namespace(raw):
    assert (
        error_code(raw("GET", f"{RG_PATH}/providers/Microsoft.Web/nonsense/x?api-version=2024-04-01"))
        == "InvalidResourceType"
    )
    assert (
        error_code(raw("GET", f"{RG_PATH}/providers/Contoso.Nothing/things/x?api-version=2024-04-01"))
        == "InvalidResourceNamespace"
    )


def test_every_response_carries_request_ids(raw):
    resp = raw("GET", RG_PATH + "?api-version=2025-04-01")
    assert resp.headers["x-ms-request-id"] and resp.headers["x-ms-correlation-request-id"]
    assert int(resp.headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0
    assert raw("GET", "/tenants?api-version=2022-12-01").json()["value"][0]["tenantId"]


def test_lists_at_each_scope(clients):
    mon = clients.monitor(SUB)
    mon.action_groups.create_or_update(
        "rg-prod-web", "ag-web", {"location": "Global", "group_short_name": "web", "enabled": True}
    )
    mon.action_groups.create_or_update(
        "rg-prod-data", "ag-data", {"location": "Global", "group_short_name": "data", "enabled": True}
    )
    assert sorted(g.name for g in mon.action_groups.list_by_subscription_id()) == ["ag-data", "ag-web"]
    assert [g.name for g in mon.action_groups.list_by_resource_group("rg-prod-web")] == ["ag-web"]
    cons = clients.consumption(SUB)
    body = {
        "properties": {
            "category": "Cost",
            "amount": 10,
            "timeGrain": "Monthly",
            "timePeriod": {"startDate": "2026-12-01T00:00:00Z"},
        }
    }
    cons.budgets.create_or_update(f"/subscriptions/{SUB}", "b1", body)
    assert [b.name for b in cons.budgets.list(f"/subscriptions/{SUB}")] == ["b1"]


def test_tenant_scope_serves_only_built_in_definitions(sandbox, raw):
    client_id, secret, _ = sandbox.add_principal("nobody")
    token = sandbox.credential(client_id, secret).get_token(ARM_SCOPE).token
    builtin = raw(
        "GET",
        "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c?api-version=2026-06-01",
        token=token,
    )
    assert builtin.status_code == 200 and builtin.json()["properties"]["policyType"] == "BuiltIn"
    leak = raw("GET", "/providers/Microsoft.Insights/actionGroups?api-version=2023-01-01", token=token)
    assert leak.status_code == 400 and error_code(leak) == "InvalidResourceType"
