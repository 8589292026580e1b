"""Microsoft.Maintenance: maintenance configurations and configuration assignments (Update Manager schedules).

Spec: specification/maintenance/resource-manager/Microsoft.Maintenance/stable/2023-04-01/Maintenance.json (models as in
azure-mgmt-maintenance: maintenanceScope, visibility and filterOperator enums come from the schema; rebootSetting
is checked here).
Rules added here:
- maintenanceWindow (MaintenanceWindow descriptions): startDateTime and expirationDateTime "in YYYY-MM-DD hh:mm
  format", expiration after start; duration "in HH:mm format"; timeZone a Windows zone name ("List of timezones can be
  obtained by executing [System.TimeZoneInfo]::GetSystemTimeZones()", data/windows_time_zones.yml); recurEvery per its
  grammar (Day/3Days, Week/3Weeks [Monday,...], Month/2Months [day1,day2 | First..Last Weekday [Offset-6..6]]);
  a bad window is 400 InvalidMaintenanceWindow ("Invalid maintenance window. Error: ..." - hashicorp/
  terraform-provider-azurerm#29738 quotes Azure's answer);
- InGuestPatch (learn.microsoft.com/azure/virtual-machines/maintenance-configurations, "Guest" scope): a window is
  required, its duration between 01:30 ("A minimum of 1 hour and 30 minutes") and 03:55 ("The upper maintenance window
  is 3 hours 55 mins"), recurrence at least 6 hours; installPatches is required, and
  extensionProperties.InGuestPatchMode (User | Platform); Windows classifications Critical, Security, UpdateRollup,
  FeaturePack, ServicePack, Definition, Tools, Updates; Linux Critical, Security, Other (Maintenance.json
  InputWindowsParameters / InputLinuxParameters descriptions);
- configurationAssignments: maintenanceConfigurationId must name an existing configuration; a `filter` (dynamic scope)
  only at subscription or resource-group scope and only for InGuestPatch configurations, resourceTypes among
  virtual machines and Arc machines, locations known regions; at a resource scope the resource must exist.
Codes other than InvalidMaintenanceWindow were not found in a public source: those refusals answer 400 BadRequest
(404 ResourceNotFound for a missing target resource, as ARM).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..core import ids, locations
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2023-04-01", "2023-10-01-preview", "2022-11-01-preview")
_ZONES = Path(__file__).resolve().parent / "data" / "windows_time_zones.yml"
_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
_DURATION = re.compile(r"^(\d{2}):(\d{2})$")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKS = ("first", "second", "third", "fourth", "last")
_RECUR = re.compile(r"^(\d*)(hour|day|week|month)s?(?:\s+(.*))?$", re.IGNORECASE)
WINDOWS_CLASSIFICATIONS = (
    "Critical",
    "Security",
    "UpdateRollup",
    "FeaturePack",
    "ServicePack",
    "Definition",
    "Tools",
    "Updates",
)
LINUX_CLASSIFICATIONS = ("Critical", "Security", "Other")
PATCH_MODES = ("User", "Platform")
REBOOT = ("IfRequired", "Never", "Always")  # RebootOptions (not in the SDK model's metadata)
DYNAMIC_TYPES = ("microsoft.compute/virtualmachines", "microsoft.hybridcompute/machines")
GUEST_MIN, GUEST_MAX = 90, 235  # minutes: 01:30 and 03:55


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Lower-cased Windows time zone IDs (data/windows_time_zones.yml)."""
    return frozenset(z.lower() for z in yaml.safe_load(_ZONES.read_text()))


def _window(message: str) -> ArmError:
    """The Maintenance RP's answer to a window it refuses."""
    return ArmError(400, "InvalidMaintenanceWindow", f"Invalid maintenance window. Error: {message}")


def _bad(message: str) -> ArmError:
    """A refusal whose code Azure's public material does not show."""
    return ArmError(400, "BadRequest", message)


def recurrence_hours(text: str) -> float:
    """Hours between two windows of a recurEvery value, or InvalidMaintenanceWindow for one outside the grammar."""
    m = _RECUR.match(text.strip())
    if not m:
        raise _window(
            f"Recurrence '{text}' is not valid. Use e.g. 'Day', '3Days', 'Week Saturday,Sunday', "
            "'Month day23,day24', 'Month Last Sunday Offset-3'."
        )
    every = int(m.group(1) or 1)
    unit, rest = m.group(2).lower(), (m.group(3) or "").strip()
    if every < 1:
        raise _window(f"Recurrence frequency in '{text}' must be at least 1.")
    if unit in ("hour", "day") and rest:
        raise _window(f"Recurrence '{text}' takes no day list for a {unit}ly schedule.")
    if unit == "week" and rest:
        for day in rest.replace(" ", "").split(","):
            if day.lower() not in _DAYS:
                raise _window(f"'{day}' in recurrence '{text}' is not a weekday (Monday-Sunday).")
    if unit == "month" and rest:
        check_month_rest(text, rest)
    return every * {"hour": 1, "day": 24, "week": 24 * 7, "month": 24 * 28}[unit]


