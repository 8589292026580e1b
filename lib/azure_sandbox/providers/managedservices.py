"""Microsoft.ManagedServices (Azure Lighthouse): registration definitions (offers) and assignments.

Spec: specification/managedservices/resource-manager/Microsoft.ManagedServices/preview/2020-02-01-preview/
managedservices.json (RegistrationDefinitionProperties: authorizations and managedByTenantId required).
Rules: learn.microsoft.com/azure/lighthouse/concepts/tenants-users-roles (Owner, and roles with DataActions, cannot be
delegated; User Access Administrator only with delegatedRoleDefinitionIds), .../how-to/onboard-customer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from ..core import ids
from ..core.http import ArmError, Request, Response, arm_error
from ..core.provider import Provider, TypeSpec
from ..core.rbac import BUILTIN_ROLES, OWNER, USER_ACCESS_ADMINISTRATOR, role_allows, role_guid

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2020-02-01-preview", "2022-10-01", "2022-01-01-preview", "2019-09-01", "2019-06-01")
BAD = "InvalidRegistrationDefinitionCreateRequest"
# 2018-06-01-preview answers PUT 201 with provisioningState Succeeded and DELETE 200 at once, not as a long-running
# operation (azure-cli test_managedservices_commands.yaml; tests/contract/recordings/managedservices_commands.yaml)
SYNCHRONOUS_BEFORE = "2019-04-01-preview"
# Entra's name for a tenant nobody renamed: what Azure answered as managedByTenantName for a tenant the sandbox does
# not hold (the same recording)
UNKNOWN_TENANT_NAME = "Default Directory"
# Roles Lighthouse refuses although they are built-in: Owner; roles with data actions or restricted actions
# (Log Analytics Contributor is refused since 2025-06: Azure/Azure-Lighthouse-samples#137)
RESTRICTED_ROLES = {OWNER, "92aaf0da-9dab-42b6-94a3-d43ce8d16293"}
# the one role through which a managing tenant's principal may remove a delegation (remove-delegation, above)
REGISTRATION_DELETE_ROLE = "91c1777a-f3dc-4fae-b103-61d183457e46"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ManagedServices(Provider):
    """Lighthouse offers and their assignment to a subscription."""

    namespace = "Microsoft.ManagedServices"
    types = (
        TypeSpec(
            "Microsoft.ManagedServices/registrationDefinitions",
            API,
            put_lro=True,
            tracked=False,
            patch=False,
            model="azure.mgmt.managedservices.models:RegistrationDefinition",
            invalid_code="InvalidRequestContent",
        ),
        TypeSpec(
            "Microsoft.ManagedServices/registrationAssignments",
            API,
            put_lro=True,
            delete_lro=True,
            tracked=False,
            patch=False,
            model="azure.mgmt.managedservices.models:RegistrationAssignment",
            invalid_code="InvalidRequestContent",
        ),
    )

    def validate_registrationdefinitions(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict
    ) -> None:
        """An offer lives at subscription scope, names a managing tenant other than the customer's, and grants
        delegable built-in roles only (User Access Administrator only with the roles it may assign)."""
        if not re.fullmatch(r"/subscriptions/[^/]+", ap.scope, flags=re.IGNORECASE):
            raise ArmError(
                400,
                "InvalidRegistrationDefinitionUri",
                f"The registration definition request scope '{ap.scope}' should be '/subscriptions/<subscriptionId>'.",
            )
        if not _GUID.match(ap.name):
            raise ArmError(400, BAD, f"The registration definition id '{ap.name}' must be a GUID.")
        props = body["properties"]
        me = f"{ap.scope}/providers/Microsoft.ManagedServices/registrationDefinitions/{ap.name}"
        managed_by = str(props["managedByTenantId"])
        if not _GUID.match(managed_by):
            raise ArmError(
                400,
                BAD,
                f"The managed by tenant id '{managed_by}' in registration definition '{me}' is not a valid tenant id.",
            )
        if managed_by.lower() == arm.state.tenant_id.lower():
            raise ArmError(
                400,
                BAD,
                f"The managed by tenant '{managed_by}' cannot be the same as the tenant of the registration definition scope '{ap.scope}'.",
            )
        if not props["authorizations"]:
            raise ArmError(400, BAD, f"The registration definition '{me}' must contain at least one authorization.")
        for auth in props["authorizations"]:
            role = role_guid(str(auth["roleDefinitionId"]))
            if role in RESTRICTED_ROLES:
                raise ArmError(
                    400,
                    BAD,
                    f"The role definition '{role}' is restricted for registration definition '{me}'. Restricted role definitions are '{';'.join(sorted(RESTRICTED_ROLES))}'.",
                )
            if role not in BUILTIN_ROLES:
                raise ArmError(
                    400,
                    BAD,
                    f"The role definition '{role}' is not a built-in role definition; only built-in roles can be delegated in registration definition '{me}'.",
                )
            delegated = auth.get("delegatedRoleDefinitionIds") or []
            if role == USER_ACCESS_ADMINISTRATOR and not delegated:
                raise ArmError(
                    400,
                    BAD,
                    f"The delegatedRoleDefinitionIds must be specified for role definition '{role}' in registration definition '{me}'.",
                )
            if delegated and role != USER_ACCESS_ADMINISTRATOR:
                raise ArmError(
                    400,
                    BAD,
                    f"The delegatedRoleDefinitionIds can be specified only for role definition '{USER_ACCESS_ADMINISTRATOR}' in registration definition '{me}'.",
                )
            for d in delegated:
                if role_guid(d) in (OWNER, USER_ACCESS_ADMINISTRATOR) or role_guid(d) not in BUILTIN_ROLES:
                    raise ArmError(
                        400,
                        BAD,
                        f"The role definition '{role_guid(d)}' cannot be delegated in delegatedRoleDefinitionIds of registration definition '{me}'.",
                    )

    def validate_registrationassignments(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict
    ) -> None:
        """An assignment names an existing definition."""
        def_id = str((body.get("properties") or {}).get("registrationDefinitionId", ""))
        if arm.state.get(def_id) is None:
            raise ArmError(
                400, "RegistrationDefinitionNotFound", f"The registration definition '{def_id}' could not be found."
            )

    def on_registrationassignments(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """$expandRegistrationDefinition inlines the offer in each assignment."""
        expand = req.query.get("$expandregistrationdefinition", "").lower() == "true"

        def view(obj: dict) -> dict:
            out = arm.view(obj)
            if expand:
                definition = arm.state.get(obj["properties"]["registrationDefinitionId"])
                if definition:
                    dprops = {
                        **definition["properties"],
                        "manageeTenantId": arm.state.tenant_id,
                        "manageeTenantName": arm.state.tenant_name,
                    }
                    out = {
                        **out,
                        "properties": {
                            **out["properties"],
                            "registrationDefinition": {
                                "properties": dprops,
                                "id": definition["id"],
                                "type": definition["type"],
                                "name": definition["name"],
                            },
                        },
                    }
            return out

        if req.method == "DELETE" and not ap.is_collection and (refused := self.may_remove(arm, principal, ap)):
            return refused
        if req.method in ("PUT", "DELETE") and not ap.is_collection:
            return self.write(arm, req, ap, spec)
        if ap.is_collection and req.method == "GET":
            return arm.page(
                req,
                [
                    view(o)
                    for o in arm.state.children(
                        ap.scope + "/providers/Microsoft.ManagedServices/registrationAssignments"
                    )
                ],
            )
        if req.method == "GET":
            obj = arm.state.get(ap.path)
            return Response(200, view(obj)) if obj else arm.not_found(ap, spec)
        return None

    @staticmethod
    def may_remove(arm: Arm, principal: str, ap: ids.ArmPath) -> Response | None:
        """Removing a delegation (learn.microsoft.com/azure/lighthouse/how-to/remove-delegation): a user of the
        customer's tenant with Microsoft.Authorization/roleAssignments/write (Owner), or a principal of the managing
        tenant holding the Managed Services Registration Assignment Delete Role through the offer; any other role the
        offer delegates (Contributor included) is refused with ARM's 403."""
        held = arm.state.roles_of(principal, ap.path)
        if any(src == "rbac" and role_allows(g, "Microsoft.Authorization/roleAssignments/write") for g, src in held):
            return None
        if any(src == "lighthouse" and g == REGISTRATION_DELETE_ROLE for g, src in held):
            return None
        return arm_error(
            403,
            "AuthorizationFailed",
            f"The client '{principal}' with object id '{principal}' does not have authorization to perform action "
            f"'Microsoft.ManagedServices/registrationAssignments/delete' over scope '{ap.path}' or the scope is invalid. "
            "If access was recently granted, please refresh your credentials.",
        )

    @staticmethod
    def tenant_name(arm: Arm, tenant_id: str) -> str:
        """The managing tenant's display name, as Azure adds it to the definitions it returns."""
        if tenant_id.lower() == (arm.state.msp_tenant_id or "").lower():
            return arm.state.msp_tenant_name
        if tenant_id.lower() == arm.state.tenant_id.lower():
            return arm.state.tenant_name
        return UNKNOWN_TENANT_NAME

    @staticmethod
    def write(arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict | None = None) -> Response | None:
        """PUT / DELETE: long-running from 2019-04-01-preview on; before, answered at once (Succeeded)."""
        if (req.api_version or "") >= SYNCHRONOUS_BEFORE:
            if body is not None and req.method == "PUT":
                return arm.put(req, ap, spec, arm.state.get(ap.path), body=body)
            return None
        sync = replace(spec, put_lro=False, delete_lro=False)
        if req.method == "DELETE":
            return arm.single(req, ap, sync)
        answer = arm.put(req, ap, sync, arm.state.get(ap.path), body=body)
        stored = arm.state.get(ap.path)
        if stored is not None:
            stored["properties"]["provisioningState"] = "Succeeded"
            answer.body = arm.view(stored)
        return answer

    def on_registrationdefinitions(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """A definition in use by an assignment cannot be deleted; the managing tenant's name is added."""
        if req.method == "PUT":
            body = req.json()
            props = body.setdefault("properties", {})
            props["managedByTenantName"] = self.tenant_name(arm, str(props.get("managedByTenantId", "")))
            return self.write(arm, req, ap, spec, body)
        if req.method == "DELETE":
            for a in arm.all_of_type("Microsoft.ManagedServices/registrationAssignments"):
                if ids.key(a["properties"]["registrationDefinitionId"]) == ids.key(ap.path):
                    return arm_error(
                        409,
                        "RegistrationDefinitionInUse",
                        f"The registration definition '{ap.name}' is assigned by '{a['id']}' and cannot be deleted.",
                    )
            return self.write(arm, req, ap, spec)
        return None
