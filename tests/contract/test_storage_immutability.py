"""The sandbox's Microsoft.Storage provider on the ARM side of the evidence archive: blob containers and a container's
time-based retention policy (immutabilityPolicies/default), through azure-mgmt-storage and on the wire.

Source of every case: azure-rest-api-specs specification/storage/resource-manager/Microsoft.Storage/stable/2023-05-01/
blob.json (BlobContainers_CreateOrUpdateImmutabilityPolicy, _GetImmutabilityPolicy, _LockImmutabilityPolicy,
_ExtendImmutabilityPolicy, _DeleteImmutabilityPolicy, BlobContainers_Create) and its examples, cited per test; the
period's bounds from Microsoft Learn, "Time-based retention policies for immutable blob data". The storage account is
the MSP's, in the MSP's own subscription and tenant (sandbox-demo.yml `msp.evidence_storage`).
"""

from __future__ import annotations

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError

from runbook.adapters.blobstore import ARM_API_VERSION, InTenant
from runbook.adapters.clients import ARM_SCOPE, sandbox_target
from tests.contract.http import refused

SUB = "7c4d2e1f-0a9b-4c8d-9e6f-1b2a3c4d5e60"
RG, ACCOUNT = "rg-intercept-runbook", "stinterceptevidence"
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}"
API = f"?api-version={ARM_API_VERSION}"


def _container(name: str) -> str:
    return f"{ACCOUNT_ID}/blobServices/default/containers/{name}"


@pytest.fixture
def storage(sandbox):
    """StorageManagementClient of the MSP's subscription, signed in to the MSP's tenant as the runbook's app."""
    from azure.mgmt.storage import StorageManagementClient

    t = sandbox_target(sandbox.connection_file)
    client = StorageManagementClient(
        InTenant(t.credential, sandbox.conn.msp_tenant_id),
        SUB,
        base_url=t.arm_url,
        credential_scopes=[t.arm_scope],
        connection_verify=t.verify,
        api_version=ARM_API_VERSION,
    )
    yield client
    client.close()


@pytest.fixture
def msp_token(sandbox) -> str:
    t = sandbox_target(sandbox.connection_file)
    return t.credential.get_token(ARM_SCOPE, tenant_id=sandbox.conn.msp_tenant_id).token


def _new_policy(storage, container: str, days: int = 3):
    storage.blob_containers.create(RG, ACCOUNT, container, {"properties": {}})
    return storage.blob_containers.create_or_update_immutability_policy(
        RG, ACCOUNT, container, {"properties": {"immutabilityPeriodSinceCreationInDays": days}}
    )


def test_put_policy_as_the_example(storage):
    """BlobContainersPutImmutabilityPolicyAllowProtectedAppendWritesAll.json: 200, name default, an etag, Unlocked;
    the container then shows hasImmutabilityPolicy (BlobContainersGet*.json)."""
    created = storage.blob_containers.create(RG, ACCOUNT, "container6397", {"properties": {}})
    assert created.name == "container6397"
    policy = storage.blob_containers.create_or_update_immutability_policy(
        RG,
        ACCOUNT,
        "container6397",
        {"properties": {"immutabilityPeriodSinceCreationInDays": 3, "allowProtectedAppendWritesAll": True}},
    )
    assert policy.name == "default" and policy.etag
    assert policy.properties.state == "Unlocked"
    assert policy.properties.immutability_period_since_creation_in_days == 3
    assert policy.properties.allow_protected_append_writes_all is True
    container = storage.blob_containers.get(RG, ACCOUNT, "container6397")
    assert container.has_immutability_policy is True
    read = storage.blob_containers.get_immutability_policy(RG, ACCOUNT, "container6397")
    assert read.etag == policy.etag


def test_object_level_worm_container(storage):
    """BlobContainersPutObjectLevelWorm.json: a container created with immutableStorageWithVersioning enabled."""
    made = storage.blob_containers.create(
        RG, ACCOUNT, "container6185", {"properties": {"immutableStorageWithVersioning": {"enabled": True}}}
    )
    assert made.immutable_storage_with_versioning.enabled is True


def test_lock_then_extend(storage):
    """BlobContainersLockImmutabilityPolicy.json (If-Match: the etag; state Locked) and
    BlobContainersExtendImmutabilityPolicy.json (100 days, still Locked)."""
    policy = _new_policy(storage, "container1631")
    locked = storage.blob_containers.lock_immutability_policy(
        RG, ACCOUNT, "container1631", etag=policy.etag, match_condition=MatchConditions.IfNotModified
    )
    assert locked.properties.state == "Locked" and locked.etag != policy.etag
    extended = storage.blob_containers.extend_immutability_policy(
        RG,
        ACCOUNT,
        "container1631",
        {"properties": {"immutabilityPeriodSinceCreationInDays": 100}},
        etag=locked.etag,
        match_condition=MatchConditions.IfNotModified,
    )
    assert extended.properties.state == "Locked"
    assert extended.properties.immutability_period_since_creation_in_days == 100


