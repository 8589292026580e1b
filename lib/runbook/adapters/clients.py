"""One factory for every Azure SDK client, for the sandbox tenant or real Azure from the same settings."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import ssl
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from azure.core.credentials import TokenCredential
from azure.identity import ClientSecretCredential, DefaultAzureCredential

from .. import PROJECT_ROOT
from ..errors import TargetError

T = TypeVar("T")
ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
SANDBOX_CONNECTION_ENV = "RUNBOOK_SANDBOX"


@dataclass(frozen=True)
class CloudEndpoints:
    """Endpoints and token audiences of one Azure cloud."""

    arm_url: str
    authority: str
    graph_url: str
    arm_scope: str = ARM_SCOPE
    graph_scope: str = GRAPH_SCOPE


KNOWN_CLOUDS = {
    "AzureCloud": CloudEndpoints(
        "https://management.azure.com", "https://login.microsoftonline.com", "https://graph.microsoft.com"
    ),
    "AzureUSGovernment": CloudEndpoints(
        "https://management.usgovcloudapi.net",
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://management.usgovcloudapi.net/.default",
        "https://graph.microsoft.us/.default",
    ),
    "AzureChinaCloud": CloudEndpoints(
        "https://management.chinacloudapi.cn",
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
        "https://microsoftgraph.chinacloudapi.cn/.default",
    ),
}


@dataclass
class Target:
    """Where the clients go: endpoints, the CA to trust, and the credential."""

    kind: str  # "sandbox" or "azure"
    tenant_id: str
    arm_url: str = "https://management.azure.com"
    graph_url: str = "https://graph.microsoft.com"
    ca_path: str | None = None
    credential: TokenCredential | None = field(default=None, repr=False)
    client_kwargs: dict = field(default_factory=dict)
    arm_scope: str = ARM_SCOPE
    graph_scope: str = GRAPH_SCOPE
    # the sandbox's service names (Key Vault, Passwordstate, HubSpot, TOPdesk): host name -> "address:port" it is
    # served at (as a hosts-file entry would), and the vault domain under which any other name is refused instead of
    # looked up
    hosts: dict[str, str] = field(default_factory=dict)
    vault_domain: str = ""

    @property
    def verify(self) -> str | bool:
        """Value for `connection_verify`: the sandbox CA, or the system trust store."""
        return self.ca_path or True

    def signed_in(self) -> dict:
        """The claims of an ARM token for this target (oid, appid, tid): who the runbook signs in as. One token
        request (cached by the credential); raises what the credential raises when nothing answers."""
        import base64
        import json as _json

        if self.credential is None:
            return {}
        body = self.credential.get_token(self.arm_scope).token.split(".")[1]
        return dict(_json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def sandbox_connection_path() -> Path:
    """The connection file of the running sandbox ($RUNBOOK_SANDBOX or <project>/.sandbox/connection.json)."""
    return Path(os.environ.get(SANDBOX_CONNECTION_ENV) or PROJECT_ROOT / ".sandbox" / "connection.json")


def sandbox_target(connection_file: Path | None = None, other_tenants: tuple[str, ...] = ()) -> Target:
    """A Target for the running sandbox tenant, authenticating with a real ClientSecretCredential (which may also
    get tokens of the MSP's tenant and `other_tenants`: a Key Vault there answers with its own tenant's challenge)."""
    path = Path(connection_file or sandbox_connection_path())
    if not path.exists():
        raise TargetError(
            f"no sandbox is running (missing {path}); start one with `runbook sandbox serve` or run `make demo`"
        )
    # the documented connection file: url, ca_path, tenant_id, client_id, secret_path (the secret itself is not in it)
    try:
        conn = json.loads(path.read_text())
        url, ca_path, tenant_id, client_id = conn["url"], conn["ca_path"], conn["tenant_id"], conn["client_id"]
        secret = Path(conn["secret_path"]).read_text().strip()
        vault_domain = str(conn.get("vault_domain") or "")
        address = url.split("://", 1)[1].rstrip("/")
        hosts = {f"{name}.{vault_domain}".lower(): address for name in conn.get("vaults") or []}
        if conn.get("passwordstate_host"):
            hosts[str(conn["passwordstate_host"]).lower()] = address
        for name in conn.get("service_hosts") or []:  # the stand-ins of the MSP's SaaS systems (HubSpot, TOPdesk)
            hosts[str(name).lower()] = address
        # the MSP's tenant (where its vault lives): the credential may get tokens there too, as a multi-tenant app's
        extra = [t for t in (str(conn.get("msp_tenant_id") or ""), *other_tenants) if t and t != tenant_id]
    except (OSError, ValueError, KeyError) as exc:
        raise TargetError(
            f"the sandbox connection file {path} is unreadable ({type(exc).__name__}: {exc}); restart the sandbox with `runbook sandbox serve`"
        ) from None
    # a local sandbox that refuses the connection is not running: no connect retries (a dropped connection is a read
    # error and is still retried); Azure targets keep the SDK's defaults
    cred = ClientSecretCredential(
        tenant_id,
        client_id,
        secret,
        authority=url,
        disable_instance_discovery=True,
        connection_verify=ca_path,
        retry_connect=0,
        additionally_allowed_tenants=sorted(set(extra)),
    )
    # the sandbox asks for short waits; keep the SDK's retry policy as it is, only bound the totals
    return Target(
        "sandbox",
        tenant_id,
        url,
        url,
        ca_path,
        cred,
        {"retry_total": 6, "retry_backoff_factor": 0.2, "polling_interval": 1, "retry_connect": 0},
        hosts=hosts,
        vault_domain=vault_domain,
    )


def local_names_transport(hosts: dict[str, str], domain: str, verify: str | bool):
    """An azure-core transport over `local_names_session`: the sandbox's Key Vault names reach the sandbox."""
    from azure.core.pipeline.transport import RequestsTransport

    return RequestsTransport(session=local_names_session(hosts, domain), session_owner=True, connection_verify=verify)


