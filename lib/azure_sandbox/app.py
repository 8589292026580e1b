"""The sandbox application: faults, authentication, throttling, then identity, Graph or ARM."""

from __future__ import annotations

import collections
import json
import time
import uuid

from .core import identity, ids
from .core.arm import Arm
from .core.faults import Faults, FaultState, retry_after_headers
from .core.http import ArmError, Request, Response, arm_error, graph_error
from .core.state import State
from .providers import graph, keyvault_data, passwordstate, registry
from .providers.hosted import HostedService


class SandboxApp:
    """Turns a Request into a Response; holds the tenant state and the faults in force."""

    def __init__(
        self, state: State, faults: Faults | None = None, services: dict[str, HostedService] | None = None
    ) -> None:
        self.state = state
        self.services = dict(
            services or {}
        )  # the MSP's SaaS stand-ins (HubSpot, TOPdesk, Partner Center), routed by Host
        self.faults = FaultState(faults)
        self.tokens = identity.TokenIssuer(state)
        for service in self.services.values():  # Partner Center checks the sandbox's Entra tokens
            service.attach(state, self.tokens)
        self.registry = registry()
        for provider in self.registry.providers:
            provider.seed(state)
        self.arm = Arm(state, self.faults, self.registry)
        self.stats: collections.Counter = collections.Counter()

    def handle(self, req: Request) -> Response:
        """Answer one request; never raises."""
        if ids.normalise_path(req.path).startswith("/_sandbox/"):
            return self.admin(req, ids.normalise_path(req.path))  # controls are not counted as calls
        try:
            resp = self._handle(req)
        except ArmError as exc:
            resp = exc.response(graph=ids.normalise_path(req.path).lower().startswith("/v1.0/"))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # malformed input must not kill the server
            resp = arm_error(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: '{type(exc).__name__}: {exc}'.",
            )
        self.stats[f"status_{resp.status}"] += 1
        resp.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        resp.headers.setdefault(
            "x-ms-correlation-request-id",
            req.headers.get("x-ms-correlation-request-id", resp.headers["x-ms-request-id"]),
        )
        return resp

    def _handle(self, req: Request) -> Response:
        for name, service in self.services.items():  # api.hubapi.sandbox.test, <tenant>.topdesk.sandbox.test
            if service.serves(req.headers.get("host", "")):
                self.stats[f"{name}_calls"] += 1
                return service.handle(req)
        if passwordstate.serves(req.headers.get("host", "")):  # passwordstate.sandbox.test
            self.stats["passwordstate_calls"] += 1
            return passwordstate.handle(req, self.state)
        if keyvault_data.vault_name(req.headers.get("host", "")) is not None:  # <vault>.vault.sandbox.test
            self.stats["keyvault_calls"] += 1
            return keyvault_data.handle(req, self.state, self.tokens.claims)
        path = ids.normalise_path(req.path)
        if (answer := identity.handle(req, self.state, self.tokens)) is not None:
            self.stats["identity"] += 1
            return answer
        if path.lower() == "/metadata/endpoints":
            return Response(200, cloud_metadata(req.base_url))
        is_graph = path.lower().startswith("/v1.0/")
        fault = self.faults.roll()
        if self.faults.faults.latency_ms:
            time.sleep(self.faults.faults.latency_ms / 1000)
        if fault == "drop":
            self.stats["dropped"] += 1
            return Response(0, drop=True)
        if fault == "error":
            self.stats["injected_errors"] += 1
            headers = retry_after_headers(
                self.faults.faults.error_retry_after, self.faults.faults.fractional_retry_after
            )
            if is_graph:
                resp = graph_error(
                    503, "serviceNotAvailable", "The service is temporarily unavailable (sandbox fault injection)."
                )
                resp.headers.update(headers)
                return resp
            return arm_error(
                503,
                "ServiceUnavailable",
                "The server is currently unable to handle the request (sandbox fault injection).",
                headers,
            )
        try:
            claims = self.tokens.verify(req.headers.get("authorization"), "graph" if is_graph else "arm", req.base_url)
        except ArmError as exc:
            if not is_graph:
                exc.headers["WWW-Authenticate"] = (
                    f'Bearer authorization_uri="{req.base_url}/{self.state.tenant_id}", error="invalid_token", error_description="{exc.code}"'
                )
            raise
        with self.state.lock:
            if is_graph:
                self.stats["graph_calls"] += 1
                return graph.handle(req, self.state, claims)
            self.check_tenant(claims, path)
            return self.arm_call(req, path, claims["oid"], str(claims.get("appid") or claims["oid"]))

    def check_tenant(self, claims: dict, path: str) -> None:
        """A token's tenant must own the subscription or manage it through Azure Lighthouse."""
        tid = str(claims.get("tid", "")).lower()
        sub = ids.subscription_of(path)
        owner = str((self.state.get(f"/subscriptions/{sub}") or {}).get("tenantId") or "") if sub else ""
        if tid == (owner or self.state.tenant_id).lower():  # the MSP's own subscription is its own tenant's
            return
        managing = {
            str(
                (self.state.get(a["properties"]["registrationDefinitionId"]) or {})
                .get("properties", {})
                .get("managedByTenantId", "")
            ).lower()
            for a in self.arm.all_of_type("Microsoft.ManagedServices/registrationAssignments")
            if sub is None or ids.subscription_of(a["id"]) == sub
        }
        if tid not in managing:
            raise identity.wrong_tenant(tid, owner or self.state.tenant_id)

    def arm_call(self, req: Request, path: str, principal: str, app_id: str = "") -> Response:
        """ARM with per-subscription read/write token buckets and their headers."""
        kind = "reads" if req.method in ("GET", "HEAD") else "deletes" if req.method == "DELETE" else "writes"
        scope = ids.subscription_of(path) or "tenant"
        allowed, remaining, wait = self.faults.take(scope, kind)
        self.stats[f"arm_{kind}"] += 1
        if not allowed:
            self.stats["throttled"] += 1
            headers = {
                **retry_after_headers(wait, self.faults.faults.fractional_retry_after),
                f"x-ms-ratelimit-remaining-subscription-{kind}": "0",
            }
            return arm_error(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of '{kind[:-1]}' requests for subscription '{scope}' actor '{principal}' exceeded. Please try again after '{headers['Retry-After']}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling",
                headers,
            )
        resp = self.arm.handle(req, principal, (app_id or principal, "Application"))
        resp.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(remaining)
        return resp

    def admin(self, req: Request, path: str) -> Response:
        """Loopback-only controls for tests and benchmarks: faults and call statistics."""
        if path == "/_sandbox/faults":
            if req.method == "PUT":
                try:
                    self.faults.set(Faults.from_dict(json.loads(req.body or b"{}")))
                except (ValueError, TypeError) as exc:
                    return Response(400, {"error": str(exc)})
            return Response(200, self.faults.faults.to_dict())
        if path.startswith("/_sandbox/services/") and path.split("/")[3] in self.services:
            service = self.services[path.split("/")[3]]
            try:
                switches = json.loads(req.body or b"{}") if req.method == "PUT" else {}
                if not isinstance(switches, dict):
                    raise ValueError("the switches are a JSON object")
                return Response(200, service.control(switches))
            except (ValueError, TypeError) as exc:
                return Response(400, {"error": str(exc)})
        if path == "/_sandbox/stats":
            if req.method == "DELETE":
                self.stats.clear()
            return Response(200, dict(self.stats))
        return Response(404, {"error": f"no sandbox control at {path}"})


def cloud_metadata(base: str) -> dict:
    """ARM's unauthenticated cloud description (/metadata/endpoints), as azure-cli reads it to register a cloud."""
    return {
        "name": "AzureSandbox",
        "portal": base,
        "resourceManager": base + "/",
        "authentication": {
            "loginEndpoint": base,
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "graph": base + "/",
        "graphAudience": base + "/",
        "microsoftGraphResourceId": base + "/",
        "activeDirectoryDataLake": "",
        "batch": base + "/",
        "gallery": base + "/",
        "media": base + "/",
        "sqlManagement": base + "/",
        "vmImageAliasDoc": base + "/vm-image-aliases.json",
        "suffixes": {
            "keyVaultDns": "vault.sandbox.invalid",
            "storage": "core.sandbox.invalid",
            "sqlServerHostname": "database.sandbox.invalid",
            "acrLoginServer": "azurecr.sandbox.invalid",
        },
    }