def test_delete_unlocked_policy(storage):
    """BlobContainersDeleteImmutabilityPolicy.json: "Aborts an unlocked immutability policy. The response of delete has
    immutabilityPeriodSinceCreationInDays set to 0"; the container no longer has one."""
    policy = _new_policy(storage, "container4910")
    gone = storage.blob_containers.delete_immutability_policy(
        RG, ACCOUNT, "container4910", etag=policy.etag, match_condition=MatchConditions.IfNotModified
    )
    assert gone.properties.immutability_period_since_creation_in_days == 0
    assert gone.properties.state == "Unlocked"
    assert storage.blob_containers.get(RG, ACCOUNT, "container4910").has_immutability_policy is False


def test_locked_policy_refusals(storage, raw, msp_token):
    """blob.json: "Deleting a locked immutability policy is not allowed"; "The only action allowed on a Locked policy
    is ExtendImmutabilityPolicy action" (a PUT and a shorter period are refused); a locked policy's container and
    account cannot be deleted (Microsoft Learn, "Immutable storage"). 409 ContainerImmutabilityPolicyLocked (the code
    the storage service answers for an operation a locked policy forbids, MicrosoftDocs/feedback#1844)."""
    policy = _new_policy(storage, "locked1", days=30)
    locked = storage.blob_containers.lock_immutability_policy(
        RG, ACCOUNT, "locked1", etag=policy.etag, match_condition=MatchConditions.IfNotModified
    )
    path = _container("locked1") + "/immutabilityPolicies/default"
    refused(
        raw("DELETE", path + API, token=msp_token, headers={"If-Match": locked.etag}),
        409,
        "ContainerImmutabilityPolicyLocked",
    )
    refused(
        raw("PUT", path + API, {"properties": {"immutabilityPeriodSinceCreationInDays": 60}}, token=msp_token),
        409,
        "ContainerImmutabilityPolicyLocked",
    )
    shorter = raw(
        "POST",
        path + "/extend" + API,
        {"properties": {"immutabilityPeriodSinceCreationInDays": 10}},
        token=msp_token,
        headers={"If-Match": locked.etag},
    )
    assert "only be extended" in refused(shorter, 409, "ContainerImmutabilityPolicyLocked")["message"]
    refused(raw("DELETE", _container("locked1") + API, token=msp_token), 409, "ContainerImmutabilityPolicyLocked")
    refused(raw("DELETE", ACCOUNT_ID + API, token=msp_token), 409, "ContainerImmutabilityPolicyLocked")
    still = storage.blob_containers.get_immutability_policy(RG, ACCOUNT, "locked1")
    assert still.properties.state == "Locked" and still.properties.immutability_period_since_creation_in_days == 30


def test_if_match_required_and_checked(storage, raw, msp_token):
    """blob.json: "ETag in If-Match is required" for lock, extend and delete (400 without it), and a stale ETag is
    refused (412, the storage services' ConditionNotMet); an extend of an unlocked policy is refused (409: extend
    applies to "a locked immutabilityPolicy")."""
    policy = _new_policy(storage, "etagged")
    path = _container("etagged") + "/immutabilityPolicies/default"
    refused(raw("POST", path + "/lock" + API, token=msp_token), 400, "MissingRequiredHeader")
    refused(raw("POST", path + "/lock" + API, token=msp_token, headers={"If-Match": '"stale"'}), 412, "ConditionNotMet")
    refused(
        raw(
            "POST",
            path + "/extend" + API,
            {"properties": {"immutabilityPeriodSinceCreationInDays": 10}},
            token=msp_token,
            headers={"If-Match": policy.etag},
        ),
        409,
        "ContainerImmutabilityPolicyNotLocked",
    )
    with pytest.raises(HttpResponseError) as exc:
        storage.blob_containers.delete_immutability_policy(
            RG, ACCOUNT, "etagged", etag='"stale"', match_condition=MatchConditions.IfNotModified
        )
    assert exc.value.status_code == 412


@pytest.mark.parametrize("days", [0, 146_001])
def test_period_bounds(storage, days):
    """Microsoft Learn: "The minimum retention interval for a time-based retention policy is one day, and the maximum
    is 146,000 days (400 years)": 400 outside."""
    storage.blob_containers.create(RG, ACCOUNT, f"bounds{days}", {"properties": {}})
    with pytest.raises(HttpResponseError) as exc:
        storage.blob_containers.create_or_update_immutability_policy(
            RG, ACCOUNT, f"bounds{days}", {"properties": {"immutabilityPeriodSinceCreationInDays": days}}
        )
    assert exc.value.status_code == 400 and exc.value.error.code == "InvalidImmutabilityPeriod"


def test_the_msp_subscription_is_the_msps(raw, sandbox, clients):
    """The storage account lives in the MSP's own subscription and tenant: a token of the customer's tenant is
    refused there (ARM's 401 InvalidAuthenticationTokenTenant), and the customer's subscription list leaves it out."""
    refused(raw("GET", ACCOUNT_ID + API), 401, "InvalidAuthenticationTokenTenant")
    listed = [s.subscription_id for s in clients.subscriptions().subscriptions.list()]
    assert SUB not in listed and len(listed) == 3
