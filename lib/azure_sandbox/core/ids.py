"""Parsing of ARM resource IDs and request paths, case-insensitively as ARM does."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SLASHES = re.compile(r"/{2,}")


def normalise_path(path: str) -> str:
    """Collapse repeated slashes and drop a trailing slash; casing is kept for display."""
    path = _SLASHES.sub("/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path if path.startswith("/") else "/" + path


def key(resource_id: str) -> str:
    """Store key of a resource ID: ARM IDs compare case-insensitively."""
    return normalise_path(resource_id).lower()


@dataclass(frozen=True)
class ArmPath:
    """A request path split into the scope it lives at and its provider segments."""

    path: str
    scope: str  # "" for tenant level, else an ID such as /subscriptions/x/resourceGroups/y
    namespace: str  # e.g. Microsoft.Insights, "" when the path has no /providers/ part
    segments: tuple[str, ...]  # type/name/subtype/subname... after the namespace

    @property
    def is_collection(self) -> bool:
        """True when the path names a list of resources rather than one resource."""
        return len(self.segments) % 2 == 1

    @property
    def resource_type(self) -> str:
        """Full resource type, e.g. Microsoft.Insights/actionGroups."""
        types = self.segments[0::2]
        return "/".join((self.namespace, *types)) if self.namespace else ""

    @property
    def name(self) -> str:
        """Last name segment (empty for a collection)."""
        return "" if self.is_collection else self.segments[-1]

    @property
    def parent_id(self) -> str:
        """ID of the parent resource for child types, else the scope."""
        if len(self.segments) <= 2:
            return self.scope
        return f"{self.scope}/providers/{self.namespace}/" + "/".join(
            self.segments[: -2 if not self.is_collection else -1]
        )


def parse(path: str) -> ArmPath:
    """Split an ARM path at its last /providers/ segment into scope and provider part."""
    path = normalise_path(path)
    parts = path.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    idx = max((i for i, p in enumerate(lowered) if p == "providers"), default=-1)
    if idx == -1 or idx + 1 >= len(parts):
        return ArmPath(path, path if path != "/" else "", "", ())
    scope = "/" + "/".join(parts[:idx]) if idx > 0 else ""
    return ArmPath(path, scope, parts[idx + 1], tuple(parts[idx + 2 :]))


def subscription_of(path: str) -> str | None:
    """Subscription ID a path belongs to, if any."""
    m = re.match(r"^/subscriptions/([^/]+)", normalise_path(path), re.IGNORECASE)
    return m.group(1).lower() if m else None


def resource_group_of(path: str) -> str | None:
    """Resource group name a path belongs to, if any (lower case)."""
    m = re.match(r"^/subscriptions/[^/]+/resourcegroups/([^/]+)", normalise_path(path), re.IGNORECASE)
    return m.group(1).lower() if m else None


def ancestors(resource_id: str) -> list[str]:
    """Keys of the scopes containing an ID, from the subscription down to the ID itself."""
    parts = key(resource_id).strip("/").split("/")
    out = []
    for n in range(2, len(parts) + 1, 2):
        if n >= 4 and parts[n - 2] == "providers":
            continue  # "/providers/<ns>" alone is not a scope
        out.append("/" + "/".join(parts[:n]))
    if len(parts) % 2 == 1:
        out.append("/" + "/".join(parts))
    return out
