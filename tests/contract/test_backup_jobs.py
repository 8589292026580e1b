"""Azure Backup jobs, as the monthly report reads them, through azure-mgmt-recoveryservicesbackup.

Spec: specification/recoveryservicesbackup/resource-manager/Microsoft.RecoveryServices/stable/2026-10-01/bms.json
(BackupJobs_List, JobDetails_Get, BackupProtectedItems_List); examples Common/ListJobsWithStartTimeAndEndTimeFilters.json
("startTime eq '2016-01-01 00:00:00 AM' and endTime eq '2017-11-29 00:00:00 AM'"), AzureIaasVm/
BackupProtectedItems_List.json. Jobs are generated for the protected items the vault holds, from their policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.conftest import DEMO_SUBS
from tests.contract.http import refused

SUB = DEMO_SUBS[0]
RG_NAME = "rg-prod-vms"
RG = f"/subscriptions/{SUB}/resourceGroups/{RG_NAME}"
VAULT_NAME = "rsv-monthly"
VAULT = f"{RG}/providers/Microsoft.RecoveryServices/vaults/{VAULT_NAME}"
B = "api-version=2026-10-01"
VMS = ("vm-contoso-app-01", "vm-contoso-app-02", "vm-contoso-dc-01")
DAYS = 40
FMT = "%Y-%m-%d %I:%M:%S %p"


def _wait(raw, resp) -> None:
    url = resp.headers.get("Azure-AsyncOperation") or resp.headers.get("Location")
    for _ in range(10):
        polled = raw("GET", url)
        if polled.status_code == 200 and (polled.content == b"" or polled.json().get("status") != "InProgress"):
            return
    raise AssertionError("operation never ended")


@pytest.fixture
def protected(raw, sandbox) -> list[str]:
    """A vault with a daily 22:00 policy protecting three VMs, protection configured DAYS days ago."""
    resp = raw(
        "PUT", f"{VAULT}?api-version=2026-11-01", {"location": "westeurope", "sku": {"name": "RS0", "tier": "Standard"}}
    )
    assert resp.status_code == 201, resp.text
    _wait(raw, resp)
    policy = {
        "properties": {
            "backupManagementType": "AzureIaasVM",
            "schedulePolicy": {
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": ["2026-01-05T22:00:00Z"],
            },
            "retentionPolicy": {
                "retentionPolicyType": "LongTermRetentionPolicy",
                "dailySchedule": {
                    "retentionTimes": ["2026-01-05T22:00:00Z"],
                    "retentionDuration": {"count": 30, "durationType": "Days"},
                },
            },
            "timeZone": "UTC",
        }
    }
    assert raw("PUT", f"{VAULT}/backupPolicies/daily?{B}", policy).status_code == 200
    items = []
    since = (datetime.now(timezone.utc) - timedelta(days=DAYS)).isoformat()
    for vm in VMS:
        container = f"IaasVMContainer;iaasvmcontainerv2;{RG_NAME};{vm}"
        item = f"VM;iaasvmcontainerv2;{RG_NAME};{vm}"
        body = {
            "properties": {
                "protectedItemType": "Microsoft.Compute/virtualMachines",
                "sourceResourceId": f"{RG}/providers/Microsoft.Compute/virtualMachines/{vm}",
                "policyId": f"{VAULT}/backupPolicies/daily",
            }
        }
        path = f"{VAULT}/backupFabrics/Azure/protectionContainers/{container}/protectedItems/{item}"
        put = raw("PUT", f"{path}?{B}", body)
        assert put.status_code == 202, put.text
        _wait(raw, put)
        stored = sandbox.state.get(path)
        stored["_protected_since"] = since  # as if the stage had run DAYS days ago
        items.append(path)
    return items


@pytest.fixture
def backup(sdk):
    """RecoveryServicesBackupClient (its default api-version, 2026-10-01)."""
    return sdk("azure.mgmt.recoveryservicesbackup", "RecoveryServicesBackupClient", SUB, retry_total=0)


def test_jobs_of_the_protected_vms_answer_in_the_examples_shape(backup, protected):
    """ListJobsWithStartTimeAndEndTimeFilters.json: JobResource {id .../backupJobs/{name}, type
    Microsoft.RecoveryServices/vaults/backupJobs, properties {jobType AzureIaaSVMJob, entityFriendlyName,
    backupManagementType AzureIaasVM, operation, status, startTime, endTime, duration, activityId}}; a ConfigureBackup
    job per item, then a Backup job each day at the policy's run time; newest first."""
    jobs = list(backup.backup_jobs.list(VAULT_NAME, RG_NAME))
    assert jobs and all(j.type == "Microsoft.RecoveryServices/vaults/backupJobs" for j in jobs)
    assert all(j.id == f"{VAULT}/backupJobs/{j.name}" for j in jobs)
    configure = [j for j in jobs if j.properties.operation == "ConfigureBackup"]
    assert sorted(j.properties.entity_friendly_name for j in configure) == sorted(VMS)
    backups = [j for j in jobs if j.properties.operation == "Backup"]
    assert len(backups) in range(len(VMS) * (DAYS - 1), len(VMS) * (DAYS + 1) + 1)
    first = backups[0].properties
    assert first.job_type == "AzureIaaSVMJob" and first.backup_management_type == "AzureIaasVM"
    assert first.virtual_machine_version == "Compute" and first.activity_id
    assert all(22 <= j.properties.start_time.hour <= 22 for j in backups)  # minutes after the 22:00 run
    starts = [j.properties.start_time for j in jobs]
    assert starts == sorted(starts, reverse=True)
    done = [j for j in backups if j.properties.status != "InProgress"]
    assert all(j.properties.end_time - j.properties.start_time == j.properties.duration for j in done)


