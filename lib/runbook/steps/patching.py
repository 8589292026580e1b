"""Stage 3 (Full Stack): patch management to the agreed windows with Azure Update Manager.

Per subscription, as a table of desired resources (Maintenance api-version 2023-04-01):
- the MSP's resource group (`monitoring.resource_group`) and, in it, one InGuestPatch maintenance configuration per
  agreed window (`patching.windows`, or the single `day` / `start` / `duration_hours` window): recurrence, start,
  duration, Windows time zone, reboot setting, classifications per OS, `InGuestPatchMode: User`;
- one dynamic-scope assignment per window at the subscription: virtual machines whose `patching.tag_key` tag holds
  the window's `tag_value` (or, for a window without one, the managed tag).
Beyond the table, every VM the resource sheet marks managed is set to patch mode `AutomaticByPlatform` with
`bypassPlatformSafetyChecksOnUserSchedule` (else Azure patches on its own schedule and ignores the window) and
periodic assessment (`assessmentMode: AutomaticByPlatform`), by PATCH of its `osProfile` (the rest of the VM is left
as it is). Verification reads back the configurations, the assignments and each VM's patch settings. What Azure
rewrites on read is not compared: the start date (Azure keeps its own format) and `InGuestPatchMode` (reported as
a perpetual difference by Terraform users).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..customer.params import PatchWindow
from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, StepInputError, Verdict
from .desired import Desired, DesiredResourcesStep
from .tagging import managed_marking

API_MAINTENANCE = "2023-04-01"
API_GROUP = "2021-04-01"
API_VM = "2024-07-01"
VM_TYPE = "microsoft.compute/virtualmachines"
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ANCHOR = date(2026, 1, 5)  # a Monday: windows start on their first day after it (a stable, past start date)


def configuration_name(window: PatchWindow) -> str:
    """The maintenance configuration (and assignment) name of a window."""
    return f"intercept-patch-{window.name.lower()}"


def first_start(window: PatchWindow) -> str:
    """The window's startDateTime as Azure writes it: its first day on or after the anchor, at its start time."""
    first = min(_DAYS.index(d) for d in window.days)
    return f"{(ANCHOR + timedelta(days=first)).isoformat()} {window.start}"


def wanted_patch_settings(os_type: str) -> dict[str, Any]:
    """The patch settings a managed VM must have, per OS."""
    settings = {
        "patchMode": "AutomaticByPlatform",
        "assessmentMode": "AutomaticByPlatform",
        "automaticByPlatformSettings": {"bypassPlatformSafetyChecksOnUserSchedule": True},
    }
    if os_type == "Windows":  # enableAutomaticUpdates is fixed at creation: a VM created without it is named
        return {"windowsConfiguration": {"patchSettings": settings}}
    return {"linuxConfiguration": {"patchSettings": settings}}


