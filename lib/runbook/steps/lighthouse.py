"""Stage 3: review and ensure Azure Lighthouse: every subscription delegated to the MSP's offer with exactly the
authorizations the customer's tier gets.

The expected offer comes from the parameters: `msp.offer_name`, `msp.tenant_id` and the `msp.expected_authorizations`
whose `tiers` include the customer's tier (a downgrade narrows them; re-running onboarding updates the offer in
place, since its ID is derived from the managing tenant and the offer name). Inspect lists each subscription's
registration assignments with their definitions (Registration Assignments list, $expandRegistrationDefinition) and
diffs them: missing or extra authorizations, a principal with the wrong role, User Access Administrator without
delegated roles. Where the runbook may deploy (it holds Owner in the customer's tenant on that subscription: not a
guest, not through Lighthouse itself), apply writes the definition and the assignment; elsewhere the plan carries the
exact ARM template and parameters for the customer's admin, archived with the results, and the next run verifies.
"""

from __future__ import annotations

import uuid
from typing import Any

from azure.core.exceptions import HttpResponseError

from ..evidence.results import Change
from .base import Context, Observation, ScopeFailure, Step, StepInputError, Verdict, error_text

API = "2022-10-01"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def definition_name(managed_by: str, offer: str) -> str:
    """The offer's registration definition ID: stable for a managing tenant and offer name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{managed_by}|{offer}"))


def assignment_name(sub: str, definition_id: str) -> str:
    """The assignment's ID in a subscription: stable for the definition."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sub.lower()}|{definition_id.lower()}"))


def _guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


