"""Stage 2: the customer's CSP contract in the MSP's Partner Center (s2-csp-contract: the customer, its relationship to
the reseller, the Microsoft Customer Agreement and its active subscriptions) and its usage budget there
(s2-partner-center-budget, which configures: the agreed `budget.amount` is planned, applied only on an explicit apply,
verified, and a re-run changes nothing). Read and written through the Partner Center connector; without it the CSM's
attestation is used (steps.base.check_or_attest)."""

from __future__ import annotations

from ..adapters.connectors.partner_center import MCA, Agreements, Customer, PartnerCenter, Subscription
from ..customer.params import Attestation, display_path, resolve_path
from ..errors import ConnectorInputError, ConnectorTargetError
from ..evidence.results import Change
from .base import ConnectorCheck, Context, Observation, ScopeFailure, Verdict, apply_hint


def _customer(ctx: Context) -> tuple[PartnerCenter, Customer]:
    p = ctx.params
    pc = ctx.connector("partner_center")
    assert isinstance(pc, PartnerCenter)
    fix = (
        f"check tenant_id in {display_path(resolve_path(p.customer))} (the customer's Microsoft ID in Partner Center "
        "is its tenant id), or create the customer relationship in Partner Center (Customers > Request a reseller "
        "relationship) first"
    )
    return pc, pc.customer(p.tenant_id, fix)


def _where(c: Customer) -> str:
    return f"Partner Center customer {c.name} ({c.id})"


class _CustomerCheck(ConnectorCheck):
    connector = "partner_center"

    def record(self, ctx: Context) -> str:
        _, c = _customer(ctx)
        return f"customer {c.id} ({c.name}) found, relationship {c.relationship_to_partner or 'not given'}"


class CspContract(_CustomerCheck):
    """The customer exists in Partner Center as the MSP's reseller customer, has accepted the Microsoft Customer
    Agreement and has at least one active subscription."""

    item_id = "s2-csp-contract"

    def inspect(self, ctx: Context) -> Observation:
        pc, c = _customer(ctx)
        subs = pc.subscriptions(c.id)
        agreements = pc.agreements(c.id)
        rows: list[dict] = [
            {"record": "customer", "name": c.name, "id": c.id, "state": c.relationship_to_partner or "not given"}
        ]
        rows += [
            {"record": "agreement", "name": a.type, "id": a.template_id, "state": f"accepted {a.date_agreed[:10]}"}
            for a in agreements.items
        ]
        if agreements.refused:
            rows.append({"record": "agreement", "name": MCA, "id": "", "state": "not readable with app-only sign-in"})
        rows += [
            {"record": "subscription", "name": s.offer, "id": s.id, "state": s.status, "quantity": s.quantity}
            for s in subs
        ]
        facts = {"customer": c, "agreements": agreements, "subscriptions": subs}
        return Observation(rows, facts)

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        f = obs.facts
        return contract_verdict(
            f["customer"], f["agreements"], f["subscriptions"], ctx.params.attestations.get(self.item_id)
        )


def contract_verdict(
    customer: Customer, agreements: Agreements, subscriptions: list[Subscription], attestation: Attestation | None
) -> Verdict:
    """Fulfilled when the customer is the MSP's reseller customer, the Microsoft Customer Agreement is accepted and at
    least one subscription is active (named); open otherwise, naming what is missing. Partner Center serves agreement
    confirmations to App+User sign-ins only: when the app-only read is refused, the CSM's attestation of the
    acceptance stands in for that part (and is named), else the acceptance is what is missing."""
    where = _where(customer)
    missing: list[str] = []
    relationship = customer.relationship_to_partner.strip().lower()
    if relationship != "reseller":
        missing.append(
            f"the customer's relationship to the partner is {relationship or 'not given'}, not reseller: request a "
            "reseller relationship in Partner Center and let the customer accept it"
        )
    accepted = [a for a in agreements.items if a.type == MCA and a.date_agreed]
    agreement = ""
    if accepted:
        agreement = f"Microsoft Customer Agreement accepted {accepted[0].date_agreed[:10]}"
    elif agreements.refused and attestation is not None and attestation.status == "fulfilled":
        agreement = (
            f"Microsoft Customer Agreement acceptance attested by {attestation.by} on {attestation.at.isoformat()} "
            f"({attestation.reference}; Partner Center does not show it to an app-only sign-in)"
        )
    elif agreements.refused:
        missing.append(
            "the Microsoft Customer Agreement acceptance: Partner Center shows agreements to App+User sign-ins only; "
            f"check it under Customers > {customer.name} > Account and record it in attestations.s2-csp-contract"
        )
    else:
        missing.append(
            "the Microsoft Customer Agreement: no acceptance is confirmed in Partner Center; let the customer accept it "
            "in the Microsoft 365 admin center, or confirm its acceptance in Partner Center"
        )
    active = [s for s in subscriptions if s.active]
    if not active:
        others = ", ".join(f"{s.offer} ({s.status})" for s in subscriptions) or "none"
        missing.append(f"an active subscription (the customer has: {others})")
    offers = ", ".join(f"{s.offer} ({s.quantity})" for s in active)
    inactive = [s for s in subscriptions if not s.active]
    tail = f" Not active: {', '.join(f'{s.offer} ({s.status})' for s in inactive)}." if inactive else ""
    if missing:
        have = [f"relationship {relationship or 'not given'}"] + ([agreement] if agreement else [])
        have += [f"{len(active)} active subscription(s)"] + ([offers] if offers else [])
        return Verdict("open", f"{where}: {'; '.join(have)}; {len(missing)} thing(s) missing.{tail}", missing)
    return Verdict(
        "fulfilled",
        f"{where} is a reseller customer; {agreement}; {len(active)} active subscription(s): {offers}.{tail}",
    )


