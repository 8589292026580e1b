"""Microsoft.Storage: storage accounts (tracked; names 3-24 lower-case letters and digits), their blob service, blob
containers and a container's time-based retention policy (`immutabilityPolicies/default`), as ARM serves them.

Spec: specification/storage/resource-manager/Microsoft.Storage/stable/2023-05-01/blob.json and its examples
(BlobContainersPut.json, BlobContainersPutObjectLevelWorm.json, BlobContainersPutImmutabilityPolicy*.json,
BlobContainersGetImmutabilityPolicy.json, BlobContainersLockImmutabilityPolicy.json,
BlobContainersExtendImmutabilityPolicy.json, BlobContainersDeleteImmutabilityPolicy.json). Rules:
- BlobContainers_CreateOrUpdateImmutabilityPolicy: "Creates or updates an unlocked immutability policy. ETag in If-Match
  is honored if given but not required"; the policy's name is `default`; a PUT on a Locked policy is refused;
- BlobContainers_LockImmutabilityPolicy: "Sets the ImmutabilityPolicy to Locked state. The only action allowed on a
  Locked policy is ExtendImmutabilityPolicy action. ETag in If-Match is required";
- BlobContainers_ExtendImmutabilityPolicy: "Extends the immutabilityPeriodSinceCreationInDays of a locked
  immutabilityPolicy" (If-Match required): an unlocked policy, or a shorter period, is refused;
- BlobContainers_DeleteImmutabilityPolicy: "Aborts an unlocked immutability policy. The response of delete has
  immutabilityPeriodSinceCreationInDays set to 0. ETag in If-Match is required ... Deleting a locked immutability policy
  is not allowed";
- the period is 1 to 146,000 days (Microsoft Learn, "Time-based retention policies for immutable blob data": "The
  minimum retention interval ... is one day, and the maximum is 146,000 days (400 years)");
- the container shows `hasImmutabilityPolicy` and `immutabilityPolicy` {etag, properties, updateHistory}; a container
  or account holding a Locked policy cannot be deleted (Microsoft Learn, "Immutable storage": a locked policy
  "prevents ... deletion of the container and the storage account").
The status codes of the refusals are Azure's documented ones where known; the error codes of the Storage RP for
them are not published: `ContainerImmutabilityPolicyLocked` (409) is the data plane's code for an operation a locked
policy forbids (MicrosoftDocs/feedback#1844), `ConditionNotMet` (412) the storage services' code for a stale ETag,
`MissingRequiredHeader` (400) for an If-Match the operation requires (inferred). The blob data itself is not served
here (the runbook's tests use Azurite for it); this is the ARM side only.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..core import ids
from ..core.http import ArmError, Request, Response
from ..core.provider import Provider, Route, TypeSpec

if TYPE_CHECKING:
    import re

    from ..core.arm import Arm

API = ("2024-01-01", "2023-05-01", "2023-01-01", "2022-09-01")
BLOB_API = ("2024-01-01", "2023-05-01", "2023-04-01", "2022-09-01")  # blob.json's versions (the table's, when listed)
ACCOUNT = "Microsoft.Storage/storageAccounts"
BLOB_SERVICES = ACCOUNT + "/blobServices"
CONTAINERS = BLOB_SERVICES + "/containers"
POLICIES = CONTAINERS + "/immutabilityPolicies"
MAX_DAYS = 146_000
_CONTAINER = (
    r"(?P<container>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.storage/storageaccounts/[^/]+"
    r"/blobservices/default/containers/[^/]+)"
)
LOCKED_MESSAGE = "The requested operation is not allowed as the container has a locked immutability policy."


def _etag() -> str:
    return f'"{uuid.uuid4().hex[:15]}"'


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _locked(what: str = "") -> ArmError:
    return ArmError(409, "ContainerImmutabilityPolicyLocked", LOCKED_MESSAGE + (f" {what}" if what else ""))


def _check_etag(req: Request, policy: dict, required: bool) -> None:
    """If-Match against the policy's ETag: required for lock, extend and delete; honoured when given on a PUT."""
    given = req.headers.get("if-match")
    if given is None:
        if required:
            raise ArmError(
                400,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not specified: If-Match (the policy's ETag).",
            )
        return
    if given.strip() != "*" and given.strip().strip('"') != str(policy.get("etag", "")).strip('"'):
        raise ArmError(
            412,
            "ConditionNotMet",
            "The condition specified using HTTP conditional header(s) is not met: the immutability policy's ETag "
            "has changed; read the policy again.",
        )


def _days(body: dict) -> int:
    days = (body.get("properties") or {}).get("immutabilityPeriodSinceCreationInDays")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ArmError(
            400,
            "InvalidImmutabilityPeriod",
            f"The immutability period must be an integer number of days between 1 and {MAX_DAYS}; got {days!r}.",
        )
    return days


class Storage(Provider):
    """Microsoft.Storage: accounts, the blob service, containers and their immutability policies."""

    namespace = "Microsoft.Storage"
    types = (
        TypeSpec(ACCOUNT, API, name_rule=(3, 24, r"[a-z0-9]+")),
        TypeSpec(BLOB_SERVICES, BLOB_API, put_created=200, tracked=False, patch=False),
        TypeSpec(CONTAINERS, BLOB_API, tracked=False, name_rule=(3, 63, r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]")),
        TypeSpec(POLICIES, BLOB_API, put_created=200, tracked=False, patch=False),
    )
    routes = (
        Route(
            _CONTAINER + r"/immutabilitypolicies/default/lock",
            "lock",
            BLOB_API,
            "storageAccounts/blobServices/containers/immutabilityPolicies",
            ("POST",),
            namespace_error=True,
            type=POLICIES,
        ),
        Route(
            _CONTAINER + r"/immutabilitypolicies/default/extend",
            "extend",
            BLOB_API,
            "storageAccounts/blobServices/containers/immutabilityPolicies",
            ("POST",),
            namespace_error=True,
            type=POLICIES,
        ),
    )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def policy_of(arm: Arm, container_id: str) -> dict | None:
        """The container's stored immutability policy (None when it has none, or after it was deleted)."""
        return arm.state.get(container_id + "/immutabilityPolicies/default")

    def _sync(self, arm: Arm, container_id: str, action: str = "") -> None:
        """The container's view of its policy: hasImmutabilityPolicy and immutabilityPolicy with its history."""
        container = arm.state.get(container_id)
        if container is None:
            return
        props = container.setdefault("properties", {})
        policy = self.policy_of(arm, container_id)
        props["hasImmutabilityPolicy"] = policy is not None
        if policy is None:
            props.pop("immutabilityPolicy", None)
            return
        history = list((props.get("immutabilityPolicy") or {}).get("updateHistory") or [])
        if action:
            who = arm.caller or ("", "")
            history.append(
                {
                    "update": action,
                    "immutabilityPeriodSinceCreationInDays": policy["properties"][
                        "immutabilityPeriodSinceCreationInDays"
                    ],
                    "timestamp": _now(),
                    "objectIdentifier": who[0],
                    "tenantId": arm.state.msp_tenant_id or arm.state.tenant_id,
                    "upn": "",
                }
            )
        props["immutabilityPolicy"] = {
            "etag": policy["etag"],
            "properties": dict(policy["properties"]),
            "updateHistory": history,
        }

    @staticmethod
    def _answer(policy: dict) -> Response:
        return Response(200, {k: v for k, v in policy.items() if not k.startswith("_")}, {"ETag": policy["etag"]})

    def _policy_target(self, arm: Arm, container_id: str) -> dict:
        """The container's policy for an action on it (404 when the container or its policy is missing)."""
        container = arm.state.get(container_id)
        if container is None:
            raise ArmError(
                404, "ContainerNotFound", f"The specified container '{container_id.rsplit('/', 1)[-1]}' does not exist."
            )
        policy = self.policy_of(arm, container_id)
        if policy is None:
            raise ArmError(
                404,
                "ImmutabilityPolicyNotFound",
                f"The container '{container_id.rsplit('/', 1)[-1]}' has no immutability policy.",
            )
        return policy

    # ------------------------------------------------------------------ accounts
    def on_storageaccounts(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str):
        """An account whose container holds a Locked policy cannot be deleted."""
        if req.method == "DELETE" and not ap.is_collection:
            for policy in arm.all_of_type(POLICIES):
                if (
                    ids.key(policy["id"]).startswith(ids.key(ap.path) + "/")
                    and policy["properties"]["state"] == "Locked"
                ):
                    raise _locked("The storage account cannot be deleted while a container holds a locked policy.")
        return None

    # ------------------------------------------------------------------ blob service and containers
    def _ensure_blob_service(self, arm: Arm, account_id: str) -> None:
        """Every account has its blob service `default` (Azure creates it with the account)."""
        service_id = account_id + "/blobServices/default"
        if arm.state.get(account_id) is not None and arm.state.get(service_id) is None:
            account = arm.state.get(account_id) or {}
            arm.state.put(
                {
                    "id": account["id"] + "/blobServices/default",
                    "name": "default",
                    "type": BLOB_SERVICES,
                    "properties": {"deleteRetentionPolicy": {"enabled": False}, "isVersioningEnabled": False},
                }
            )

    def on_storageaccounts_blobservices(self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str):
        """The blob service is the account's singleton `default`."""
        self._ensure_blob_service(arm, ap.path[: ids.key(ap.path).index("/blobservices")])
        if not ap.is_collection and ap.name.lower() != "default":
            raise ArmError(400, "InvalidResourceName", "The blob service of a storage account is named 'default'.")
        return None

    def on_storageaccounts_blobservices_containers(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ):
        """A container: its properties as Azure fills them in; a container under a Locked policy is not deleted."""
        account_id = ap.path[: ids.key(ap.path).index("/blobservices/")]
        if arm.state.get(account_id) is None:
            raise ArmError(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource '{account_id.rsplit('/', 1)[-1]}' not found.",
            )
        self._ensure_blob_service(arm, account_id)
        if ap.is_collection:
            return None
        existing = arm.state.get(ap.path)
        if req.method == "DELETE" and existing is not None:
            policy = self.policy_of(arm, ap.path)
            if policy is not None and policy["properties"]["state"] == "Locked":
                raise _locked("The container cannot be deleted while its policy is locked.")
            return None
        if req.method != "PUT":
            return None
        body = req.json()
        props = body.setdefault("properties", {})
        props.setdefault("publicAccess", "None")
        props.setdefault("metadata", {})
        versioning = props.get("immutableStorageWithVersioning")
        if existing is not None:
            had = bool(((existing.get("properties") or {}).get("immutableStorageWithVersioning") or {}).get("enabled"))
            if versioning is not None and bool(versioning.get("enabled")) and not had:
                raise ArmError(
                    409,
                    "ContainerOperationFailure",
                    "Version-level immutability cannot be enabled on an existing container by an update; migrate it "
                    "(objectLevelWorm, ObjectLevelWormContainerMigration.json).",
                )
            kept = {k: v for k, v in (existing.get("properties") or {}).items() if k not in props}
            props.update(kept)
        props.update(
            {
                "deleted": False,
                "remainingRetentionDays": 0,
                "hasLegalHold": False,
                "leaseStatus": "Unlocked",
                "leaseState": "Available",
                "lastModifiedTime": _now(),
            }
        )
        props["hasImmutabilityPolicy"] = self.policy_of(arm, ap.path) is not None
        answer = arm.put(req, ap, spec, existing, extra={"etag": _etag()}, body=body)
        self._sync(arm, ap.path)
        stored = arm.state.get(ap.path)
        if stored is not None:
            answer.body = arm.view(stored)
        return answer

    # ------------------------------------------------------------------ immutability policies
    def on_storageaccounts_blobservices_containers_immutabilitypolicies(
        self, arm: Arm, req: Request, ap: ids.ArmPath, spec: TypeSpec, principal: str
    ):
        """GET, PUT (create or update an unlocked policy) and DELETE (abort an unlocked policy) of `default`."""
        container_id = ap.parent_id
        if not ap.is_collection and ap.name.lower() != "default":
            raise ArmError(400, "InvalidResourceName", "The immutability policy of a container is named 'default'.")
        if arm.state.get(container_id) is None:
            raise ArmError(
                404, "ContainerNotFound", f"The specified container '{container_id.rsplit('/', 1)[-1]}' does not exist."
            )
        policy = self.policy_of(arm, container_id)
        if req.method in ("GET", "HEAD"):
            if policy is None:  # Azure answers a container without one with an empty policy (period 0, Unlocked)
                return Response(
                    200,
                    {
                        "id": container_id + "/immutabilityPolicies/default",
                        "name": "default",
                        "type": POLICIES,
                        "etag": '"0"',
                        "properties": {"immutabilityPeriodSinceCreationInDays": 0, "state": "Unlocked"},
                    },
                )
            return self._answer(policy)
        if req.method == "DELETE":
            if policy is None:
                raise ArmError(404, "ImmutabilityPolicyNotFound", "The container has no immutability policy.")
            _check_etag(req, policy, required=True)
            if policy["properties"]["state"] == "Locked":
                raise _locked("A locked immutability policy cannot be deleted.")
            arm.state.delete_tree(policy["id"])
            self._sync(arm, container_id, "delete")
            gone = {**policy, "etag": _etag()}
            gone["properties"] = {**policy["properties"], "immutabilityPeriodSinceCreationInDays": 0}
            return self._answer(gone)
        if req.method != "PUT":
            return None
        body = req.json() or {}
        days = _days(body)
        if policy is not None:
            _check_etag(req, policy, required=False)
            if policy["properties"]["state"] == "Locked":
                raise _locked("Only ExtendImmutabilityPolicy is allowed on a locked policy.")
        props = body.get("properties") or {}
        stored: dict[str, Any] = {
            "id": container_id + "/immutabilityPolicies/default",
            "name": "default",
            "type": POLICIES,
            "etag": _etag(),
            "properties": {"immutabilityPeriodSinceCreationInDays": days, "state": "Unlocked"},
        }
        for flag in ("allowProtectedAppendWrites", "allowProtectedAppendWritesAll"):
            if flag in props:
                stored["properties"][flag] = bool(props[flag])
        arm.state.put(stored)
        self._sync(arm, container_id, "put")
        return self._answer(stored)

    def lock(self, arm: Arm, req: Request, principal: str, match: re.Match[str], path: str) -> Response:
        """Unlocked -> Locked (If-Match required); a locked policy stays as it is."""
        container_id = path[: len(match.group("container"))]
        if denied := arm.authorize(principal, container_id, f"{POLICIES}/lock/action"):
            return denied
        policy = self._policy_target(arm, container_id)
        _check_etag(req, policy, required=True)
        if policy["properties"]["state"] != "Locked":
            policy["properties"]["state"] = "Locked"
            policy["etag"] = _etag()
            self._sync(arm, container_id, "lock")
        return self._answer(policy)

    def extend(self, arm: Arm, req: Request, principal: str, match: re.Match[str], path: str) -> Response:
        """A Locked policy's period made longer (If-Match required); shorter, or an unlocked policy, is refused."""
        container_id = path[: len(match.group("container"))]
        if denied := arm.authorize(principal, container_id, f"{POLICIES}/extend/action"):
            return denied
        policy = self._policy_target(arm, container_id)
        _check_etag(req, policy, required=True)
        if policy["properties"]["state"] != "Locked":
            raise ArmError(
                409,
                "ContainerImmutabilityPolicyNotLocked",
                "ExtendImmutabilityPolicy applies to a locked policy; update an unlocked policy with a PUT.",
            )
        days = _days(req.json() or {})
        if days < policy["properties"]["immutabilityPeriodSinceCreationInDays"]:
            raise _locked(
                f"The retention period of a locked policy can only be extended, not shortened "
                f"({policy['properties']['immutabilityPeriodSinceCreationInDays']} -> {days} days)."
            )
        policy["properties"]["immutabilityPeriodSinceCreationInDays"] = days
        policy["etag"] = _etag()
        self._sync(arm, container_id, "extend")
        return self._answer(policy)