def check_month_rest(text: str, rest: str) -> None:
    """Month days (day1,day23) or week of month + weekday [+ OffsetN with N in -6..6]."""
    parts = rest.split()
    if all(re.fullmatch(r"day([1-9]|[12]\d|3[01])", d, re.IGNORECASE) for d in rest.replace(" ", "").split(",")):
        return
    if len(parts) in (2, 3) and parts[0].lower() in _WEEKS and parts[1].lower() in _DAYS:
        if len(parts) == 2:
            return
        m = re.fullmatch(r"offset(-?\d+)", parts[2], re.IGNORECASE)
        if m and -6 <= int(m.group(1)) <= 6:
            return
        raise _window(f"Offset in recurrence '{text}' must be between -6 and 6 inclusive.")
    raise _window("Monthly maintenance window is missing day of month or week of month.")


def _minutes(text: str) -> int:
    """Minutes of an HH:mm duration."""
    m = _DURATION.match(str(text))
    if not m or int(m.group(2)) > 59:
        raise _window(f"Duration '{text}' must be in HH:mm format.")
    return int(m.group(1)) * 60 + int(m.group(2))


def _when(text: Any, what: str) -> datetime:
    """A 'YYYY-MM-DD hh:mm' date and time."""
    try:
        if not _WHEN.match(str(text)):
            raise ValueError
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M")
    except ValueError:
        raise _window(f"{what} '{text}' must be in YYYY-MM-DD hh:mm format.") from None


