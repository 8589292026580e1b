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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.http import ArmError
from ..core.provider import Provider, TypeSpec

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


class Compute(Provider):
    """Microsoft.Compute: virtual machines, disks, availability sets (tracked resources, listed and tagged)."""

    namespace = "Microsoft.Compute"
    types = (
        TypeSpec("Microsoft.Compute/virtualMachines", API, name_rule=_VM_NAME),
        TypeSpec("Microsoft.Compute/disks", ("2024-03-02", "2023-10-02", "2023-04-02", "2022-07-02")),
        TypeSpec("Microsoft.Compute/availabilitySets", API),
    )

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
