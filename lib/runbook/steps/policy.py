"""Stage 3 (Premium, Full Stack): the MSP Azure Policy baseline, deployed, remediated and proven.

The baseline is data (lib/runbook/data/policy_baseline.yml: built-in members per tier, their parameters and
non-compliance messages, a version). Per subscription the step ensures, as a table of desired resources:
- the initiative (policy set definition `intercept-baseline` at the subscription: a Lighthouse delegation reaches no
  management group), its metadata carrying the baseline version and tier;
- the assignment with a system-assigned identity, a location, the customer's parameter values, one non-compliance
  message per member and the baseline version in its metadata (a new version plans an update);
- the exemptions agreed in `policy.exemptions`, each with its owner, ticket and expiry in its metadata.
Beyond the table:
- the identity gets the roles the modify / deployIfNotExists members name (`roleDefinitionIds`, read from the
  member definitions), at the subscription; where the runbook acts through Lighthouse the role assignment names the
  assignment in `delegatedManagedIdentityResourceId`; a new identity not yet replicated (PrincipalNotFound) is
  retried;
- compliance: Azure's scan is triggered, then one remediation task per modify / deployIfNotExists member with
  non-compliant resources; the step waits for them and reads the compliance summary back. The item is fulfilled when
  everything is in place and nothing remediable is non-compliant; its table shows compliant / non-compliant /
  exempt counts per policy.
- exemptions that expired, and exemptions on the baseline's assignment that no parameters file owns, keep the item
  open, named.
Policy Insights and exemptions are called through the SDK pipeline (`send_request`): azure-mgmt-policyinsights lags
the REST API and azure-mgmt-resource-policy has no exemptions.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from ..customer.params import SAFE_LOADER, Parameters
from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, Verdict, follow_operation
from .desired import Desired, DesiredResourcesStep

API_POLICY = "2023-04-01"
API_EXEMPTION = "2022-07-01-preview"
API_ROLES = "2022-04-01"
API_STATES = "2019-10-01"
API_REMEDIATION = "2021-10-01"
BASELINE_FILE = Path(__file__).resolve().parent.parent / "data" / "policy_baseline.yml"
_DEF = "/providers/Microsoft.Authorization/policyDefinitions/"
KINDS = ("policy initiative", "policy assignment", "policy exemption")
REMEDIABLE = {"modify", "deployifnotexists"}
_RUNNING = {"accepted", "evaluating", "running", "cancelling"}


@dataclass(frozen=True)
class Member:
    """One built-in policy of the baseline."""

    reference: str
    definition: str  # built-in GUID
    tiers: tuple[str, ...]
    parameters: dict[str, Any] = field(hash=False, compare=False)
    message: str = ""


@dataclass(frozen=True)
class Baseline:
    """The MSP baseline as the data file defines it."""

    name: str
    display_name: str
    description: str
    category: str
    version: str
    members: tuple[Member, ...]

    def for_tier(self, tier: str) -> list[Member]:
        """The members a tier gets."""
        return [m for m in self.members if tier in m.tiers]


@lru_cache(maxsize=4)
def load_baseline(path: Path = BASELINE_FILE) -> Baseline:
    """The baseline data file, checked."""
    data = yaml.load(path.read_text(), Loader=SAFE_LOADER)
    members = tuple(
        Member(
            m["reference"],
            str(m["definition"]).lower(),
            tuple(m.get("tiers") or ()),
            dict(m.get("parameters") or {}),
            str(m.get("message") or ""),
        )
        for m in data["members"]
    )
    refs = [m.reference.lower() for m in members]
    if len(set(refs)) != len(refs):
        raise ValueError(f"{path}: a member reference is listed twice")
    return Baseline(
        data["name"], data["displayName"], data["description"], data["category"], str(data["version"]), members
    )


def resolve(value: Any, params: Parameters) -> Any:
    """A member parameter value with `{a.b}` (the whole string) taken from the customer's parameters."""
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        node: Any = params
        for part in value[1:-1].split("."):
            node = getattr(node, part)
        return list(node) if isinstance(node, (list, tuple)) else node
    return value


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "String"


def remediation_name(reference: str) -> str:
    """The fixed name of a member's remediation task (a re-run replaces the finished one)."""
    return f"intercept-baseline-{reference.lower()}"


