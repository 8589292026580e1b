"""Policy assignments at work: their members with effective parameters, compliance states of the tenant's resources,
exemptions, and the admission of writes (modify changes them, deny refuses them).

Sources: learn.microsoft.com/azure/governance/policy/concepts/assignment-structure (parameters, notScopes,
enforcementMode DoNotEnforce = effects not enforced, compliance still evaluated), .../definition-structure-basics
(mode Indexed: resource types that support tags and location; All: also resource groups and subscriptions),
.../effect-basics (order of evaluation: modify before deny), .../exemption-structure (policyAssignmentId,
policyDefinitionReferenceIds, expiresOn: an expired exemption no longer exempts), .../compliance-states,
troubleshoot/general (RequestDisallowedByPolicy: 403 naming the assignment and definition, additionalInfo of type
PolicyViolation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..core import ids
from ..core.http import ArmError
from . import policy_definitions as definitions
from . import policy_engine as engine

if TYPE_CHECKING:
    from ..core.arm import Arm

ASSIGNMENTS = "Microsoft.Authorization/policyAssignments"
EXEMPTIONS = "Microsoft.Authorization/policyExemptions"
#: Types policy never evaluates as resources (policy and RBAC objects, the tags proxy).
_NOT_EVALUATED = ("microsoft.authorization/", "microsoft.policyinsights/", "microsoft.resources/tags")
#: details.type names that stand for resources stored under another type here.
_RELATED = {"microsoft.recoveryservices/backupprotecteditems": "/protecteditems"}


@dataclass
class Member:
    """One policy an assignment applies, with its effective parameter values."""

    reference_id: str  # policyDefinitionReferenceId within the initiative ("" for a single definition)
    definition: dict
    parameters: dict[str, Any]
    set_id: str  # the initiative's id ("" for a single definition)

    @property
    def rule(self) -> dict:
        return (self.definition.get("properties") or {}).get("policyRule") or {}

    @property
    def mode(self) -> str:
        return str((self.definition.get("properties") or {}).get("mode") or "Indexed").lower()

    @property
    def evaluable(self) -> bool:
        """Built-ins reduced to their effect (no real rule in the data) are not evaluated."""
        return not definitions.is_reduced(self.definition)


def _values(given: dict | None) -> dict[str, Any]:
    return {k: (v.get("value") if isinstance(v, dict) else v) for k, v in (given or {}).items()}


def _defaults(declared: dict | None) -> dict[str, Any]:
    return {
        k: d.get("defaultValue") for k, d in (declared or {}).items() if isinstance(d, dict) and "defaultValue" in d
    }


def members(arm: Arm, assignment: dict) -> list[Member]:
    """The policies an assignment applies, each with the parameter values it gets."""
    props = assignment.get("properties") or {}
    def_id = str(props.get("policyDefinitionId", ""))
    given = _values(props.get("parameters"))
    if "/policysetdefinitions/" in def_id.lower():
        found = definitions.set_definition(arm, def_id)
        if found is None:
            return []
        set_params = {**_defaults(found["properties"].get("parameters")), **given}
        out = []
        for ref in found["properties"].get("policyDefinitions") or []:
            definition = definitions.definition(arm, ref["policyDefinitionId"])
            if definition is None:
                continue
            passed = {
                k: engine.expression(v, engine.Scope({}, set_params)) for k, v in _values(ref.get("parameters")).items()
            }
            params = {**_defaults(definition["properties"].get("parameters")), **passed}
            out.append(Member(ref.get("policyDefinitionReferenceId", ""), definition, params, found["id"]))
        return out
    definition = definitions.definition(arm, def_id)
    if definition is None:
        return []
    return [Member("", definition, {**_defaults(definition["properties"].get("parameters")), **given}, "")]


def _find(arm: Arm):
    def find(rtype: str) -> list[dict]:
        suffix = _RELATED.get(rtype)
        if suffix:
            ns = rtype.split("/")[0]
            return [
                arm.present(o)
                for o in arm.state.arm.values()
                if str(o.get("type", "")).lower().startswith(ns) and str(o.get("type", "")).lower().endswith(suffix)
            ]
        return [arm.present(o) for o in arm.all_of_type(rtype)]

    return find


def scope_for(arm: Arm, obj: dict, params: dict) -> engine.Scope:
    """The evaluation scope of a resource: its group and subscription as ARM stores them."""
    rid = str(obj.get("id", ""))
    sub = ids.subscription_of(rid)
    rg = ids.resource_group_of(rid)
    group = arm.state.get(f"/subscriptions/{sub}/resourcegroups/{rg}") if sub and rg else None
    subscription = arm.state.get(f"/subscriptions/{sub}") if sub else None
    return engine.Scope(obj, params, group, subscription, _find(arm))


def _kind(obj: dict) -> str:
    t = str(obj.get("type", "")).lower()
    if t == "microsoft.resources/subscriptions":
        return "subscription"
    if t == "microsoft.resources/resourcegroups":
        return "group"
    if any(t.startswith(p) for p in _NOT_EVALUATED) or "location" not in obj:
        return ""
    return "resource"


def in_mode(member: Member, obj: dict) -> bool:
    """Whether a definition's mode evaluates this object."""
    kind = _kind(obj)
    return kind == "resource" or (kind in ("subscription", "group") and member.mode == "all")


