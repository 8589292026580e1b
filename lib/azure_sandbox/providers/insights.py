"""Microsoft.Insights (Azure Monitor): action groups, metric alerts, activity log alerts, diagnostic settings.

Specs: specification/monitor/resource-manager/Microsoft.Insights/stable/2023-01-01/actionGroups_API.json,
.../stable/2018-03-01/metricAlert_API.json, .../stable/2020-10-01/activityLogAlerts_API.json,
.../preview/2021-05-01-preview/diagnosticsSettings_API.json.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

_M = "azure.mgmt.monitor.models"
RECEIVER_KINDS = ("emailReceivers", "smsReceivers", "webhookReceivers", "itsmReceivers", "azureAppPushReceivers", "automationRunbookReceivers", "voiceReceivers", "logicAppReceivers", "azureFunctionReceivers", "armRoleReceivers", "eventHubReceivers")


class Insights(Provider):
    """Azure Monitor alerting and diagnostic settings."""

    namespace = "Microsoft.Insights"
    types = (
        TypeSpec("Microsoft.Insights/actionGroups", ("2023-01-01", "2024-10-01-preview", "2022-06-01", "2021-09-01", "2019-06-01"), model=f"{_M}:ActionGroupResource", global_location=True, invalid_code="BadRequest"),
        TypeSpec("Microsoft.Insights/metricAlerts", ("2018-03-01", "2024-03-01-preview"), put_created=200, model=f"{_M}:MetricAlertResource", global_location=True, invalid_code="BadRequest"),
        TypeSpec("Microsoft.Insights/activityLogAlerts", ("2020-10-01", "2023-01-01-preview", "2017-04-01"), model=f"{_M}:ActivityLogAlertResource", global_location=True, invalid_code="BadRequest"),
        TypeSpec("Microsoft.Insights/diagnosticSettings", ("2021-05-01-preview", "2017-05-01-preview"), put_created=200, tracked=False, patch=False),
    )

    def on_actiongroups(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """Azure marks e-mail and SMS receivers Enabled, lists every receiver kind, and enables the group."""
        if req.method == "PUT":
            body = req.json()
            props = body.setdefault("properties", {})
            for kind in ("emailReceivers", "smsReceivers"):
                for receiver in props.get(kind) or []:
                    receiver.setdefault("status", "Enabled")
            for kind in RECEIVER_KINDS:
                props.setdefault(kind, [])
            props.setdefault("enabled", True)
            return arm.put(req, ap, spec, arm.state.get(ap.path), body=body)
        return None
