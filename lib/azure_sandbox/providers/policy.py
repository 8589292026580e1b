"""Microsoft.Authorization policy: definitions (built-in, read-only, listed at every scope), set definitions,
assignments.

Spec: specification/resources/resource-manager/Microsoft.Authorization/policy/stable/2026-06-01 (policyDefinitions.json,
policyAssignments.json). Rules: learn.microsoft.com/azure/governance/policy/concepts/assignment-structure (identity and
location for deployIfNotExists / modify), .../how-to/remediate-resources (the identity's principal and its roles).
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..core import ids, rules
from ..core.http import ArmError, Request, Response, arm_error
from ..core.provider import Provider, TypeSpec

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2026-06-01", "2025-11-01", "2025-03-01", "2024-04-01", "2023-04-01", "2022-06-01", "2021-06-01")
_MODELS = "azure.mgmt.resource.policy.models"

# guid -> (display name, effect, parameters, roleDefinitionIds needed by its deployment/modify)
BUILTIN_POLICIES: dict[str, tuple[str, str, dict, list[str]]] = {
    "06a78e20-9358-41c9-923c-fb736d382a4d": ("Audit VMs that do not use managed disks", "Audit", {}, []),
    "e56962a6-4747-49cd-b67b-bf8b01975c4c": ("Allowed locations", "Deny", {"listOfAllowedLocations": {"type": "Array", "metadata": {"displayName": "Allowed locations", "strongType": "location"}}}, []),
    "871b6d14-10aa-478d-b590-94f262ecfa99": ("Require a tag on resources", "Deny", {"tagName": {"type": "String", "metadata": {"displayName": "Tag Name"}}}, []),
    "ea3f2387-9b95-492a-a190-fcdc54f7b070": ("Inherit a tag from the resource group if missing", "Modify", {"tagName": {"type": "String", "metadata": {"displayName": "Tag Name"}}}, ["/providers/microsoft.authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"]),
    "013e242c-8828-4970-87b3-ab247555486d": ("Azure Backup should be enabled for Virtual Machines", "AuditIfNotExists", {"effect": {"type": "String", "allowedValues": ["AuditIfNotExists", "Disabled"], "defaultValue": "AuditIfNotExists"}}, []),
}


def builtin_policy(guid: str) -> dict:
    """A built-in policy definition in the Policy API's shape."""
    name, effect, parameters, roles = BUILTIN_POLICIES[guid]
    then: dict = {"effect": effect.lower()}
    if roles:
        then["details"] = {"roleDefinitionIds": roles, "operations": [{"operation": "add", "field": "[concat('tags[', parameters('tagName'), ']')]", "value": "[resourcegroup().tags[parameters('tagName')]]"}]}
    return {"id": f"/providers/Microsoft.Authorization/policyDefinitions/{guid}", "name": guid, "type": "Microsoft.Authorization/policyDefinitions", "properties": {"displayName": name, "policyType": "BuiltIn", "mode": "Indexed", "description": name, "metadata": {"category": "General", "version": "1.0.0"}, "version": "1.0.0", "parameters": parameters, "policyRule": {"if": {"field": "type", "equals": "Microsoft.Resources/subscriptions"}, "then": then}}}


