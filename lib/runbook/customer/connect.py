"""SDK clients for a customer's tenant, from its parameters: the sandbox, or an Azure cloud with its credential."""

from __future__ import annotations

from ..adapters import secrets
from ..adapters.clients import KNOWN_CLOUDS, Clients, CloudEndpoints, azure_target, sandbox_target
from .params import Parameters


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
