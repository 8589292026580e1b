"""The stand-ins of the MSP's SaaS systems (see `hosted`), registered in one list."""

from __future__ import annotations

from .exact import HOST as EXACT_HOST
from .exact import Exact
from .hosted import HostedService
from .hubspot import HOST as HUBSPOT_HOST
from .hubspot import HubSpot
from .partner_center import HOST as PARTNER_CENTER_HOST
from .partner_center import PartnerCenter
from .topdesk import DOMAIN as TOPDESK_DOMAIN
from .topdesk import Topdesk

SERVICES: tuple[type[HostedService], ...] = (HubSpot, Topdesk, Exact, PartnerCenter)


def load_services(msp: dict) -> dict[str, HostedService]:
    """Every stand-in, seeded from its own key of the fixture's `msp:` block (an empty system without one)."""
    return {cls.name: cls.from_fixture(msp.get(cls.name)) for cls in SERVICES}


def certificate_names() -> list[str]:
    """The names the sandbox's certificate must cover for the stand-ins (a wildcard for per-tenant hosts)."""
    return [HUBSPOT_HOST, f"*.{TOPDESK_DOMAIN}", EXACT_HOST, PARTNER_CENTER_HOST]
