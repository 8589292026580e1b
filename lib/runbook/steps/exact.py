"""Stage 1 and 4: the customer's invoice run in Exact Online (s1-invoice-run: an active subscription of the account
from the agreed start date carrying the tier's item) and its first sales invoice (s4-first-invoice: its lines against
the agreed pricing), read through the Exact Online connector; without it the CSM's attestation is used
(steps.base.check_or_attest). The evidence holds ids, numbers, dates, item codes and amounts, never a person."""

from __future__ import annotations

from datetime import date

from ..adapters.connectors.exact import DRAFT, Account, Exact, SalesInvoice, Subscription
from ..customer.params import PriceLine, display_path, resolve_path
from .base import ConnectorCheck, Context, Observation, Verdict

CENT = 0.005  # prices and quantities compare to the cent


def _account(ctx: Context) -> tuple[Exact, Account]:
    p = ctx.params
    assert p.exact is not None  # check_or_attest runs the check only when it is configured
    exact = ctx.connector("exact")
    assert isinstance(exact, Exact)
    fix = (
        f"set exact.account_code in {display_path(resolve_path(p.customer))} to the customer's account code "
        "(Exact Online > CRM > Accounts, the Code column)"
    )
    return exact, exact.account(p.exact.account_code, fix)


def _where(exact: Exact, account: Account) -> str:
    return f"Exact Online account {account.code} ({account.name or 'no name'}) in division {exact.division}"


class _AccountCheck(ConnectorCheck):
    connector = "exact"

    def record(self, ctx: Context) -> str:
        exact, account = _account(ctx)
        return f"account {account.code} ({account.name or 'no name'}) found in division {exact.division}"


def tier_item(ctx: Context) -> str:
    """The managed-services item the subscription must carry: exact.item, else the tier's in msp.connectors.exact."""
    p = ctx.params
    assert p.exact is not None
    settings = p.msp.connectors.exact
    return p.exact.item or (settings.tier_items.get(p.tier, "") if settings else "")


class InvoiceRun(_AccountCheck):
    """An active subscription of the customer's account whose start date is the agreed one and whose lines carry the
    tier's item."""

    item_id = "s1-invoice-run"

    def inspect(self, ctx: Context) -> Observation:
        p = ctx.params
        assert p.exact is not None
        exact, account = _account(ctx)
        code = tier_item(ctx)
        item = exact.item(code) if code else None
        subs = exact.subscriptions(account.id, {item.id.lower(): item.code} if item else {})
        today = date.today()
        rows = [
            {
                "subscription": s.number,
                "id": s.id,
                "type": s.type_code,
                "start": s.start.isoformat() if s.start else "",
                "end": s.end.isoformat() if s.end else "",
                "cancelled": s.cancelled.isoformat() if s.cancelled else "",
                "items": ", ".join(x.item_code or x.item_id for x in s.lines),
                "state": "active" if s.active_on(today) else "inactive",
            }
            for s in subs
        ]
        facts = {
            "subscriptions": subs,
            "start": p.exact.start_date,
            "item": code,
            "item_known": item is not None,
            "today": today,
            "where": _where(exact, account),
        }
        return Observation(rows, facts)

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        f = obs.facts
        return subscription_verdict(f["subscriptions"], f["start"], f["item"], f["item_known"], f["today"], f["where"])


def subscription_verdict(
    subs: list[Subscription], start: date, item: str, item_known: bool, today: date, where: str
) -> Verdict:
    """Fulfilled when a subscription is active on `today` (not cancelled, not ended), starts on `start` and has a line
    of `item`; otherwise open naming what each subscription differs in."""
    if not item:
        return Verdict(
            "open",
            f"No managed-services item is named for the tier, so the subscription of {where} cannot be checked.",
            [
                "set exact.item in the customer file, or msp.connectors.exact.tier_items for the tier, in parameters/msp.yml"
            ],
        )
    if not item_known:
        return Verdict(
            "open",
            f"Exact Online has no item {item} (the tier's managed-services item), so no subscription of {where} carries it.",
            [
                f"the item {item}: create it in Exact Online (Logistics > Items) or correct the item code in the parameters"
            ],
        )
    wanted = f"an active subscription of {where} starting {start.isoformat()} with a line of item {item}"

    def has_item(s: Subscription) -> bool:
        return any(x.item_code.casefold() == item.casefold() for x in s.lines)

    good = [s for s in subs if s.active_on(today) and s.start == start and has_item(s)]
    if good:
        s = good[0]
        return Verdict(
            "fulfilled",
            f"Subscription {s.number} of {where} is active from {start.isoformat()} "
            f"to {s.end.isoformat() if s.end else 'open-ended'} with item {item}.",
        )
    if not subs:
        return Verdict("open", f"{where} has no subscription: the invoice run has not been started.", [wanted])
    why = []
    for s in subs:
        problems = []
        if s.cancelled is not None and s.cancelled <= today:
            problems.append(f"cancelled {s.cancelled.isoformat()}")
        elif s.end is not None and s.end < today:
            problems.append(f"ended {s.end.isoformat()}")
        if s.start != start:
            problems.append(
                f"starts {s.start.isoformat() if s.start else 'without a start date'}, agreed {start.isoformat()}"
            )
        if not has_item(s):
            problems.append(f"no line of item {item}")
        why.append(f"subscription {s.number}: {'; '.join(problems)}")
    return Verdict("open", f"No subscription of {where} matches the agreed start and tier.", why)