def covers(assignment: dict, rid: str) -> bool:
    """Whether a resource ID is within an assignment's scope and outside its notScopes."""
    props = assignment.get("properties") or {}
    key = ids.key(rid)
    scope = ids.key(props.get("scope", ""))
    if not (key == scope or key.startswith(scope + "/")):
        return False
    return not any(key == ids.key(n) or key.startswith(ids.key(n) + "/") for n in props.get("notScopes") or [])


def _expired(exemption: dict) -> bool:
    expires = (exemption.get("properties") or {}).get("expiresOn")
    if not expires:
        return False
    try:
        when = datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when <= datetime.now(timezone.utc)


def exemption_for(arm: Arm, assignment: dict, reference_id: str, rid: str) -> dict | None:
    """The exemption (not expired) that exempts a resource from one member of an assignment, if any."""
    key = ids.key(rid)
    for ex in arm.all_of_type(EXEMPTIONS):
        props = ex.get("properties") or {}
        if ids.key(props.get("policyAssignmentId", "")) != ids.key(assignment["id"]) or _expired(ex):
            continue
        scope = ids.key(ex["id"].split("/providers/Microsoft.Authorization/policyExemptions/")[0])
        if not (key == scope or key.startswith(scope + "/")):
            continue
        refs = [r.lower() for r in props.get("policyDefinitionReferenceIds") or []]
        if not refs or reference_id.lower() in refs:
            return ex
    return None


def _evaluated(arm: Arm, assignment: dict) -> list[dict]:
    """Every object an assignment evaluates."""
    return [o for o in list(arm.state.arm.values()) if _kind(o) and covers(assignment, o["id"])]


def states(arm: Arm, assignment: dict, within: str = "") -> list[dict]:
    """The latest policy states of an assignment's resources (within a scope if given), one per resource and member,
    as Policy Insights lists them."""
    out: list[dict] = []
    within_key = ids.key(within) if within else ""
    objects = [o for o in _evaluated(arm, assignment) if not within_key or ids.key(o["id"]).startswith(within_key)]
    for member in members(arm, assignment):
        if not member.evaluable:
            continue
        for obj in objects:
            if not in_mode(member, obj):
                continue
            scope = scope_for(arm, obj, member.parameters)
            try:
                if not engine.applicable(member.rule.get("if") or {}, obj, scope):
                    continue
                effect, bad = engine.verdict(member.rule, scope)
            except engine.Unsupported:
                effect, bad = "unknown", False
                state = "Unknown"
            else:
                if effect == "disabled":
                    continue
                state = "NonCompliant" if bad else "Compliant"
            if exemption_for(arm, assignment, member.reference_id, obj["id"]):
                state = "Exempt"
            out.append(
                {
                    "resourceId": obj["id"],
                    "resourceType": obj.get("type"),
                    "resourceLocation": obj.get("location"),
                    "resourceGroup": ids.resource_group_of(obj["id"]) or "",
                    "subscriptionId": ids.subscription_of(obj["id"]),
                    "policyAssignmentId": assignment["id"],
                    "policyAssignmentName": assignment["name"],
                    "policyAssignmentScope": assignment["properties"].get("scope"),
                    "policyDefinitionId": member.definition["id"],
                    "policyDefinitionName": member.definition["name"],
                    "policyDefinitionAction": effect,
                    "policyDefinitionReferenceId": member.reference_id,
                    "policySetDefinitionId": member.set_id,
                    "complianceState": state,
                    "isCompliant": state == "Compliant",
                }
            )
    return out


