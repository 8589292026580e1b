"""Microsoft.RecoveryServices: vaults (LRO) with their redundancy and soft-delete settings, Azure Backup for VMs.

Specs: specification/recoveryservices/resource-manager/Microsoft.RecoveryServices/stable/2026-11-01/vaults.json
(PUTVault_WithRedundancySettings.json: properties.redundancySettings; securitySettings.softDeleteSettings),
specification/recoveryservicesbackup/resource-manager/Microsoft.RecoveryServices/stable/2026-10-01/bms.json:
- backupPolicies (ProtectionPolicies_CreateOrUpdate_Simple / _Complex.json): AzureIaasVM schedule and long-term
  retention; a policy Azure cannot use is 400 BMSUserErrorInvalidPolicyInput ("Input for create or update policy is
  not in proper format...", quoted in Azure/azure-cli#10270): run times on the hour or half hour, daily points 7-9999
  days, weekly 1-5163 weeks, monthly 1-1188 months, yearly 1-99 years (Azure PowerShell PolicyConstants), a weekly
  schedule keeping weekly points on its run days;
- refreshContainers (Common/RefreshContainers.json): 202 + Location; afterwards the vault's protectable items list the
  VMs of its region and subscription that no vault protects (az CLI and PowerShell read "not listed" as "already
  protected in this or another vault");
- protectedItems (AzureIaasVm/ConfigureProtection.json): 202 + Azure-AsyncOperation, then the item is
  IRPending; container and item names `IaasVMContainer;iaasvmcontainerv2;{rg};{vm}` / `VM;iaasvmcontainerv2;{rg};{vm}`
  naming the source VM, a policy of this vault; a malformed request is 400 BMSUserErrorInvalidConfigureProtectionRequest
  (hashicorp/terraform-provider-azurerm#2207); a VM of another region, or one another vault protects, is refused with
  the same code (the service's own code is not public: inferred; messages from the az CLI check and
  Azure/terraform-provider-azapi#398);
- stop protection and delete data (Common/ProtectedItem_Delete.json): DELETE of the item, 202 + Azure-AsyncOperation
  and Location; with the vault's soft delete on the item stays soft-deleted for its retention (14 days:
  isScheduledForDeferredDelete, deferredDeleteTimeInUTC), else it is gone; a missing item is 404
  BMSUserErrorDataSourceObjectNotFound (Azure/azure-rest-api-specs#23842);
- backupStatus (AzureIaasVm/GetBackupStatus.json): which vault and policy protect a VM;
- the vault's redundancy cannot change once an item is protected: 400 StorageModelModifyError ("Storage Redundancy
  option is locked when the first machine is registered with the vault", hashicorp/terraform-provider-azurerm#8813);
- backupJobs (Common/ListJobsWithStartTimeAndEndTimeFilters.json, BackupJobs_List / JobDetails_Get): the jobs of the
  vault's protected VMs, generated from each item's policy: a ConfigureBackup job when protection was configured
  (the item's systemData.createdAt, or `_protected_since` a test or fixture sets), then a Backup job at each scheduled
  run (scheduleRunTimes, scheduleRunDays for weekly policies; UTC) up to now, a few minutes after the run time, lasting
  8-40 minutes; about one in twelve fails (UserErrorGuestAgentStatusUnavailable, seeded by item and day), a run still
  under way is InProgress; newest first, at most a year back. `$filter` takes `status`, `operation`,
  `backupManagementType`, `startTime` / `endTime` (jobs that started in between; 'yyyy-mm-dd hh:mm:ss AM', as the
  example and azure-cli send it, or ISO 8601) joined by `and`; anything else is 400 with the message Azure answers
  ("The inputs specified for Get jobs API are incorrect...", MicrosoftDocs/azure-docs#42973; its code is not public:
  BMSUserErrorInvalidInput inferred).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..core import ids, locations
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, Route, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

VAULT_API = ("2026-11-01", "2026-07-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01")
BACKUP_API = ("2026-10-01", "2026-08-01", "2025-02-01", "2024-10-01", "2024-04-01", "2023-04-01")
PROTECTED = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
_VAULT = r"(?P<vault>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+)"
_POLICY_ERROR = (
    "Input for create or update policy is not in proper format. Please check format of parameters like schedule "
    "time, schedule days, retention time and retention days "
)
_LIMITS = {
    "dailySchedule": (7, 9999),
    "weeklySchedule": (1, 5163),
    "monthlySchedule": (1, 1188),
    "yearlySchedule": (1, 99),
}


def _policy_error() -> ArmError:
    return ArmError(400, "BMSUserErrorInvalidPolicyInput", _POLICY_ERROR)


def _protection_error(message: str) -> ArmError:
    return ArmError(400, "BMSUserErrorInvalidConfigureProtectionRequest", message)


def protected_items(arm: Arm) -> list[dict]:
    """Every protected item in the tenant."""
    return arm.all_of_type(PROTECTED)


def vault_of(item: dict) -> str:
    return item["id"].split("/backupFabrics/")[0]


JOB_STATUSES = ("InProgress", "Completed", "Failed", "CompletedWithWarnings", "Cancelled", "Cancelling")
JOB_OPERATIONS = (
    "Invalid",
    "Register",
    "UnRegister",
    "ConfigureBackup",
    "Backup",
    "Restore",
    "DisableBackup",
    "DeleteBackupData",
    "CrossRegionRestore",
    "Undelete",
    "UpdateCustomerManagedKey",
)
MANAGEMENT_TYPES = ("AzureIaasVM", "MAB", "DPM", "AzureBackupServer", "AzureSql", "AzureStorage", "AzureWorkload")
JOB_HISTORY = timedelta(days=365)
FAILURE_SHARE = 1 / 12
_JOB_FILTER_ERROR = (
    "The inputs specified for Get jobs API are incorrect. Please check your inputs and try again.\r\nMake sure your "
    "filter parameters are following these guidelines - The OData filter options. status eq { InProgress , Completed , "
    "Failed , CompletedWithWarnings , Cancelled , Cancelling } and backupManagementType eq {AzureIaasVM, MAB, DPM, "
    "AzureBackupServer, AzureSql } and operation eq { ConfigureBackup , Backup , Restore , DisableBackup , "
    "DeleteBackupData } and jobId eq {guid} and startTime eq { yyyy-mm-dd hh:mm:ss PM } and endTime eq "
    "{ yyyy-mm-dd hh:mm:ss PM }."
)
_TIME_FORMATS = ("%Y-%m-%d %I:%M:%S %p", "%Y-%m-%d %H:%M:%S")


def _seed(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / float(1 << 48)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _when(value: object) -> datetime | None:
    text = str(value or "")
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _filter_error() -> ArmError:
    return ArmError(400, "BMSUserErrorInvalidInput", _JOB_FILTER_ERROR)


def _job_time(value: str) -> datetime:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _filter_error() from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def job_filter(text: str | None) -> dict[str, object]:
    """The terms of a backupJobs $filter (name -> value; startTime / endTime as datetimes)."""
    if not text or not text.strip():
        return {}
    terms: dict[str, object] = {}
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        m = re.fullmatch(r"(\w+)\s+eq\s+'([^']*)'", part.strip())
        if not m:
            raise _filter_error()
        name, value = m.group(1).lower(), m.group(2)
        allowed = {"status": JOB_STATUSES, "operation": JOB_OPERATIONS, "backupmanagementtype": MANAGEMENT_TYPES}
        if name in allowed:
            canon = next((a for a in allowed[name] if a.lower() == value.lower()), None)
            if canon is None:
                raise _filter_error()
            terms[name] = canon
        elif name in ("starttime", "endtime"):
            terms[name] = _job_time(value)
        elif name == "jobid":
            terms[name] = value.lower()
        else:
            raise _filter_error()
    start, end = terms.get("starttime"), terms.get("endtime")
    if isinstance(start, datetime) and isinstance(end, datetime) and end < start:
        raise _filter_error()
    return terms


class RecoveryServices(Provider):
    """Recovery Services vaults and Azure Backup."""

    namespace = "Microsoft.RecoveryServices"
    types = (
        TypeSpec(
            "Microsoft.RecoveryServices/vaults",
            VAULT_API,
            put_lro=True,
            delete_lro=True,
            name_rule=(2, 50, r"[a-zA-Z][a-zA-Z0-9-]*"),
        ),
        TypeSpec(
            "Microsoft.RecoveryServices/vaults/backupPolicies", BACKUP_API, put_created=200, tracked=False, patch=False
        ),
        TypeSpec(PROTECTED, BACKUP_API, put_created=200, tracked=False, patch=False),
    )
    routes = (
        Route(
            _VAULT + r"/backupfabrics/azure/refreshcontainers",
            "refresh",
            BACKUP_API,
            "vaults/backupFabrics/refreshContainers",
            ("POST",),
            namespace_error=True,
            type="Microsoft.RecoveryServices/vaults/backupFabrics/refreshContainers",
        ),
        Route(
            _VAULT + r"/backupprotectableitems",
            "protectable",
            BACKUP_API,
            "vaults/backupProtectableItems",
            ("GET",),
            namespace_error=True,
            type="Microsoft.RecoveryServices/vaults/backupProtectableItems",
        ),
        Route(
            _VAULT + r"/backupprotecteditems",
            "list_protected",
            BACKUP_API,
            "vaults/backupProtectedItems",
            ("GET",),
            namespace_error=True,
            type="Microsoft.RecoveryServices/vaults/backupProtectedItems",
        ),
        Route(
            _VAULT + r"/backupjobs",
            "list_jobs",
            BACKUP_API,
            "vaults/backupJobs",
            ("GET",),
            namespace_error=True,
            type="Microsoft.RecoveryServices/vaults/backupJobs",
        ),
        Route(
            _VAULT + r"/backupjobs/(?P<job>[^/]+)",
            "get_job",
            BACKUP_API,
            "vaults/backupJobs",
            ("GET",),
            namespace_error=True,
            type="Microsoft.RecoveryServices/vaults/backupJobs",
        ),
        Route(
            r"/subscriptions/[^/]+/providers/microsoft\.recoveryservices/locations/(?P<loc>[^/]+)/backupstatus",
            "backup_status",
            BACKUP_API,
            "locations/backupStatus",
            ("POST",),
            namespace_error=True,
            type="Microsoft.RecoveryServices/locations/backupStatus",
        ),
    )

    # ------------------------------------------------------------------ vaults
    def validate_vaults(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """The redundancy of a vault that protects items is locked."""
        existing = arm.state.get(ap.path)
        if existing is None:
            return
        want = ((body.get("properties") or {}).get("redundancySettings") or {}).get("standardTierStorageRedundancy")
        have = ((existing.get("properties") or {}).get("redundancySettings") or {}).get("standardTierStorageRedundancy")
        locked = any(vault_of(i).lower() == ap.path.lower() for i in protected_items(arm))
        if want and have and want.lower() != have.lower() and locked:
            raise ArmError(
                400,
                "StorageModelModifyError",
                "Storage Redundancy option is locked when the first machine is registered with the vault, and cannot "
                "be modified thereafter.",
            )

    def on_vaults(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """Defaults Azure fills in: geo-redundant storage, soft delete on."""
        if req.method == "PUT" and not ap.is_collection:
            body = req.json()
            props = body.setdefault("properties", {})
            props.setdefault("redundancySettings", {}).setdefault("standardTierStorageRedundancy", "GeoRedundant")
            props["redundancySettings"].setdefault("crossRegionRestore", "Disabled")
            soft = props.setdefault("securitySettings", {}).setdefault("softDeleteSettings", {})
            soft.setdefault("softDeleteState", "Enabled")
            soft.setdefault("softDeleteRetentionPeriodInDays", 14)
            body.setdefault("sku", {"name": "RS0", "tier": "Standard"})
            return arm.put(req, ap, spec, arm.state.get(ap.path), body=body)
        return None

    # ------------------------------------------------------------------ policies
    def validate_vaults_backuppolicies(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict
    ) -> None:
        """An AzureIaasVM policy Azure can run: times on the hour or half hour, retention within its limits."""
        props = body.get("properties") or {}
        if str(props.get("backupManagementType", "")) != "AzureIaasVM":
            raise ArmError(
                400,
                "BMSUserErrorInvalidPolicyForGivenProvider",
                "Policy is not valid for given provider type. Please choose valid policy for given provider.",
            )
        schedule = props.get("schedulePolicy") or {}
        frequency = str(schedule.get("scheduleRunFrequency", ""))
        times = schedule.get("scheduleRunTimes") or []
        if frequency in ("Daily", "Weekly"):
            if not times:
                raise _policy_error()
            for t in times:
                m = re.match(r"^\d{4}-\d{2}-\d{2}T(\d{2}):(\d{2}):00(?:\.0+)?Z?$", str(t))
                if not m or m.group(2) not in ("00", "30"):
                    raise _policy_error()
        if frequency == "Weekly" and not schedule.get("scheduleRunDays"):
            raise _policy_error()
        retention = props.get("retentionPolicy")
        if retention is None:
            return
        for key, (low, high) in _LIMITS.items():
            part = retention.get(key)
            if part is None:
                continue
            count = (part.get("retentionDuration") or {}).get("count")
            if not isinstance(count, int) or not low <= count <= high:
                raise _policy_error()
        if frequency == "Daily" and retention.get("dailySchedule") is None:
            raise _policy_error()
        if frequency == "Weekly":
            weekly = retention.get("weeklySchedule")
            if weekly is None or retention.get("dailySchedule") is not None:
                raise _policy_error()
            if sorted(weekly.get("daysOfTheWeek") or []) != sorted(schedule.get("scheduleRunDays") or []):
                raise _policy_error()

    def on_vaults_backuppolicies(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Azure counts the items a policy protects."""
        if req.method == "GET":
            policies = [arm.state.get(ap.path)] if not ap.is_collection else arm.state.children(ap.path, spec.type)
            for p in policies:
                if p is not None:
                    p["properties"]["protectedItemsCount"] = sum(
                        1
                        for i in protected_items(arm)
                        if str(i["properties"].get("policyId", "")).lower() == p["id"].lower()
                    )
        return None

    # ------------------------------------------------------------------ discovery
    def _vault(self, arm: Arm, principal: str, m: re.Match[str], path: str, action: str) -> dict:
        vid = path[: len(m.group("vault"))]
        vault = arm.state.get(vid)
        if vault is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.RecoveryServices/vaults/{vid.split('/')[-1]}' was not found.",
            )
        if denied := arm.authorize(principal, vid, action):
            raise ArmError(denied.status, "AuthorizationFailed", denied.body["error"]["message"])  # type: ignore[index]
        return vault

    def refresh(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Discover the VMs the vault may protect (202 + Location; done when polled to the end)."""
        vault = self._vault(
            arm, principal, m, path, "Microsoft.RecoveryServices/vaults/backupFabrics/refreshContainers/action"
        )

        def done() -> None:
            vault["_discovered"] = True

        headers, _ = arm.start_lro(
            req, ids.subscription_of(vault["id"]) or "", "location", done, "refreshContainers", vault["id"]
        )
        return Response(202, None, headers)

    def protectable(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """The VMs of the vault's region and subscription that no vault protects, once containers were refreshed."""
        vault = self._vault(arm, principal, m, path, "Microsoft.RecoveryServices/vaults/backupProtectableItems/read")
        if not vault.get("_discovered"):
            return arm.page(req, [])
        sub = ids.subscription_of(vault["id"])
        taken = {str(i["properties"].get("sourceResourceId", "")).lower() for i in protected_items(arm)}
        items = []
        for vm in arm.all_of_type("Microsoft.Compute/virtualMachines"):
            same_region = locations.normalise(str(vm.get("location"))) == locations.normalise(
                str(vault.get("location"))
            )
            if ids.subscription_of(vm["id"]) != sub or not same_region:
                continue
            if vm["id"].lower() in taken:
                continue
            rg = ids.resource_group_of(vm["id"])
            container = f"IaasVMContainer;iaasvmcontainerv2;{rg};{vm['name']}"
            name = f"VM;iaasvmcontainerv2;{rg};{vm['name']}"
            items.append(
                {
                    "id": f"{vault['id']}/backupFabrics/Azure/protectionContainers/{container}/protectableItems/{name}",
                    "name": name,
                    "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectableItems",
                    "properties": {
                        "backupManagementType": "AzureIaasVM",
                        "friendlyName": vm["name"],
                        "protectableItemType": "Microsoft.Compute/virtualMachines",
                        "protectionState": "NotProtected",
                        "virtualMachineId": vm["id"],
                        "workloadType": "VM",
                    },
                }
            )
        return arm.page(req, items)

    def list_protected(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """The vault's protected items."""
        vault = self._vault(arm, principal, m, path, "Microsoft.RecoveryServices/vaults/backupProtectedItems/read")
        mine = [arm.view(i) for i in protected_items(arm) if vault_of(i).lower() == vault["id"].lower()]
        return arm.page(req, mine)

    # ------------------------------------------------------------------ jobs
    def jobs(self, arm: Arm, vault: dict, now: datetime | None = None) -> list[dict]:
        """The vault's jobs, newest first (see the module docstring for how they are generated)."""
        now = now or datetime.now(timezone.utc)
        out: list[dict] = []
        for item in protected_items(arm):
            if vault_of(item).lower() != vault["id"].lower():
                continue
            since = _when(item.get("_protected_since") or (item.get("systemData") or {}).get("createdAt")) or now
            out.append(self._job(vault, item, "ConfigureBackup", since, timedelta(seconds=31.3), False, now))
            policy = arm.state.get(str(item["properties"].get("policyId", ""))) or {}
            schedule = (policy.get("properties") or {}).get("schedulePolicy") or {}
            runs = schedule.get("scheduleRunTimes") or []
            if not runs:
                continue
            at = _when(runs[0]) or now
            weekly = str(schedule.get("scheduleRunFrequency")) == "Weekly"
            days = {str(d).lower() for d in schedule.get("scheduleRunDays") or []}
            day = max(since, now - JOB_HISTORY).date()
            while day <= now.date():
                start = datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=timezone.utc)
                start += timedelta(seconds=int(60 + 540 * _seed(f"{item['id']}|{day}|start")))
                day += timedelta(days=1)
                if start <= since or start > now:
                    continue
                if weekly and start.strftime("%A").lower() not in days:
                    continue
                length = timedelta(seconds=int(480 + 1920 * _seed(f"{item['id']}|{start.date()}|length")))
                failed = _seed(f"{item['id']}|{start.date()}|outcome") < FAILURE_SHARE
                out.append(self._job(vault, item, "Backup", start, length, failed, now))
        return sorted(out, key=lambda j: j["properties"]["startTime"], reverse=True)

    @staticmethod
    def _job(
        vault: dict, item: dict, operation: str, start: datetime, length: timedelta, failed: bool, now: datetime
    ) -> dict:
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{item['id'].lower()}|{operation}|{start.isoformat()}"))
        running = start + length > now
        props: dict = {
            "jobType": "AzureIaaSVMJob",
            "duration": f"PT{(min(now, start + length) - start).total_seconds():.1f}S",
            "actionsInfo": ["Cancellable"] if running else [],
            "virtualMachineVersion": "Compute",
            "entityFriendlyName": str(item["properties"].get("friendlyName", "")).lower(),
            "backupManagementType": "AzureIaasVM",
            "operation": operation,
            "status": "InProgress" if running else ("Failed" if failed else "Completed"),
            "startTime": _iso(start),
            "activityId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "containerName": str(item["properties"].get("containerName", "")),
            "isUserTriggered": False,
        }
        if not running:
            props["endTime"] = _iso(start + length)
        if failed and not running:
            props["errorDetails"] = [
                {
                    "errorCode": 400044,
                    "errorString": "VM Agent is unable to communicate with the Azure Backup Service.",
                    "errorTitle": "UserErrorGuestAgentStatusUnavailable",
                    "recommendations": [
                        "Ensure that the VM agent is installed and running, and that the VM has network connectivity "
                        "to Azure. See https://aka.ms/backup-vm-agent-troubleshooting."
                    ],
                }
            ]
        return {
            "id": f"{vault['id']}/backupJobs/{name}",
            "name": name,
            "type": "Microsoft.RecoveryServices/vaults/backupJobs",
            "properties": props,
        }

    def list_jobs(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """BackupJobs_List with its $filter."""
        vault = self._vault(arm, principal, m, path, "Microsoft.RecoveryServices/vaults/backupJobs/read")
        terms = job_filter(req.query.get("$filter"))
        start, end = terms.get("starttime"), terms.get("endtime")
        chosen = []
        for job in self.jobs(arm, vault):
            p = job["properties"]
            began = _when(p["startTime"])
            assert began is not None
            if isinstance(start, datetime) and began < start:
                continue
            if isinstance(end, datetime) and began > end:
                continue
            if any(
                str(p.get(key)) != str(terms[k])
                for k, key in (
                    ("status", "status"),
                    ("operation", "operation"),
                    ("backupmanagementtype", "backupManagementType"),
                )
                if k in terms
            ):
                continue
            if "jobid" in terms and job["name"] != terms["jobid"]:
                continue
            chosen.append(job)
        return arm.page(req, chosen)

    def get_job(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """JobDetails_Get: one job of the vault (404 when the vault has none by that name)."""
        vault = self._vault(arm, principal, m, path, "Microsoft.RecoveryServices/vaults/backupJobs/read")
        name = m.group("job")
        job = next((j for j in self.jobs(arm, vault) if j["name"].lower() == name.lower()), None)
        if job is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.RecoveryServices/vaults/backupJobs/{name}' was not found.",
            )
        job["properties"]["extendedInfo"] = {
            "tasksList": [],
            "propertyBag": {"VM Name": job["properties"]["entityFriendlyName"]},
        }
        return Response(200, job)

    def backup_status(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Which vault and policy protect a VM (NotProtected when none)."""
        body = req.json()
        rid = str(body.get("resourceId", ""))
        if denied := arm.authorize(principal, rid or path, "Microsoft.RecoveryServices/locations/backupStatus/action"):
            return denied
        found = next(
            (
                i
                for i in protected_items(arm)
                if str(i["properties"].get("sourceResourceId", "")).lower() == rid.lower()
            ),
            None,
        )
        if found is None:
            return Response(200, {"protectionStatus": "NotProtected", "errorCode": "Success", "fabricName": "Azure"})
        policy = str(found["properties"].get("policyId", ""))
        return Response(
            200,
            {
                "containerName": found["id"].split("/protectionContainers/")[1].split("/")[0],
                "errorCode": "Success",
                "errorMessage": "",
                "fabricName": "Azure",
                "policyName": policy.rsplit("/", 1)[-1],
                "protectedItemName": found["name"],
                "protectionStatus": "Protected",
                "vaultId": vault_of(found),
            },
        )

    # ------------------------------------------------------------------ protection
    def validate_vaults_backupfabrics_protectioncontainers_protecteditems(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict
    ) -> None:
        """Container and item name the source VM; the VM is in the vault's region and protected nowhere else; the
        policy is one of this vault's."""
        props = body.get("properties") or {}
        if str(props.get("protectionState", "")) == "ProtectionStopped":  # stop protection, retain data
            if arm.state.get(ap.path) is None:
                raise _protection_error(f"The item '{ap.name}' is not protected: there is no protection to stop.")
            return
        vault_id = ap.path.split("/backupFabrics/")[0]
        vault = arm.state.get(vault_id)
        source = str(props.get("sourceResourceId", ""))
        vm = arm.state.get(source) if source else None
        parts = ids.normalise_path(ap.path).split("/")
        container, item = parts[-3], parts[-1]
        if (
            vault is None
            or vm is None
            or str(props.get("protectedItemType", "")) != "Microsoft.Compute/virtualMachines"
        ):
            raise _protection_error(
                "Input for configure protection is not in proper format\r\nPlease ensure that container exists and "
                "other parameters are in valid format"
            )
        rg = ids.resource_group_of(vm["id"]) or ""
        want_c = f"iaasvmcontainer;iaasvmcontainerv2;{rg};{vm['name']}".lower()
        want_i = f"vm;iaasvmcontainerv2;{rg};{vm['name']}".lower()
        if container.lower() != want_c or item.lower() != want_i:
            raise _protection_error(
                "Input for configure protection is not in proper format\r\nPlease ensure that container exists and "
                "other parameters are in valid format"
            )
        policy = arm.state.get(str(props.get("policyId", ""))) if props.get("policyId") else None
        if policy is None or not policy["id"].lower().startswith(vault_id.lower() + "/"):
            raise _protection_error(f"The backup policy '{props.get('policyId')}' was not found in the vault.")
        if locations.normalise(str(vm.get("location"))) != locations.normalise(str(vault.get("location"))):
            raise _protection_error(
                "The VM should be in the same location as that of the Recovery Services vault to enable protection."
            )
        elsewhere = next(
            (
                i
                for i in protected_items(arm)
                if str(i["properties"].get("sourceResourceId", "")).lower() == vm["id"].lower()
                and vault_of(i).lower() != vault_id.lower()
            ),
            None,
        )
        if elsewhere is not None:
            raise _protection_error(
                "Virtual machine is already registered\\registering with another recovery services vault Please "
                "select a different virtual machine for registration."
            )

    def on_vaults_backupfabrics_protectioncontainers_protecteditems(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Enabling protection is a long-running operation (202 + Azure-AsyncOperation); the item is IRPending until
        its first backup. Deleting it (stop protection and delete data) is one too (`delete_item`)."""
        if req.method == "DELETE" and not ap.is_collection:
            return self.delete_item(arm, req, ap, spec)
        if req.method != "PUT" or ap.is_collection:
            return None
        body = req.json()
        existing = arm.state.get(ap.path)
        props = body.setdefault("properties", {})
        if existing is not None and props.get("protectionState") == "ProtectionStopped":
            # stop protection and retain data (learn.microsoft.com/azure/backup/backup-azure-arm-userestapi-backupazurevms,
            # "Stop protection but retain existing data"): no more backups, the recovery points stay; a job (202)
            existing["properties"].update(protectionState="ProtectionStopped", policyId="", policyName="")
            headers, _ = arm.start_lro(req, ids.subscription_of(ap.path) or "", "async", None, spec.type, ap.path)
            return Response(202, None, headers)
        vm = arm.state.get(props["sourceResourceId"]) or {}
        props.update(
            backupManagementType="AzureIaasVM",
            workloadType="VM",
            friendlyName=vm.get("name"),
            virtualMachineId=vm.get("id"),
            containerName=ids.normalise_path(ap.path).split("/")[-3].split(";", 1)[1],
            protectionStatus="Healthy",
            protectionState=(existing or {}).get("properties", {}).get("protectionState", "IRPending"),
            healthStatus="Passed",
            lastBackupStatus="",
            policyName=str(props.get("policyId", "")).rsplit("/", 1)[-1],
        )
        if existing is not None:
            return arm.put(req, ap, spec, existing, body=body)
        arm.put(req, ap, spec, None, body=body)
        headers, _ = arm.start_lro(req, ids.subscription_of(ap.path) or "", "async", None, spec.type, ap.path)
        return Response(202, None, headers)

    def delete_item(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec) -> Response:
        """Stop protection and delete data (ProtectedItems_Delete, Common/ProtectedItem_Delete.json): 202 with
        Azure-AsyncOperation and Location (Retry-After), the item and its recovery points deleted when the operation
        ends. With the vault's soft delete on (its default) the item stays, soft-deleted for the vault's retention
        (14 days): protection stopped, properties.isScheduledForDeferredDelete true and deferredDeleteTimeInUTC /
        deferredDeleteTimeRemaining set (Azure/azure-rest-api-specs#18921: a GET after the delete still answers it,
        ProtectionStopped); with soft delete off it is gone (404). An item that does not exist is 404
        BMSUserErrorDataSourceObjectNotFound (Azure/azure-rest-api-specs#23842, hashicorp/terraform-provider-azurerm#9452);
        one soft-deleted already is 204 (nothing left to delete; the spec's other answer, the service's own not public).
        A lock on the vault or above is 409 ScopeLocked before this (ARM checks locks for every provider)."""
        existing = arm.state.get(ap.path)
        if existing is None:
            raise ArmError(
                404,
                "BMSUserErrorDataSourceObjectNotFound",
                "Item not found.\r\nSelected item might have been deleted. Please check if item is registered to the "
                "vault.",
            )
        props = existing.setdefault("properties", {})
        if props.get("isScheduledForDeferredDelete"):
            return Response(204)
        vault = arm.state.get(vault_of(existing)) or {}
        soft = ((vault.get("properties") or {}).get("securitySettings") or {}).get("softDeleteSettings") or {}
        days = int(soft.get("softDeleteRetentionPeriodInDays") or 14)
        path = ap.path

        def done() -> None:
            if str(soft.get("softDeleteState", "Enabled")).lower() == "disabled":
                arm.state.delete_tree(path)
                return
            item = arm.state.get(path)
            if item is None:
                return
            item["properties"].update(
                protectionState="ProtectionStopped",
                policyId="",
                policyName="",
                isScheduledForDeferredDelete=True,
                deferredDeleteTimeInUTC=_iso(datetime.now(timezone.utc) + timedelta(days=days)),
                deferredDeleteTimeRemaining=f"{days}:00:00:00",
                isDeferredDeleteScheduleUpcoming=False,
            )

        headers, _ = arm.start_lro(req, ids.subscription_of(path) or "", "async", done, spec.type, path)
        url = headers["Azure-AsyncOperation"]
        headers["Location"] = url.replace("/operationstatuses/", "/operationresults/")
        return Response(202, None, headers)
