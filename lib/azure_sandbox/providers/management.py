"""Microsoft.Management: management groups as a customer's tenant holds them for the runbook: the tenant root group
(named by the tenant id, displayName "Tenant Root Group") with every subscription of the tenant as its child. It is a
scope like any other: roles assigned at it reach the subscriptions below it, policy definitions stored at it serve
assignments below it.

Spec: specification/managementgroups/resource-manager/Microsoft.Management/ManagementGroups/stable/2023-04-01/
management.json (ManagementGroups_Get with `$expand=children`: examples/GetManagementGroupWithExpand.json;
ManagementGroups_List: examples/ListManagementGroups.json). A group the caller may not read, or that does not exist,
is 403 AuthorizationFailed "... or the scope is invalid" (azure-cli#15871, pulumi/pulumi-azure-nextgen#263); a list
holds only the groups the caller may read. Creating, moving and deleting groups is not modelled.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core.http import Request, Response, arm_error
from ..core.provider import Provider, Route

if TYPE_CHECKING:
    from ..core.arm import Arm

TYPE = "Microsoft.Management/managementGroups"
PREFIX = "/providers/Microsoft.Management/managementGroups/"
API = ("2023-04-01", "2021-04-01", "2020-05-01")  # the table (api_versions.yml) holds every published one
READ = "Microsoft.Management/managementGroups/read"


def group_id(tenant_id: str) -> str:
    """The id of a tenant's root management group."""
    return PREFIX + tenant_id


class Management(Provider):
    """The tenant root group: read, listed, expanded to its subscriptions."""

    namespace = "Microsoft.Management"
    routes = (
        Route(
            r"/providers/microsoft\.management/managementgroups",
            "list_groups",
            API,
            "managementGroups",
            ("GET",),
            namespace_error=True,
            type=TYPE,
        ),
        Route(
            r"/providers/microsoft\.management/managementgroups/(?P<group>[^/]+)",
            "get_group",
            API,
            "managementGroups",
            ("GET",),
            namespace_error=True,
            type=TYPE,
        ),
    )

    @staticmethod
    def _root(arm: Arm, expand: bool) -> dict:
        tenant = arm.state.tenant_id
        props: dict = {
            "tenantId": tenant,
            "displayName": "Tenant Root Group",
            "details": {"version": 1, "updatedTime": "2026-01-01T00:00:00Z", "updatedBy": tenant, "parent": None},
        }
        if expand:
            props["children"] = [
                {
                    "id": f"/subscriptions/{s['subscriptionId']}",
                    "type": "/subscriptions",
                    "name": s["subscriptionId"],
                    "displayName": s.get("displayName", s["subscriptionId"]),
                }
                for s in arm.state.subscriptions()
            ]
        return {"id": group_id(tenant), "type": TYPE, "name": tenant, "properties": props}

    def list_groups(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """The groups the caller may read (the root group, or none)."""
        root = group_id(arm.state.tenant_id)
        readable = arm.state.allowed(principal, root, READ)
        return arm.page(req, [self._root(arm, False)] if readable else [])

    def get_group(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """The root group (`$expand=children` lists its subscriptions); any other name, or a caller without read
        access, is 403 as Azure answers both."""
        name = path.rstrip("/").split("/")[-1]
        if name.lower() != arm.state.tenant_id.lower():
            return denied(principal, PREFIX + name, READ)
        if denied_answer := arm.authorize(principal, group_id(arm.state.tenant_id), READ):
            return denied_answer
        expand = str(req.query.get("$expand", "")).lower()
        if expand and expand not in ("children", "path", "ancestors"):
            return arm_error(
                400, "InvalidQueryParameterValue", f"The value '{req.query['$expand']}' of '$expand' is invalid."
            )
        return Response(200, self._root(arm, expand == "children"))


def denied(principal: str, scope: str, action: str) -> Response:
    """ARM's 403 for a scope that does not exist (it cannot tell the caller which)."""
    return arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{principal}' with object id '{principal}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
    )
