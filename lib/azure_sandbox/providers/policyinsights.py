"""Microsoft.PolicyInsights: policy states (evaluation on request, computed compliance), remediation tasks.

Spec: specification/policyinsights/resource-manager/Microsoft.PolicyInsights/stable/2024-10-01/policyStates.json
(triggerEvaluation: 202 + Location, then 200; summarize; queryResults) and remediations.json (2021-10-01: PUT at
subscription / resource group scope, provisioningState Accepted → Evaluating → Succeeded | Failed, deploymentStatus,
listDeployments, cancel). Compliance is computed by the policy engine (policy_compliance) from the tenant as it is;
an assignment shows states only after an evaluation covered it (Azure evaluates a new assignment within about 30
minutes or on trigger). A remediation of a modify member applies its operations to each non-compliant resource as
the assignment's identity: without the roles the definition names, that deployment fails (AuthorizationFailed); a
deny policy can refuse it as it refuses any write. deployIfNotExists deployments are not emulated (they fail, named).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from ..core import ids, rules
from ..core.http import ArmError, Request, Response, arm_error
from ..core.provider import Provider, Route, TypeSpec
from . import policy_compliance as compliance
from . import policy_engine as engine

if TYPE_CHECKING:
    from ..core.arm import Arm

API = ("2024-10-01", "2019-10-01", "2022-09-01")
REMEDIATION_API = ("2024-10-01", "2021-10-01", "2019-07-01")
_SCOPE = r"(?P<scope>/subscriptions/[^/]+(?:/resourcegroups/[^/]+)?)"
# a query scoped under one assignment, definition or initiative of the scope (PolicyStates_*ForSubscriptionLevel-
# PolicyAssignment, *ForResourceGroupLevelPolicyAssignment, *ForPolicyDefinition, *ForPolicySetDefinition in
# specification/policyinsights/resource-manager/Microsoft.PolicyInsights/stable/2019-10-01/policyStates.json)
_CHILD = (
    r"(?:/providers/microsoft\.authorization/(?P<kind>policyassignments|policydefinitions|policysetdefinitions)"
    r"/(?P<child>[^/]+))?"
)
_DISCOVERY = ("ExistingNonCompliant", "ReEvaluateCompliance")


def _now() -> str:
    from ..core.arm import now_iso

    return now_iso()


def evaluated(assignment: dict) -> bool:
    """Whether an evaluation has covered the assignment (else it has no states yet)."""
    return bool(assignment.get("_evaluatedAt"))


def latest_states(arm: Arm, scope: str) -> list[dict]:
    """The latest states of the evaluated assignments over or within a scope, for the resources within it."""
    key = ids.key(scope)
    found = []
    for a in arm.all_of_type(compliance.ASSIGNMENTS):
        a_scope = ids.key(a["properties"]["scope"])
        if not evaluated(a) or not (key.startswith(a_scope) or a_scope.startswith(key + "/")):
            continue
        found += compliance.states(arm, a, within=scope)
    return found


def _details(states: list[dict], key: str = "resourceId") -> list[dict]:
    counts: dict[str, set] = {}
    for s in states:
        counts.setdefault(s["complianceState"].lower(), set()).add(s[key])
    return [{"complianceState": k, "count": len(v)} for k, v in sorted(counts.items())]


def _results(states: list[dict], policies: bool = True) -> dict:
    bad = [s for s in states if s["complianceState"] == "NonCompliant"]
    out = {
        "nonCompliantResources": len({s["resourceId"].lower() for s in bad}),
        "resourceDetails": _details(states),
    }
    if policies:
        out["nonCompliantPolicies"] = len({(s["policyAssignmentId"], s["policyDefinitionReferenceId"]) for s in bad})
        pairs = [{**s, "_p": s["policyAssignmentId"] + "|" + s["policyDefinitionReferenceId"]} for s in states]
        out["policyDetails"] = _details(pairs, "_p")
        out["policyGroupDetails"] = []
    return out


class PolicyInsights(Provider):
    """Policy states and remediations."""

    namespace = "Microsoft.PolicyInsights"
    types = (TypeSpec("Microsoft.PolicyInsights/remediations", REMEDIATION_API, tracked=False, patch=False),)
    routes = (
        Route(
            _SCOPE + _CHILD + r"/providers/microsoft\.policyinsights/policystates/latest/summarize",
            "summarize",
            API,
            "policyStates",
            ("POST",),
            namespace_error=True,
            type="Microsoft.PolicyInsights/policyStates",
        ),
        Route(
            _SCOPE + _CHILD + r"/providers/microsoft\.policyinsights/policystates/latest/queryresults",
            "query_results",
            API,
            "policyStates",
            ("POST",),
            namespace_error=True,
            type="Microsoft.PolicyInsights/policyStates",
        ),
        Route(
            _SCOPE + r"/providers/microsoft\.policyinsights/policystates/latest/triggerevaluation",
            "trigger",
            API,
            "policyStates",
            ("POST",),
            namespace_error=True,
            type="Microsoft.PolicyInsights/policyStates",
        ),
        Route(
            _SCOPE
            + r"/providers/microsoft\.policyinsights/remediations/(?P<name>[^/]+)/(?P<action>listdeployments|cancel)",
            "remediation_action",
            REMEDIATION_API,
            "remediations",
            ("POST",),
            namespace_error=True,
            type="Microsoft.PolicyInsights/remediations",
        ),
    )

    # ------------------------------------------------------------------ states
    def _scope(self, arm: Arm, principal: str, m: re.Match[str], path: str, action: str) -> str:
        scope = path[: len(m.group("scope"))]
        if denied := arm.authorize(principal, scope, action):
            raise ArmError(denied.status, denied.body["error"]["code"], denied.body["error"]["message"])  # type: ignore[index]
        return scope

    def trigger(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Start an evaluation of the scope: 202 with Location; when it ends, the assignments over and within the scope
        have states."""
        scope = self._scope(arm, principal, m, path, "Microsoft.PolicyInsights/policyStates/triggerEvaluation/action")
        key = ids.key(scope)

        def done() -> None:
            stamp = _now()
            for a in arm.all_of_type(compliance.ASSIGNMENTS):
                a_scope = ids.key(a["properties"]["scope"])
                if key.startswith(a_scope) or a_scope.startswith(key + "/"):
                    a["_evaluatedAt"] = stamp

        headers, _ = arm.start_lro(req, ids.subscription_of(scope) or "", "location", done, "policyStates", scope)
        return Response(202, None, headers)

    def summarize(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Compliance summary of the evaluated assignments at a scope, computed from the tenant."""
        scope = self._scope(arm, principal, m, path, "Microsoft.PolicyInsights/policyStates/summarize/read")
        states = _narrow(latest_states(arm, scope), m)
        by_assignment: dict[str, list[dict]] = {}
        for s in states:
            by_assignment.setdefault(s["policyAssignmentId"], []).append(s)
        assignments = []
        for aid, group in by_assignment.items():
            by_member: dict[str, list[dict]] = {}
            for s in group:
                by_member.setdefault(s["policyDefinitionReferenceId"] + "|" + s["policyDefinitionId"], []).append(s)
            assignments.append(
                {
                    "policyAssignmentId": aid,
                    "policySetDefinitionId": group[0]["policySetDefinitionId"],
                    "results": _results(group),
                    "policyDefinitions": [
                        {
                            "policyDefinitionId": ms[0]["policyDefinitionId"],
                            "policyDefinitionReferenceId": ms[0]["policyDefinitionReferenceId"],
                            "policyDefinitionGroupNames": [],
                            "effect": ms[0]["policyDefinitionAction"],
                            "results": _results(ms, policies=False),
                        }
                        for ms in by_member.values()
                    ],
                    "policyGroups": [],
                }
            )
        return Response(
            200,
            {
                "@odata.context": f"{req.base_url}/$metadata#summary",
                "@odata.count": 1,
                "value": [
                    {
                        "@odata.id": None,
                        "@odata.context": f"{req.base_url}/$metadata#summary/$entity",
                        "results": {
                            "queryResultsUri": f"{req.base_url}{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
                            **_results(states),
                        },
                        "policyAssignments": assignments,
                    }
                ],
            },
        )

    def query_results(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """The latest states at a scope, filtered by `$filter` (eq terms joined by `and`)."""
        scope = self._scope(arm, principal, m, path, "Microsoft.PolicyInsights/policyStates/queryResults/read")
        states = _narrow(latest_states(arm, scope), m)
        expr = req.query.get("$filter") or ""
        for term in [t for t in re.split(r"\s+and\s+", expr, flags=re.IGNORECASE) if t.strip()]:
            tm = re.fullmatch(r"\s*(\w+)\s+eq\s+'([^']*)'\s*", term)
            if not tm:
                raise ArmError(400, "InvalidFilterInQueryString", f"The filter expression '{expr}' is invalid.")
            prop, value = tm.group(1), tm.group(2).lower()
            states = [
                s
                for s in states
                if str(next((v for k, v in s.items() if k.lower() == prop.lower()), "")).lower() == value
            ]
        for s in states:
            s["timestamp"] = _now()
        return Response(
            200,
            {"@odata.context": f"{req.base_url}/$metadata#latest", "@odata.count": len(states), "value": states},
        )

    # ------------------------------------------------------------------ remediations
    def validate_remediations(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, body: dict) -> None:
        """The assignment exists over the scope; an initiative's member is named and remediable."""
        props = body.get("properties") or {}
        aid = props.get("policyAssignmentId")
        assignment = arm.state.get(str(aid)) if aid else None
        if assignment is None:
            raise ArmError(
                400 if not aid else 404,
                "InvalidCreateRemediationRequest" if not aid else "PolicyAssignmentNotFound",
                "The remediation must name a policy assignment (properties.policyAssignmentId)."
                if not aid
                else f"The policy assignment '{str(aid).split('/')[-1]}' is not found.",
            )
        mode = props.get("resourceDiscoveryMode", "ExistingNonCompliant")
        if mode not in _DISCOVERY:
            raise ArmError(
                400,
                "InvalidRequestContent",
                f'The request content was invalid and could not be deserialized: \'Error converting value "{mode}" '
                "to type 'ResourceDiscoveryMode'. Path 'properties.resourceDiscoveryMode'.'",
            )
        members = compliance.members(arm, assignment)
        ref = str(props.get("policyDefinitionReferenceId") or "")
        is_set = "/policysetdefinitions/" in str(assignment["properties"]["policyDefinitionId"]).lower()
        if is_set and not ref:
            raise ArmError(
                400,
                "InvalidCreateRemediationRequest",
                "A policy definition reference ID is required when remediating a policy set (initiative) assignment.",
            )
        member = next((x for x in members if x.reference_id.lower() == ref.lower()), None) if is_set else members[0]
        if member is None:
            raise ArmError(
                400,
                "InvalidCreateRemediationRequest",
                f"The policy definition reference ID '{ref}' is not part of the policy set of assignment "
                f"'{assignment['name']}'.",
            )
        from .policy import remediating_effect

        if remediating_effect(member.definition) is None:
            raise ArmError(
                400,
                "InvalidCreateRemediationRequest",
                f"The policy definition '{member.definition['name']}' does not have a deployIfNotExists or modify "
                "effect; only such policies can be remediated.",
            )
        props["resourceDiscoveryMode"] = mode

    def on_remediations(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ) -> Response | None:
        """A new remediation is Accepted, runs while it is read, and ends Succeeded or Failed with its deployments."""
        if req.method == "PUT":
            existing = arm.state.get(ap.path)
            if existing and existing["properties"]["provisioningState"] in ("Accepted", "Evaluating", "Running"):
                return arm_error(
                    400,
                    "InvalidUpdateRemediationRequest",
                    f"The remediation '{ap.name}' is still running; it cannot be changed until it completes.",
                )
            body = req.json()
            props = body.setdefault("properties", {})
            stamp = _now()
            props.update(
                provisioningState="Accepted",
                createdOn=stamp,
                lastUpdatedOn=stamp,
                correlationId=str(uuid.uuid4()),
                deploymentStatus={"totalDeployments": 0, "successfulDeployments": 0, "failedDeployments": 0},
                statusMessage="",
            )
            props.setdefault("policyDefinitionReferenceId", "")
            props.setdefault("filters", {"locations": []})
            answer = arm.put(req, ap, spec, None, body=body)
            stored = arm.state.get(ap.path)
            assert stored is not None
            stored["_polls"] = arm.faults.faults.lro_polls + 1
            stored["_deployments"] = []
            answer.status = 201 if existing is None else 200
            return answer
        if req.method == "GET" and not ap.is_collection:
            stored = arm.state.get(ap.path)
            if stored is not None:
                self._progress(arm, stored)
            return None
        if req.method == "GET":
            for stored in arm.state.children(ap.path, spec.type):
                self._progress(arm, stored)
        return None

    def _progress(self, arm: Arm, rem: dict) -> None:
        props = rem["properties"]
        if props["provisioningState"] not in ("Accepted", "Evaluating", "Running"):
            return
        rem["_polls"] = rem.get("_polls", 1) - 1
        if rem["_polls"] > 0:
            props["provisioningState"] = "Evaluating" if props["provisioningState"] == "Accepted" else "Running"
            props["lastUpdatedOn"] = _now()
            return
        self._run(arm, rem)

    def _run(self, arm: Arm, rem: dict) -> None:
        """Carry out the remediation: each non-compliant resource of the member gets the modify operations."""
        props = rem["properties"]
        scope = rem["id"].split("/providers/Microsoft.PolicyInsights/remediations/")[0]
        assignment = arm.state.get(props["policyAssignmentId"])
        deployments: list[dict] = []
        if assignment is not None:
            if props.get("resourceDiscoveryMode") == "ReEvaluateCompliance":  # evaluates before it remediates
                assignment["_evaluatedAt"] = _now()
            targets = (
                [
                    s
                    for s in compliance.states(arm, assignment, within=scope)
                    if s["complianceState"] == "NonCompliant"
                    and s["policyDefinitionReferenceId"].lower()
                    == str(props.get("policyDefinitionReferenceId") or "").lower()
                ]
                if evaluated(assignment)
                else []
            )
            locations = [rules.check_location(loc) for loc in (props.get("filters") or {}).get("locations") or []]
            if locations:
                targets = [t for t in targets if str(t.get("resourceLocation") or "").lower() in locations]
            if props.get("resourceCount"):
                targets = targets[: int(props["resourceCount"])]
            member = next(
                (
                    x
                    for x in compliance.members(arm, assignment)
                    if x.reference_id.lower() == str(props.get("policyDefinitionReferenceId") or "").lower()
                ),
                None,
            )
            for t in targets:
                deployments.append(self._deploy(arm, assignment, member, t["resourceId"]))
        ok = sum(1 for d in deployments if d["status"] == "Succeeded")
        props["deploymentStatus"] = {
            "totalDeployments": len(deployments),
            "successfulDeployments": ok,
            "failedDeployments": len(deployments) - ok,
        }
        props["provisioningState"] = "Succeeded" if ok == len(deployments) else "Failed"
        props["lastUpdatedOn"] = _now()
        rem["_deployments"] = deployments

    def _deploy(self, arm: Arm, assignment: dict, member: compliance.Member | None, rid: str) -> dict:
        stamp = _now()
        record = {
            "remediatedResourceId": rid,
            "deploymentId": f"{rid.split('/providers/')[0]}/providers/Microsoft.Resources/deployments/PolicyDeployment_{uuid.uuid4().hex[:20]}",
            "status": "Succeeded",
            "resourceLocation": (arm.state.get(rid) or {}).get("location"),
            "createdOn": stamp,
            "lastUpdatedOn": stamp,
        }
        target = arm.state.get(rid)
        if member is None or target is None:
            return {
                **record,
                "status": "Failed",
                "error": {"code": "ResourceNotFound", "message": f"The resource '{rid}' was not found."},
            }
        effect = engine.effect_of(member.rule, compliance.scope_for(arm, target, member.parameters))
        if effect != "modify":
            return {
                **record,
                "status": "Failed",
                "error": {
                    "code": "NotEmulated",
                    "message": "deployIfNotExists deployments are not emulated by the sandbox.",
                },
            }
        principal = ((assignment.get("identity") or {}).get("principalId")) or ""
        details = member.rule["then"].get("details") or {}
        only_tags = all(
            str(engine.expression(o.get("field"), compliance.scope_for(arm, target, member.parameters)))
            .lower()
            .startswith("tags")
            for o in details.get("operations") or []
        )
        action = "Microsoft.Resources/tags/write" if only_tags else f"{target['type']}/write"
        if not principal or not arm.state.allowed(principal, rid, action):
            return {
                **record,
                "status": "Failed",
                "error": {
                    "code": "AuthorizationFailed",
                    "message": f"The client '{principal}' with object id '{principal}' does not have authorization to perform action '{action}' over scope '{rid}' or the scope is invalid.",
                },
            }
        changed = engine.modify(target, details, compliance.scope_for(arm, target, member.parameters))
        try:
            changed = arm.admit(target, changed)
        except ArmError as exc:
            return {**record, "status": "Failed", "error": {"code": exc.code, "message": exc.message}}
        target.clear()
        target.update(changed)
        return record

    def remediation_action(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """listDeployments: the deployments of a remediation; cancel: stop a running one."""
        scope = path[: len(m.group("scope"))]
        rid = f"{scope}/providers/Microsoft.PolicyInsights/remediations/{path.split('/')[-2]}"
        action = "read" if m.group("action") == "listdeployments" else "cancel/action"
        if denied := arm.authorize(principal, scope, f"Microsoft.PolicyInsights/remediations/{action}"):
            return denied
        rem = arm.state.get(rid)
        if rem is None:
            return arm_error(404, "RemediationNotFound", f"The remediation '{path.split('/')[-2]}' could not be found.")
        if m.group("action") == "cancel":
            if rem["properties"]["provisioningState"] in ("Accepted", "Evaluating", "Running"):
                rem["properties"]["provisioningState"] = "Cancelled"
            return Response(200, arm.view(rem))
        self._progress(arm, rem)
        return arm.page(req, list(rem.get("_deployments") or []))


def _narrow(states: list[dict], m: re.Match[str]) -> list[dict]:
    """The states of the one assignment, definition or initiative a query is scoped under (all when none is)."""
    kind, child = m.group("kind"), m.group("child")
    if not kind:
        return states
    field = {
        "policyassignments": "policyAssignmentId",
        "policydefinitions": "policyDefinitionId",
        "policysetdefinitions": "policySetDefinitionId",
    }[kind]
    return [s for s in states if str(s.get(field) or "").rstrip("/").rsplit("/", 1)[-1].lower() == child.lower()]
