"""SDK clients for a customer's tenant, from its parameters: the sandbox, or an Azure cloud with its credential."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..adapters import secrets
from ..adapters.clients import (
    KNOWN_CLOUDS,
    Clients,
    CloudEndpoints,
    Target,
    azure_target,
    sandbox_connection_path,
    sandbox_target,
)
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
    target: Target | None = None,
) -> Connector:
    """The connector to one of the MSP's systems from msp.connectors.<system>; its credential is read (through
    `read`, the run's secret stores) only when its first call needs it. A credential the system replaces at every use
    (Exact Online's refresh token) is written back through `store`, after `probe` found its store writable. Partner
    Center's credential is an Entra token of the MSP's tenant, asked for where the target signs in (the sandbox, or
    the customer's cloud)."""
    from ..adapters.connectors import Exact, HubSpot, PartnerCenter, Topdesk
    from ..adapters.connectors.topdesk import SlaFields

    settings = params.msp.connectors
    hubspot, topdesk, exact, pc = settings.hubspot, settings.topdesk, settings.exact, settings.partner_center
    if system == "partner_center" and pc is not None:
        return PartnerCenter(http, pc.url, partner_center_token(params, read, target))
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
            item_cache=_cache_folder(target),
        )
    raise StepInputError(f"the {system} check cannot run: {params.connector_unavailable(system) or 'unknown system'}")


def _cache_folder(target: Target | None) -> Path:
    """Where the connectors keep what the runs of one machine share (not secret): beside the sandbox's connection
    file for the sandbox (each sandbox its own), else <project>/.cache/connectors."""
    from .. import PROJECT_ROOT

    if target is not None and target.kind == "sandbox":
        return sandbox_connection_path().parent / "cache"
    return PROJECT_ROOT / ".cache" / "connectors"


def partner_center_token(
    params: Parameters, read: Callable[[SecretRef], str], target: Target | None = None
) -> Callable[[], str]:
    """A callable giving an app-only Entra token of the MSP's tenant for Partner Center (azure-identity's
    ClientSecretCredential, made at the first call: the client secret is read then; it caches and renews the token).
    A refused or unreadable credential is ConnectorCredentialError, no answer ConnectorUnreachable, each one line."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from azure.identity import ClientSecretCredential

    from ..adapters.connectors.partner_center import SCOPE
    from ..errors import ConnectorCredentialError, ConnectorUnreachable

    pc = params.msp.connectors.partner_center
    assert pc is not None
    made: list[ClientSecretCredential] = []
    fix = (
        "check msp.connectors.partner_center.client_id and the secret its client_secret names (a secret of that app "
        f"in the MSP's tenant {params.msp.tenant_id}), and that the app is registered in Partner Center"
    )

    def token() -> str:
        if not made:
            if target is not None and target.kind == "sandbox":
                where: dict = {"authority": target.arm_url, "connection_verify": target.ca_path}
                where["disable_instance_discovery"] = True
            else:
                c = params.cloud
                authority = (c.authority or "").rstrip("/") if c.name == "custom" else KNOWN_CLOUDS[c.name].authority
                where = {"authority": authority, "disable_instance_discovery": c.name == "custom"}
                if c.ca_bundle:
                    where["connection_verify"] = c.ca_bundle
            made.append(ClientSecretCredential(params.msp.tenant_id, pc.client_id, read(pc.client_secret), **where))
        try:
            return made[0].get_token(SCOPE).token
        except ClientAuthenticationError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "Failed to establish" in str(exc) or "Connection refused" in str(exc):
                raise ConnectorUnreachable(
                    f"Partner Center: cannot sign in to the MSP's tenant {params.msp.tenant_id} ({first[:200]}). Fix: check the network"
                ) from None
            raise ConnectorCredentialError(
                f"Partner Center: signing in to the MSP's tenant {params.msp.tenant_id} as app {pc.client_id} failed ({first[:300]}). Fix: {fix}"
            ) from None
        except ServiceRequestError as exc:
            raise ConnectorUnreachable(
                f"Partner Center: cannot sign in to the MSP's tenant {params.msp.tenant_id}: nothing answered ({type(exc).__name__}). Fix: check the network"
            ) from None

    return token