class Policy(Provider):
    """Policy definitions, set definitions and assignments."""

    namespace = "Microsoft.Authorization"
    types = (
        TypeSpec("Microsoft.Authorization/policyAssignments", API, tracked=False, model=f"{_MODELS}:PolicyAssignment", invalid_code="InvalidRequestContent"),
        TypeSpec("Microsoft.Authorization/policyDefinitions", API, tracked=False, patch=False, model=f"{_MODELS}:PolicyDefinition", tenant_level=True),
        TypeSpec("Microsoft.Authorization/policySetDefinitions", API, tracked=False, patch=False, model=f"{_MODELS}:PolicySetDefinition", tenant_level=True),
    )

    def definition(self, arm: Arm, definition_id: str) -> dict | None:
        """A policy definition by id: a built-in, or a custom one stored at its scope."""
        guid = definition_id.rstrip("/").split("/")[-1].lower()
        if definition_id.lower().startswith("/providers/microsoft.authorization/policydefinitions/") and guid in BUILTIN_POLICIES:
            return builtin_policy(guid)
        return arm.state.get(definition_id)

    def validate_policyassignments(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """The definition exists; required parameters are given; DINE/Modify need an identity and a location."""
        props = body.get("properties") or {}
        def_id = props.get("policyDefinitionId")
        if not def_id:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'policyDefinitionId' not found in JSON. Path 'properties'.'")
        definition = self.definition(arm, def_id)
        if definition is None:
            raise ArmError(404, "PolicyDefinitionNotFound", f"The policy definition '{def_id.rstrip('/').split('/')[-1]}' could not be found.")
        declared = definition["properties"].get("parameters") or {}
        given = props.get("parameters") or {}
        for name, decl in declared.items():
            if "defaultValue" not in decl and name not in given:
                raise ArmError(400, "MissingPolicyParameter", f"The policy assignment '{ap.name}' is missing the parameter(s) '{name}' as defined in the policy definition '{definition['name']}'.")
        for name in given:
            if name not in declared:
                raise ArmError(400, "UndefinedPolicyParameter", f"The policy assignment '{ap.name}' has the parameter(s) '{name}' which are not defined in the policy definition '{definition['name']}'.")
        effect = str(definition["properties"].get("policyRule", {}).get("then", {}).get("effect", "")).lower()
        if effect in ("deployifnotexists", "modify"):
            identity = body.get("identity") or {}
            if str(identity.get("type", "None")).lower() not in ("systemassigned", "userassigned"):
                raise ArmError(400, "InvalidCreatePolicyAssignmentRequest", f"The policy assignment '{ap.name}' has a policy with effect '{effect}' and therefore requires a managed identity: set 'identity.type' to 'SystemAssigned' or 'UserAssigned'.")
        if body.get("identity") and str(body["identity"].get("type", "None")).lower() != "none":
            if not body.get("location"):
                raise ArmError(400, "LocationRequired", "The location property is required for a policy assignment with a managed identity.")
            rules.check_location(body["location"], type_name="Microsoft.Authorization/policyAssignments")

    def on_policyassignments(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """Defaults Azure fills in; a system-assigned identity becomes a service principal in the directory."""
        if req.method == "PUT":
            body = req.json()
            props = body.setdefault("properties", {})
            props.setdefault("scope", ap.scope)
            props.setdefault("enforcementMode", "Default")
            props.setdefault("notScopes", [])
            existing = arm.state.get(ap.path)
            props["instanceId"] = existing["properties"]["instanceId"] if existing else str(uuid.uuid4())
            identity = body.get("identity")
            if identity and str(identity.get("type")).lower() == "systemassigned":
                old = (existing or {}).get("identity") or {}
                if old.get("principalId"):
                    identity.update(principalId=old["principalId"], tenantId=arm.state.tenant_id)
                else:
                    from . import graph
                    sp = graph.new_managed_identity(arm.state, ap.name, f"{ap.scope}/providers/Microsoft.Authorization/policyAssignments/{ap.name}")
                    identity.update(principalId=sp["id"], tenantId=arm.state.tenant_id)
            return arm.put(req, ap, spec, existing, body=body)
        if ap.is_collection:
            expr = req.query.get("$filter") or ""
            above = set(ids.ancestors(ap.scope))
            found = [o for o in arm.all_of_type(spec.type) if ids.key(o["properties"]["scope"]) in above or ("atscope()" not in expr.lower() and ids.key(o["properties"]["scope"]).startswith(ids.key(ap.scope) + "/"))]
            return arm.page(req, [arm.view(o) for o in found])
        return None

    def on_policydefinitions(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str) -> Response | None:
        """Built-ins live at tenant scope and are read-only; lists at any scope include them, as Azure lists them."""
        builtin_name = ap.name.lower() in BUILTIN_POLICIES
        if req.method != "GET":
            if ap.scope == "" or builtin_name:
                return arm_error(403, "AuthorizationFailed", "Built-in policy definitions cannot be changed.")
            return None
        if ap.is_collection:
            custom = [] if ap.scope == "" else [arm.view(o) for o in arm.state.children(ap.scope + "/providers/Microsoft.Authorization/policyDefinitions")]
            return arm.page(req, [builtin_policy(g) for g in BUILTIN_POLICIES] + custom)
        if builtin_name:
            return Response(200, builtin_policy(ap.name.lower()))
        obj = arm.state.get(ap.path) if ap.scope else None
        if obj is None:
            return arm_error(404, "PolicyDefinitionNotFound", f"The policy definition '{ap.name}' could not be found.")
        return Response(200, arm.view(obj))
