"""Microsoft.Compute: virtual machines, disks, availability sets (tracked resources, listed and tagged).

Virtual machines' guest patch settings are checked as Azure checks them (VirtualMachines_CreateOrUpdate / _Update,
virtualMachine.json 2024-07-01: WindowsConfiguration.patchSettings / LinuxConfiguration.patchSettings enums;
learn.microsoft.com/azure/virtual-machines/automatic-vm-guest-patching: AutomaticByOS and AutomaticByPlatform need
enableAutomaticUpdates on Windows; azure/update-manager/prerequisites-schedule-patching:
bypassPlatformSafetyChecksOnUserSchedule applies to patch mode AutomaticByPlatform). Refusals are 400
InvalidParameter with Azure's messages ("The patchMode 'AutomaticByOS' is invalid. For patchMode 'AutomaticByOS', the
property 'enableAutomaticUpdates' must be set to true.", kumarvna/terraform-azurerm-virtual-machine#13;
"AutomaticByPlatformSettings cannot be set if the PatchMode is not 'AutomaticByPlatform'.",
Azure/bicep-registry-modules#2081); computerName, adminUsername and enableAutomaticUpdates are fixed at creation:
409 PropertyChangeNotAllowed "Changing property 'windowsConfiguration.enableAutomaticUpdates' is not allowed."
(MicrosoftDocs/azure-docs#112633, Azure/azure-sdk-for-net#3433).

assessPatches (VirtualMachines_AssessPatches, compute.json 2020-06-01 onwards; example
stable/2021-11-01/examples/compute/VirtualMachineAssessPatches.json): 202 + Location, then the
VirtualMachineAssessPatchesResult (status, assessmentActivityId, rebootPending, criticalAndSecurityPatchCount,
otherPatchCount, startDateTime, availablePatches [patchId, name, version, kbId, classifications, rebootBehavior,
activityId, publishedDate, lastModifiedDateTime, assessmentState], error). The patches are generated per VM and
month (seeded by the VM id): Windows updates of the month's Patch Tuesday (cumulative, .NET, Defender definitions,
the malicious software removal tool) or Ubuntu packages; a VM whose patch mode is AutomaticByPlatform has only the
last three days' patches pending, AutomaticByOS keeps the definition updates and the tool. Not served: the VM's
instance view (patchStatus), installPatches, the Resource Graph patchassessmentresources table.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, Route, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01", "2023-03-01", "2022-11-01")
# resource-name-rules: Windows VM names 1-15 (Linux 1-64); the sandbox applies the Linux rule, it cannot tell the OS
_VM_NAME = (1, 64, r'[^\\/"\[\]:|<>+=;,?*@&_ ]([^\\/"\[\]:|<>+=;,?*@& ]*[^\\/"\[\]:|<>+=;,?*@&. ])?')
PATCH_MODES = {
    "windowsConfiguration": ("Manual", "AutomaticByOS", "AutomaticByPlatform"),
    "linuxConfiguration": ("ImageDefault", "AutomaticByPlatform"),
}
ASSESSMENT_MODES = ("ImageDefault", "AutomaticByPlatform")
REBOOT_SETTINGS = ("Unknown", "IfRequired", "Never", "Always")


def _invalid(target: str, message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", f"{message} Target: '{target}'.")


def check_patch_settings(os_profile: dict) -> None:
    """The guest patch settings of a VM's osProfile, as Compute refuses them."""
    for key, modes in PATCH_MODES.items():
        config = os_profile.get(key)
        if not isinstance(config, dict):
            continue
        ps = config.get("patchSettings") or {}
        path = f"{key}.patchSettings"
        mode = ps.get("patchMode")
        if mode is not None and mode not in modes:
            raise _invalid(
                f"{path}.patchMode", f"The patchMode '{mode}' is invalid. Allowed values: {', '.join(modes)}."
            )
        assessment = ps.get("assessmentMode")
        if assessment is not None and assessment not in ASSESSMENT_MODES:
            raise _invalid(
                f"{path}.assessmentMode",
                f"The assessmentMode '{assessment}' is invalid. Allowed values: {', '.join(ASSESSMENT_MODES)}.",
            )
        if key == "windowsConfiguration" and mode is not None:
            wants = mode != "Manual"  # Manual: updates off; AutomaticByOS / AutomaticByPlatform: on
            if config.get("enableAutomaticUpdates", True) is not wants:
                raise _invalid(
                    f"{path}.patchMode",
                    f"The patchMode '{mode}' is invalid. For patchMode '{mode}', the property "
                    f"'enableAutomaticUpdates' must be set to {'true' if wants else 'false'}.",
                )
        auto = ps.get("automaticByPlatformSettings")
        if auto is not None and mode != "AutomaticByPlatform":
            raise _invalid(
                f"{path}.automaticByPlatformSettings",
                "AutomaticByPlatformSettings cannot be set if the PatchMode is not 'AutomaticByPlatform'.",
            )
        reboot = (auto or {}).get("rebootSetting")
        if reboot is not None and reboot not in REBOOT_SETTINGS:
            raise _invalid(
                f"{path}.automaticByPlatformSettings.rebootSetting",
                f"The rebootSetting '{reboot}' is invalid. Allowed values: {', '.join(REBOOT_SETTINGS)}.",
            )


