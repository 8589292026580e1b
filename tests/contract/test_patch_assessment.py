"""VM patch assessment, as the monthly report reads it, through azure-mgmt-compute (begin_assess_patches).

Spec: VirtualMachines_AssessPatches in specification/compute/resource-manager/Microsoft.Compute/stable/2020-06-01
compute.json onwards (ComputeRP/stable/*/virtualMachine.json from 2021-07-01); example
stable/2021-11-01/examples/compute/VirtualMachineAssessPatches.json: 202, then 200 with status, assessmentActivityId,
rebootPending, criticalAndSecurityPatchCount, otherPatchCount, startDateTime, availablePatches, error. The pending
patches are generated per VM and month and follow its patch mode.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
DEV = DEMO_SUBS[1]
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod-vms"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm-contoso-app-01"
# the client (azure-mgmt-compute 39.x) sends 2026-04-01 (Compute/stable/2026-04-01/ComputeRP.json); raw calls an older one
API = "2025-04-01"


@pytest.fixture
def compute(sdk):
    return sdk("azure.mgmt.compute", "ComputeManagementClient", SUB, retry_total=0)


def _assess(client, rg: str, vm: str):
    return client.virtual_machines.begin_assess_patches(rg, vm).result()


def test_a_windows_vm_assessment_answers_in_the_examples_shape(compute):
    """VirtualMachineAssessPatches.json: a Windows VM's result lists its KB updates with classifications, reboot
    behaviour, published and last-modified times; the counts split critical and security from the others; a second
    assessment the same month lists the same patches."""
    result = _assess(compute, "rg-prod-vms", "vm-contoso-app-01")
    assert result.status == "Succeeded" and result.assessment_activity_id and result.error is None
    patches = result.available_patches
    assert patches and all(p.kb_id and p.classifications and p.assessment_state == "Available" for p in patches)
    assert all(p.activity_id == result.assessment_activity_id for p in patches)
    assert all(p.published_date and p.last_modified_date_time for p in patches)
    critical = [p for p in patches if {"Security Updates", "Critical Updates"} & set(p.classifications)]
    assert result.critical_and_security_patch_count == len(critical)
    assert result.other_patch_count == len(patches) - len(critical)
    assert {"Definition Updates", "Update Rollups"} <= {c for p in patches for c in p.classifications}
    again = _assess(compute, "rg-prod-vms", "vm-contoso-app-01")
    assert [p.patch_id for p in again.available_patches] == [p.patch_id for p in patches]


def test_a_linux_vm_lists_packages_with_versions(sdk):
    """Linux patches are packages: a version, no KB id, classification Security or Other."""
    dev = sdk("azure.mgmt.compute", "ComputeManagementClient", DEV, retry_total=0)
    results = [_assess(dev, "rg-dev", f"vm-contoso-dev-0{i}") for i in (1, 2, 3)]
    patches = [p for r in results for p in r.available_patches]
    assert patches and all(p.version and not p.kb_id for p in patches)
    assert {c for p in patches for c in p.classifications} <= {"Security", "Other"}


def test_automatic_by_platform_leaves_fewer_patches_pending(compute, raw):
    """A VM patched by the platform (patchMode AutomaticByPlatform, as the patching stage sets it) has only recent
    patches pending and no reboot pending."""
    before = _assess(compute, "rg-prod-vms", "vm-contoso-app-01")
    profile = {
        "windowsConfiguration": {
            "patchSettings": {"patchMode": "AutomaticByPlatform", "assessmentMode": "AutomaticByPlatform"}
        }
    }
    assert raw("PATCH", f"{VM}?api-version=2024-07-01", {"properties": {"osProfile": profile}}).status_code == 200
    after = _assess(compute, "rg-prod-vms", "vm-contoso-app-01")
    now = datetime.now(timezone.utc)
    assert all(now - p.published_date <= timedelta(days=4) for p in after.available_patches)
    assert {p.patch_id for p in after.available_patches} != {p.patch_id for p in before.available_patches} or all(
        now - p.published_date <= timedelta(days=4) for p in before.available_patches
    )
    assert after.reboot_pending is False


def test_the_operation_is_long_running_with_a_location(raw):
    """POST assessPatches answers 202 with Location and Retry-After; the Location answers 202 until done, then 200
    with the result."""
    started = raw("POST", f"{VM}/assessPatches?api-version={API}")
    assert started.status_code == 202 and started.content == b""
    assert started.headers["Location"] and started.headers["Retry-After"]
    polled = raw("GET", started.headers["Location"])
    while polled.status_code == 202:
        polled = raw("GET", started.headers["Location"])
    assert polled.status_code == 200 and polled.json()["status"] == "Succeeded"


def test_a_vm_that_does_not_exist_is_not_found(compute):
    """ARM's 404 ResourceNotFound for an unknown VM."""
    with pytest.raises(ResourceNotFoundError):
        _assess(compute, "rg-prod-vms", "vm-missing")


def test_a_reader_cannot_assess(sandbox, sdk):
    """Microsoft.Compute/virtualMachines/assessPatches/action: Reader lacks it (403 AuthorizationFailed)."""
    client_id, secret, _ = sandbox.add_principal("reader", "Reader", f"/subscriptions/{SUB}")
    from azure.mgmt.compute import ComputeManagementClient

    t = sandbox.clients().target
    client = ComputeManagementClient(
        sandbox.credential(client_id, secret),
        SUB,
        base_url=t.arm_url,
        credential_scopes=[t.arm_scope],
        connection_verify=t.verify,
        retry_total=0,
    )
    with pytest.raises(HttpResponseError) as exc:
        _assess(client, "rg-prod-vms", "vm-contoso-app-01")
    assert exc.value.status_code == 403 and exc.value.error.code == "AuthorizationFailed"
    client.close()


def test_a_version_before_the_operation_existed_is_refused(raw):
    """VirtualMachines_AssessPatches first appears in compute.json 2020-06-01: 2019-12-01 is 400
    NoRegisteredProviderFound."""
    refused(raw("POST", f"{VM}/assessPatches?api-version=2019-12-01"), 400, "NoRegisteredProviderFound")
