"""Stage 2: the customer's contacts are on its HubSpot company card (s2-hubspot-contacts), read through the HubSpot
connector; without it the CSM's attestation is used (steps.base.check_or_attest)."""

from __future__ import annotations

from ..adapters.connectors.hubspot import Company, HubSpot
from ..customer.params import display_path, resolve_path
from .base import ConnectorCheck, Context, Observation, Verdict
from .people import Held, match, names, row


class HubSpotContacts(ConnectorCheck):
    """Every contact in `contacts` is associated with the company `crm.hubspot_company_id`."""

    item_id = "s2-hubspot-contacts"
    connector = "hubspot"

    def _company(self, ctx: Context) -> tuple[HubSpot, Company]:
        p = ctx.params
        assert p.crm is not None  # check_or_attest runs the check only when it is configured
        hubspot = ctx.connector("hubspot")
        assert isinstance(hubspot, HubSpot)
        fix = (
            f"set crm.hubspot_company_id in {display_path(resolve_path(p.customer))} to the number at the end of the "
            "customer's company card URL in HubSpot (.../record/0-2/<id>)"
        )
        return hubspot, hubspot.company(p.crm.hubspot_company_id, fix)

    def record(self, ctx: Context) -> str:
        _, company = self._company(ctx)
        return f"company {company.id} ({company.name or 'no name'}) found"

    def inspect(self, ctx: Context) -> Observation:
        p = ctx.params
        hubspot, company = self._company(ctx)
        held = [
            Held(c.id, c.name, c.email, tuple(dict.fromkeys(r for r in (*c.labels, c.job_title) if r)))
            for c in hubspot.company_contacts(company.id)
        ]
        pairs, extra = match(p.contacts, held)
        rows = [row(x, "HubSpot") for x in pairs] + [row(h, "HubSpot") for h in extra]
        where = f"HubSpot company {company.id} ({company.name or 'no name'})"
        return Observation(rows, {"pairs": pairs, "extra": extra, "where": where, "associated": len(held)})

    def judge(self, ctx: Context, obs: Observation, pending: list, applied: list) -> Verdict:
        return verdict(obs.facts["pairs"], obs.facts["extra"], obs.facts["where"], obs.facts["associated"])


def verdict(pairs: list, extra: list, where: str, associated: int) -> Verdict:
    """Fulfilled when every parameter contact is associated; the others named. Contacts without an e-mail address,
    an e-mail address other than the parameters', a role neither a label nor the job title names, and associated
    contacts the parameters do not list are said, without keeping the item open."""
    if not pairs:
        return Verdict("open", f"The parameters list no contacts to look for on {where} (add `contacts`).")
    absent = [x for x in pairs if x.held is None]
    notes = []
    if extra:
        notes.append(f"Also associated, not in the parameters: {names(extra)}.")
    no_mail = [x for x in pairs if x.email_state == "missing"]
    if no_mail:
        notes.append(f"No e-mail address in HubSpot: {names(no_mail)}.")
    differs = [x for x in pairs if x.email_state == "differs"]
    if differs:
        notes.append(f"Another e-mail address in HubSpot than in the parameters: {names(differs)}.")
    unroled = [x for x in pairs if x.held is not None and not x.role_found]
    if unroled:
        notes.append(
            "Role not on the card (no association label or job title of that name): "
            + ", ".join(f"{x.contact.name} ({x.contact.role})" for x in unroled)
            + "."
        )
    tail = (" " + " ".join(notes)) if notes else ""
    if absent:
        return Verdict(
            "open",
            f"{len(pairs) - len(absent)} of {len(pairs)} contact(s) are associated with {where}.{tail}",
            [f"{x.contact.name} ({x.contact.role or 'no role'}) is not associated with {where}" for x in absent],
        )
    return Verdict(
        "fulfilled",
        f"All {len(pairs)} contact(s) are associated with {where} ({associated} associated in all).{tail}",
    )
