"""Stage 2: the customer's contact persons (s2-topdesk-contacts) and its SLA contract (s2-topdesk-sla) in the MSP's
TOPdesk, read through the TOPdesk connector; without it the CSM's attestation is used (steps.base.check_or_attest)."""

from __future__ import annotations

from datetime import date

from ..adapters.connectors.topdesk import Branch, SlaAsset, Topdesk
from ..customer.params import display_path, resolve_path
from .base import ConnectorCheck, Context, Observation, Verdict
from .people import Held, Pair, match, names, row


def _branch(ctx: Context) -> tuple[Topdesk, Branch]:
    p = ctx.params
    assert p.topdesk is not None  # check_or_attest runs the check only when it is configured
    topdesk = ctx.connector("topdesk")
    assert isinstance(topdesk, Topdesk)
    fix = (
        f"set topdesk.branch_id in {display_path(resolve_path(p.customer))} to the customer's branch id "
        "(TOPdesk > Supporting files > Branches, the branch card's id)"
    )
    return topdesk, topdesk.branch(p.topdesk.branch_id, fix)


def _where(branch: Branch) -> str:
    return f"TOPdesk branch {branch.name or branch.id}" + (
        f" ({branch.client_reference})" if branch.client_reference else ""
    )


class _BranchCheck(ConnectorCheck):
    connector = "topdesk"

    def record(self, ctx: Context) -> str:
        _, branch = _branch(ctx)
        return f"branch {branch.id} ({branch.name or 'no name'}) found"


class TopdeskContacts(_BranchCheck):
    """Every contact in `contacts` is a person of the customer's branch, with the parameters' e-mail address."""

    item_id = "s2-topdesk-contacts"

    def inspect(self, ctx: Context) -> Observation:
        topdesk, branch = _branch(ctx)
        held = [
            Held(x.id, x.name, x.email or "", (x.job_title,) if x.job_title else ())
            for x in topdesk.persons(branch.id)
            if not x.archived
        ]
        pairs, extra = match(ctx.params.contacts, held)
        rows = [row(x, "TOPdesk") for x in pairs] + [row(h, "TOPdesk") for h in extra]
        return Observation(rows, {"pairs": pairs, "extra": extra, "where": _where(branch)})

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        return contacts_verdict(obs.facts["pairs"], obs.facts["extra"], obs.facts["where"])


def contacts_verdict(pairs: list[Pair], extra: list[Held], where: str) -> Verdict:
    """Fulfilled when every parameter contact is a person of the branch whose e-mail address is the parameters' (calls
    and e-mails are logged against the customer by it); open names who is missing or has no or another address.
    Persons of the branch the parameters do not list, and roles their job title does not name, are said."""
    if not pairs:
        return Verdict("open", f"The parameters list no contacts to look for in {where} (add `contacts`).")
    wrong = []
    for x in pairs:
        if x.held is None:
            wrong.append(f"{x.contact.name} is not a person of {where}")
        elif x.email_state == "missing":
            wrong.append(f"{x.contact.name} has no e-mail address in {where}")
        elif x.email_state == "differs":
            wrong.append(f"{x.contact.name} has another e-mail address in {where} than in the parameters")
    notes = []
    if extra:
        no_mail = [h for h in extra if not h.email]
        said = f" ({len(no_mail)} without an e-mail address)" if no_mail else ""
        notes.append(f"Other persons of the branch, not in the parameters: {names(extra)}{said}.")
    unroled = [x for x in pairs if x.held is not None and not x.role_found]
    if unroled:
        notes.append(
            "Job title other than the role in the parameters: "
            + ", ".join(f"{x.contact.name} ({x.contact.role})" for x in unroled)
            + "."
        )
    tail = (" " + " ".join(notes)) if notes else ""
    if wrong:
        ok = len(pairs) - len(wrong)
        return Verdict(
            "open", f"{ok} of {len(pairs)} contact(s) are in {where} with their e-mail address.{tail}", wrong
        )
    return Verdict("fulfilled", f"All {len(pairs)} contact(s) are persons of {where} with their e-mail address.{tail}")


class TopdeskSla(_BranchCheck):
    """An active SLA asset linked to the customer's branch, named after the SLA project number, with the tier's
    service level and a term that covers today."""

    item_id = "s2-topdesk-sla"

    def inspect(self, ctx: Context) -> Observation:
        topdesk, branch = _branch(ctx)
        p = ctx.params
        assert p.topdesk is not None
        assets = topdesk.sla_assets(branch.id)
        reference = p.topdesk.sla_reference or p.sla_project_number
        level = p.topdesk.sla_service_level or p.tier
        today = date.today()
        rows = [
            {
                "asset": a.reference,
                "id": a.id,
                "service level": a.service_level,
                "start": a.start.isoformat() if a.start else "",
                "end": a.end.isoformat() if a.end else "",
                "state": state(a, today),
            }
            for a in assets
        ]
        facts = {
            "assets": assets,
            "reference": reference,
            "level": level,
            "today": today,
            "where": _where(branch),
            "template": topdesk.sla_fields.template,
        }
        return Observation(rows, facts)

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        f = obs.facts
        return sla_verdict(f["assets"], f["reference"], f["level"], f["today"], f["where"], f["template"])


def state(a: SlaAsset, today: date) -> str:
    """An SLA asset's state on a day: active, archived, not started yet, ended, or without a start date."""
    if a.archived:
        return "archived"
    if a.start is None:
        return "no start date"
    if today < a.start:
        return f"starts {a.start.isoformat()}"
    if a.end is not None and a.end < today:
        return f"ended {a.end.isoformat()}"
    return "active"


def sla_verdict(
    assets: list[SlaAsset], reference: str, level: str, today: date, where: str, template: str = "SLA"
) -> Verdict:
    """Fulfilled when an asset named `reference` is active on `today` with service level `level`; otherwise open,
    naming what the branch holds instead."""
    term = lambda a: f"{a.start or '?'} to {a.end or 'open-ended'}"  # noqa: E731
    named = [a for a in assets if a.reference.strip().casefold() == reference.strip().casefold()]
    good = [a for a in named if a.active_on(today) and a.service_level.strip().casefold() == level.strip().casefold()]
    if good:
        a = good[0]
        return Verdict(
            "fulfilled",
            f"SLA contract {a.reference} ({a.service_level}, {term(a)}) is active on {today.isoformat()} in {where}.",
        )
    wanted = f"an active '{template}' asset named {reference} with service level {level}, linked to {where}"
    if not assets:
        return Verdict("open", f"No '{template}' asset is linked to {where}.", [wanted])
    if not named:
        others = ", ".join(f"{a.reference} ({state(a, today)})" for a in assets)
        return Verdict("open", f"No SLA asset named {reference} in {where}; it holds: {others}.", [wanted])
    why = []
    for a in named:
        problems = [state(a, today)] if state(a, today) != "active" else []
        if a.service_level.strip().casefold() != level.strip().casefold():
            problems.append(f"service level {a.service_level or 'not set'}, expected {level}")
        why.append(f"{a.reference} ({term(a)}): {'; '.join(problems)}")
    return Verdict(
        "open", f"The SLA contract {reference} in {where} does not cover {today.isoformat()} as agreed.", why
    )