#: osProfile fields fixed when the VM is created (409 PropertyChangeNotAllowed)
IMMUTABLE = ("computerName", "adminUsername", "windowsConfiguration.enableAutomaticUpdates")


def _get(node: dict, dotted: str):
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None  # type: ignore[assignment]
    return node


WINDOWS_PATCHES = (  # (name template, kb base, classification, reboot behaviour)
    (
        "{month} Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB{kb})",
        5040000,
        "Security Updates",
        "CanRequestReboot",
    ),
    (
        "{month} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Microsoft server operating system version "
        "21H2 for x64 (KB{kb})",
        5041000,
        "Security Updates",
        "CanRequestReboot",
    ),
    (
        "{month} Servicing Stack Update for Microsoft server operating system version 21H2 (KB{kb})",
        5042000,
        "Critical Updates",
        "NeverReboots",
    ),
    ("Windows Malicious Software Removal Tool x64 - {month_name} (KB890830)", 0, "Update Rollups", "CanRequestReboot"),
    (
        "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.{kb}.0)",
        0,
        "Definition Updates",
        "NeverReboots",
    ),
)
UBUNTU_PACKAGES = (  # (package, classification)
    ("linux-image-azure", "Security"),
    ("openssl", "Security"),
    ("libssl3t64", "Security"),
    ("curl", "Security"),
    ("sudo", "Security"),
    ("tzdata", "Other"),
    ("python3-update-manager", "Other"),
    ("snapd", "Other"),
)


def _seed(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / float(1 << 48)


def patch_tuesday(today: date) -> date:
    """The latest second Tuesday of a month on or before `today`."""
    for month_start in (today.replace(day=1), (today.replace(day=1) - timedelta(days=1)).replace(day=1)):
        first_tuesday = month_start + timedelta(days=(1 - month_start.weekday()) % 7)
        second = first_tuesday + timedelta(days=7)
        if second <= today:
            return second
    raise AssertionError("unreachable")


def _patch_mode(vm: dict) -> tuple[str, str]:
    profile = (vm.get("properties") or {}).get("osProfile") or {}
    for key, os_name in (("windowsConfiguration", "Windows"), ("linuxConfiguration", "Linux")):
        if key in profile:
            return os_name, str(((profile[key] or {}).get("patchSettings") or {}).get("patchMode") or "ImageDefault")
    return "Linux", "ImageDefault"


def assessment(vm: dict, now: datetime) -> dict:
    """The patches a VM has pending now (VirtualMachineAssessPatchesResult)."""
    os_name, mode = _patch_mode(vm)
    vm_key = vm["id"].lower()
    activity = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{vm_key}|assess|{now.isoformat()}"))
    tuesday = patch_tuesday(now.date())
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    patches: list[dict] = []
    if os_name == "Windows":
        month = tuesday.strftime("%Y-%m")
        for template, kb_base, classification, reboot in WINDOWS_PATCHES:
            kb = kb_base + int(9000 * _seed(f"{template}|{month}")) if kb_base else 2267602
            published = tuesday if kb_base or "Malicious" in template else now.date() - timedelta(days=1)
            if mode == "AutomaticByPlatform" and (now.date() - published).days > 3:
                continue  # installed in the platform's window
            installed = _seed(f"{vm_key}|{month}|{template}") < 0.7
            if mode == "AutomaticByOS" and classification in ("Security Updates", "Critical Updates") and installed:
                continue  # Windows Update has installed it
            version = str(400 + int(99 * _seed(f"{month}|defender")))
            name = template.format(month=month, month_name=tuesday.strftime("%B %Y"), kb=kb if kb_base else version)
            patches.append(
                {
                    "patchId": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
                    "name": name,
                    "version": "",
                    "kbId": str(kb),
                    "classifications": [classification],
                    "rebootBehavior": reboot,
                    "activityId": activity,
                    "publishedDate": f"{published.isoformat()}T00:00:00Z",
                    "lastModifiedDateTime": stamp,
                    "assessmentState": "Available",
                }
            )
    else:
        for package, classification in UBUNTU_PACKAGES:
            released = now.date() - timedelta(days=int(40 * _seed(f"{vm_key}|{package}|{tuesday}")))
            if mode == "AutomaticByPlatform" and (now.date() - released).days > 3:
                continue
            if _seed(f"{vm_key}|{package}|{tuesday}|pending") < 0.35:
                continue
            version = f"{1 + int(5 * _seed(package))}.{int(20 * _seed(package + 'minor'))}-0ubuntu{released.strftime('%y%m')}.{released.day}"
            patches.append(
                {
                    "patchId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{package}_{version}")),
                    "name": package,
                    "version": version,
                    "classifications": [classification],
                    "activityId": activity,
                    "publishedDate": f"{released.isoformat()}T00:00:00Z",
                    "lastModifiedDateTime": stamp,
                    "assessmentState": "Available",
                }
            )
    critical = sum(
        1
        for p in patches
        if {"Security Updates", "Critical Updates", "Security", "Critical"} & set(p["classifications"])
    )
    return {
        "status": "Succeeded",
        "assessmentActivityId": activity,
        "rebootPending": mode != "AutomaticByPlatform" and _seed(f"{vm_key}|{now.date()}|reboot") < 0.2,
        "criticalAndSecurityPatchCount": critical,
        "otherPatchCount": len(patches) - critical,
        "startDateTime": stamp,
        "availablePatches": patches,
        "error": None,
    }