def assignments_over(arm: Arm, rid: str) -> list[dict]:
    """Policy assignments whose scope covers a resource ID."""
    return [a for a in arm.all_of_type(ASSIGNMENTS) if covers(a, rid)]


def admit(arm: Arm, before: dict | None, after: dict) -> dict:
    """A write as the enforced assignments over it leave it: modify effects change it first, then a deny effect whose
    condition it meets refuses it with 403 RequestDisallowedByPolicy (unless an exemption covers it)."""
    if not _kind(after):
        return after
    enforced = [
        a
        for a in assignments_over(arm, after["id"])
        if str((a.get("properties") or {}).get("enforcementMode", "Default")).lower() == "default"
    ]
    if not enforced:
        return after
    pairs = [(a, m) for a in enforced for m in members(arm, a) if m.evaluable and in_mode(m, after)]
    for assignment, member in pairs:
        scope = scope_for(arm, after, member.parameters)
        try:
            if (
                engine.effect_of(member.rule, scope) == "modify"
                and engine.condition(member.rule.get("if") or {}, scope)
                and not exemption_for(arm, assignment, member.reference_id, after["id"])
            ):
                after = engine.modify(after, member.rule["then"].get("details") or {}, scope)
        except engine.Unsupported:
            continue
    violations = []
    for assignment, member in pairs:
        scope = scope_for(arm, after, member.parameters)
        try:
            denied = engine.effect_of(member.rule, scope) == "deny" and engine.condition(
                member.rule.get("if") or {}, scope
            )
        except engine.Unsupported:
            continue
        if denied and not exemption_for(arm, assignment, member.reference_id, after["id"]):
            violations.append((assignment, member))
    if violations:
        raise _disallowed(after, violations)
    return after


def _disallowed(obj: dict, violations: list[tuple[dict, Member]]) -> ArmError:
    identifiers = [  # the message names them by display name, additionalInfo by ARM name
        {
            "policyAssignment": {"name": a["properties"].get("displayName") or a["name"], "id": a["id"]},
            "policyDefinition": {
                "name": m.definition["properties"].get("displayName") or m.definition["name"],
                "id": m.definition["id"],
            },
            **({"policySetDefinition": {"name": m.set_id.split("/")[-1], "id": m.set_id}} if m.set_id else {}),
        }
        for a, m in violations
    ]
    info = [
        {
            "type": "PolicyViolation",
            "info": {
                "policyDefinitionDisplayName": m.definition["properties"].get("displayName"),
                "policyDefinitionId": m.definition["id"],
                "policyDefinitionName": m.definition["name"],
                "policyDefinitionEffect": "deny",
                "policyAssignmentId": a["id"],
                "policyAssignmentName": a["name"],
                "policyAssignmentDisplayName": a["properties"].get("displayName"),
                "policyAssignmentScope": a["properties"].get("scope"),
                "policyAssignmentParameters": a["properties"].get("parameters") or {},
                "policySetDefinitionId": m.set_id or None,
                "policyDefinitionReferenceId": m.reference_id or None,
                "policyExemptionIds": [],
            },
        }
        for a, m in violations
    ]
    return ArmError(
        403,
        "RequestDisallowedByPolicy",
        f"Resource '{obj.get('name')}' was disallowed by policy. Policy identifiers: "
        f"'{json.dumps(identifiers, separators=(',', ':'))}'.",
        additional_info=info,
    )
