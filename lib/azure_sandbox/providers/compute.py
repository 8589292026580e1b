"""Microsoft.Compute: virtual machines, disks, availability sets (tracked resources, listed and tagged).

Virtual machines' guest patch settings are checked as Azure checks them (VirtualMachines_CreateOrUpdate / _Update,
virtualMachine.json 2024-07-01: WindowsConfiguration.patchSettings / LinuxConfiguration.patchSettings enums;
learn.microsoft.com/azure/virtual-machines/automatic-vm-guest-patching: AutomaticByOS and AutomaticByPlatform need
enableAutomaticUpdates on Windows; azure/update-manager/prerequisites-schedule-patching:
bypassPlatformSafetyChecksOnUserSchedule applies to patch mode AutomaticByPlatform). Refusals are 400
InvalidParameter naming the property (the code Compute answers for a bad property value); changing osProfile's
computerName or adminUsername on an existing VM is 409 PropertyChangeNotAllowed.
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
    return ArmError(400, "InvalidParameter", message + f" Target: '{target}'.")


def check_patch_settings(os_profile: dict) -> None:
    """The guest patch settings of a VM's osProfile, as Compute refuses them."""
    for key, modes in PATCH_MODES.items():
        config = os_profile.get(key)
        if not isinstance(config, dict):
            continue
        ps = config.get("patchSettings") or {}
        path = f"osProfile.{key}.patchSettings"
        mode = ps.get("patchMode")
        if mode is not None and mode not in modes:
            raise _invalid(
                f"{path}.patchMode",
                f"The value '{mode}' of patchMode is not allowed for this OS; allowed: {', '.join(modes)}.",
            )
        assessment = ps.get("assessmentMode")
        if assessment is not None and assessment not in ASSESSMENT_MODES:
            raise _invalid(
                f"{path}.assessmentMode",
                f"The value '{assessment}' of assessmentMode is not allowed; allowed: {', '.join(ASSESSMENT_MODES)}.",
            )
        if (
            key == "windowsConfiguration"
            and mode in ("AutomaticByOS", "AutomaticByPlatform")
            and config.get("enableAutomaticUpdates") is False
        ):
            raise _invalid(
                "osProfile.windowsConfiguration.enableAutomaticUpdates",
                f"Patch mode '{mode}' requires enableAutomaticUpdates to be true.",
            )
        auto = ps.get("automaticByPlatformSettings") or {}
        if auto.get("bypassPlatformSafetyChecksOnUserSchedule") and mode != "AutomaticByPlatform":
            raise _invalid(
                f"{path}.automaticByPlatformSettings.bypassPlatformSafetyChecksOnUserSchedule",
                "bypassPlatformSafetyChecksOnUserSchedule can be set only when patchMode is AutomaticByPlatform.",
            )
        reboot = auto.get("rebootSetting")
        if reboot is not None and reboot not in REBOOT_SETTINGS:
            raise _invalid(
                f"{path}.automaticByPlatformSettings.rebootSetting",
                f"The value '{reboot}' of rebootSetting is not allowed; allowed: {', '.join(REBOOT_SETTINGS)}.",
            )


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
        check_patch_settings(os_profile)
        old = ((before or {}).get("properties") or {}).get("osProfile") or {}
        for key in ("computerName", "adminUsername"):
            if old.get(key) is not None and os_profile.get(key) not in (None, old[key]):
                raise ArmError(409, "PropertyChangeNotAllowed", f"Changing property 'osProfile.{key}' is not allowed.")
        return after