_VM_PATH = r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute/virtualmachines/(?P<vm>[^/]+)"


class Compute(Provider):
    """Microsoft.Compute: virtual machines, disks, availability sets (tracked resources, listed and tagged)."""

    namespace = "Microsoft.Compute"
    types = (
        TypeSpec("Microsoft.Compute/virtualMachines", API, name_rule=_VM_NAME),
        TypeSpec("Microsoft.Compute/disks", ("2024-03-02", "2023-10-02", "2023-04-02", "2022-07-02")),
        TypeSpec("Microsoft.Compute/availabilitySets", API),
    )
    routes = (
        Route(
            _VM_PATH + r"/assesspatches",
            "assess_patches",
            API,
            "virtualMachines/assessPatches",
            ("POST",),
            namespace_error=True,
            type="Microsoft.Compute/virtualMachines/assessPatches",
        ),
    )

    def assess_patches(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """VirtualMachines_AssessPatches: 202 + Location; the Location answers the assessment once done."""
        vm_id = path[: path.lower().index("/assesspatches")]
        if denied := arm.authorize(principal, vm_id, "Microsoft.Compute/virtualMachines/assessPatches/action"):
            return denied
        vm = arm.state.get(vm_id)
        if vm is None:
            rg = ids.resource_group_of(vm_id)
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Compute/virtualMachines/{m.group('vm')}' under resource group '{rg}' was not "
                "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        result = assessment(vm, datetime.now(timezone.utc))
        headers, _ = arm.start_lro(
            req,
            ids.subscription_of(vm_id) or "",
            "location",
            None,
            "Microsoft.Compute/virtualMachines/assessPatches",
            vm_id,
            result=result,
        )
        return Response(202, None, headers)

    def admit(self, arm: Arm, before: dict | None, after: dict) -> dict:
        """A VM as written (PUT, or PATCH merged): patch settings Azure accepts, identity fields unchanged."""
        if str(after.get("type", "")).lower() != "microsoft.compute/virtualmachines":
            return after
        os_profile = (after.get("properties") or {}).get("osProfile") or {}
        old = ((before or {}).get("properties") or {}).get("osProfile") or {}
        for key in IMMUTABLE:  # a change of what is fixed at creation is refused as such, first
            was, now = _get(old, key), _get(os_profile, key)
            if was is not None and now is not None and now != was:
                raise ArmError(409, "PropertyChangeNotAllowed", f"Changing property '{key}' is not allowed.")
        check_patch_settings(os_profile)
        return after