def local_names_session(hosts: dict[str, str], domain: str):
    """A requests Session that connects the given host names to their sandbox address (TLS still checks the
    certificate against the name, and the Host header carries it) and refuses any other name under `domain` as a
    resolver would; every other name is looked up as usual. Used for the sandbox's Key Vault names only."""
    import requests
    from requests.adapters import HTTPAdapter

    class LocalNames(HTTPAdapter):
        def build_connection_pool_key_attributes(self, request, verify, cert=None):
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
            name = str(host_params.get("host") or "").lower()
            if name in hosts:
                address, _, port = hosts[name].rpartition(":")
                host_params.update(host=address, port=int(port))
                pool_kwargs.update(server_hostname=name, assert_hostname=name)
            elif domain and name.endswith("." + domain):
                raise requests.exceptions.ConnectionError(
                    f"Failed to resolve '{name}': the sandbox serves no vault of that name", request=request
                )
            return host_params, pool_kwargs

        def send(self, request, *args, **kwargs):
            from urllib.parse import urlsplit

            parts = urlsplit(request.url)
            if (parts.hostname or "").lower() in hosts:
                request.headers["Host"] = parts.netloc
            return super().send(request, *args, **kwargs)

    session = requests.Session()
    session.mount("https://", LocalNames())
    return session


def _local_names_httpx(hosts: dict[str, str], domain: str, verify):
    """An httpx transport (see `_LocalNamesHttpx`), made where httpx is imported."""
    import httpx

    class LocalNames(_LocalNamesHttpx, httpx.BaseTransport):
        pass

    return LocalNames(hosts, domain, verify)


