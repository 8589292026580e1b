"""Microsoft.PolicyInsights: the compliance summary of the policy assignments at a scope.

Spec: specification/policyinsights/resource-manager/Microsoft.PolicyInsights/stable/2024-10-01/policyStates.json.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import Request, Response
from ..core.provider import Provider, Route

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2024-10-01", "2019-10-01", "2022-09-01")


class PolicyInsights(Provider):
    """Policy states summary (every resource counted compliant: evaluation is not emulated)."""

    namespace = "Microsoft.PolicyInsights"
    routes = (
        Route(
            r"(?P<scope>/subscriptions/.*)/providers/microsoft\.policyinsights/policystates/latest/summarize",
            "summarize",
            API,
            "policyStates",
            ("POST",),
            namespace_error=True,
        ),
    )

    def summarize(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Policy compliance summary per assignment at a scope."""
        scope = path[: len(m.group("scope"))]
        if denied := arm.authorize(principal, scope, "Microsoft.PolicyInsights/policyStates/summarize/read"):
            return denied
        assignments = [
            o
            for o in arm.all_of_type("Microsoft.Authorization/policyAssignments")
            if ids.key(scope).startswith(ids.key(o["properties"]["scope"]))
        ]
        results = {
            "queryResultsUri": f"{req.base_url}{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
            "nonCompliantResources": 0,
            "nonCompliantPolicies": 0,
            "resourceDetails": [],
            "policyDetails": [],
            "policyGroupDetails": [],
        }
        return Response(
            200,
            {
                "@odata.context": f"{req.base_url}/$metadata#summary",
                "@odata.count": 1,
                "value": [
                    {
                        "@odata.id": None,
                        "@odata.context": f"{req.base_url}/$metadata#summary/$entity",
                        "results": results,
                        "policyAssignments": [
                            {
                                "policyAssignmentId": a["id"],
                                "policySetDefinitionId": "",
                                "results": results,
                                "policyDefinitions": [],
                            }
                            for a in assignments
                        ],
                    }
                ],
            },
        )
