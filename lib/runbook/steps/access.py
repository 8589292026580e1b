"""Stage 0: is the MSP authorized as admin/owner on every customer subscription (RBAC or Lighthouse)?"""

from __future__ import annotations

from azure.core.exceptions import HttpResponseError

from .base import Context, Observation, Step, Verdict


def _guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").split("/")[-1].lower()


class MspAccess(Step):
    """Shows who has what on each subscription and exactly what the MSP still lacks."""

    item_id = "s0-msp-authorized"

    def inspect(self, ctx: Context) -> Observation:
        """Role assignments at each subscription and its Lighthouse delegations."""
        p = ctx.params
        rows: list[dict] = []
        per_sub: dict[str, dict] = {}
        for sub in p.subscription_ids:
            scope = f"/subscriptions/{sub}"
            facts = per_sub[sub] = {"visible": True, "rbac_roles": set(), "lighthouse": []}
            auth = ctx.clients.authorization(sub)
            try:
                names = {_guid(d.id): d.role_name for d in auth.role_definitions.list(scope)}
                assignments = list(auth.role_assignments.list_for_scope(scope, filter="atScope()"))
            except HttpResponseError as exc:
                if exc.status_code in (403, 404):
                    facts["visible"] = False
                    rows.append(
                        {
                            "subscription": sub,
                            "source": "-",
                            "principal": p.msp.principal_id,
                            "role": "-",
                            "detail": f"not visible to the runbook ({exc.error.code if exc.error else exc.status_code})",
                            "msp": True,
                        }
                    )
                    continue
                raise
            for ra in assignments:
                role = names.get(_guid(ra.role_definition_id), _guid(ra.role_definition_id))
                is_msp = ra.principal_id.lower() == p.msp.principal_id
                if is_msp:
                    facts["rbac_roles"].add(role)
                rows.append(
                    {
                        "subscription": sub,
                        "source": "RBAC",
                        "principal": ra.principal_id,
                        "role": role,
                        "detail": ra.scope,
                        "msp": is_msp,
                    }
                )
            for reg in ctx.clients.managed_services().registration_assignments.list(
                scope, expand_registration_definition=True
            ):
                definition = reg.properties.registration_definition
                dprops = definition.properties if definition else None
                if dprops is None:
                    continue
                granted = {
                    (a.principal_id.lower(), names.get(a.role_definition_id.lower(), a.role_definition_id))
                    for a in dprops.authorizations
                }
                facts["lighthouse"].append(
                    {
                        "tenant": (dprops.managed_by_tenant_id or "").lower(),
                        "offer": dprops.registration_definition_name,
                        "granted": granted,
                    }
                )
                for principal, role in sorted(granted):
                    rows.append(
                        {
                            "subscription": sub,
                            "source": "Lighthouse",
                            "principal": principal,
                            "role": role,
                            "detail": f"{dprops.registration_definition_name} (managed by {dprops.managed_by_tenant_id})",
                            "msp": (dprops.managed_by_tenant_id or "").lower() == p.msp.tenant_id,
                        }
                    )
        return Observation(rows, {"subscriptions": per_sub})

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        """Fulfilled when each subscription grants an accepted role by RBAC or carries the expected offer."""
        p = ctx.params
        accepted = {r.lower() for r in p.msp.accepted_roles}
        expected = {
            (a.principal_id, a.role.lower())
            for a in p.msp.expected_authorizations
            if not a.tiers or p.tier in a.tiers  # the customer's tier's authorizations
        }
        missing: list[str] = []
        ok = 0
        for sub, facts in obs.facts["subscriptions"].items():
            if not facts["visible"]:
                missing.append(
                    f"{sub}: the runbook principal {p.msp.principal_id} cannot read this subscription; the customer must grant {' or '.join(p.msp.accepted_roles)} or onboard the Lighthouse offer '{p.msp.offer_name}'"
                )
                continue
            if accepted & {r.lower() for r in facts["rbac_roles"]}:
                ok += 1
                continue
            offers = [o for o in facts["lighthouse"] if o["tenant"] == p.msp.tenant_id]
            if offers:
                gaps = [sorted(expected - {(pr, r.lower()) for pr, r in o["granted"]}) for o in offers]
                best = min(range(len(offers)), key=lambda i: len(gaps[i]))
                if not gaps[best]:
                    ok += 1
                    continue
                missing += [
                    f"{sub}: Lighthouse offer '{offers[best]['offer']}' lacks the authorization {role} for principal {pr}"
                    for pr, role in gaps[best]
                ]
                continue
            missing.append(
                f"{sub}: no {' or '.join(p.msp.accepted_roles)} role assignment for principal {p.msp.principal_id} and no Lighthouse delegation from tenant {p.msp.tenant_id}"
            )
        total = len(obs.facts["subscriptions"])
        if missing:
            return Verdict("open", f"The MSP is authorized on {ok} of {total} subscription(s).", missing)
        return Verdict("fulfilled", f"The MSP is authorized on all {total} subscription(s).")
