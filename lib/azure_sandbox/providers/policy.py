"""Microsoft.Authorization policy: definitions and initiatives (built-in ones read-only and listed at every scope,
custom ones at their scope), assignments.

Spec: specification/resources/resource-manager/Microsoft.Authorization/policy/stable/2026-06-01
(policyDefinitions.json, policySetDefinitions.json, policyAssignments.json). Rules: learn.microsoft.com/azure/
governance/policy/concepts/assignment-structure (identity and location for deployIfNotExists / modify),
.../concepts/definition-structure-parameters (required parameters have no defaultValue; allowedValues),
.../how-to/remediate-resources (the identity's principal and its roles). Error codes as Azure answers them
(sources in tests/contract/test_rules_policy_monitor.py):
PolicyDefinitionNotFound, PolicySetDefinitionNotFound, MissingPolicyParameter, UndefinedPolicyParameter,
PolicyParameterValueNotAllowed, PolicyParameterAllowedAndDefaultValuesMismatch, ResourceIdentityRequired.
Built-ins are data: data/policy_builtins.yml.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from ..core import ids, rules
from ..core.http import ArmError, Request, Response, arm_error
from ..core.provider import Provider, TypeSpec
from . import policy_definitions as definitions
from .authorization import ARM_HOSTED
from .policy_definitions import (
    BUILTIN_POLICIES,
    BUILTIN_SETS,
    builtin_policy,
    builtin_set,
    possible_effects,
)

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2026-06-01", "2025-11-01", "2025-03-01", "2024-04-01", "2023-04-01", "2022-06-01", "2021-06-01")
EXEMPTION_API = ("2024-12-01-preview", "2022-07-01-preview", "2020-07-01-preview")  # preview only (no stable one)
_CATEGORIES = ("Waiver", "Mitigated")
_MODELS = "azure.mgmt.resource.policy.models"
_FILTER = re.compile(r"^\s*(policyType|category)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
REMEDIATING = {"deployifnotexists": "DeployIfNotExists", "modify": "Modify"}


def remediating_effect(definition: dict) -> str | None:
    """'DeployIfNotExists' or 'Modify' when a definition can deploy or modify (then its assignment needs an identity).

    Azure decides on what the definition can do, not on the effect an assignment picks: a definition whose effect
    parameter allows DeployIfNotExists, or whose details hold a deployment, needs the identity."""
    props = definition.get("properties") or {}
    then = ((props.get("policyRule") or {}).get("then")) or {}
    effects = possible_effects(then.get("effect", ""), props.get("parameters") or {})
    if "modify" in effects:
        return "Modify"
    if "deployifnotexists" in effects or "deployment" in (then.get("details") or {}):
        return "DeployIfNotExists"
    return None


def _names(values: list[str]) -> str:
    return ",".join(values)


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


def check_parameters(given: dict, declared: dict, who: str, target: str) -> None:
    """ARM's refusal of parameter values against the parameters a definition declares.

    `who` names the assigner ("policy assignment 'x'" / "policy set definition 'x'"), `target` the definition
    ("policy definition 'g'" / "policy set definition 'g'"). Required = declared without defaultValue. allowedValues
    compare case-sensitively (Azure refused 'deny' where 'Deny' was allowed)."""
    given = given or {}
    missing = [n for n, d in declared.items() if "defaultValue" not in d and n not in given]
    if missing:
        raise ArmError(
            400,
            "MissingPolicyParameter",
            f"The {who} is missing the parameter(s) '{_names(missing)}' as defined in the {target}.",
        )
    undefined = [n for n in given if n not in declared]
    if undefined:
        verb = "has" if who.startswith("policy assignment") else "is attempting to assign"
        raise ArmError(
            400,
            "UndefinedPolicyParameter",
            f"The {who} {verb} the parameter(s) '{_names(undefined)}' which are not defined in the {target}.",
        )
    for name, wrapper in given.items():
        allowed = declared[name].get("allowedValues")
        value = wrapper.get("value") if isinstance(wrapper, dict) else wrapper
        if not allowed or _is_expression(value):
            continue
        is_array = isinstance(value, list) and str(declared[name].get("type", "")).lower() == "array"
        for item in value if is_array and isinstance(value, list) else [value]:
            if item not in allowed:
                shown = str(item).lower() if isinstance(item, bool) else item
                listed = ", ".join(str(a) for a in allowed)
                raise ArmError(
                    400,
                    "PolicyParameterValueNotAllowed",
                    f"The value '{shown}' is not allowed for policy parameter '{name}' in {target}. "
                    f"The allowed values are '{listed}'.",
                )


class Policy(Provider):
    """Policy definitions, set definitions and assignments."""

    namespace = "Microsoft.Authorization"
    types = (
        TypeSpec(
            "Microsoft.Authorization/policyAssignments",
            API,
            tracked=False,
            model=f"{_MODELS}:PolicyAssignment",
            invalid_code="InvalidRequestContent",
            version_error=ARM_HOSTED,
        ),
        TypeSpec(
            "Microsoft.Authorization/policyExemptions",
            EXEMPTION_API,
            tracked=False,
            invalid_code="InvalidRequestContent",
            version_error=ARM_HOSTED,
        ),
        TypeSpec(
            "Microsoft.Authorization/policyDefinitions",
            API,
            tracked=False,
            patch=False,
            model=f"{_MODELS}:PolicyDefinition",
            tenant_level=True,
            version_error=ARM_HOSTED,
        ),
        TypeSpec(
            "Microsoft.Authorization/policySetDefinitions",
            API,
            tracked=False,
            patch=False,
            model=f"{_MODELS}:PolicySetDefinition",
            tenant_level=True,
            version_error=ARM_HOSTED,
        ),
    )

    def admit(self, arm: Arm, before: dict | None, after: dict) -> dict:
        """Enforced assignments over a write: modify effects change it, deny effects refuse it."""
        from . import policy_compliance

        return policy_compliance.admit(arm, before, after)

    # ------------------------------------------------------------------ lookups
    definition = staticmethod(definitions.definition)
    set_definition = staticmethod(definitions.set_definition)

    def _member(self, arm: Arm, member_id: str) -> dict:
        """A member of an initiative, or 404 PolicyDefinitionNotFound."""
        found = self.definition(arm, member_id)
        if found is None:
            name = member_id.rstrip("/").split("/")[-1]
            raise ArmError(404, "PolicyDefinitionNotFound", f"The policy definition '{name}' could not be found.")
        return found

    # ------------------------------------------------------------------ definitions
    def validate_policydefinitions(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """A parameter's defaultValue must be one of its allowedValues."""
        params = (body.get("properties") or {}).get("parameters") or {}
        for name, decl in params.items():
            if isinstance(decl, dict) and decl.get("allowedValues") and "defaultValue" in decl:
                default, allowed = decl["defaultValue"], decl["allowedValues"]
                is_array = isinstance(default, list) and str(decl.get("type", "")).lower() == "array"
                if any(v not in allowed for v in (default if is_array else [default])):
                    listed = ", ".join(str(a) for a in allowed)
                    raise ArmError(
                        400,
                        "PolicyParameterAllowedAndDefaultValuesMismatch",
                        f"The policy '{ap.name}' defines parameter '{name}' with a default value "
                        f"'{default}' that is not one of its allowed values '{listed}'.",
                    )

    def validate_policysetdefinitions(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict
    ) -> None:
        """Every member exists; the parameters passed to a member are those it declares, with allowed values."""
        for member in (body.get("properties") or {}).get("policyDefinitions") or []:
            found = self._member(arm, str(member.get("policyDefinitionId", "")))
            declared = found["properties"].get("parameters") or {}
            check_parameters(
                member.get("parameters") or {},
                declared,
                f"policy set definition '{ap.name}'",
                f"policy definition '{found['name']}'",
            )

    def _list(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, builtins: list[dict]) -> Response:
        """Built-ins plus the custom objects stored at the listed scope and at the management groups above it (as
        Azure lists a subscription's: "including those that apply directly or from management groups that contain
        the given subscription", Policy Definitions - List), filtered by policyType / category."""
        scopes = [*arm.state.management_groups_of(ap.scope), ap.scope] if ap.scope else []
        stored = [o for scope in scopes for o in arm.state.children(scope + "/providers/" + spec.type)]
        custom = [arm.view(o) for o in stored]
        items = builtins + custom
        expr = req.query.get("$filter")
        if expr:
            m = _FILTER.match(expr)
            if not m:
                raise ArmError(
                    400,
                    "InvalidFilterInQueryString",
                    f"The filter expression '{expr}' is invalid: only policyType eq '...' or "
                    "category eq '...' is supported.",
                )
            if m.group(1).lower() == "policytype":
                items = [o for o in items if str(o["properties"].get("policyType", "")).lower() == m.group(2).lower()]
            else:
                items = [
                    o for o in items if str((o["properties"].get("metadata") or {}).get("category", "")) == m.group(2)
                ]
        return arm.page(req, items)

    def _serve(
        self,
        arm: Arm,
        req: Request,
        ap: ids.ArmPath,
        spec: TypeSpec,
        builtin_names: dict,
        view: Any,
        kind: str,
        code: str,
        principal: str = "",
    ) -> Response | None:
        """GET/PUT/DELETE of definitions or initiatives: built-ins read-only and read at tenant scope only (a GET of one
        at a subscription is 404, as azure-cli's `policy definition show` meets it before it asks the built-in path),
        customs at their scope; lists at a subscription include the built-ins."""
        builtin_name = ap.name.lower() in builtin_names
        if req.method != "GET":
            if ap.scope == "" or builtin_name:
                return arm_error(403, "AuthorizationFailed", f"Built-in {kind}s cannot be changed.")
            if locked := arm.check_locks(ap.path, req.method):
                return locked
            if req.method == "PUT":
                body = req.json()
                body.setdefault("properties", {})["policyType"] = "Custom"
                existing = arm.state.get(ap.path)
                stamp_metadata(body["properties"], existing, principal)
                return arm.put(req, ap, spec, existing, body=body)
            return None
        if ap.is_collection:
            return self._list(arm, req, ap, spec, [view(g) for g in builtin_names])
        if builtin_name and ap.scope == "":  # a built-in is read at /providers/...; at a subscription it is not found
            return Response(200, view(ap.name.lower()))
        obj = arm.state.get(ap.path) if ap.scope else None
        if obj is None:
            return arm_error(404, code, f"The {kind} '{ap.name}' could not be found.")
        return Response(200, arm.view(obj))

    def on_policydefinitions(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Built-ins live at tenant scope and are read-only; lists at any scope include them, as Azure lists them."""
        return self._serve(
            arm,
            req,
            ap,
            spec,
            BUILTIN_POLICIES,
            builtin_policy,
            "policy definition",
            "PolicyDefinitionNotFound",
            principal,
        )

    def on_policysetdefinitions(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Built-in initiatives like built-in definitions: tenant scope, read-only, listed at every scope."""
        return self._serve(
            arm,
            req,
            ap,
            spec,
            BUILTIN_SETS,
            builtin_set,
            "policy set definition",
            "PolicySetDefinitionNotFound",
            principal,
        )

    # ------------------------------------------------------------------ exemptions
    def validate_policyexemptions(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """Exemptions name an assignment over their scope (see validate_exemption)."""
        validate_exemption(arm, ap, body)

    def on_policyexemptions(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Lists include the exemptions at and below the listed scope (and above it, as assignments are listed)."""
        if ap.is_collection and req.method == "GET":
            above = set(arm.state.scopes_above(ap.scope))
            key = ids.key(ap.scope)

            def scope_of(o: dict) -> str:
                return ids.key(o["id"].split("/providers/Microsoft.Authorization/policyExemptions/")[0])

            found = [o for o in arm.all_of_type(spec.type) if scope_of(o) in above or scope_of(o).startswith(key + "/")]
            return arm.page(req, [arm.view(o) for o in found])
        return None

    # ------------------------------------------------------------------ assignments
    def _assigned(self, arm: Arm, def_id: str) -> tuple[dict, str, list[dict]]:
        """(definition or initiative, how Azure names it in errors, the policy definitions it applies)."""
        name = def_id.rstrip("/").split("/")[-1]
        if "/policysetdefinitions/" in def_id.lower():
            found = self.set_definition(arm, def_id)
            if found is None:
                raise ArmError(
                    404, "PolicySetDefinitionNotFound", f"The policy set definition '{name}' could not be found."
                )
            refs = found["properties"].get("policyDefinitions") or []
            members = [self._member(arm, m["policyDefinitionId"]) for m in refs]
            return found, f"policy set definition '{found['name']}'", members
        found = self.definition(arm, def_id)
        if found is None:
            raise ArmError(404, "PolicyDefinitionNotFound", f"The policy definition '{name}' could not be found.")
        return found, f"policy definition '{found['name']}'", [found]

    def validate_policyassignments(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """The definition exists; parameters as declared; DINE/Modify (also inside an initiative) need an identity,
        and an identity needs a location."""
        props = body.get("properties") or {}
        def_id = props.get("policyDefinitionId")
        if not def_id:
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The request content was invalid and could not be "
                "deserialized: 'Required property 'policyDefinitionId' not "
                "found in JSON. Path 'properties'.'",
            )
        found, target, members = self._assigned(arm, str(def_id))
        defined_at = ids.key(str(def_id)).split("/providers/microsoft.authorization/")[0]
        if defined_at and defined_at not in arm.state.scopes_above(ap.scope):
            raise ArmError(
                400,
                "InvalidCreatePolicyAssignmentRequest",
                f"The policy definition specified in policy assignment '{ap.name}' is out of scope. Policy definitions should be specified only at or above the policy assignment scope. If the management groups hierarchy changed recently or if assigning a management group policy to new subscription, please allow up to 30 minutes for the hierarchy changes to apply and try again.",
            )
        declared = found["properties"].get("parameters") or {}
        check_parameters(props.get("parameters") or {}, declared, f"policy assignment '{ap.name}'", target)
        effects = {e for e in (remediating_effect(m) for m in members) if e}
        identity_type = str((body.get("identity") or {}).get("type", "None")).lower()
        if effects and identity_type not in ("systemassigned", "userassigned"):
            what = (
                "'Modify' policy definitions"
                if effects == {"Modify"}
                else "'DeployIfNotExists' policy "
                "definitions or policy definitions that contain a deployment in the effect details"
            )
            raise ArmError(
                400,
                "ResourceIdentityRequired",
                f"The policy assignment '{ap.name}' request is invalid. Policy assignments must include "
                f"a 'managed identity' when assigning {what}.",
            )
        if identity_type != "none":
            if not body.get("location"):
                raise ArmError(
                    400,
                    "LocationRequired",
                    "The location property is required for a policy assignment with a managed identity.",
                )
            rules.check_location(body["location"], type_name="Microsoft.Authorization/policyAssignments")

    @staticmethod
    def _drop_identity(arm: Arm, obj: dict | None) -> None:
        """Remove the service principal of an assignment's system-assigned identity from the directory."""
        identity = (obj or {}).get("identity") or {}
        if str(identity.get("type", "")).lower() == "systemassigned" and identity.get("principalId"):
            arm.state.service_principals.pop(identity["principalId"], None)

    def on_policyassignments(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """Defaults Azure fills in; a system-assigned identity is a service principal in the directory while the
        assignment (with that identity) exists."""
        single_write = req.method in ("PUT", "DELETE") and not ap.is_collection
        if single_write and (locked := arm.check_locks(ap.path, req.method)):
            return locked
        if req.method == "PUT":
            body = req.json()
            props = body.setdefault("properties", {})
            props.setdefault("scope", ap.scope)
            props.setdefault("enforcementMode", "Default")
            props.setdefault("notScopes", [])
            existing = arm.state.get(ap.path)
            props["instanceId"] = existing["properties"]["instanceId"] if existing else str(uuid.uuid4())
            if existing and existing.get("_evaluatedAt"):  # an update keeps the states Azure has (re-evaluated later)
                body["_evaluatedAt"] = existing["_evaluatedAt"]
            if body.get("location"):
                body["location"] = rules.check_location(body["location"], type_name=spec.type)
            identity = body.get("identity")
            old = (existing or {}).get("identity") or {}
            if identity and str(identity.get("type")).lower() == "systemassigned":
                if str(old.get("type", "")).lower() == "systemassigned" and old.get("principalId"):
                    identity.update(principalId=old["principalId"], tenantId=arm.state.tenant_id)
                else:
                    from . import graph

                    sp = graph.new_managed_identity(arm.state, ap.name, ids.normalise_path(ap.path))
                    identity.update(principalId=sp["id"], tenantId=arm.state.tenant_id)
                    body["_replication_left"] = arm.faults.faults.identity_replication
            else:
                self._drop_identity(arm, existing)
            stamp_metadata(props, existing, principal)
            return arm.put(req, ap, spec, existing, body=body)
        if req.method == "DELETE" and not ap.is_collection:
            self._drop_identity(arm, arm.state.get(ap.path))
            return None
        if ap.is_collection:
            expr = req.query.get("$filter") or ""
            above = set(arm.state.scopes_above(ap.scope))
            below = "atscope()" not in expr.lower()

            def listed(o: dict) -> bool:
                scope = ids.key(o["properties"]["scope"])
                return scope in above or (below and scope.startswith(ids.key(ap.scope) + "/"))

            found = [o for o in arm.all_of_type(spec.type) if listed(o)]
            return arm.page(req, [arm.view(o) for o in found])
        return None


def stamp_metadata(props: dict, existing: dict | None, principal: str) -> None:
    """The metadata Azure Policy stamps on a custom definition, initiative or assignment: createdBy / createdOn at
    creation (kept on updates), updatedBy / updatedOn (null until the first update); the object id of the caller
    (policyAssignments.json, policyDefinitions.json `metadata`; e.g. the CreateOrUpdate examples' responses)."""
    from ..core.arm import now_iso

    given = props.get("metadata")
    given = given if isinstance(given, dict) else {}
    prior = ((existing or {}).get("properties") or {}).get("metadata") or {}
    now = now_iso()
    props["metadata"] = {
        **given,
        "createdBy": prior.get("createdBy", principal),
        "createdOn": prior.get("createdOn", now),
        "updatedBy": principal if existing else None,
        "updatedOn": now if existing else None,
    }


def validate_exemption(arm: Arm, ap: ids.ArmPath, body: dict) -> None:
    """An exemption names an existing assignment whose scope covers the exemption's, a category Azure knows, reference
    ids the assigned initiative holds, and an expiry that is a date."""
    from . import policy_compliance

    props = body.get("properties")
    if not isinstance(props, dict) or not props.get("policyAssignmentId"):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'Required property "
            "'policyAssignmentId' not found in JSON. Path 'properties'.'",
        )
    category = props.get("exemptionCategory")
    if category not in _CATEGORIES:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: 'Error converting value "
            f"\"{category}\" to type 'ExemptionCategory'. Path 'properties.exemptionCategory'.'",
        )
    assignment = arm.state.get(str(props["policyAssignmentId"]))
    if assignment is None or assignment.get("type", "").lower() != "microsoft.authorization/policyassignments":
        raise ArmError(
            400,
            "InvalidCreatePolicyExemptionRequest",
            f"The policy exemption '{ap.name}' create request is invalid. The policy assignment "
            f"'{props['policyAssignmentId']}' is not found.",
        )
    if str(props.get("assignmentScopeValidation", "Default")).lower() != "donotvalidate" and not (
        policy_compliance.covers({"properties": {"scope": assignment["properties"]["scope"]}}, ap.scope)
    ):
        raise ArmError(
            400,
            "InvalidCreatePolicyExemptionRequest",
            f"The policy exemption '{ap.name}' create request is invalid. The exemption scope '{ap.scope}' is not "
            f"at or under the policy assignment scope '{assignment['properties']['scope']}'.",
        )
    existing = arm.state.get(ap.path)
    if existing and ids.key(existing["properties"]["policyAssignmentId"]) != ids.key(str(props["policyAssignmentId"])):
        raise ArmError(
            400,
            "InvalidPolicyAssignmentIdUpdate",
            f"The policy exemption '{ap.name}' cannot change its policy assignment.",
        )
    refs = props.get("policyDefinitionReferenceIds") or []
    if refs and "/policysetdefinitions/" not in str(assignment["properties"]["policyDefinitionId"]).lower():
        raise ArmError(
            400,
            "InvalidCreatePolicyExemptionRequest",
            f"The policy exemption '{ap.name}' create request is invalid. The associated policy assignment is an "
            "assignment of a policy definition. The policy definition reference is only valid for policy "
            "assignments of policy set definitions.",
        )
    if refs:
        known = {m.reference_id.lower() for m in policy_compliance.members(arm, assignment)}
        unknown = [r for r in refs if str(r).lower() not in known]
        if unknown:
            raise ArmError(
                400,
                "InvalidPolicyDefinitionReference",
                f"The policy definition reference ids '{','.join(unknown)}' of the policy exemption '{ap.name}' are "
                f"not part of the policy assignment '{assignment['name']}'.",
            )
    if props.get("expiresOn"):
        from datetime import datetime

        try:
            datetime.fromisoformat(str(props["expiresOn"]).replace("Z", "+00:00"))
        except ValueError:
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: 'Could not convert string to "
                f"DateTime: {props['expiresOn']}. Path 'properties.expiresOn'.'",
            ) from None