def test_some_backups_fail_with_their_error_details(backup, protected):
    """AzureIaaSVMJob.errorDetails (errorCode, errorString, errorTitle, recommendations) on failed jobs; about one in
    twelve fails, the same ones on every read."""
    jobs = list(backup.backup_jobs.list(VAULT_NAME, RG_NAME))
    failed = [j for j in jobs if j.properties.status == "Failed"]
    assert 0 < len(failed) < len(jobs) / 4
    detail = failed[0].properties.error_details[0]
    assert detail.error_title == "UserErrorGuestAgentStatusUnavailable" and detail.recommendations
    assert [j.name for j in backup.backup_jobs.list(VAULT_NAME, RG_NAME) if j.properties.status == "Failed"] == [
        j.name for j in failed
    ]


def test_the_time_and_status_filters_select_the_jobs(backup, protected):
    """$filter "startTime eq '...' and endTime eq '...'" (the example's form, 'yyyy-mm-dd hh:mm:ss AM') selects the
    jobs that started in between; `status eq 'Failed'` and `operation eq 'Backup'` narrow them."""
    now = datetime.now(timezone.utc)
    start, end = now - timedelta(days=14), now - timedelta(days=7)
    window = f"startTime eq '{start.strftime(FMT)}' and endTime eq '{end.strftime(FMT)}'"
    chosen = list(backup.backup_jobs.list(VAULT_NAME, RG_NAME, filter=window))
    assert chosen and all(start - timedelta(seconds=1) <= j.properties.start_time <= end for j in chosen)
    everything = list(backup.backup_jobs.list(VAULT_NAME, RG_NAME))
    assert len(chosen) < len(everything)
    failed = list(backup.backup_jobs.list(VAULT_NAME, RG_NAME, filter=f"{window} and status eq 'Failed'"))
    assert {j.properties.status for j in failed} <= {"Failed"}
    assert {j.name for j in failed} == {j.name for j in chosen if j.properties.status == "Failed"}
    only = list(backup.backup_jobs.list(VAULT_NAME, RG_NAME, filter="operation eq 'ConfigureBackup'"))
    assert len(only) == len(VMS)


def test_one_job_reads_back_with_its_extended_info(backup, protected):
    """JobDetails_Get: the job by name with extendedInfo; a name the vault has no job by is 404."""
    job = next(iter(backup.backup_jobs.list(VAULT_NAME, RG_NAME)))
    got = backup.job_details.get(VAULT_NAME, RG_NAME, job.name)
    assert got.name == job.name and got.properties.extended_info is not None
    with pytest.raises(ResourceNotFoundError):
        backup.job_details.get(VAULT_NAME, RG_NAME, "00000000-0000-0000-0000-000000000000")


def test_protected_items_are_listed_with_the_vault(backup, protected):
    """BackupProtectedItems_List (AzureIaasVm/BackupProtectedItems_List.json): the vault's protected VMs,
    protectedItemType Microsoft.Compute/virtualMachines as the example answers it (the 11.x client resolves that
    nested discriminator to the base ProtectedItem, so the fields are read as the wire keys)."""
    items = list(backup.backup_protected_items.list(VAULT_NAME, RG_NAME))
    assert sorted(i.properties["friendlyName"] for i in items) == sorted(VMS)
    assert {i.properties["protectedItemType"] for i in items} == {"Microsoft.Compute/virtualMachines"}


def test_a_vault_without_protected_items_has_no_jobs(backup, raw):
    """A new vault: BackupJobs_List answers an empty list."""
    resp = raw(
        "PUT", f"{VAULT}?api-version=2026-11-01", {"location": "westeurope", "sku": {"name": "RS0", "tier": "Standard"}}
    )
    _wait(raw, resp)
    assert list(backup.backup_jobs.list(VAULT_NAME, RG_NAME)) == []


@pytest.mark.parametrize(
    "expr",
    [
        "status eq 'Broken'",
        "operation eq 'Snapshot'",
        "startTime eq '2026-13-45 99:00:00 AM'",
        "startTime gt '2026-01-01 00:00:00 AM'",
        "vmName eq 'vm-contoso-app-01'",
        "startTime eq '2026-02-01 00:00:00 AM' and endTime eq '2026-01-01 00:00:00 AM'",
        "status eq 'Failed' or status eq 'Completed'",
    ],
)
def test_a_filter_outside_the_jobs_grammar_is_refused(raw, protected, expr):
    """400 with Azure's message "The inputs specified for Get jobs API are incorrect. ... status eq { InProgress ,
    Completed , Failed , ... }" (MicrosoftDocs/azure-docs#42973 quotes it); code BMSUserErrorInvalidInput
    inferred."""
    err = refused(raw("GET", f"{VAULT}/backupJobs?{B}&$filter={expr}"), 400, "BMSUserErrorInvalidInput")
    assert err["message"].startswith("The inputs specified for Get jobs API are incorrect.")


def test_the_sdk_sees_the_refusal_as_an_http_error(backup, protected):
    """The same refusal through the client: HttpResponseError 400."""
    with pytest.raises(HttpResponseError) as exc:
        list(backup.backup_jobs.list(VAULT_NAME, RG_NAME, filter="status eq 'Broken'"))
    assert exc.value.status_code == 400


def test_jobs_of_a_vault_that_does_not_exist_are_not_found(backup):
    """BackupJobs_List of an unknown vault: 404 ResourceNotFound (ARM)."""
    with pytest.raises(ResourceNotFoundError):
        list(backup.backup_jobs.list("rsv-missing", RG_NAME))