class PartnerCenterBudget(_CustomerCheck):
    """The customer's usage spending budget in Partner Center is the agreed `budget.amount`: read, planned (current ->
    agreed), set on an explicit apply (PATCH with the whole resource), verified; a re-run plans nothing."""

    item_id = "s2-partner-center-budget"
    requires = ("budget",)

    def unavailable(self, ctx: Context) -> str:
        why = super().unavailable(ctx)
        if not why and ctx.params.budget is None:
            return f"no budget in {display_path(resolve_path(ctx.params.customer))} (the agreed amount)"
        return why

    def inspect(self, ctx: Context) -> Observation:
        pc, c = _customer(ctx)
        assert ctx.params.budget is not None
        current = pc.usage_budget(c.id).amount
        agreed = float(ctx.params.budget.amount)
        currency = ctx.params.budget.currency
        rows = [
            {
                "customer": c.name,
                "id": c.id,
                "usage budget": "not set" if current is None else f"{current:g}",
                "agreed": f"{agreed:g}",
                "currency": currency,
            }
        ]
        return Observation(rows, {"customer": c, "current": current, "agreed": agreed, "currency": currency})

    def plan(self, ctx: Context, obs: Observation) -> list[Change]:
        f = obs.facts
        if f["current"] is not None and float(f["current"]) == f["agreed"]:
            return []
        c: Customer = f["customer"]
        return [
            Change(
                target=f"partner-center:/customers/{c.id}/usagebudget",
                action="set the usage budget",
                detail={
                    "customer": c.name,
                    "currency": f["currency"],
                    "values": {"amount": {"old": f["current"], "new": f["agreed"]}},
                },
                payload={"amount": f["agreed"]},
            )
        ]

    def apply(self, ctx: Context, changes: list[Change]) -> list[Change]:
        pc = ctx.connector("partner_center")
        assert isinstance(pc, PartnerCenter)
        failures: list[ScopeFailure] = []
        for change in changes:
            customer_id = change.target.split("/customers/", 1)[1].split("/", 1)[0]
            try:
                pc.set_usage_budget(customer_id, float((change.payload or {})["amount"]))
            except (ConnectorInputError, ConnectorTargetError) as exc:
                failures.append(ScopeFailure(change.target, str(exc)))
                continue
            ctx.accepted(change)  # on the record (the run's journal) the moment Partner Center accepted it
        return self.applied(ctx, failures)

    def judge(self, ctx: Context, obs: Observation, pending: list[Change], applied: list[Change]) -> Verdict:
        f = obs.facts
        return budget_verdict(f["customer"], f["current"], f["agreed"], f["currency"], pending, applied)


def budget_verdict(
    customer: Customer,
    current: float | None,
    agreed: float,
    currency: str,
    pending: list[Change],
    applied: list[Change],
) -> Verdict:
    """Fulfilled when the usage budget is the agreed amount (saying when this run set it); open while the change is
    only planned; failed when an applied change did not hold."""
    where = _where(customer)
    now = "not set" if current is None else f"{current:g} {currency}"
    if pending and applied:
        return Verdict(
            "failed",
            f"The usage budget of {where} was set but reads {now} on verification, not the agreed {agreed:g} {currency}.",
            [c.headline for c in pending],
        )
    if pending:
        return Verdict(
            "open",
            f"The usage budget of {where} is {now}; agreed {agreed:g} {currency}: 1 change planned; {apply_hint()} to make it.",
            [f"usage budget {now} -> {agreed:g} {currency} ({where})"],
        )
    was = ""
    if applied:
        old = (applied[0].detail.get("values") or {}).get("amount", {}).get("old")
        was = f", set by this run (was {'not set' if old is None else f'{float(old):g}'})"
    return Verdict(
        "fulfilled",
        f"The usage budget of {where} is {agreed:g} {currency} as agreed{was}.",
    )
