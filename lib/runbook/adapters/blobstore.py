"""The evidence archive in Azure Blob: the container's immutability policy read through ARM (azure-mgmt-storage), and
the blobs written and read through the real BlobServiceClient (azure-storage-blob), with the runbook's credential
(a token of the MSP's tenant, where the storage account lives) for both.

Blobs are written with overwrite=False (an existing blob is never replaced: a different one is a conflict, named by
the caller), with their Content-MD5 and their SHA-256 as metadata, and read back to check what the service stored.
Every Azure error becomes a TargetError of one line (what failed, where, the fix).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from ..errors import TargetError

ARM_API_VERSION = "2023-05-01"  # the Storage RP's blob.json the sandbox serves (its examples are cited in the tests)
STORAGE_SCOPE = "https://storage.azure.com/.default"


class InTenant:
    """A credential that asks for every token in one tenant (the MSP's: the storage account is there, not in the
    customer's tenant the rest of the run signs in to). The wrapped credential must allow that tenant
    (`additionally_allowed_tenants`: the runbook's credentials do for msp.tenant_id)."""

    def __init__(self, inner: TokenCredential, tenant_id: str) -> None:
        self.inner, self.tenant_id = inner, tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        kwargs["tenant_id"] = self.tenant_id
        return self.inner.get_token(*scopes, **kwargs)


@dataclass(frozen=True)
class Policy:
    """A container's immutability as ARM shows it: the time-based retention policy (state Unlocked / Locked, days;
    state '' when it has none) and whether version-level immutability is enabled on it."""

    state: str
    days: int
    version_level: bool
    etag: str = ""

    @property
    def present(self) -> bool:
        """A time-based retention policy is in force (Unlocked or Locked, at least one day)."""
        return self.state in ("Unlocked", "Locked") and self.days > 0

    def words(self) -> str:
        """The policy in a few words, for messages and the push record."""
        if not self.present:
            return "no time-based retention policy"
        level = ", version-level immutability" if self.version_level else ""
        return f"time-based retention {self.days} days, {self.state}{level}"


@dataclass(frozen=True)
class RemoteBlob:
    """A blob of the archive as listed: its name, size, Content-MD5 (hex) and the SHA-256 recorded with it."""

    name: str
    size: int
    md5: str
    sha256: str


def _line(exc: Exception) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    code = getattr(exc, "error_code", None)
    first = text[0] if text else type(exc).__name__
    return f"{first[:300]}" + (f" ({code})" if code and str(code) not in first else "")


class BlobArchive:
    """One MSP's evidence container: the policy through ARM, the blobs through the Blob service."""

    def __init__(
        self,
        account_url: str,
        container: str,
        credential: TokenCredential,
        verify: str | bool = True,
        arm_url: str = "https://management.azure.com",
        arm_scope: str = "https://management.azure.com/.default",
        resource_id: str = "",
        client_kwargs: dict | None = None,
    ) -> None:
        self.account_url, self.container, self.credential = account_url, container, credential
        self.verify, self.arm_url, self.arm_scope, self.resource_id = verify, arm_url, arm_scope, resource_id
        self.client_kwargs = {k: v for k, v in (client_kwargs or {}).items() if k != "polling_interval"}
        self._blobs: Any = None
        self._service: Any = None

    # --- ARM: the container's immutability ------------------------------------------------------------
    def policy(self) -> Policy:
        """The container's immutability policy, read through ARM (TargetError, one line, when ARM refuses)."""
        from azure.mgmt.storage import StorageManagementClient

        parts = self.resource_id.split("/")
        sub, group, account = parts[2], parts[4], parts[-1]
        client = StorageManagementClient(
            self.credential,
            sub,
            base_url=self.arm_url,
            credential_scopes=[self.arm_scope],
            connection_verify=self.verify,
            api_version=ARM_API_VERSION,
            **self.client_kwargs,
        )
        try:
            container = client.blob_containers.get(group, account, self.container)
            props = container.properties if hasattr(container, "properties") else container
            versioning = getattr(props, "immutable_storage_with_versioning", None)
            version_level = bool(getattr(versioning, "enabled", False))
            if not getattr(props, "has_immutability_policy", False):
                return Policy("", 0, version_level)
            p = client.blob_containers.get_immutability_policy(group, account, self.container)
            pp = getattr(p, "properties", None) or p
            days = int(getattr(pp, "immutability_period_since_creation_in_days", 0) or 0)
            state = getattr(pp, "state", "") or ""
            return Policy(str(getattr(state, "value", state)), days, version_level, str(p.etag or ""))
        except ResourceNotFoundError:
            raise TargetError(
                f"the evidence container '{self.container}' does not exist in storage account {account} ({self.resource_id}). "
                "Fix: create it with a time-based retention policy (az storage container-rm create, then "
                "az storage container immutability-policy create), or correct msp.evidence_store"
            ) from None
        except (HttpResponseError, ClientAuthenticationError, ServiceRequestError) as exc:
            raise TargetError(
                f"reading the immutability policy of container '{self.container}' of {account} through ARM failed: {_line(exc)}. "
                "Fix: the runbook needs Storage Account Contributor (or Reader) on the account, in the MSP's tenant"
            ) from None
        finally:
            client.close()

    def set_policy(self, days: int, lock: bool = False) -> Policy:
        """Set the container's time-based retention policy to `days` through ARM: create or update it while Unlocked,
        extend it when Locked (a Locked policy can only grow); with `lock`, lock it afterwards (irreversible: the
        blobs then cannot be deleted or changed before their retention ends, nor the container or the account)."""
        from azure.core import MatchConditions
        from azure.mgmt.storage import StorageManagementClient

        parts = self.resource_id.split("/")
        sub, group, account = parts[2], parts[4], parts[-1]
        current = self.policy()
        client = StorageManagementClient(
            self.credential,
            sub,
            base_url=self.arm_url,
            credential_scopes=[self.arm_scope],
            connection_verify=self.verify,
            api_version=ARM_API_VERSION,
            **self.client_kwargs,
        )
        body: Any = {"properties": {"immutabilityPeriodSinceCreationInDays": days}}
        try:
            ops = client.blob_containers
            if current.state == "Locked":
                made = current
                if current.days < days:
                    p = ops.extend_immutability_policy(
                        group,
                        account,
                        self.container,
                        body,
                        etag=current.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                    made = Policy("Locked", days, current.version_level, str(p.etag or ""))
            else:
                p = ops.create_or_update_immutability_policy(group, account, self.container, body)
                made = Policy("Unlocked", days, current.version_level, str(p.etag or ""))
                if lock:
                    p = ops.lock_immutability_policy(
                        group, account, self.container, etag=made.etag, match_condition=MatchConditions.IfNotModified
                    )
                    made = Policy("Locked", days, current.version_level, str(p.etag or ""))
            return made
        except (HttpResponseError, ClientAuthenticationError, ServiceRequestError) as exc:
            raise TargetError(
                f"setting the immutability policy of container '{self.container}' of {account} through ARM failed: {_line(exc)}. "
                "Fix: the runbook needs Storage Account Contributor on the account, in the MSP's tenant"
            ) from None
        finally:
            client.close()

    # --- the Blob service -----------------------------------------------------------------------------
    def _container(self) -> Any:
        if self._blobs is None:
            from azure.storage.blob import BlobServiceClient

            kw = {k: v for k, v in self.client_kwargs.items() if k.startswith("retry_")}
            service = BlobServiceClient(
                self.account_url, credential=self.credential, connection_verify=self.verify, **kw
            )
            # the container client shares the service's transport and its close leaves it open (azure-storage-blob's
            # TransportWrapper): `close` closes the service too, or its keep-alive connections stay
            self._service, self._blobs = service, service.get_container_client(self.container)
        return self._blobs

    def _fail(self, what: str, exc: Exception) -> TargetError:
        fix = (
            "the runbook needs Storage Blob Data Contributor on the container (in the MSP's tenant)"
            if isinstance(exc, ClientAuthenticationError) or getattr(exc, "status_code", 0) in (401, 403)
            else f"check that {self.account_url} answers and the container '{self.container}' exists"
        )
        return TargetError(
            f"evidence archive {self.account_url}/{self.container}: {what} failed: {_line(exc)}. Fix: {fix}"
        )

    def listing(self, prefix: str) -> Iterator[RemoteBlob]:
        """The blobs under a prefix (name, size, MD5, recorded SHA-256)."""
        try:
            for b in self._container().list_blobs(name_starts_with=prefix, include=["metadata"]):
                md5 = b.content_settings.content_md5
                yield RemoteBlob(
                    b.name, int(b.size or 0), bytes(md5).hex() if md5 else "", (b.metadata or {}).get("sha256", "")
                )
        except (HttpResponseError, ClientAuthenticationError, ServiceRequestError) as exc:
            raise self._fail(f"listing {prefix}", exc) from None

    def upload(self, name: str, data: bytes) -> str:
        """Write a blob that must not exist yet (overwrite=False) with its Content-MD5 and SHA-256, then read its
        properties back: 'uploaded'; 'present' when the same content is already there (a resumed push); 'conflict'
        when a different blob holds the name (never overwritten); TargetError when the service stored something else."""
        from azure.storage.blob import ContentSettings

        md5 = hashlib.md5(data).digest()
        digest = hashlib.sha256(data).hexdigest()
        blob = self._container().get_blob_client(name)
        try:
            blob.upload_blob(
                data,
                overwrite=False,
                content_settings=ContentSettings(content_md5=bytearray(md5), content_type="application/octet-stream"),
                metadata={"sha256": digest},
            )
        except ResourceExistsError:
            return "present" if self.remote_sha256(name) == digest else "conflict"
        except (HttpResponseError, ClientAuthenticationError, ServiceRequestError) as exc:
            raise self._fail(f"uploading {name}", exc) from None
        try:
            props = blob.get_blob_properties()
        except (HttpResponseError, ClientAuthenticationError, ServiceRequestError) as exc:
            raise self._fail(f"reading back {name}", exc) from None
        stored = props.content_settings.content_md5
        if stored is None or bytes(stored) != md5 or (props.metadata or {}).get("sha256") != digest:
            raise TargetError(
                f"evidence archive: {name} was stored with another Content-MD5 or SHA-256 than was sent "
                f"(MD5 {base64.b64encode(md5).decode()}). Fix: push again; if it persists, the blob service alters uploads"
            )
        return "uploaded"

    def remote_sha256(self, name: str) -> str:
        """The SHA-256 of a blob's content, computed from its bytes."""
        return hashlib.sha256(self.download(name)).hexdigest()

    def download(self, name: str) -> bytes:
        """A blob's content (TargetError, one line, when it cannot be read)."""
        try:
            return bytes(self._container().get_blob_client(name).download_blob().readall())
        except (HttpResponseError, ClientAuthenticationError, ServiceRequestError) as exc:
            raise self._fail(f"reading {name}", exc) from None

    def close(self) -> None:
        """Close the Blob client's connections."""
        if self._blobs is not None:
            self._blobs.close()
            self._service.close()
            self._blobs = self._service = None