class FirstInvoice(_AccountCheck):
    """The account's first sales invoice (not a draft) exists and its lines carry the agreed pricing."""

    item_id = "s4-first-invoice"

    def inspect(self, ctx: Context) -> Observation:
        p = ctx.params
        assert p.exact is not None
        exact, account = _account(ctx)
        invoices = exact.sales_invoices(account.id)
        issued = [i for i in invoices if i.status != DRAFT]
        first = exact.invoice_lines(issued[0]) if issued else None
        rows = []
        if first is not None:
            rows = [
                {
                    "invoice": first.number,
                    "id": first.id,
                    "date": first.day.isoformat() if first.day else "",
                    "line": x.number,
                    "item": x.item_code,
                    "quantity": x.quantity,
                    "unit price": x.unit_price,
                    "amount": x.amount,
                    "currency": first.currency,
                }
                for x in first.lines
            ]
        facts = {
            "first": first,
            "drafts": len(invoices) - len(issued),
            "pricing": list(p.exact.pricing),
            "where": _where(exact, account),
        }
        return Observation(rows, facts)

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        f = obs.facts
        return invoice_verdict(f["first"], f["pricing"], f["where"], f["drafts"])


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if v != int(v) else str(int(v))


def invoice_verdict(first: SalesInvoice | None, pricing: list[PriceLine], where: str, drafts: int = 0) -> Verdict:
    """Fulfilled when the first invoice exists and its lines match the agreed pricing line by line (each agreed item
    on it, with its quantity and unit price where agreed, and no other item); otherwise open, one entry per
    difference."""
    if first is None:
        draft = f" ({drafts} draft(s) not yet issued)" if drafts else ""
        return Verdict(
            "open",
            f"{where} has no sales invoice yet{draft}.",
            [f"the first sales invoice of {where}: issue it in the invoice run"],
        )
    head = f"invoice {first.number} of {first.day.isoformat() if first.day else 'no date'} ({first.currency} {first.amount:.2f})"
    if not pricing:
        return Verdict(
            "open",
            f"The first sales invoice of {where} is {head}, but the parameters name no agreed pricing to check it against.",
            ["exact.pricing in the customer file: the agreed invoice lines (item, quantity, unit_price)"],
        )
    differences = []
    left = list(first.lines)
    for agreed in pricing:
        mine = [x for x in left if x.item_code.casefold() == agreed.item.strip().casefold()]
        terms = " x ".join(
            t
            for t in (
                _num(agreed.quantity) if agreed.quantity is not None else "",
                f"{agreed.unit_price:.2f}" if agreed.unit_price is not None else "",
            )
            if t
        )
        if not mine:
            differences.append(f"{agreed.item}: not on {head} (agreed {terms or 'a line'})")
            continue
        line = next(
            (
                x
                for x in mine
                if (agreed.quantity is None or abs(x.quantity - agreed.quantity) < CENT)
                and (agreed.unit_price is None or abs(x.unit_price - agreed.unit_price) < CENT)
            ),
            mine[0],
        )
        left.remove(line)
        if agreed.quantity is not None and abs(line.quantity - agreed.quantity) >= CENT:
            differences.append(
                f"{agreed.item} (line {line.number}): quantity {_num(line.quantity)}, agreed {_num(agreed.quantity)}"
            )
        if agreed.unit_price is not None and abs(line.unit_price - agreed.unit_price) >= CENT:
            differences.append(
                f"{agreed.item} (line {line.number}): unit price {line.unit_price:.2f}, agreed {agreed.unit_price:.2f}"
            )
    for x in left:
        differences.append(
            f"{x.item_code or 'no item'} (line {x.number}): not in the agreed pricing ({_num(x.quantity)} x {x.unit_price:.2f})"
        )
    if differences:
        return Verdict(
            "open",
            f"The first sales invoice of {where}, {head}, differs from the agreed pricing in {len(differences)} line(s): "
            "correct it (a credit note and a new invoice) or, where the difference was agreed, the pricing in the parameters.",
            differences,
        )
    return Verdict(
        "fulfilled",
        f"The first sales invoice of {where}, {head}, carries the agreed pricing ({len(first.lines)} line(s)).",
    )
