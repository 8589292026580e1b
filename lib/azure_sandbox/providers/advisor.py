"""Microsoft.Advisor: the `default` configuration per subscription, and recommendations.

Spec: specification/advisor/resource-manager/Microsoft.Advisor/stable/2020-01-01/advisor.json.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import Request, Response
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2020-01-01", "2023-01-01", "2022-10-01")


class Advisor(Provider):
    """Advisor configuration and recommendations."""

    namespace = "Microsoft.Advisor"
    types = (
        TypeSpec("Microsoft.Advisor/configurations", API, put_created=200, tracked=False, patch=False),
        TypeSpec("Microsoft.Advisor/recommendations", API, tracked=False, patch=False),
    )

    def on_configurations(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """One `default` configuration per subscription, present from the start."""
        default_id = f"{ap.scope}/providers/Microsoft.Advisor/configurations/default"
        stored = arm.state.get(default_id) or {"id": default_id, "name": "default", "type": "Microsoft.Advisor/configurations", "properties": {"lowCpuThreshold": "5", "exclude": False, "digests": []}}
        if ap.is_collection:
            return Response(200, {"value": [stored]})
        if req.method == "PUT":
            body = req.json()
            stored["properties"] = {**stored["properties"], **(body.get("properties") or {})}
            arm.state.put(stored)
            return Response(200, stored)
        return Response(200, stored)