class _LocalNamesHttpx:
    """An httpx transport sending requests for the sandbox's service names to the sandbox's address, TLS checked
    against the name (SNI), the Host header kept."""

    def __init__(self, hosts: dict[str, str], domain: str, verify) -> None:
        import httpx

        self.hosts, self.domain = hosts, domain
        self.inner = httpx.HTTPTransport(verify=verify)

    def handle_request(self, request):
        import httpx

        name = (request.url.host or "").lower()
        if name in self.hosts:
            address, _, port = self.hosts[name].rpartition(":")
            request.headers["Host"] = request.url.netloc.decode()
            request.extensions = {**request.extensions, "sni_hostname": name}
            request.url = request.url.copy_with(host=address, port=int(port))
        elif self.domain and name.endswith("." + self.domain):
            raise httpx.ConnectError(f"Failed to resolve '{name}'", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def azure_target(
    tenant_id: str,
    cloud: CloudEndpoints | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    ca_path: str | None = None,
    other_tenants: tuple[str, ...] = (),
) -> Target:
    """A Target for an Azure cloud: a client secret when given, else azure-identity's default chain
    (environment, managed identity, Azure CLI, ...). A custom cloud skips MSAL's instance discovery. The credential
    may also get tokens of `other_tenants` (the MSP's own tenant, where its Key Vault lives: the vault's challenge
    names that tenant)."""
    cloud = cloud or KNOWN_CLOUDS["AzureCloud"]
    custom = cloud not in KNOWN_CLOUDS.values()
    extra = {"connection_verify": ca_path} if ca_path else {}
    allowed = sorted({t for t in other_tenants if t and t.lower() != tenant_id.lower()})
    cred: TokenCredential
    if client_id and client_secret:
        cred = ClientSecretCredential(
            tenant_id,
            client_id,
            client_secret,
            authority=cloud.authority,
            disable_instance_discovery=custom,
            additionally_allowed_tenants=allowed,
            **extra,
        )
    else:
        cred = DefaultAzureCredential(
            authority=cloud.authority,
            additionally_allowed_tenants=[tenant_id, *allowed],
            disable_instance_discovery=custom,
        )
    return Target(
        "azure",
        tenant_id,
        cloud.arm_url,
        cloud.graph_url,
        ca_path,
        cred,
        arm_scope=cloud.arm_scope,
        graph_scope=cloud.graph_scope,
    )


class Clients:
    """Builds SDK clients for a Target, once per kind, subscription and settings (they are thread-safe and
    keep their connections); nothing else in the runbook knows which tenant it talks to."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._made: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def _kw(self, **overrides) -> dict:
        t = self.target
        return {
            "base_url": t.arm_url,
            "credential_scopes": [t.arm_scope],
            "connection_verify": t.verify,
            **t.client_kwargs,
            **overrides,
        }

    def _client(self, module: str, name: str, subscription_id: str | None = None, **overrides):
        """The client class `name` from `module`, built on first use for these arguments."""
        key = (name, subscription_id, tuple(sorted(overrides.items())))
        with self._lock:
            if key not in self._made:
                cls = getattr(importlib.import_module(module), name)
                args = (self.target.credential,) + ((subscription_id,) if subscription_id is not None else ())
                self._made[key] = cls(*args, **self._kw(**overrides))
            return self._made[key]

    def close(self) -> None:
        """Close the connections the clients hold (an httpx client otherwise waits for the garbage collector)."""
        with self._lock:
            made, self._made = list(self._made.values()), {}
        for client in made:
            close = getattr(client, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # closing is best effort
                    pass

    def resource(self, subscription_id: str, **overrides):
        """ResourceManagementClient (groups, resources, tags); overrides such as retry_total=0 go to azure-core."""
        return self._client("azure.mgmt.resource.resources", "ResourceManagementClient", subscription_id, **overrides)

    def subscriptions(self):
        """SubscriptionClient (subscriptions, tenants)."""
        return self._client("azure.mgmt.resource.subscriptions", "SubscriptionClient")

    def authorization(self, subscription_id: str):
        """AuthorizationManagementClient (role assignments and definitions)."""
        return self._client("azure.mgmt.authorization", "AuthorizationManagementClient", subscription_id)

    def managed_services(self):
        """ManagedServicesClient (Azure Lighthouse registrations)."""
        return self._client("azure.mgmt.managedservices", "ManagedServicesClient")

    def monitor(self, subscription_id: str):
        """MonitorManagementClient (action groups, alerts)."""
        return self._client("azure.mgmt.monitor", "MonitorManagementClient", subscription_id)

    def security(self, subscription_id: str):
        """SecurityCenter client (Defender for Cloud pricings)."""
        return self._client("azure.mgmt.security", "SecurityCenter", subscription_id)

    def policy(self, subscription_id: str):
        """PolicyClient (policy definitions and assignments)."""
        return self._client("azure.mgmt.resource.policy", "PolicyClient", subscription_id)

    def locks(self, subscription_id: str):
        """ManagementLockClient (resource locks)."""
        return self._client("azure.mgmt.resource.locks", "ManagementLockClient", subscription_id)

    def consumption(self, subscription_id: str):
        """ConsumptionManagementClient (budgets)."""
        return self._client("azure.mgmt.consumption", "ConsumptionManagementClient", subscription_id)

    def cost_management(self, **overrides):
        """CostManagementClient (Cost Management query and forecast; scopes are given per call)."""
        return self._client("azure.mgmt.costmanagement", "CostManagementClient", **overrides)

    def advisor(self, subscription_id: str):
        """AdvisorManagementClient (recommendations, configurations)."""
        return self._client("azure.mgmt.advisor", "AdvisorManagementClient", subscription_id)

    def backup(self, subscription_id: str):
        """RecoveryServicesBackupClient (protected items, backup jobs)."""
        return self._client("azure.mgmt.recoveryservicesbackup", "RecoveryServicesBackupClient", subscription_id)

    def compute(self, subscription_id: str):
        """ComputeManagementClient (virtual machines, patch assessment)."""
        return self._client("azure.mgmt.compute", "ComputeManagementClient", subscription_id)

    def secret_client(self, vault_url: str):
        """SecretClient (azure-keyvault-secrets) for a vault, with the target's credential; on the sandbox its
        vault names reach the sandbox through `local_names_transport`."""
        from azure.keyvault.secrets import SecretClient

        key = ("SecretClient", vault_url.lower(), ())
        with self._lock:
            if key not in self._made:
                t = self.target
                if t.credential is None:
                    raise TargetError("no credential for the vault")
                kw: dict = {"connection_verify": t.verify, **t.client_kwargs}
                kw.pop("polling_interval", None)
                if t.hosts or t.vault_domain:
                    kw["transport"] = local_names_transport(t.hosts, t.vault_domain, t.verify)
                self._made[key] = SecretClient(vault_url, t.credential, **kw)
            return self._made[key]

    def http(self):
        """An httpx Client for the MSP's own services (Passwordstate, ...), trusting the target's CA; on the sandbox
        its stand-ins' names reach the sandbox (as `local_names_session` does for requests)."""
        import httpx

        key = ("httpx", None, ())
        with self._lock:
            if key not in self._made:
                t = self.target
                verify = ssl.create_default_context(cafile=t.ca_path) if t.ca_path else True
                transport = _local_names_httpx(t.hosts, t.vault_domain, verify) if t.hosts else None
                self._made[key] = httpx.Client(verify=verify, timeout=30, transport=transport)
            return self._made[key]

    def _graph(self, http):
        """GraphServiceClient over an httpx client, pointed at the target's Graph endpoint."""
        from urllib.parse import urlparse

        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from msgraph import GraphRequestAdapter, GraphServiceClient

        # kiota sends the token only to hosts it is told about: name the target's Graph host
        hosts = [urlparse(self.target.graph_url).hostname or ""]
        if self.target.credential is None:
            raise TargetError("no credential for the target tenant")
        provider = AzureIdentityAuthenticationProvider(
            self.target.credential, scopes=[self.target.graph_scope], allowed_hosts=hosts
        )
        adapter = GraphRequestAdapter(provider, client=http)
        adapter.base_url = f"{self.target.graph_url}/v1.0"
        return GraphServiceClient(request_adapter=adapter)

    def run_graph(self, work: Callable[[object], Awaitable[T]]) -> T:
        """Run async Graph work to completion from sync code (also inside Jupyter's running loop)."""
        import httpx

        async def main() -> T:
            verify = ssl.create_default_context(cafile=self.target.ca_path) if self.target.ca_path else True
            async with httpx.AsyncClient(verify=verify, timeout=30) as http:
                return await work(self._graph(http))

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(main())
        with ThreadPoolExecutor(max_workers=1) as pool:  # a notebook kernel already runs a loop
            return pool.submit(asyncio.run, main()).result()


# what `Clients` imports on first use, for a process that forks kernels (`runbook.authoring.forkserver`)
SDK_MODULES = (
    "azure.mgmt.resource.resources",
    "azure.mgmt.resource.subscriptions",
    "azure.mgmt.authorization",
    "azure.mgmt.managedservices",
    "azure.mgmt.monitor",
    "azure.mgmt.security",
    "azure.mgmt.resource.policy",
    "azure.mgmt.resource.locks",
    "azure.mgmt.consumption",
    "azure.mgmt.costmanagement",
    "azure.mgmt.advisor",
    "azure.mgmt.recoveryservicesbackup",
    "azure.mgmt.compute",
    "azure.keyvault.secrets",
    "httpx",
    "msgraph",
    "kiota_authentication_azure.azure_identity_authentication_provider",
)


def preload() -> None:
    """Import the SDK modules the clients are built from and msgraph's models (its deserialisers import ~1,400 model
    modules the first time any Graph object is read): once, in a process that forks kernels."""
    for module in SDK_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            continue
    try:
        from msgraph.generated.models.application import Application

        Application().get_field_deserializers()
    except ImportError:
        pass