class PolicyBaseline(DesiredResourcesStep):
    """The baseline initiative, assignment and exemptions per subscription, then roles, remediation, compliance."""

    item_id = "s3-azure-policy"

    # ------------------------------------------------------------------ the table
    def baseline(self) -> Baseline:
        return load_baseline()

    def set_id(self, sub: str) -> str:
        return f"/subscriptions/{sub}/providers/Microsoft.Authorization/policySetDefinitions/{self.baseline().name}"

    def assignment_id(self, sub: str) -> str:
        return f"/subscriptions/{sub}/providers/Microsoft.Authorization/policyAssignments/{self.baseline().name}"

    def values(self, ctx: Context) -> dict[str, Any]:
        """The initiative's parameter values for this customer: `<reference>_<parameter>`."""
        return {
            f"{m.reference}_{k}": resolve(v, ctx.params)
            for m in self.baseline().for_tier(ctx.params.tier)
            for k, v in m.parameters.items()
        }

    def set_body(self, ctx: Context) -> dict[str, Any]:
        b = self.baseline()
        values = self.values(ctx)
        members = b.for_tier(ctx.params.tier)
        return {
            "properties": {
                "displayName": b.display_name,
                "description": b.description,
                "metadata": {"category": b.category, "version": b.version, "tier": ctx.params.tier},
                "parameters": {name: {"type": _type_of(v)} for name, v in values.items()},
                "policyDefinitions": [
                    {
                        "policyDefinitionReferenceId": m.reference,
                        "policyDefinitionId": _DEF + m.definition,
                        "parameters": {k: {"value": f"[parameters('{m.reference}_{k}')]"} for k in m.parameters},
                    }
                    for m in members
                ],
            }
        }

    def assignment_body(self, ctx: Context, sub: str) -> dict[str, Any]:
        b = self.baseline()
        return {
            "location": ctx.params.policy.location,
            "identity": {"type": "SystemAssigned"},
            "properties": {
                "displayName": b.display_name,
                "description": b.description,
                "policyDefinitionId": self.set_id(sub),
                "parameters": {k: {"value": v} for k, v in self.values(ctx).items()},
                "enforcementMode": "Default",
                "nonComplianceMessages": [
                    {"message": m.message, "policyDefinitionReferenceId": m.reference}
                    for m in b.for_tier(ctx.params.tier)
                    if m.message
                ],
                "metadata": {"baselineVersion": b.version, "assignedBy": f"{ctx.params.msp.name} runbook"},
            },
        }

    def desired(self, ctx: Context, unreadable: list[ScopeFailure]) -> list[Desired]:
        rows = []
        for sub in ctx.params.subscription_ids:
            rows.append(
                Desired(
                    sub,
                    "policy initiative",
                    self.set_id(sub),
                    API_POLICY,
                    self.set_body(ctx),
                    (
                        "properties.metadata.version",
                        "properties.metadata.tier",
                        "properties.policyDefinitions[policyDefinitionReferenceId,policyDefinitionId]",
                    ),
                    f"baseline {self.baseline().version}",
                )
            )
            rows.append(
                Desired(
                    sub,
                    "policy assignment",
                    self.assignment_id(sub),
                    API_POLICY,
                    self.assignment_body(ctx, sub),
                    (
                        "properties.metadata.baselineVersion",
                        "properties.policyDefinitionId",
                        "properties.parameters",
                        "properties.enforcementMode",
                        "identity.type",
                    ),
                    f"/subscriptions/{sub}",
                    preserve=("identity",),
                )
            )
        for e in ctx.params.policy.exemptions:
            sub = e.scope.split("/")[2]
            body = {
                "properties": {
                    "policyAssignmentId": self.assignment_id(sub),
                    "policyDefinitionReferenceIds": list(e.policies),
                    "exemptionCategory": e.category,
                    "expiresOn": f"{e.expires.isoformat()}T23:59:59Z",
                    "displayName": e.name,
                    "description": e.reason,
                    "metadata": {"owner": e.owner, "ticket": e.ticket, "managedBy": f"{ctx.params.msp.name} runbook"},
                }
            }
            rows.append(
                Desired(
                    sub,
                    "policy exemption",
                    f"{e.scope}/providers/Microsoft.Authorization/policyExemptions/{e.name}",
                    API_EXEMPTION,
                    body,
                    (
                        "properties.exemptionCategory",
                        "properties.expiresOn",
                        "properties.policyDefinitionReferenceIds",
                        "properties.metadata.owner",
                        "properties.metadata.ticket",
                    ),
                    e.scope,
                )
            )
        return rows

    # ------------------------------------------------------------------ beyond the table
    def call(self, ctx: Context, sub: str, method: str, url: str, body: Any = None) -> Any:
        """One REST call through the SDK's pipeline; the answer's JSON (None for an empty body, 404 as None)."""
        client = ctx.clients.resource(sub)
        req = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
        resp = client.send_request(req)
        if resp.status_code == 404 and method == "GET":
            return None
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def member_rules(self, ctx: Context) -> dict[str, dict]:
        """The published rule of each member (from Azure: effect, roleDefinitionIds), by reference."""
        client = ctx.clients.policy(ctx.params.subscription_ids[0])
        out = {}
        for m in self.baseline().for_tier(ctx.params.tier):
            found = client.policy_definitions.get_built_in(m.definition)
            out[m.reference] = {"rule": found.policy_rule or {}, "parameters": found.parameters or {}}
        return out

    def remediable(self, ctx: Context, rules: dict[str, dict]) -> dict[str, list[str]]:
        """Members whose effect (as this customer's values pick it) can change resources, and the role GUIDs each
        asks for its identity."""
        values = self.values(ctx)
        out: dict[str, list[str]] = {}
        for ref, found in rules.items():
            then = (found["rule"] or {}).get("then") or {}
            effect = str(then.get("effect", ""))
            if effect.startswith("[parameters("):
                pname = effect.split("'")[1]
                default = getattr(found["parameters"].get(pname), "default_value", None)
                effect = str(values.get(f"{ref}_{pname}", default or ""))
            if effect.lower() in REMEDIABLE:
                roles = (then.get("details") or {}).get("roleDefinitionIds") or []
                out[ref] = [str(r).rstrip("/").split("/")[-1].lower() for r in roles]
        return out

    def through_lighthouse(self, ctx: Context, sub: str) -> bool:
        """Whether the runbook acts on the subscription through Lighthouse (no role of its own in the customer's
        RBAC there): then role assignments for a managed identity must name the resource holding it."""
        principal = ctx.params.msp.principal_id
        scope = f"/subscriptions/{sub}"
        for ra in ctx.clients.authorization(sub).role_assignments.list_for_scope(
            scope, filter=f"principalId eq '{principal}'"
        ):
            if str(ra.scope).lower() in (scope.lower(), "/"):
                return False
        return True

    def role_assignment_id(self, sub: str, role: str) -> str:
        name = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.assignment_id(sub).lower()}|{role}")
        return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{name}"

    def compliance(self, ctx: Context, sub: str) -> dict[str, dict] | None:
        """Per member reference: compliant / non-compliant / exempt counts of the baseline's assignment (None when no
        evaluation has covered it yet)."""
        url = f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights/policyStates/latest/summarize?api-version={API_STATES}"
        body = self.call(ctx, sub, "POST", url) or {}
        mine = self.assignment_id(sub).lower()
        for entry in (body.get("value") or [{}])[0].get("policyAssignments") or []:
            if str(entry.get("policyAssignmentId", "")).lower() != mine:
                continue
            out = {}
            for d in entry.get("policyDefinitions") or []:
                counts = {r["complianceState"].lower(): r["count"] for r in d["results"].get("resourceDetails") or []}
                out[d.get("policyDefinitionReferenceId") or ""] = {
                    "effect": d.get("effect", ""),
                    "compliant": counts.get("compliant", 0),
                    "non_compliant": counts.get("noncompliant", 0),
                    "exempt": counts.get("exempt", 0),
                }
            return out
        return None

    def remediation(self, ctx: Context, sub: str, ref: str) -> dict | None:
        url = f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights/remediations/{remediation_name(ref)}?api-version={API_REMEDIATION}"
        return self.call(ctx, sub, "GET", url)

    def inspect(self, ctx: Context) -> Observation:
        obs = super().inspect(ctx)
        failed = {f.subscription for f in obs.facts["failures"]}
        have = {w.id.lower(): h for w, h in obs.facts["pairs"]}
        rules = self.member_rules(ctx)
        remediable = self.remediable(ctx, rules)
        per_sub: dict[str, dict] = {}
        today = date.today()
        for sub in ctx.params.subscription_ids:
            if f"/subscriptions/{sub}".lower() in failed:
                continue
            try:
                per_sub[sub] = self.inspect_subscription(
                    ctx, sub, have.get(self.assignment_id(sub).lower()), remediable
                )
            except HttpResponseError as exc:  # one subscription does not sink the others
                obs.facts["failures"].append(ScopeFailure(f"/subscriptions/{sub}", self.explain(exc)))
                continue
            facts = per_sub[sub]
            for ref, counts in (facts["compliance"] or {}).items():
                obs.rows.append(
                    {
                        "subscription": sub,
                        "kind": "policy compliance",
                        "name": ref,
                        "watches": counts["effect"],
                        "state": f"{counts['compliant']} compliant, {counts['non_compliant']} non-compliant, {counts['exempt']} exempt",
                        "compliant": counts["compliant"],
                        "non_compliant": counts["non_compliant"],
                        "exempt": counts["exempt"],
                    }
                )
            if facts["compliance"] is None and facts["assignment"] is not None:
                obs.rows.append(
                    {
                        "subscription": sub,
                        "kind": "policy compliance",
                        "name": "(all)",
                        "watches": "",
                        "state": "not evaluated yet",
                    }
                )
            for role, present in facts["roles"].items():
                obs.rows.append(
                    {
                        "subscription": sub,
                        "kind": "identity role",
                        "name": role,
                        "watches": self.baseline().name,
                        "state": "in place" if present else "missing",
                    }
                )
        obs.facts.update(
            per_sub=per_sub,
            remediable=remediable,
            version=self.baseline().version,
            expired=[e for e in ctx.params.policy.exemptions if e.expires < today],
        )
        return obs

    def inspect_subscription(self, ctx: Context, sub: str, assignment: dict | None, remediable: dict) -> dict:
        principal = ((assignment or {}).get("identity") or {}).get("principalId")
        roles_needed = sorted({r for roles in remediable.values() for r in roles})
        held: set[str] = set()
        if principal:
            scope = f"/subscriptions/{sub}"
            for ra in ctx.clients.authorization(sub).role_assignments.list_for_scope(
                scope, filter=f"principalId eq '{principal}'"
            ):
                if str(ra.scope).lower() in (scope.lower(), "/"):
                    held.add(str(ra.role_definition_id).rstrip("/").split("/")[-1].lower())
        compliance = self.compliance(ctx, sub) if assignment is not None else None
        remediations = {ref: self.remediation(ctx, sub, ref) for ref in remediable} if assignment is not None else {}
        listed = self.call(
            ctx,
            sub,
            "GET",
            f"/subscriptions/{sub}/providers/Microsoft.Authorization/policyExemptions?api-version={API_EXEMPTION}",
        )
        mine = self.assignment_id(sub).lower()
        owned = {e.name.lower() for e in ctx.params.policy.exemptions}
        unowned = [
            x["id"]
            for x in (listed or {}).get("value") or []
            if str(x["properties"].get("policyAssignmentId", "")).lower() == mine and x["name"].lower() not in owned
        ]
        return {
            "assignment": assignment,
            "principal": principal,
            "roles": {r: r in held for r in roles_needed},
            "compliance": compliance,
            "remediations": remediations,
            "unowned": unowned,
        }

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        changes = super().plan(ctx, obs)
        for sub, facts in obs.facts.get("per_sub", {}).items():
            for role, present in facts["roles"].items():
                if not present:
                    changes.append(
                        Change(
                            self.role_assignment_id(sub, role),
                            "grant role to the baseline's identity",
                            {"kind": "role assignment", "role": role, "assignment": self.assignment_id(sub)},
                        )
                    )
            for ref in obs.facts["remediable"]:
                counts = (facts["compliance"] or {}).get(ref)
                if facts["compliance"] is not None and counts is not None and counts["non_compliant"] == 0:
                    continue
                if facts["compliance"] is not None and counts is None:
                    continue  # no resource the member judges
                known = counts["non_compliant"] if counts else "unknown until evaluated"
                changes.append(
                    Change(
                        f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights/remediations/{remediation_name(ref)}",
                        "remediate",
                        {"kind": "remediation", "reference": ref, "non_compliant": known},
                    )
                )
        return changes

    # ------------------------------------------------------------------ apply
    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        failures: list[str] = list(self.apply_table(ctx, [c for c in changes if c.detail.get("kind") in KINDS]))
        for c in [c for c in changes if c.detail.get("kind") == "role assignment"]:
            if err := self.grant(ctx, c):
                failures.append(err)
        remediations = [c for c in changes if c.detail.get("kind") == "remediation"]
        subs = sorted({c.target.split("/")[2] for c in remediations})
        started: list[Change] = []
        from concurrent.futures import ThreadPoolExecutor

        def scan(sub: str) -> dict | str:
            try:
                self.evaluate(ctx, sub)
                return self.compliance(ctx, sub) or {}
            except (HttpResponseError, TimeoutError) as exc:
                return f"/subscriptions/{sub}: compliance scan: {self.explain_any(exc)}"

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(subs)))) as pool:  # Azure scans them side by side
            scanned = dict(zip(subs, pool.map(scan, subs), strict=True))
        for sub in subs:
            counts = scanned[sub]
            if isinstance(counts, str):
                failures.append(counts)
                continue
            for c in [c for c in remediations if c.target.split("/")[2] == sub]:
                ref = c.detail["reference"]
                if ref in counts and counts[ref]["non_compliant"] == 0:
                    continue  # the scan found nothing to remediate
                body = {
                    "properties": {
                        "policyAssignmentId": self.assignment_id(sub),
                        "policyDefinitionReferenceId": ref,
                        "resourceDiscoveryMode": "ExistingNonCompliant",
                    }
                }
                try:
                    self.call(ctx, sub, "PUT", f"{c.target}?api-version={API_REMEDIATION}", body)
                except HttpResponseError as exc:
                    failures.append(f"{c.target}: remediate: {self.explain(exc)}")
                    continue
                ctx.accepted(c)
                started.append(c)
        failures += self.wait_remediations(ctx, started)
        return self.applied(ctx, failures)

    def explain_any(self, exc: Exception) -> str:
        return self.explain(exc) if isinstance(exc, HttpResponseError) else str(exc)

    def grant(self, ctx: Context, c: Change) -> str:
        """Give the assignment's identity a role; retries while a new identity is not yet in the directory."""
        sub = c.target.split("/")[2]
        assignment = self.call(ctx, sub, "GET", f"{self.assignment_id(sub)}?api-version={API_POLICY}")
        principal = ((assignment or {}).get("identity") or {}).get("principalId")
        if not principal:
            return f"{c.target}: the assignment {self.assignment_id(sub)} has no identity to grant a role to"
        props: dict[str, Any] = {
            "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{c.detail['role']}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
            "description": f"{self.baseline().name}: remediation by the policy assignment's identity",
        }
        if self.through_lighthouse(ctx, sub):
            props["delegatedManagedIdentityResourceId"] = self.assignment_id(sub)
        delay = 1.0
        for attempt in range(6):
            try:
                self.call(ctx, sub, "PUT", f"{c.target}?api-version={API_ROLES}", {"properties": props})
            except HttpResponseError as exc:
                code = exc.error.code if exc.error is not None else ""
                if code == "RoleAssignmentExists":
                    return ""
                if code == "PrincipalNotFound" and attempt < 5 and "delegatedManagedIdentityResourceId" not in str(exc):
                    time.sleep(delay)  # the identity is still replicating in the directory
                    delay = min(delay * 2, 30.0)
                    continue
                return f"{c.target}: {c.action}: {self.explain(exc)}"
            ctx.accepted(c)
            return ""
        return f"{c.target}: {c.action}: the identity {principal} did not appear in the directory"

    def evaluate(self, ctx: Context, sub: str) -> None:
        """Trigger Azure's compliance scan of a subscription and wait for it (Location polled, Retry-After kept)."""
        client = ctx.clients.resource(sub)
        url = f"/subscriptions/{sub}/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation?api-version={API_STATES}"
        resp = client.send_request(HttpRequest("POST", url))
        resp.raise_for_status()
        deadline = time.monotonic() + 60 * ctx.params.policy.evaluation_timeout_minutes
        if not follow_operation(client, resp, deadline):
            raise TimeoutError(
                f"Azure's compliance scan of {sub} did not finish within {ctx.params.policy.evaluation_timeout_minutes} min"
            )

    def wait_remediations(self, ctx: Context, started: list[Change]) -> list[str]:
        """Wait for the remediation tasks, with progress; the failed ones named with their first deployment error."""
        from ..adapters.progress import progress

        failures: list[str] = []
        if not started:
            return failures
        deadline = time.monotonic() + 60 * ctx.params.policy.remediation_timeout_minutes
        left = list(started)
        with progress(len(started), "remediation tasks") as bar:
            while left:
                for c in list(left):
                    sub = c.target.split("/")[2]
                    got = self.call(ctx, sub, "GET", f"{c.target}?api-version={API_REMEDIATION}") or {}
                    props = got.get("properties") or {}
                    state = str(props.get("provisioningState", "")).lower()
                    if state in _RUNNING:
                        continue
                    left.remove(c)
                    bar.update(1)
                    status = props.get("deploymentStatus") or {}
                    c.detail.update(
                        outcome=props.get("provisioningState"),
                        deployments=status.get("totalDeployments", 0),
                        failed=status.get("failedDeployments", 0),
                    )
                    if state != "succeeded":
                        failures.append(
                            f"{c.target}: remediation {props.get('provisioningState')}: {self.first_error(ctx, c)}"
                        )
                if left:
                    if time.monotonic() > deadline:
                        failures += [
                            f"{c.target}: remediation still running after {ctx.params.policy.remediation_timeout_minutes} min"
                            for c in left
                        ]
                        break
                    time.sleep(1.0)
        return failures

    def first_error(self, ctx: Context, c: Change) -> str:
        sub = c.target.split("/")[2]
        found = self.call(ctx, sub, "POST", f"{c.target}/listDeployments?api-version={API_REMEDIATION}") or {}
        bad = [d for d in found.get("value") or [] if d.get("status") != "Succeeded"]
        if not bad:
            return "no deployment error reported"
        err = bad[0].get("error") or {}
        return f"{len(bad)} of {len(found.get('value') or [])} resource(s) failed, e.g. {bad[0].get('remediatedResourceId')}: {err.get('code')}: {err.get('message')}"

    # ------------------------------------------------------------------ verdict
    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        verdict = super().judge(ctx, obs, pending, applied)
        per_sub = obs.facts.get("per_sub", {})
        warnings = [
            f"exemption '{e.name}' at {e.scope} expired on {e.expires.isoformat()} (owner {e.owner}, {e.ticket}): renew it with the owner or remove it from policy.exemptions"
            for e in obs.facts.get("expired", [])
        ]
        warnings += [
            f"exemption {x} on the baseline has no owner in parameters/{ctx.params.customer}.yml: add it to policy.exemptions with owner and expiry, or remove it"
            for facts in per_sub.values()
            for x in facts["unowned"]
        ]
        audit = {
            (sub, ref): c["non_compliant"]
            for sub, facts in per_sub.items()
            for ref, c in (facts["compliance"] or {}).items()
            if c["non_compliant"]
        }
        if verdict.status == "fulfilled":
            found = "; ".join(f"{ref} {n} in {sub}" for (sub, ref), n in sorted(audit.items()))
            verdict.summary = (
                f"Baseline {obs.facts.get('version')} assigned, its identity holding its roles and nothing remediable left "
                f"non-compliant in {len(per_sub)} subscription(s){' (' + str(len(applied)) + ' change(s) applied)' if applied else ''}. "
                + (
                    f"Non-compliant, for the customer to act on: {found}."
                    if found
                    else "Every evaluated resource complies."
                )
            )
            if warnings:
                verdict.status = "open"
                verdict.summary += f" {len(warnings)} exemption(s) need attention."
        verdict.missing += warnings
        return verdict
