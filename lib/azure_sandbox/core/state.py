"""The sandbox tenant's state: ARM objects keyed by lower-cased ID, Graph objects, principals."""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .rbac import role_allows, role_guid


@dataclass
class Operation:
    """A long-running operation the client polls."""

    id: str
    polls_left: int
    done: Callable[[], None] | None = None  # runs once when the operation completes
    failed: bool = False
    resource_id: str = ""
    finished: bool = False
    subscription: str = ""  # where it was started: polling it from another subscription is 404, as ARM's RPC asks
    result: Any = None  # what the final poll of a Location operation answers (an action's result), or makes it
    started: str = ""
    ended: str = ""


@dataclass
class State:
    """Everything the sandbox tenant holds. All access goes through `lock`."""

    tenant_id: str
    tenant_name: str
    domain: str
    arm: dict[str, dict] = field(default_factory=dict)
    applications: dict[str, dict] = field(default_factory=dict)  # by object id
    service_principals: dict[str, dict] = field(default_factory=dict)  # by object id
    directory: dict[str, dict] = field(default_factory=dict)  # users and groups by lower-cased object id
    # Microsoft Entra directory role assignments (Graph unifiedRoleAssignment objects: principalId, roleDefinitionId
    # = a built-in role's template id, directoryScopeId)
    directory_role_assignments: list[dict] = field(default_factory=list)
    secret_hashes: dict[str, list[str]] = field(default_factory=dict)  # appId -> sha256 of secrets
    operations: dict[str, Operation] = field(default_factory=dict)
    by_type: dict[str, dict[str, dict]] = field(default_factory=dict)  # lower-cased type -> key -> object
    # Key Vault data plane: vaults by lower-cased name, and their secrets by (vault, lower-cased secret name)
    vaults: dict[str, dict] = field(default_factory=dict)
    # Microsoft Graph application permissions granted (admin-consented app roles of Microsoft Graph) by lower appId
    graph_permissions: dict[str, set[str]] = field(default_factory=dict)
    app_owners: dict[str, set[str]] = field(default_factory=dict)  # application object id -> owner object ids
    # the MSP's own tenant (Lighthouse's managing tenant, the home of the MSP's Key Vault): the apps registered there
    # (multi-tenant, consented in the customer's tenant) may sign in to it too (lower-cased appIds)
    msp_tenant_id: str = ""
    msp_tenant_name: str = ""
    msp_apps: set[str] = field(default_factory=set)
    # when an app role assignment was granted through Graph, by its id (grants put into graph_permissions directly
    # carry the fixture's date)
    app_role_assigned: dict[str, str] = field(default_factory=dict)
    vault_secrets: dict[tuple[str, str], dict] = field(default_factory=dict)
    # the MSP's Passwordstate server: lists by id (with their API keys), passwords by id, the system-wide key
    passwordstate: dict = field(
        default_factory=lambda: {"lists": {}, "passwords": {}, "next_id": 1001, "system_key": ""}
    )
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- ARM store -------------------------------------------------------------------------
    def get(self, resource_id: str) -> dict | None:
        """The stored object at an ID, or None."""
        return self.arm.get(ids.key(resource_id))

    def put(self, obj: dict) -> None:
        """Store an object under its own `id` (and in the index by type)."""
        k = ids.key(obj["id"])
        old = self.arm.get(k)
        if old is not None:
            self.by_type.get(str(old.get("type", "")).lower(), {}).pop(k, None)
        self.arm[k] = obj
        self.by_type.setdefault(str(obj.get("type", "")).lower(), {})[k] = obj

    def delete_tree(self, resource_id: str) -> int:
        """Remove an object and everything beneath it; returns how many were removed."""
        k = ids.key(resource_id)
        doomed = [x for x in self.arm if x == k or x.startswith(k + "/")]
        for x in doomed:
            gone = self.arm.pop(x)
            self.by_type.get(str(gone.get("type", "")).lower(), {}).pop(x, None)
        return len(doomed)

    def of_type(self, resource_type: str) -> list[dict]:
        """Every stored object of a type (lower-cased index, kept by put and delete_tree)."""
        return list(self.by_type.get(resource_type.lower(), {}).values())

    def children(self, prefix: str, resource_type: str | None = None, recursive: bool = False) -> list[dict]:
        """Objects under a prefix, optionally of one type; direct children unless recursive."""
        k = ids.key(prefix).rstrip("/") + "/"
        depth = k.count("/")
        out = []
        for key_, obj in self.arm.items():
            if not key_.startswith(k):
                continue
            if resource_type and obj.get("type", "").lower() != resource_type.lower():
                continue
            if not recursive and resource_type is None and key_.count("/") != depth:
                continue
            out.append(obj)
        return out

    def subscriptions(self) -> list[dict]:
        """All subscriptions of the tenant (not the MSP's own subscription, which lives in the MSP's tenant)."""
        return [
            o
            for k, o in self.arm.items()
            if k.count("/") == 2 and k.startswith("/subscriptions/") and not o.get("_msp")
        ]

    # --- principals ----------------------------------------------------------------------
    def add_secret(self, app_id: str, secret: str) -> None:
        """Remember a client secret by its hash only."""
        self.secret_hashes.setdefault(app_id.lower(), []).append(hashlib.sha256(secret.encode()).hexdigest())

    def check_secret(self, app_id: str, secret: str) -> bool:
        """Whether a client secret belongs to an application."""
        return hashlib.sha256(secret.encode()).hexdigest() in self.secret_hashes.get(app_id.lower(), [])

    def service_principal_by_app(self, app_id: str) -> dict | None:
        """The service principal of an application id."""
        return next((sp for sp in self.service_principals.values() if sp["appId"].lower() == app_id.lower()), None)

    # --- authorization -----------------------------------------------------------------
    def roles_of(self, principal_id: str, scope: str) -> list[tuple[str, str]]:
        """(role GUID, source) pairs a principal holds at a scope: RBAC at or above it, and Lighthouse."""
        pid = principal_id.lower()
        out: list[tuple[str, str]] = []
        for anc in self.scopes_above(scope):
            for ra in self.children(anc + "/providers/Microsoft.Authorization/roleAssignments", None):
                props = ra["properties"]
                if props["principalId"].lower() == pid:
                    out.append((role_guid(props["roleDefinitionId"]), "rbac"))
        sub = ids.subscription_of(scope)
        if sub:
            for ra in self.children(
                f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments"
            ):
                definition = self.get(ra["properties"]["registrationDefinitionId"])
                if not definition:
                    continue
                for auth in definition["properties"].get("authorizations", []):
                    if auth["principalId"].lower() == pid:
                        out.append((auth["roleDefinitionId"].lower(), "lighthouse"))
        return out

    def management_groups_of(self, scope: str) -> list[str]:
        """Keys of the management groups above a scope in a subscription of this tenant: its root group (the only
        group the sandbox holds), else none."""
        sub = ids.subscription_of(scope)
        if not sub or self.get(f"/subscriptions/{sub}") is None:
            return []
        return [ids.key(f"/providers/Microsoft.Management/managementGroups/{self.tenant_id}")]

    def scopes_above(self, scope: str) -> list[str]:
        """Keys of every scope containing `scope`, from the root management group down to `scope` itself."""
        return [*self.management_groups_of(scope), *ids.ancestors(scope)]

    def lighthouse_grants(self, principal_id: str, scope: str) -> list[dict]:
        """The Lighthouse authorizations (principalId, roleDefinitionId, delegatedRoleDefinitionIds) a principal holds
        on the subscription of a scope."""
        pid = principal_id.lower()
        sub = ids.subscription_of(scope)
        out: list[dict] = []
        if sub:
            for ra in self.children(
                f"/subscriptions/{sub}/providers/Microsoft.ManagedServices/registrationAssignments"
            ):
                definition = self.get(ra["properties"]["registrationDefinitionId"])
                for auth in (definition or {}).get("properties", {}).get("authorizations", []):
                    if auth["principalId"].lower() == pid:
                        out.append(auth)
        return out

    def principal(self, object_id: str) -> dict | None:
        """A directory object by object id: a service principal (application or managed identity), user or group."""
        oid = object_id.lower()
        return (
            self.service_principals.get(oid)
            or next((sp for k, sp in self.service_principals.items() if k.lower() == oid), None)
            or self.directory.get(oid)
        )

    def allowed(self, principal_id: str, scope: str, action: str) -> bool:
        """Whether a principal may perform an action at a scope."""
        return any(role_allows(g, action) for g, _ in self.roles_of(principal_id, scope))

    def new_operation(
        self,
        polls: int,
        done=None,
        failed: bool = False,
        resource_id: str = "",
        subscription: str = "",
        result=None,
        started: str = "",
    ) -> Operation:
        """Register a long-running operation."""
        op = Operation(str(uuid.uuid4()), polls, done, failed, resource_id, False, subscription, result, started)
        self.operations[op.id] = op
        return op
