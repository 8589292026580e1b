"""Connectors to the MSP's own SaaS systems, which checklist items read instead of a person attesting them: one module
per system over one base (`base.Connector`: HTTPS with httpx, the credential read at the first call, waits for
throttling, every refusal as one line naming the system, what failed and the fix), each exposing `reachable()` for the
preflight and read methods returning typed records. HubSpot (CRM: companies, contacts, associations) and TOPdesk
(service desk: branches, persons, assets), Exact Online (accounting: accounts, subscriptions, sales invoices; its
refresh token rotates and is stored back) and Partner Center (CSP: customers, subscriptions, agreements, the usage
budget, which it also sets); Microsoft 365 follows the same shape."""

from __future__ import annotations

from .base import Connector
from .exact import Exact
from .hubspot import HubSpot
from .partner_center import PartnerCenter
from .topdesk import Topdesk

#: Every connector by the name the catalogue (`connector:`) and the MSP's settings (`msp.connectors.<name>`) use.
CONNECTORS: dict[str, type[Connector]] = {
    "hubspot": HubSpot,
    "topdesk": Topdesk,
    "exact": Exact,
    "partner_center": PartnerCenter,
}

__all__ = ["CONNECTORS", "Connector", "Exact", "HubSpot", "PartnerCenter", "Topdesk"]
