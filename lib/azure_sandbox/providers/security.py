"""Microsoft.Security (Defender for Cloud): pricings, one per plan, present in every subscription.

Spec: specification/security/resource-manager/Microsoft.Security/stable/2024-01-01/pricings.json.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

DEFENDER_PLANS = (
    "VirtualMachines", "SqlServers", "AppServices", "StorageAccounts", "SqlServerVirtualMachines",
    "KeyVaults", "Arm", "OpenSourceRelationalDatabases", "Containers", "CosmosDbs", "CloudPosture", "Api",
)
FREE_TRIAL = timedelta(days=30)


class Security(Provider):
    """Defender for Cloud plans."""

    namespace = "Microsoft.Security"
    types = (
        TypeSpec("Microsoft.Security/pricings", ("2024-01-01", "2023-01-01", "2022-03-01", "2018-06-01"), put_created=200, delete_codes=(200, 204), tracked=False, patch=False, model="azure.mgmt.security.models:Pricing", invalid_code="InvalidInputJson"),
    )

    def on_pricings(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """Every plan exists (Free) until changed; Azure computes the trial and enablement fields."""
        if ap.is_collection:
            return Response(200, {"value": [self.pricing(arm, ap.scope, p) for p in DEFENDER_PLANS]})
        plan = next((p for p in DEFENDER_PLANS if p.lower() == ap.name.lower()), None)
        if plan is None:
            raise ArmError(400, "InvalidInputJson", f"Pricing name '{ap.name}' is not a valid Microsoft Defender for Cloud plan.")
        if req.method == "GET":
            return Response(200, self.pricing(arm, ap.scope, plan))
        if req.method == "PUT":
            props = req.json().get("properties") or {}
            tier = {"free": "Free", "standard": "Standard"}.get(str(props.get("pricingTier")).lower())
            if tier is None:
                raise ArmError(400, "InvalidInputJson", "properties.pricingTier must be 'Free' or 'Standard'.")
            stored = arm.state.get(f"{ap.scope}/providers/Microsoft.Security/pricings/{plan}") or {"_trial_start": None}
            stored.update({"id": f"{ap.scope}/providers/Microsoft.Security/pricings/{plan}", "_tier": tier, "_given": {k: v for k, v in props.items() if k in ("subPlan", "enforce", "extensions")}})
            now = datetime.now(timezone.utc).isoformat()
            if tier == "Standard" and stored.get("_trial_start") is None:
                stored["_trial_start"] = now
            if tier == "Standard":
                stored["_enabled"] = now
            stored["type"] = "Microsoft.Security/pricings"
            arm.state.put(stored)
            return Response(200, self.pricing(arm, ap.scope, plan))
        if req.method == "DELETE":
            arm.state.delete_tree(f"{ap.scope}/providers/Microsoft.Security/pricings/{plan}")
            return Response(200)
        return None

    @staticmethod
    def pricing(arm: Arm, scope: str, plan: str) -> dict:
        """A Defender plan as the Pricings API returns it, computing trial time like Azure."""
        stored = arm.state.get(f"{scope}/providers/Microsoft.Security/pricings/{plan}") or {}
        tier = stored.get("_tier", "Free")
        props: dict = {"pricingTier": tier}
        if stored.get("_trial_start"):
            used = datetime.now(timezone.utc) - datetime.fromisoformat(stored["_trial_start"])
            remaining = max(timedelta(0), FREE_TRIAL - used)
            props["freeTrialRemainingTime"] = f"P{remaining.days}DT{remaining.seconds // 3600}H{remaining.seconds % 3600 // 60}M"
        else:
            props["freeTrialRemainingTime"] = "P30D"
        if tier == "Standard":
            props["enablementTime"] = stored.get("_enabled")
        props.update(stored.get("_given") or {})
        props["resourcesCoverageStatus"] = "FullyCovered" if tier == "Standard" else "NotCovered"
        props["deprecated"] = False
        return {"id": f"{scope}/providers/Microsoft.Security/pricings/{plan}", "name": plan, "type": "Microsoft.Security/pricings", "properties": props}
