"""Microsoft.ResourceGraph: a small `Resources` table query (type filter only; KQL is not emulated).

Spec: specification/resourcegraph/resource-manager/Microsoft.ResourceGraph/stable/2021-03-01/resourcegraph.json.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import Request, Response
from ..core.provider import Provider, Route

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2021-03-01", "2022-10-01", "2024-04-01")


class ResourceGraph(Provider):
    """Resources rows for the requested subscriptions, with an optional `type =~ '...'` filter."""

    namespace = "Microsoft.ResourceGraph"
    routes = (
        Route(
            r"/providers/microsoft\.resourcegraph/resources",
            "query",
            API,
            "resources",
            ("POST",),
            namespace_error=True,
            type="Microsoft.ResourceGraph/resources",
        ),
    )

    def query(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """The rows the principal may read."""
        body = req.json()
        subs = [
            s.lower() for s in body.get("subscriptions") or [s["subscriptionId"] for s in arm.state.subscriptions()]
        ]
        t = re.search(r"type\s*=~\s*'([^']+)'", str(body.get("query", "")))
        rows = []
        for k, obj in arm.state.arm.items():
            if ids.subscription_of(k) not in subs or "/resourcegroups/" not in k or k.count("/") < 8:
                continue
            spec = arm.registry.lookup(obj.get("type", ""))
            if spec is None or not spec.tracked or (t and obj["type"].lower() != t.group(1).lower()):
                continue
            if not arm.state.allowed(principal, obj["id"], f"{obj['type']}/read"):
                continue
            rows.append(
                {
                    "id": obj["id"],
                    "name": obj["name"],
                    "type": obj["type"].lower(),
                    "location": obj.get("location"),
                    "resourceGroup": ids.resource_group_of(k),
                    "subscriptionId": ids.subscription_of(k),
                    "tags": obj.get("tags") or {},
                    "sku": obj.get("sku"),
                }
            )
        return Response(
            200, {"totalRecords": len(rows), "count": len(rows), "data": rows, "facets": [], "resultTruncated": "false"}
        )
