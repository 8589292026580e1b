"""Stage 3 (Full Stack): Azure Backup of every managed VM to the agreed schedule.

Per subscription and region that holds managed VMs, as a table of desired resources:
- the MSP resource group (`monitoring.resource_group`);
- a Recovery Services vault `rsv-intercept-<region>` (api-version 2026-11-01) whose storage redundancy and soft
  delete are set in the same PUT, before any item is protected (Azure locks redundancy at the first protected item);
- the backup policy `intercept-vm` (api-version 2026-10-01) derived from `backup`: daily or weekly runs at the agreed
  time in the agreed time zone, daily / weekly / monthly / yearly retention, instant-restore days.
Beyond the table, each managed VM's backup status is read (which vault and policy protect it). A VM no vault protects
is protected: containers are refreshed (202, polled), the VM must appear among the vault's protectable items, then
the protected item is written (a long-running operation). A VM protected by another vault, or by this vault with
another policy, is reported and left as it is: moving a VM between vaults loses its recovery points, a decision for
the customer. Verification reads the vault's protected items and every VM's backup status back.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from functools import partial
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from ..adapters.inventory import Resource
from ..customer.params import Backup
from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, StepInputError, Verdict, follow_operation
from .desired import Desired, DesiredResourcesStep
from .tagging import managed_marking

API_VAULT = "2026-11-01"
API_BACKUP = "2026-10-01"
API_GROUP = "2021-04-01"
POLICY = "intercept-vm"
VM_TYPE = "microsoft.compute/virtualmachines"
ANCHOR = date(2026, 1, 5)  # a Monday: the date part of schedule times (Azure reads only the time)
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def vault_name(region: str) -> str:
    return f"rsv-intercept-{region.lower()}"


def container_and_item(vm_id: str) -> tuple[str, str]:
    """The protection container and protected item names Azure gives a VM."""
    parts = vm_id.split("/")
    rg, name = parts[4], parts[-1]
    return f"IaasVMContainer;iaasvmcontainerv2;{rg};{name}", f"VM;iaasvmcontainerv2;{rg};{name}"


def policy_body(b: Backup) -> dict[str, Any]:
    """The AzureIaasVM backup policy of the agreed schedule."""
    first = _DAYS.index(b.days[0]) if b.frequency == "Weekly" else 0
    at = f"{(ANCHOR + timedelta(days=first)).isoformat()}T{b.time}:00Z"
    schedule: dict[str, Any] = {
        "schedulePolicyType": "SimpleSchedulePolicy",
        "scheduleRunFrequency": b.frequency,
        "scheduleRunTimes": [at],
    }
    retention: dict[str, Any] = {"retentionPolicyType": "LongTermRetentionPolicy"}
    week_day = b.days if b.frequency == "Weekly" else [b.days[0]]
    if b.frequency == "Weekly":
        schedule["scheduleRunDays"] = list(b.days)
    else:
        retention["dailySchedule"] = {
            "retentionTimes": [at],
            "retentionDuration": {"count": b.retention_days, "durationType": "Days"},
        }
    weeks = b.retention_weeks or (max(1, b.retention_days // 7) if b.frequency == "Weekly" else None)
    if weeks:
        retention["weeklySchedule"] = {
            "daysOfTheWeek": list(week_day),
            "retentionTimes": [at],
            "retentionDuration": {"count": weeks, "durationType": "Weeks"},
        }
    weekly_format = {"daysOfTheWeek": [week_day[0]], "weeksOfTheMonth": ["First"]}
    if b.retention_months:
        retention["monthlySchedule"] = {
            "retentionScheduleFormatType": "Weekly",
            "retentionScheduleWeekly": weekly_format,
            "retentionTimes": [at],
            "retentionDuration": {"count": b.retention_months, "durationType": "Months"},
        }
    if b.retention_years:
        retention["yearlySchedule"] = {
            "retentionScheduleFormatType": "Weekly",
            "monthsOfYear": ["January"],
            "retentionScheduleWeekly": weekly_format,
            "retentionTimes": [at],
            "retentionDuration": {"count": b.retention_years, "durationType": "Years"},
        }
    return {
        "properties": {
            "backupManagementType": "AzureIaasVM",
            "policyType": "V1",
            "instantRpRetentionRangeInDays": b.instant_restore_days,
            "schedulePolicy": schedule,
            "retentionPolicy": retention,
            "timeZone": b.time_zone,
        }
    }


class BackupDeployed(DesiredResourcesStep):
    """Vault per region, the agreed policy, every managed VM protected (or named where another vault has it)."""

    item_id = "s3-backup-deployed"
    requires = ("backup",)

    def backup(self, ctx: Context) -> Backup:
        if ctx.params.backup is None:
            raise StepInputError(f"parameters/{ctx.params.customer}.yml: 'backup' is required for {self.item_id}")
        return ctx.params.backup

    def managed_vms(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Resource]:
        resources = ctx.resources(ctx.params.monitoring.resource_group, unreadable)
        managed = managed_marking(ctx, resources, unreadable).managed
        return [r for r in resources if r.type.lower() == VM_TYPE and r.key in managed]

    def vault_id(self, ctx: Context, sub: str, region: str) -> str:
        rg = ctx.params.monitoring.resource_group
        return (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{vault_name(region)}"
        )

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        b = self.backup(ctx)
        vms = self.managed_vms(ctx, unreadable)
        regions = sorted({(r.subscription_id, r.location.lower()) for r in vms})
        rows = []
        for sub in sorted({s for s, _ in regions}):
            rg = f"/subscriptions/{sub}/resourceGroups/{ctx.params.monitoring.resource_group}"
            rows.append(
                Desired(
                    sub, "resource group", rg, API_GROUP, {"location": ctx.params.monitoring.location}, ("location",)
                )
            )
        for sub, region in regions:
            vault = self.vault_id(ctx, sub, region)
            rows.append(
                Desired(
                    sub,
                    "Recovery Services vault",
                    vault,
                    API_VAULT,
                    {
                        "location": region,
                        "sku": {"name": "RS0", "tier": "Standard"},
                        "properties": {
                            "publicNetworkAccess": "Enabled",
                            "redundancySettings": {"standardTierStorageRedundancy": b.redundancy},
                            "securitySettings": {
                                "softDeleteSettings": {"softDeleteState": "Enabled" if b.soft_delete else "Disabled"}
                            },
                        },
                    },
                    (
                        "properties.redundancySettings.standardTierStorageRedundancy",
                        "properties.securitySettings.softDeleteSettings.softDeleteState",
                    ),
                    f"managed VMs in {region}",
                )
            )
            rows.append(
                Desired(
                    sub,
                    "backup policy",
                    f"{vault}/backupPolicies/{POLICY}",
                    API_BACKUP,
                    policy_body(b),
                    (
                        "properties.schedulePolicy.scheduleRunFrequency",
                        "properties.schedulePolicy.scheduleRunTimes",
                        "properties.schedulePolicy.scheduleRunDays",
                        "properties.retentionPolicy",
                        "properties.timeZone",
                        "properties.instantRpRetentionRangeInDays",
                    ),
                    b.words(),
                )
            )
        return rows

    # ------------------------------------------------------------------ protection
    def call(self, ctx: Context, sub: str, method: str, url: str, body: Any = None) -> Any:
        client = ctx.clients.resource(sub)
        resp = client.send_request(
            HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
        )
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def status(self, ctx: Context, vm: Resource) -> dict:
        url = f"/subscriptions/{vm.subscription_id}/providers/Microsoft.RecoveryServices/locations/{vm.location}/backupStatus?api-version={API_BACKUP}"
        return self.call(ctx, vm.subscription_id, "POST", url, {"resourceId": vm.id, "resourceType": "VM"}) or {}

    def inspect(self, ctx: Context) -> Observation:
        obs = super().inspect(ctx)
        unreadable: list[ScopeFailure] = []
        vms = self.managed_vms(ctx, unreadable)
        obs.facts["failures"] += unreadable
        states = []
        for vm in vms:
            try:
                st = self.status(ctx, vm)
            except HttpResponseError as exc:
                obs.facts["failures"].append(ScopeFailure(vm.id, f"backup status: {self.explain(exc)}"))
                continue
            ours = self.vault_id(ctx, vm.subscription_id, vm.location)
            vault = str(st.get("vaultId") or "")
            if st.get("protectionStatus") != "Protected":
                state = "not protected"
            elif vault.lower() != ours.lower():
                state = f"protected by another vault: {vault} (policy {st.get('policyName')})"
            elif str(st.get("policyName", "")).lower() != POLICY:
                state = f"protected by this vault with another policy: {st.get('policyName')}"
            else:
                state = "in place"
            states.append((vm, state))
            obs.rows.append(
                {
                    "subscription": vm.subscription_id,
                    "kind": "VM backup",
                    "name": vm.name,
                    "watches": vm.location,
                    "state": state,
                }
            )
        obs.facts["protection"] = states
        obs.rows.append(
            {
                "subscription": "",
                "kind": "agreed schedule",
                "name": POLICY,
                "watches": "",
                "state": self.backup(ctx).words(),
            }
        )
        return obs

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        changes = super().plan(ctx, obs)
        for vm, state in obs.facts.get("protection", []):
            if state != "not protected":
                continue
            vault = self.vault_id(ctx, vm.subscription_id, vm.location)
            container, item = container_and_item(vm.id)
            changes.append(
                Change(
                    f"{vault}/backupFabrics/Azure/protectionContainers/{container}/protectedItems/{item}",
                    "protect VM",
                    {"kind": "protected item", "vm": vm.id, "vault": vault, "api_version": API_BACKUP},
                )
            )
        return changes

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        failures: list[str] = list(
            self.apply_table(ctx, [c for c in changes if c.detail.get("kind") != "protected item"])
        )
        items = [c for c in changes if c.detail.get("kind") == "protected item"]
        for vault in sorted({c.detail["vault"] for c in items}):
            sub = vault.split("/")[2]
            try:
                self.discover(ctx, sub, vault)
                protectable = {
                    str(i["properties"].get("virtualMachineId", "")).lower()
                    for i in self.list_objects(ctx, sub, f"{vault}/backupProtectableItems", API_BACKUP)
                }
            except HttpResponseError as exc:
                failures.append(f"{vault}: container discovery: {self.explain(exc)}")
                continue
            mine = [c for c in items if c.detail["vault"] == vault]
            for c in mine:
                if c.detail["vm"].lower() not in protectable:
                    failures.append(
                        f"{c.detail['vm']}: not among the vault's protectable items after discovery (protected elsewhere since the plan, or not in {vault.split('/')[-1]}'s region); nothing was changed"
                    )
            ready = [c for c in mine if c.detail["vm"].lower() in protectable]
            with ThreadPoolExecutor(max_workers=8) as pool:  # each protection is a long-running operation
                failures += [f for f in pool.map(partial(self.protect, ctx, sub, vault), ready) if f]
        return self.applied(ctx, failures)

    def protect(self, ctx: Context, sub: str, vault: str, c: Change) -> str:
        """Enable protection of one VM and wait for it; "" or the refusal, named."""
        body = {
            "properties": {
                "protectedItemType": "Microsoft.Compute/virtualMachines",
                "sourceResourceId": c.detail["vm"],
                "policyId": f"{vault}/backupPolicies/{POLICY}",
            }
        }
        try:
            ctx.clients.resource(sub).resources.begin_create_or_update_by_id(
                c.target, body, api_version=API_BACKUP
            ).result()
        except HttpResponseError as exc:
            return f"{c.detail['vm']}: {c.action}: {self.explain(exc)}"
        ctx.accepted(c)
        return ""

    def discover(self, ctx: Context, sub: str, vault: str) -> None:
        """Refresh the vault's containers and wait for it (Location polled with its Retry-After)."""
        import time

        client = ctx.clients.resource(sub)
        url = f"{vault}/backupFabrics/Azure/refreshContainers?api-version={API_BACKUP}&$filter=backupManagementType eq 'AzureIaasVM'"
        resp = client.send_request(HttpRequest("POST", url))
        resp.raise_for_status()
        follow_operation(client, resp, time.monotonic() + 1800)  # unfinished after 30 min: what is found so far

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        verdict = super().judge(ctx, obs, pending, applied)
        elsewhere = [(vm, s) for vm, s in obs.facts.get("protection", []) if s not in ("in place", "not protected")]
        protected = sum(1 for _, s in obs.facts.get("protection", []) if s == "in place")
        if verdict.status == "fulfilled":
            verdict.summary += f" {protected} managed VM(s) protected by the agreed policy. {self.backup(ctx).words()}"
            if elsewhere:
                verdict.status = "open"
                verdict.summary += f" {len(elsewhere)} VM(s) are protected elsewhere and were left as they are."
        verdict.missing += [
            f"{vm.id}: {s}; not moved (moving loses its recovery points): decide with the customer, then stop protection there or accept it"
            for vm, s in elsewhere
        ]
        return verdict
