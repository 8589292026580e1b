"""SDK clients for a customer's tenant, from its parameters: the sandbox, or an Azure cloud with its credential."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..adapters import secrets
from ..adapters.clients import KNOWN_CLOUDS, Clients, CloudEndpoints, azure_target, sandbox_target
from ..adapters.secrets import SecretRef
from ..errors import StepInputError
from .params import Parameters

if TYPE_CHECKING:
    import httpx

    from ..adapters.connectors.base import Connector


def make_clients(params: Parameters) -> Clients:
    """Clients for the customer's tenant: the sandbox, or an Azure cloud with the configured credential."""
    if params.target == "sandbox":
        return Clients(sandbox_target(other_tenants=(params.msp.tenant_id,)))
    c = params.cloud
    if c.name == "custom":
        arm = (c.arm_endpoint or "").rstrip("/")
        cloud = CloudEndpoints(arm, (c.authority or "").rstrip("/"), (c.graph_endpoint or arm).rstrip("/"))
    else:
        cloud = KNOWN_CLOUDS[c.name]
    secret = secrets.read(params.credential.client_secret) if params.credential else None
    return Clients(
        azure_target(
            params.tenant_id,
            cloud,
            params.credential.client_id if params.credential else None,
            secret,
            c.ca_bundle,
            other_tenants=(params.msp.tenant_id,),
        )
    )


def make_connector(
    system: str,
    params: Parameters,
    http: httpx.Client,
    read: Callable[[SecretRef], str],
    store: Callable[[SecretRef, str], object] | None = None,
    probe: Callable[[SecretRef], object] | None = None,
) -> Connector:
    """The connector to one of the MSP's systems from msp.connectors.<system>; its credential is read (through
    `read`, the run's secret stores) only when its first call needs it. A credential the system replaces at every use
    (Exact Online's refresh token) is written back through `store`, after `probe` found its store writable."""
    from ..adapters.connectors import Exact, HubSpot, Topdesk
    from ..adapters.connectors.topdesk import SlaFields

    settings = params.msp.connectors
    hubspot, topdesk, exact = settings.hubspot, settings.topdesk, settings.exact
    if system == "hubspot" and hubspot is not None:
        return HubSpot(http, hubspot.url, lambda: read(hubspot.token))
    if system == "topdesk" and topdesk is not None:
        made = Topdesk(http, topdesk.url, lambda: read(topdesk.application_password), login=topdesk.login)
        sla = topdesk.sla
        made.sla_fields = SlaFields(sla.template, sla.service_level_field, sla.start_field, sla.end_field)
        return made
    if system == "exact" and exact is not None:
        return Exact(
            http,
            exact.url,
            lambda: read(exact.refresh_token),
            division=exact.division,
            client_id=exact.client_id,
            client_secret=lambda: read(exact.client_secret),
            store=(lambda value: store(exact.refresh_token, value)) if store is not None else None,
            writable=(lambda: probe(exact.refresh_token)) if probe is not None else None,
        )
    raise StepInputError(f"the {system} check cannot run: {params.connector_unavailable(system) or 'unknown system'}")