class LighthouseOffer(Step):
    """The tier's Lighthouse offer on every subscription: diffed, deployed where allowed, else handed over."""

    item_id = "s3-lighthouse"

    # --- what is expected ----------------------------------------------------------------------------
    def expected(self, ctx: Context, role_ids: dict[str, str]) -> list[dict[str, Any]]:
        """The authorizations of the customer's tier, in REST shape."""
        p = ctx.params
        out = []
        for a in p.msp.expected_authorizations:
            if a.tiers and p.tier not in a.tiers:
                continue
            auth: dict[str, Any] = {
                "principalId": a.principal_id,
                "principalIdDisplayName": a.principal_name or a.principal_id,
                "roleDefinitionId": role_ids[a.role.lower()],
            }
            if a.delegated_roles:
                auth["delegatedRoleDefinitionIds"] = [role_ids[r.lower()] for r in a.delegated_roles]
            out.append(auth)
        if not out:
            raise StepInputError(
                f"parameters/{p.customer}.yml: msp.expected_authorizations grants nothing to the {p.tier} tier. Fix: list the offer's authorizations (principal_id, role, tiers)."
            )
        return out

    def role_ids(self, ctx: Context, sub: str) -> dict[str, str]:
        """Built-in role names used by the authorizations (and the accepted roles) -> role definition GUIDs."""
        names = {a.role for a in ctx.params.msp.expected_authorizations} | set(ctx.params.msp.accepted_roles)
        names |= {r for a in ctx.params.msp.expected_authorizations for r in a.delegated_roles}
        auth = ctx.clients.authorization(sub)
        out = {}
        for name in sorted(names):
            found = list(auth.role_definitions.list(f"/subscriptions/{sub}", filter=f"roleName eq '{name}'"))
            if not found:
                raise StepInputError(
                    f"parameters/{ctx.params.customer}.yml: msp.expected_authorizations names role '{name}', which is not a built-in role. Fix: use the role's exact name."
                )
            out[name.lower()] = _guid(found[0].id)
        return out

    def definition_body(self, ctx: Context, authorizations: list[dict]) -> dict:
        p = ctx.params
        return {
            "properties": {
                "registrationDefinitionName": p.msp.offer_name,
                "description": f"{p.msp.name} managed services ({p.tier})",
                "managedByTenantId": p.msp.tenant_id,
                "authorizations": authorizations,
            }
        }

    def template(self, ctx: Context, authorizations: list[dict]) -> dict:
        """The ARM template (subscription deployment) the customer's admin deploys where the runbook may not."""
        p = ctx.params
        def_name = definition_name(p.msp.tenant_id, p.msp.offer_name)
        return {
            "template": {
                "$schema": "https://schema.management.azure.com/schemas/2019-08-01/subscriptionDeploymentTemplate.json#",
                "contentVersion": "1.0.0.0",
                "parameters": {
                    "mspOfferName": {"type": "string"},
                    "managedByTenantId": {"type": "string"},
                    "authorizations": {"type": "array"},
                },
                "resources": [
                    {
                        "type": "Microsoft.ManagedServices/registrationDefinitions",
                        "apiVersion": API,
                        "name": def_name,
                        "properties": {
                            "registrationDefinitionName": "[parameters('mspOfferName')]",
                            "managedByTenantId": "[parameters('managedByTenantId')]",
                            "authorizations": "[parameters('authorizations')]",
                        },
                    },
                    {
                        "type": "Microsoft.ManagedServices/registrationAssignments",
                        "apiVersion": API,
                        "name": "[guid(subscription().id, '" + def_name + "')]",
                        "dependsOn": [
                            f"[resourceId('Microsoft.ManagedServices/registrationDefinitions', '{def_name}')]"
                        ],
                        "properties": {
                            "registrationDefinitionId": f"[resourceId('Microsoft.ManagedServices/registrationDefinitions', '{def_name}')]"
                        },
                    },
                ],
            },
            "parameters": {
                "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
                "contentVersion": "1.0.0.0",
                "parameters": {
                    "mspOfferName": {"value": p.msp.offer_name},
                    "managedByTenantId": {"value": p.msp.tenant_id},
                    "authorizations": {"value": authorizations},
                },
            },
        }

    # --- inspect ------------------------------------------------------------------------------------
    def inspect(self, ctx: Context) -> Observation:
        """Per subscription: the MSP's offers as assigned, diffed against the expected authorizations."""
        p = ctx.params
        rows, facts, failures = [], {}, []
        me = str(ctx.clients.target.signed_in().get("oid", ""))
        roles: dict[str, str] | None = None  # built-in role IDs are the same in every subscription: looked up once
        for sub in p.subscription_ids:
            try:
                roles = roles or self.role_ids(ctx, sub)
                want = self.expected(ctx, roles)
                offers = self.offers(ctx, sub)
                may = self.may_deploy(ctx, sub, me)
            except HttpResponseError as exc:
                failures.append(
                    ScopeFailure(f"/subscriptions/{sub}", f"cannot read Lighthouse delegations: {error_text(exc)}")
                )
                continue
            have = [a for o in offers for a in o["authorizations"]]
            diff = [self.named(ctx, roles, d) for d in self.diff(want, have)]
            lockout = [] if may else self.locks_out(ctx, roles, me, have, want)
            facts[sub] = {"want": want, "offers": offers, "diff": diff, "may_deploy": may, "locks_out": lockout}
            rows.append(
                {
                    "subscription": sub,
                    "offer": ", ".join(o["name"] for o in offers) or "(not delegated)",
                    "authorizations": len(have),
                    "differences": "; ".join(diff) or "none",
                    "runbook may deploy": "yes" if may else "no: the customer's admin deploys the template",
                }
            )
        return Observation(rows, {"subs": facts, "failures": failures})

    def offers(self, ctx: Context, sub: str) -> list[dict]:
        """The MSP's registration assignments on a subscription, with their definitions' authorizations."""
        p = ctx.params
        out = []
        for reg in ctx.clients.managed_services().registration_assignments.list(
            f"/subscriptions/{sub}", expand_registration_definition=True
        ):
            definition = reg.properties.registration_definition
            if definition is None or definition.properties is None:
                continue
            dp = definition.properties
            if str(dp.managed_by_tenant_id).lower() != p.msp.tenant_id.lower():
                continue
            out.append(
                {
                    "name": dp.registration_definition_name,
                    "assignment": reg.id,
                    "definition": definition.id,
                    "authorizations": [
                        {
                            "principalId": str(a.principal_id).lower(),
                            "roleDefinitionId": _guid(a.role_definition_id),
                            "delegatedRoleDefinitionIds": sorted(
                                _guid(d) for d in a.delegated_role_definition_ids or []
                            ),
                        }
                        for a in dp.authorizations or []
                    ],
                }
            )
        return out

    @staticmethod
    def named(ctx: Context, roles: dict[str, str], text: str) -> str:
        """A difference for people: principals by their name in the parameters (id kept), roles by name."""
        names = {r.lower(): r for a in ctx.params.msp.expected_authorizations for r in (a.role, *a.delegated_roles)}
        names |= {r.lower(): r for r in ctx.params.msp.accepted_roles}
        for lower, guid in roles.items():
            text = text.replace(guid, names.get(lower, lower))
        people = {
            a.principal_id.lower(): a.principal_name for a in ctx.params.msp.expected_authorizations if a.principal_name
        }
        for pid, name in people.items():
            text = text.replace(pid, f"{name} ({pid})")
        return text

    @staticmethod
    def locks_out(ctx: Context, roles: dict[str, str], me: str, have: list[dict], want: list[dict]) -> list[str]:
        """The runbook's own access the new offer would take away: it signs in through Lighthouse here with an
        accepted role (msp.accepted_roles) and the expected authorizations give it none. Deploying that offer would
        lock the runbook out of the subscription it is onboarding."""
        accepted = {roles[r.lower()] for r in ctx.params.msp.accepted_roles if r.lower() in roles}
        mine_now = {_guid(a["roleDefinitionId"]) for a in have if str(a["principalId"]).lower() == me.lower()}
        mine_after = {_guid(a["roleDefinitionId"]) for a in want if str(a["principalId"]).lower() == me.lower()}
        names = {roles[r.lower()]: r for r in ctx.params.msp.accepted_roles if r.lower() in roles}
        if mine_now & accepted and not mine_after & accepted:
            return [f"{me} as {names.get(r, r)}" for r in sorted(mine_now & accepted)]
        return []

    def may_deploy(self, ctx: Context, sub: str, principal: str) -> bool:
        """Whether the runbook holds Owner on the subscription in the customer's tenant itself (a Lighthouse
        delegation cannot create delegations, and Owner is never delegated)."""
        if not principal:
            return False
        scope = f"/subscriptions/{sub}"
        for ra in ctx.clients.authorization(sub).role_assignments.list_for_scope(
            scope, filter=f"principalId eq '{principal}'"
        ):
            if _guid(ra.role_definition_id) == OWNER and str(ra.scope).lower() in (scope.lower(), "/"):
                return True
        return False

    @staticmethod
    def diff(want: list[dict], have: list[dict]) -> list[str]:
        """Missing, extra, wrong role, and UAA without delegated roles."""

        def key(a: dict) -> tuple[str, str]:
            return (str(a["principalId"]).lower(), _guid(a["roleDefinitionId"]))

        want_keys, have_keys = {key(a) for a in want}, {key(a) for a in have}
        out = []
        for principal, role in sorted(want_keys - have_keys):
            held = sorted(r for p, r in have_keys - want_keys if p == principal)
            if held:
                out.append(f"wrong role: {principal} holds {', '.join(held)} instead of {role}")
            else:
                out.append(f"missing: {principal} as {role}")
        wanted_principals = {p for p, _ in want_keys}
        for principal, role in sorted(have_keys - want_keys):
            if principal not in wanted_principals or not any(p == principal for p, _ in want_keys - have_keys):
                out.append(f"extra: {principal} as {role}")
        for a in have:
            if _guid(a["roleDefinitionId"]) == "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9" and not a.get(
                "delegatedRoleDefinitionIds"
            ):
                out.append(f"User Access Administrator without delegated roles: {a['principalId']}")
        return out

    # --- plan, apply, judge -----------------------------------------------------------------------------
    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        """Per subscription that differs: deploy (or update) the offer, or hand the template to the admin."""
        p = ctx.params
        def_name = definition_name(p.msp.tenant_id, p.msp.offer_name)
        changes = []
        for sub, f in obs.facts["subs"].items():
            if not f["diff"]:
                continue
            def_id = f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationDefinitions/{def_name}"
            body = self.definition_body(ctx, f["want"])
            if f["may_deploy"]:
                changes.append(
                    Change(
                        def_id,
                        "deploy Lighthouse offer",
                        {"offer": p.msp.offer_name, "tier": p.tier, "differences": f["diff"]},
                        payload=body,
                    )
                )
            else:
                detail: dict[str, Any] = {"differences": f["diff"], **self.template(ctx, f["want"])}
                if f["locks_out"]:
                    detail["locks_out_runbook"] = f["locks_out"]
                changes.append(Change(f"/subscriptions/{sub}", "customer's admin deploys Lighthouse offer", detail))
        handed = [c for c in changes if c.action.startswith("customer's admin") and "locks_out_runbook" not in c.detail]
        if handed:
            self.hand_off(ctx, handed)
        return changes

    def hand_off(self, ctx: Context, handed: list[Change]) -> None:
        """The files the customer's admin deploys: lighthouse/<customer>/template.json and parameters.json beside
        the evidence (and a copy of each in the run's evidence), and per subscription the exact command."""
        import json

        from ..evidence.archive import root

        folder = root().parent / "lighthouse" / ctx.params.customer
        folder.mkdir(parents=True, exist_ok=True)
        first = handed[0].detail
        files = {"template.json": first["template"], "parameters.json": first["parameters"]}
        run_dir = ctx.journal.path.parent if ctx.journal is not None else None
        for name, body in files.items():
            text = json.dumps(body, indent=2) + "\n"
            (folder / name).write_text(text)
            if run_dir is not None and run_dir.exists():
                (run_dir / f"lighthouse-{name}").write_text(text)
        location = ctx.params.monitoring.location
        for c in handed:
            sub = c.target.split("/")[2]
            c.detail["files"] = {n: str(folder / n) for n in files}
            c.detail["deploy"] = (
                f"az deployment sub create --subscription {sub} --location {location} "
                f"--name intercept-lighthouse --template-file {folder / 'template.json'} "
                f"--parameters @{folder / 'parameters.json'}"
            )

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        """Write the definition (an update narrows or widens it in place), then the assignment."""

        def deploy(c: Change) -> None:
            sub = c.target.split("/")[2]
            res = ctx.clients.resource(sub)
            res.resources.begin_create_or_update_by_id(c.target, c.payload, api_version=API).result()
            a_id = f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments/{assignment_name(sub, c.target)}"
            res.resources.begin_create_or_update_by_id(
                a_id, {"properties": {"registrationDefinitionId": c.target}}, api_version=API
            ).result()

        offers = [c for c in changes if c.action == "deploy Lighthouse offer"]  # a template is for a person
        return self.applied(ctx, self.apply_each(ctx, offers, deploy))

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        """Fulfilled when every subscription holds exactly the tier's authorizations; handed-over templates keep it
        open until the next run sees them deployed."""
        if obs.facts["failures"]:
            return Verdict(
                "failed", f"{len(obs.facts['failures'])} subscription(s) could not be read.", obs.facts["failures"]
            )
        locking = [c for c in pending if c.detail.get("locks_out_runbook")]
        if locking:
            who = "; ".join(f"{c.target}: {', '.join(c.detail['locks_out_runbook'])}" for c in locking)
            return Verdict(
                "failed",
                f"Refused: on {len(locking)} subscription(s) the expected offer would remove the delegation the runbook signs in with ({who}); deploying it would lock the runbook out, so no template was handed over for them. Fix: keep the runbook's principal with one of msp.accepted_roles in msp.expected_authorizations for the {ctx.params.tier} tier.",
                [
                    f"{c.target}: would remove the runbook's own delegation {', '.join(c.detail['locks_out_runbook'])}"
                    for c in locking
                ],
            )
        handed = [c for c in pending if c.action == "customer's admin deploys Lighthouse offer"]
        if handed and not [c for c in pending if c not in handed]:
            where = (handed[0].detail.get("files") or {}).get("template.json", "")
            folder = where.rsplit("/", 1)[0] if where else "the planned changes (results.json)"
            return Verdict(
                "open",
                f"{len(handed)} subscription(s) need the customer's admin to deploy the offer: template.json and parameters.json are in {folder} (and in this run's evidence); each subscription's command is in its change. The next run verifies.",
                [f"{c.target}: {'; '.join(c.detail['differences'])} -- {c.detail.get('deploy', '')}" for c in handed],
            )
        verdict = super().judge(ctx, obs, pending, applied)
        if verdict.status == "fulfilled":
            verdict.summary = (
                f"Every subscription ({len(obs.facts['subs'])}) is delegated to '{ctx.params.msp.offer_name}' with the {ctx.params.tier} tier's authorizations"
                + (f" ({len(applied)} deployed now)." if applied else ".")
            )
        return verdict