class Maintenance(Provider):
    """Maintenance configurations and assignments."""

    namespace = "Microsoft.Maintenance"
    types = (
        TypeSpec(
            "Microsoft.Maintenance/maintenanceConfigurations",
            API,
            put_created=200,
            model="azure.mgmt.maintenance.models:MaintenanceConfiguration",
        ),
        TypeSpec(
            "Microsoft.Maintenance/configurationAssignments",
            API,
            put_created=200,
            tracked=False,
            patch=False,
            model="azure.mgmt.maintenance.models:ConfigurationAssignment",
        ),
    )

    # ------------------------------------------------------------------ configurations
    def validate_maintenanceconfigurations(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict
    ) -> None:
        """Window format and limits; InGuestPatch needs a window, installPatches and InGuestPatchMode."""
        props = body.get("properties") or {}
        scope = str(props.get("maintenanceScope") or "")
        guest = scope.lower() == "inguestpatch"
        window = props.get("maintenanceWindow")
        if guest and not window:
            raise _window(
                "A maintenance window (startDateTime, duration, timeZone, recurEvery) is required for "
                "maintenance scope InGuestPatch."
            )
        if window:
            self.check_window(window, guest)
        if guest:
            self.check_guest_patch(props)
        elif props.get("installPatches") is not None:
            raise _bad(f"installPatches is only supported for maintenance scope InGuestPatch, not '{scope}'.")

    @staticmethod
    def check_window(window: dict, guest: bool) -> None:
        """startDateTime, expirationDateTime, duration, timeZone and recurEvery of a maintenance window."""
        for key in ("startDateTime", "timeZone", "recurEvery"):
            if not window.get(key):
                raise _window(f"'{key}' is required in the maintenance window.")
        start = _when(window["startDateTime"], "Start date time")
        if window.get("expirationDateTime") is not None:
            text = str(window["expirationDateTime"])
            end = _when(
                text[:16] if re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", text) else text, "Expiration date time"
            )
            if end <= start:
                raise _window("Expiration date time must be after the start date time.")
        if str(window["timeZone"]).lower() not in time_zones():
            raise _window(
                f"Time zone '{window['timeZone']}' is not a valid time zone. Use a name from "
                "[System.TimeZoneInfo]::GetSystemTimeZones(), e.g. 'W. Europe Standard Time' or 'UTC'."
            )
        hours = recurrence_hours(str(window["recurEvery"]))
        if window.get("duration") is not None:
            minutes = _minutes(window["duration"])
            if guest and not GUEST_MIN <= minutes <= GUEST_MAX:
                raise _window(
                    f"Duration '{window['duration']}' is out of range for maintenance scope InGuestPatch: "
                    "it must be between 01:30 and 03:55."
                )
        if guest and hours < 6:
            raise _window(
                f"Recurrence '{window['recurEvery']}' is too frequent: InGuestPatch windows must repeat "
                "at least 6 hours apart."
            )

    @staticmethod
    def check_guest_patch(props: dict) -> None:
        """installPatches (classifications per OS) and extensionProperties.InGuestPatchMode."""
        patches = props.get("installPatches")
        if not patches:
            raise _bad("installPatches is required for maintenance scope InGuestPatch.")
        reboot = patches.get("rebootSetting")
        if reboot is not None and str(reboot).lower() not in {r.lower() for r in REBOOT}:
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be "
                f'deserialized: \'Error converting value "{reboot}"; allowed values are: '
                f"{', '.join(REBOOT)}. Path 'properties.installPatches.rebootSetting'.'",
            )
        for os_key, allowed in (
            ("windowsParameters", WINDOWS_CLASSIFICATIONS),
            ("linuxParameters", LINUX_CLASSIFICATIONS),
        ):
            for value in (patches.get(os_key) or {}).get("classificationsToInclude") or []:
                if str(value).lower() not in {a.lower() for a in allowed}:
                    raise _bad(
                        f"Classification '{value}' in installPatches.{os_key} is invalid. Allowed values are: "
                        f"{', '.join(allowed)}."
                    )
        ext = {str(k).lower(): v for k, v in (props.get("extensionProperties") or {}).items()}
        mode = ext.get("inguestpatchmode")
        if mode is None or str(mode).lower() not in {m.lower() for m in PATCH_MODES}:
            raise _bad(
                f"extensionProperties.InGuestPatchMode must be one of {', '.join(PATCH_MODES)} for "
                f"maintenance scope InGuestPatch; got {mode!r}."
            )

    # ------------------------------------------------------------------ assignments
    def validate_configurationassignments(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict
    ) -> None:
        """The configuration exists; a dynamic-scope filter only at subscription/group scope, for InGuestPatch."""
        props = body.get("properties") or {}
        config_id = props.get("maintenanceConfigurationId")
        if not config_id:
            raise _bad("Required property 'maintenanceConfigurationId' not found.")
        parsed = ids.parse(str(config_id))
        config = (
            arm.state.get(config_id)
            if parsed.resource_type.lower() == "microsoft.maintenance/maintenanceconfigurations"
            else None
        )
        if config is None:
            raise _bad(f"Maintenance configuration '{config_id}' was not found.")
        target = ap.scope
        at_resource = bool(ids.parse(target).namespace)
        if at_resource and arm.state.get(target) is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{ids.parse(target).resource_type}/{target.rsplit('/', 1)[-1]}' was not found.",
            )
        flt = props.get("filter")
        if flt is not None:
            if at_resource:
                raise _bad("A dynamic scope filter is supported only on subscription or resource group assignments.")
            if str((config.get("properties") or {}).get("maintenanceScope", "")).lower() != "inguestpatch":
                raise _bad("Dynamic scopes are supported only for maintenance configurations of scope InGuestPatch.")
            self.check_filter(flt)

    @staticmethod
    def check_filter(flt: dict) -> None:
        """resourceTypes (VMs, Arc machines), locations (known regions), osTypes (Windows, Linux)."""
        for rtype in flt.get("resourceTypes") or []:
            if str(rtype).lower() not in DYNAMIC_TYPES:
                raise _bad(
                    f"Resource type '{rtype}' is not supported by dynamic scopes. Supported: "
                    "Microsoft.Compute/virtualMachines, Microsoft.HybridCompute/machines."
                )
        for loc in flt.get("locations") or []:
            if locations.normalise(loc) is None:
                raise _bad(f"Location '{loc}' in the dynamic scope filter is not a valid location.")
        for os_type in flt.get("osTypes") or []:
            if str(os_type).lower() not in ("windows", "linux"):
                raise _bad(f"OS type '{os_type}' is invalid. Allowed values are: Windows, Linux.")

    def on_configurationassignments(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """An assignment carries the ID of the scope it was made on as properties.resourceId."""
        if req.method != "PUT":
            return None
        body = req.json()
        body.setdefault("properties", {})["resourceId"] = ap.scope
        return arm.put(req, ap, spec, arm.state.get(ap.path), body=body)
