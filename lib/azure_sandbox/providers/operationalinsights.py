"""Microsoft.OperationalInsights: Log Analytics workspaces (tracked).

Spec: specification/operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2020-08-01/
Workspaces.json. Azure fills in what a PUT leaves out and returns it in every answer (the workspace's customerId,
source, SKU PerGB2018 with its capacity level, 30 days of retention, features, an unlimited daily cap, public network
access Enabled, created / modified dates), as azure-cli's recording test_monitor_log_analytics_workspace_default.yaml
shows (tests/contract/recordings/).
"""

from __future__ import annotations

import time
import uuid
from email.utils import formatdate
from typing import TYPE_CHECKING

from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core import ids
    from ..core.arm import Arm
    from ..core.http import Request, Response

API = ("2025-02-01", "2023-09-01", "2022-10-01", "2021-06-01", "2020-08-01")
WORKSPACE = "Microsoft.OperationalInsights/workspaces"


def workspace_defaults(props: dict, before: dict | None = None) -> dict:
    """A workspace's properties with what Azure fills in (kept from `before`: its identity and creation date)."""
    now = formatdate(usegmt=True)
    kept = before or {}
    out = dict(props)
    for readonly in ("customerId", "createdDate", "source"):
        out.pop(readonly, None)
    sku = dict(out.get("sku") or kept.get("sku") or {"name": "PerGB2018"})
    sku.setdefault("maxCapacityReservationLevel", 3000)
    sku.setdefault("lastSkuUpdate", (kept.get("sku") or {}).get("lastSkuUpdate", now))
    next_hour = (time.time() // 3600 + 1) * 3600
    capping = {
        "dailyQuotaGb": -1.0,
        "quotaNextResetTime": formatdate(next_hour, usegmt=True),
        "dataIngestionStatus": "RespectQuota",
        **(out.get("workspaceCapping") or {}),
    }
    out.update(
        source="Azure",
        customerId=kept.get("customerId") or str(uuid.uuid4()),
        sku=sku,
        retentionInDays=out.get("retentionInDays", kept.get("retentionInDays", 30)),
        features={
            "legacy": 0,
            "searchVersion": 1,
            "enableLogAccessUsingOnlyResourcePermissions": True,
            **(out.get("features") or {}),
        },
        workspaceCapping=capping,
        createdDate=kept.get("createdDate", now),
        modifiedDate=now,
    )
    out.setdefault("publicNetworkAccessForIngestion", "Enabled")
    out.setdefault("publicNetworkAccessForQuery", "Enabled")
    return out


class OperationalInsights(Provider):
    """Microsoft.OperationalInsights: Log Analytics workspaces (tracked)."""

    namespace = "Microsoft.OperationalInsights"
    types = (TypeSpec(WORKSPACE, API, name_rule=(4, 63, r"[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]")),)

    def on_workspaces(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """PUT stores the workspace with Azure's defaults; a read of one seeded without them gets them once."""
        existing = None if ap.is_collection else arm.state.get(ap.path)
        if req.method == "PUT":
            body = req.json()
            before = (existing or {}).get("properties")
            body["properties"] = workspace_defaults(body.get("properties") or {}, before)
            return arm.put(req, ap, spec, existing, body=body)
        seeded = [existing] if existing else []
        if ap.is_collection and req.method == "GET":
            seeded = arm.state.children(ap.parent_id or ap.scope, WORKSPACE, recursive=True)
        for obj in seeded:
            if "customerId" not in (obj.get("properties") or {}):
                obj["properties"] = workspace_defaults(obj.get("properties") or {})
        return None
