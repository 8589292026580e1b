"""The customer's resources across subscriptions, read once per step through the SDK."""

from __future__ import annotations

from dataclasses import dataclass, field

from azure.core.exceptions import HttpResponseError

from ..errors import ScopeFailure
from .clients import Clients


@dataclass(frozen=True)
class Resource:
    """One tracked resource as the Resources API lists it."""

    id: str
    name: str
    type: str
    location: str
    subscription_id: str
    resource_group: str
    sku: str | None = None
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        """Lower-cased ID (ARM IDs compare case-insensitively)."""
        return self.id.lower()

    def tag_key(self, name: str) -> str | None:
        """The stored casing of a tag name, matched case-insensitively (tag names are case-insensitive)."""
        return next((k for k in self.tags if k.lower() == name.lower()), None)

    def tag_value(self, name: str) -> str | None:
        """Value of a tag, its name matched case-insensitively."""
        k = self.tag_key(name)
        return self.tags[k] if k is not None else None


def _rg_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    low = [p.lower() for p in parts]
    return parts[low.index("resourcegroups") + 1] if "resourcegroups" in low else ""


def list_resources(
    clients: Clients, subscription_ids: list[str], unreadable: list[ScopeFailure] | None = None
) -> list[Resource]:
    """Every tracked resource in the given subscriptions (following nextLink pages). With `unreadable`, a
    subscription Azure refuses to list (403, 404) is named there and skipped instead of failing the whole list."""
    out = []
    for sub in subscription_ids:
        try:
            for r in clients.resource(sub).resources.list():
                sku = r.sku.name if getattr(r, "sku", None) is not None else None
                out.append(Resource(r.id, r.name, r.type, r.location or "", sub, _rg_of(r.id), sku, dict(r.tags or {})))
        except HttpResponseError as exc:
            if unreadable is None or exc.status_code not in (401, 403, 404):
                raise
            code = exc.error.code if exc.error is not None else exc.status_code
            unreadable.append(
                ScopeFailure(
                    f"/subscriptions/{sub}",
                    f"cannot list its resources ({exc.status_code} {code}); the runbook principal needs Reader or more there",
                )
            )
    return out


def subscription_names(clients: Clients, subscription_ids: list[str]) -> dict[str, str]:
    """Display names of the subscriptions the runbook can see."""
    wanted = {s.lower() for s in subscription_ids}
    return {
        s.subscription_id: s.display_name
        for s in clients.subscriptions().subscriptions.list()
        if s.subscription_id.lower() in wanted
    }


def customer_resources(
    clients: Clients, subscription_ids: list[str], msp_resource_group: str, unreadable: list[ScopeFailure] | None = None
) -> list[Resource]:
    """The customer's resources: everything except the MSP's own monitoring resource group."""
    return [
        r
        for r in list_resources(clients, subscription_ids, unreadable)
        if r.resource_group.lower() != msp_resource_group.lower()
    ]
