"""Microsoft.Authorization RBAC and locks: role definitions (built-in), role assignments, management locks.

Specs: specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json,
.../authorization-RoleDefinitionsCalls.json; specification/resources/resource-manager/Microsoft.Authorization/locks/
stable/2020-05-01/locks.json. Rules: learn.microsoft.com/azure/role-based-access-control/troubleshooting
(PrincipalNotFound, UnmatchedPrincipalType, RoleAssignmentExists), .../role-assignments-rest (name must be a GUID),
learn.microsoft.com/azure/lighthouse/how-to/deploy-policy-remediation (a delegated User Access Administrator may assign
only its delegatedRoleDefinitionIds, and only to managed identities).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from ..core import ids, rules
from ..core.http import ArmError, Request, Response, arm_error
from ..core.provider import Provider, TypeSpec
from ..core.rbac import BUILTIN_ROLES, role_allows, role_guid

if TYPE_CHECKING:
    from ..core.arm import Arm

ROLE_API = (
    "2022-04-01",
    "2022-05-01-preview",
    "2020-10-01-preview",
    "2020-04-01-preview",
    "2018-01-01-preview",
    "2015-07-01",
)
# Microsoft.Authorization is served by ARM itself: an api-version a type lacks is InvalidResourceType ("The resource
# type 'roleAssignments' could not be found in the namespace 'Microsoft.Authorization' for api version ...",
# Azure/acs-engine#4037), not a provider's NoRegisteredProviderFound
ARM_HOSTED = "InvalidResourceType"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")


def principal_type_of(obj: dict) -> str:
    """The principalType Azure records for a directory object (managed identities are service principals)."""
    if "servicePrincipalType" in obj:
        return "ServicePrincipal"
    return obj.get("@type", "User")


class Authorization(Provider):
    """Role definitions, role assignments and locks."""

    namespace = "Microsoft.Authorization"
    types = (
        TypeSpec(
            "Microsoft.Authorization/roleAssignments",
            ROLE_API,
            tracked=False,
            patch=False,
            model="azure.mgmt.authorization.models:RoleAssignmentCreateParameters",
            invalid_code="InvalidRoleAssignmentRequest",
            version_error=ARM_HOSTED,
        ),
        TypeSpec(
            "Microsoft.Authorization/roleDefinitions",
            ROLE_API,
            tracked=False,
            patch=False,
            tenant_level=True,
            version_error=ARM_HOSTED,
        ),
        TypeSpec(
            "Microsoft.Authorization/locks",
            ("2020-05-01", "2016-09-01"),
            put_created=201,
            tracked=False,
            patch=False,
            model="azure.mgmt.resource.locks.models:ManagementLockObject",
            name_rule=(1, 260, r"[^<>*%&:\\?/+]+"),
            version_error=ARM_HOSTED,
        ),
    )

    # ------------------------------------------------------------------ role definitions
    def on_roledefinitions(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Built-in role definitions, visible at every scope; custom roles are not emulated."""
        if req.method != "GET":
            return arm_error(403, "AuthorizationFailed", "Custom role definitions are not supported by the sandbox.")
        scope = ap.scope

        def view(guid: str) -> dict:
            role = BUILTIN_ROLES[guid]
            return {
                "id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                "name": guid,
                "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {
                    "roleName": role["roleName"],
                    "type": "BuiltInRole",
                    "description": role["roleName"],
                    "assignableScopes": ["/"],
                    "permissions": [
                        {
                            "actions": role["actions"],
                            "notActions": role["notActions"],
                            "dataActions": [],
                            "notDataActions": [],
                        }
                    ],
                },
            }

        if ap.is_collection:
            terms = {
                t.prop: t.value
                for t in rules.parse_filter(
                    req.query.get("$filter"), ("rolename", "type"), combinations=({"rolename", "type"},)
                )
            }
            found = [
                view(g)
                for g, r in BUILTIN_ROLES.items()
                if "rolename" not in terms or r["roleName"].lower() == terms["rolename"].lower()
            ]
            return arm.page(req, found)
        if ap.name.lower() not in BUILTIN_ROLES:
            return arm_error(
                404,
                "RoleDefinitionDoesNotExist",
                "The specified role definition with ID '" + ap.name + "' does not exist.",
            )
        return Response(200, view(ap.name.lower()))

    # ------------------------------------------------------------------ role assignments
    def validate_roleassignments(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Name a GUID, role exists, principal exists with the stated type, delegated UAA limits (Lighthouse)."""
        if not _GUID.match(str((body.get("properties") or {}).get("principalId", ""))):
            raise ArmError(
                400,
                "InvalidPrincipalId",
                f"The Principal ID '{(body.get('properties') or {}).get('principalId')}' is not valid. Principal ID must be a GUID.",
            )
        if not _GUID.match(ap.name):
            raise ArmError(
                400,
                "InvalidRoleAssignmentId",
                f"The role assignment ID '{ap.name}' is not valid. The role assignment ID must be a GUID.",
            )
        props = body.get("properties") or {}
        guid = role_guid(props["roleDefinitionId"])
        if guid not in BUILTIN_ROLES:
            raise ArmError(
                400,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{guid.replace('-', '')}' does not exist.",
            )
        pid = str(props["principalId"])
        obj = arm.state.principal(pid)
        owner = _identity_owner(arm, obj)
        if owner is not None and owner.get("_replication_left", 0) > 0:  # a new identity replicating (fault switch)
            owner["_replication_left"] -= 1
            obj = None
        if obj is None:
            raise ArmError(
                400,
                "PrincipalNotFound",
                f"Principal {pid.replace('-', '')} does not exist in the directory {arm.state.tenant_id}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
            )
        given = props.get("principalType")
        if given is not None:
            if given not in PRINCIPAL_TYPES:
                raise ArmError(
                    400,
                    "InvalidRoleAssignmentRequest",
                    f"The PrincipalType property '{given}' is not valid. It must be 'User', 'Group' or 'ServicePrincipal'.",
                )
            actual = principal_type_of(obj)
            if given != actual:
                raise ArmError(
                    400,
                    "UnmatchedPrincipalType",
                    f"The PrincipalId '{pid.replace('-', '')}' has type '{actual}' , which is different from specified PrinciaplType '{given}'.",
                )

    def on_roleassignments(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Role assignments: scope/principal filters on lists, delegation limits and conflicts on PUT."""
        if ap.is_collection:
            expr = req.query.get("$filter") or ""
            at_scope = expr.strip().lower().startswith("atscope()")
            rest = re.sub(r"^\s*atscope\(\)\s*(and\s*)?", "", expr, flags=re.IGNORECASE)
            # assignedTo('{id}'): the principal's assignments and those of the groups it is a member of
            assigned = re.fullmatch(r"\s*assignedTo\('([^']*)'\)\s*", rest, flags=re.IGNORECASE)
            terms = {"assignedto": assigned.group(1)} if assigned else {}
            if not assigned:
                terms = {t.prop: t.value for t in rules.parse_filter(rest, ("principalid", "assignedto"))}
            who = terms.get("principalid") or terms.get("assignedto")
            holders = {who.lower()} if who else set()
            if assigned and who:
                holders |= {
                    g["id"].lower()
                    for g in arm.state.directory.values()
                    if who.lower() in {str(m).lower() for m in g.get("@members") or []}
                }
            scope_key = ids.key(ap.scope or "/")
            above = set(arm.state.scopes_above(ap.scope)) if ap.scope else set()
            found = []
            for obj in arm.all_of_type(spec.type):
                ra_scope = ids.key(obj["properties"]["scope"])
                if not (ra_scope in above or (not at_scope and ra_scope.startswith(scope_key + "/"))):
                    continue
                if holders and obj["properties"]["principalId"].lower() not in holders:
                    continue
                found.append(obj)
            return arm.page(req, found)
        if req.method == "PUT":
            props = req.json().get("properties") or {}
            guid = role_guid(props["roleDefinitionId"])
            if denied := _delegation_limits(arm, principal, ap.scope, guid, props):
                return denied
            existing = arm.state.get(ap.path)
            for other in arm.all_of_type(spec.type):
                op = other["properties"]
                if (
                    ids.key(op["scope"]) == ids.key(ap.scope)
                    and op["principalId"].lower() == props["principalId"].lower()
                    and role_guid(op["roleDefinitionId"]) == guid
                    and ids.key(other["id"]) != ids.key(ap.path)
                ):
                    return arm_error(409, "RoleAssignmentExists", "The role assignment already exists.")
            if existing:
                same = (
                    existing["properties"]["principalId"].lower() == props["principalId"].lower()
                    and role_guid(existing["properties"]["roleDefinitionId"]) == guid
                )
                return (
                    Response(200, existing)
                    if same
                    else arm_error(
                        400,
                        "RoleAssignmentUpdateNotPermitted",
                        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                    )
                )
            from ..core.arm import canonical_id, now_iso

            stamp = now_iso()
            obj = {
                "id": canonical_id(ap, spec, arm.state),
                "name": ap.name,
                "type": spec.type,
                "properties": {
                    "roleDefinitionId": f"{ap.scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                    "principalId": props["principalId"],
                    "principalType": props.get("principalType")
                    or principal_type_of(arm.state.principal(props["principalId"]) or {}),
                    "scope": ap.scope,
                    "condition": None,
                    "conditionVersion": None,
                    "createdOn": stamp,
                    "updatedOn": stamp,
                    "createdBy": principal,
                    "updatedBy": principal,
                    "delegatedManagedIdentityResourceId": props.get("delegatedManagedIdentityResourceId"),
                    "description": props.get("description"),
                },
            }
            arm.state.put(obj)
            return Response(201, obj)
        if req.method == "DELETE":
            existing = arm.state.get(ap.path)
            if existing is None:
                return Response(204)
            arm.state.delete_tree(ap.path)
            return Response(200, existing)
        return None

    # ------------------------------------------------------------------ locks
    def validate_locks(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """A lock must say CanNotDelete or ReadOnly (the schema makes `level` required; NotSpecified locks nothing)."""
        level = str((body.get("properties") or {}).get("level"))
        if level.lower() == "notspecified":
            raise ArmError(
                400,
                "LockLevelNotSupported",
                "The lock level 'NotSpecified' is not supported; use 'CanNotDelete' or 'ReadOnly'.",
            )
        body["properties"]["level"] = {"cannotdelete": "CanNotDelete", "readonly": "ReadOnly"}[level.lower()]


def _identity_holder(sp: dict | None) -> str:
    """The ID of the resource whose system-assigned managed identity a service principal is ("" for others)."""
    if not sp or sp.get("servicePrincipalType") != "ManagedIdentity":
        return ""
    return next((str(n) for n in sp.get("alternativeNames") or [] if str(n).startswith("/")), "")


def _identity_owner(arm: Arm, sp: dict | None) -> dict | None:
    """The stored resource whose system-assigned managed identity a service principal is (None for others)."""
    holder = _identity_holder(sp)
    return arm.state.get(holder) if holder else None


def _delegation_limits(arm: Arm, principal: str, scope: str, role: str, props: dict) -> Response | None:
    """A principal whose right to assign roles comes only from a Lighthouse User Access Administrator authorization may
    assign only the roles in its delegatedRoleDefinitionIds, only to managed identities, and must name the resource
    holding the identity in delegatedManagedIdentityResourceId: without it ARM looks the identity up in the managing
    tenant and does not find it (learn.microsoft.com/azure/lighthouse/how-to/deploy-policy-remediation)."""
    assignee = str(props["principalId"])
    action = "Microsoft.Authorization/roleAssignments/write"
    rbac = [g for g, source in arm.state.roles_of(principal, scope) if source == "rbac" and role_allows(g, action)]
    if rbac:
        return None
    grants = [
        a for a in arm.state.lighthouse_grants(principal, scope) if role_allows(a["roleDefinitionId"].lower(), action)
    ]
    if not grants:
        return None  # authorize() already refused
    delegated = {role_guid(d) for a in grants for d in a.get("delegatedRoleDefinitionIds") or []}
    if role not in delegated:
        return arm_error(
            403,
            "AuthorizationFailed",
            f"The client '{principal}' with object id '{principal}' has permission to perform action '{action}' on scope '{scope}'; however, it does not have permission to assign the role '{role}': a delegated User Access Administrator may assign only the roles listed in delegatedRoleDefinitionIds ({', '.join(sorted(delegated)) or 'none'}).",
        )
    target = arm.state.principal(assignee) or {}
    if target.get("servicePrincipalType") != "ManagedIdentity":
        return arm_error(
            403,
            "AuthorizationFailed",
            f"The client '{principal}' with object id '{principal}' has permission to perform action '{action}' on scope '{scope}'; however, through Azure Lighthouse it may assign roles only to managed identities, and '{assignee}' is not one.",
        )
    holder = str(props.get("delegatedManagedIdentityResourceId") or "")
    if not holder or ids.key(holder) != ids.key(_identity_holder(target) or "-"):
        managing = next(
            (
                d["properties"].get("managedByTenantId")
                for d in arm.all_of_type("Microsoft.ManagedServices/registrationDefinitions")
                if any(a["principalId"].lower() == principal.lower() for a in d["properties"].get("authorizations", []))
            ),
            "",
        )
        return arm_error(
            400,
            "PrincipalNotFound",
            f"Principal {assignee.replace('-', '')} does not exist in the directory {managing}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
        )
    return None


def new_assignment_name() -> str:
    """A fresh role assignment name (a GUID, as Azure requires)."""
    return str(uuid.uuid4())