def _os_type(vm: dict) -> str:
    props = vm.get("properties") or {}
    found = ((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
    if found:
        return str(found).capitalize()
    return "Linux" if "linuxConfiguration" in (props.get("osProfile") or {}) else "Windows"


def _patch_state(vm: dict) -> tuple[str, str, bool]:
    os_profile = (vm.get("properties") or {}).get("osProfile") or {}
    config = os_profile.get("windowsConfiguration") or os_profile.get("linuxConfiguration") or {}
    ps = config.get("patchSettings") or {}
    bypass = bool((ps.get("automaticByPlatformSettings") or {}).get("bypassPlatformSafetyChecksOnUserSchedule"))
    return str(ps.get("patchMode", "")), str(ps.get("assessmentMode", "")), bypass


class PatchingDeployed(DesiredResourcesStep):
    """Maintenance configurations and dynamic scopes per window, and managed VMs following the user schedule."""

    item_id = "s3-patching-deployed"
    requires = ("patching",)

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        p = ctx.params
        if p.patching is None:
            raise StepInputError(f"parameters/{p.customer}.yml: 'patching' is required for {self.item_id}")
        rows = []
        for sub in p.subscription_ids:
            rg = f"/subscriptions/{sub}/resourceGroups/{p.monitoring.resource_group}"
            rows.append(
                Desired(sub, "resource group", rg, API_GROUP, {"location": p.monitoring.location}, ("location",))
            )
            for w in p.patching.schedule():
                config_id = f"{rg}/providers/Microsoft.Maintenance/maintenanceConfigurations/{configuration_name(w)}"
                rows.append(
                    Desired(
                        sub,
                        "maintenance configuration",
                        config_id,
                        API_MAINTENANCE,
                        self.configuration_body(ctx, w),
                        (
                            "properties.maintenanceScope",
                            "properties.maintenanceWindow.duration",
                            "properties.maintenanceWindow.timeZone",
                            "properties.maintenanceWindow.recurEvery",
                            "properties.installPatches.rebootSetting",
                            "properties.installPatches.windowsParameters.classificationsToInclude",
                            "properties.installPatches.linuxParameters.classificationsToInclude",
                        ),
                        w.words(),
                    )
                )
                key, value = (
                    (p.patching.tag_key, w.tag_value) if w.tag_value else (p.managed_tag.key, p.managed_tag.value)
                )
                rows.append(
                    Desired(
                        sub,
                        "dynamic scope",
                        f"/subscriptions/{sub}/providers/Microsoft.Maintenance/configurationAssignments/{configuration_name(w)}",
                        API_MAINTENANCE,
                        {
                            "properties": {
                                "maintenanceConfigurationId": config_id,
                                "filter": {
                                    "resourceTypes": ["Microsoft.Compute/virtualMachines"],
                                    "tagSettings": {"tags": {key: [value]}, "filterOperator": "Any"},
                                },
                            }
                        },
                        ("properties.maintenanceConfigurationId", "properties.filter.tagSettings.tags"),
                        f"VMs tagged {key}={value}",
                    )
                )
        return rows

    def configuration_body(self, ctx: Context, w: PatchWindow) -> dict[str, Any]:
        return {
            "location": ctx.params.monitoring.location,
            "properties": {
                "maintenanceScope": "InGuestPatch",
                "visibility": "Custom",
                "extensionProperties": {"InGuestPatchMode": "User"},
                "maintenanceWindow": {
                    "startDateTime": first_start(w),
                    "duration": w.duration(),
                    "timeZone": w.time_zone,
                    "recurEvery": "Week " + ",".join(w.days),
                },
                "installPatches": {
                    "rebootSetting": w.reboot,
                    "windowsParameters": {"classificationsToInclude": list(w.windows_classifications)},
                    "linuxParameters": {"classificationsToInclude": list(w.linux_classifications)},
                },
            },
        }

    # ------------------------------------------------------------------ the VMs
    def managed_vms(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[dict]:
        """Every VM the sheet marks managed, as Azure returns it (full object)."""
        resources = ctx.resources(ctx.params.monitoring.resource_group, unreadable)
        managed = managed_marking(ctx, resources, unreadable).managed
        vms = [r for r in resources if r.type.lower() == VM_TYPE and r.key in managed]
        out = []
        groups: dict[tuple[str, str], list] = {}
        for r in vms:
            groups.setdefault((r.subscription_id, r.id.split("/providers/")[0]), []).append(r)
        for (sub, rg), members in groups.items():
            listed = {
                str(o.get("id", "")).lower(): o
                for o in self.list_objects(ctx, sub, f"{rg}/providers/Microsoft.Compute/virtualMachines", API_VM)
            }
            out += [listed[r.id.lower()] for r in members if r.id.lower() in listed]
        return out

    def inspect(self, ctx: Context) -> Observation:
        obs = super().inspect(ctx)
        unreadable: list[ScopeFailure] = []
        vms = self.managed_vms(ctx, unreadable)
        obs.facts["failures"] += unreadable
        obs.facts["vms"] = vms
        for vm in vms:
            mode, assessment, bypass = _patch_state(vm)
            ok = mode == "AutomaticByPlatform" and assessment == "AutomaticByPlatform" and bypass
            obs.rows.append(
                {
                    "subscription": vm["id"].split("/")[2],
                    "kind": "VM patch settings",
                    "name": vm["name"],
                    "watches": _os_type(vm),
                    "state": "in place"
                    if ok
                    else f"differs: patchMode {mode or '-'}, assessmentMode {assessment or '-'}, user schedule {'yes' if bypass else 'no'}",
                }
            )
        for w in ctx.params.patching.schedule() if ctx.params.patching else []:
            obs.rows.append(
                {"subscription": "", "kind": "agreed window", "name": w.name, "watches": "", "state": w.words()}
            )
        return obs

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        changes = super().plan(ctx, obs)
        for vm in obs.facts.get("vms", []):
            mode, assessment, bypass = _patch_state(vm)
            if mode == "AutomaticByPlatform" and assessment == "AutomaticByPlatform" and bypass:
                continue
            os_type = _os_type(vm)
            changes.append(
                Change(
                    vm["id"],
                    "set patch mode to follow the schedule",
                    {
                        "kind": "VM patch settings",
                        "os": os_type,
                        "from": f"{mode or '-'}/{assessment or '-'}",
                        "api_version": API_VM,
                    },
                    payload={"properties": {"osProfile": wanted_patch_settings(os_type)}},
                )
            )
        return changes

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        failures = self.apply_table(ctx, [c for c in changes if c.detail.get("kind") != "VM patch settings"])

        def patch(c: Change) -> object:
            resources = ctx.clients.resource(c.target.split("/")[2]).resources
            return resources.begin_update_by_id(c.target, c.payload, api_version=API_VM).result()

        vms = [c for c in changes if c.detail.get("kind") == "VM patch settings"]
        failures += self.apply_each(ctx, vms, patch, what=lambda c: c.action)
        return self.applied(ctx, failures)

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        verdict = super().judge(ctx, obs, pending, applied)
        if verdict.status == "fulfilled" and ctx.params.patching is not None:
            vms = len(obs.facts.get("vms", []))
            windows = "; ".join(w.words() for w in ctx.params.patching.schedule())
            verdict.summary += f" {vms} managed VM(s) follow the user schedule. Patch windows: {windows}"
        return verdict
