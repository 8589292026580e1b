"""The Microsoft Graph v1.0 endpoints the runbook uses: applications, service principals, passwords."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from ..core.http import Request, Response, graph_error
from ..core.identity import new_client_secret
from ..core.state import State

_APP_BY_APPID = re.compile(r"^applications\(appid='([^']+)'\)$", re.IGNORECASE)
_EQ = re.compile(r"(\w+)\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)


def parse_filter(expr: str | None) -> dict[str, str]:
    """The `name eq 'value'` terms of an OData $filter (all the runbook's Graph calls use)."""
    return {m.group(1).lower(): m.group(2).replace("''", "'") for m in _EQ.finditer(expr or "")}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_application(state: State, display_name: str, app_id: str | None = None, object_id: str | None = None) -> dict:
    """Register an application object (no service principal yet)."""
    app: dict[str, Any] = {
        "id": object_id or str(uuid.uuid4()),
        "appId": app_id or str(uuid.uuid4()),
        "displayName": display_name,
        "createdDateTime": _now(),
        "signInAudience": "AzureADMyOrg",
        "passwordCredentials": [],
        "keyCredentials": [],
        "tags": [],
        "publisherDomain": state.domain,
    }
    state.applications[app["id"]] = app
    return app


def new_service_principal(state: State, app: dict, object_id: str | None = None) -> dict:
    """Create the service principal of an application."""
    sp: dict[str, Any] = {
        "id": object_id or str(uuid.uuid4()),
        "appId": app["appId"],
        "displayName": app["displayName"],
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appOwnerOrganizationId": state.tenant_id,
        "servicePrincipalNames": [app["appId"]],
        "tags": [],
    }
    state.service_principals[sp["id"]] = sp
    return sp


def new_managed_identity(state: State, name: str, resource_id: str) -> dict:
    """The service principal Azure creates for a system-assigned managed identity of a resource."""
    app_id = str(uuid.uuid4())
    sp: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "appId": app_id,
        "displayName": name,
        "servicePrincipalType": "ManagedIdentity",
        "accountEnabled": True,
        "appOwnerOrganizationId": None,
        "servicePrincipalNames": [app_id, f"https://identity.azure.net/{resource_id}"],
        "alternativeNames": ["isExplicit=False", resource_id],
        "tags": [],
    }
    state.service_principals[sp["id"]] = sp
    return sp


def add_password(state: State, app: dict, display_name: str | None, end: str | None) -> dict:
    """Add a client secret to an application; the secret text is returned once and stored hashed."""
    secret = new_client_secret()
    state.add_secret(app["appId"], secret)
    start = datetime.now(timezone.utc)
    cred = {
        "customKeyIdentifier": None,
        "displayName": display_name,
        "endDateTime": end or (start + timedelta(days=730)).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "hint": secret[:3],
        "keyId": str(uuid.uuid4()),
        "startDateTime": start.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "secretText": None,
    }
    app["passwordCredentials"].append(cred)
    return {**cred, "secretText": secret}


def _filtered(items: list[dict], expr: str | None) -> list[dict]:
    terms = parse_filter(expr)
    out = []
    for item in items:
        lowered = {k.lower(): v for k, v in item.items()}
        if all(str(lowered.get(k, "")).lower() == v.lower() for k, v in terms.items()):
            out.append(item)
    return out


def _collection(req: Request, name: str, items: list[dict]) -> Response:
    return Response(200, {"@odata.context": f"{req.base_url}/v1.0/$metadata#{name}", "value": items})


def _missing(ref: str) -> Response:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{ref}' does not exist or one of its queried reference-property objects are not present.",
    )


# Least-privileged application permissions per operation, as the Graph v1.0 reference lists them (any one suffices;
# the ReadWrite and Directory permissions include the Read ones)
_READ_APPS = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
_WRITE_APPS = ("Application.ReadWrite.All", "Application.ReadWrite.OwnedBy")
_READ_ORG = ("Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
_READ_DIR = ("Directory.Read.All", "Directory.ReadWrite.All")


def permission_for(method: str, head: str, parts: list[str]) -> tuple[str, ...]:
    """The application permissions one of which an app-only token needs for a request."""
    if head == "organization":
        return _READ_ORG
    if head == "directoryobjects":
        return _READ_DIR
    return _READ_APPS if method == "GET" else _WRITE_APPS


def denied() -> Response:
    """Graph's answer to a token without the permission the operation needs."""
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def handle(req: Request, state: State, claims: dict | None = None) -> Response:
    """Serve one /v1.0/ request; an app-only token needs one of the operation's application permissions in its
    `roles`, and `Application.ReadWrite.OwnedBy` writes only applications its app owns."""
    rest = req.path.split("/v1.0/", 1)[1].strip("/")
    parts = rest.split("/")
    head = parts[0].lower()
    kind = "applications" if head.startswith("applications(") else head  # applications(appId='...')
    if claims is not None:
        held = set(claims.get("roles") or []) & set(permission_for(req.method, kind, parts))
        owned_only = req.method != "GET" and held == {"Application.ReadWrite.OwnedBy"}
        if not held or (owned_only and not _owned(req, state, kind, parts, str(claims.get("oid", "")))):
            return denied()
    if head == "organization":
        return _collection(
            req,
            "organization",
            [
                {
                    "id": state.tenant_id,
                    "displayName": state.tenant_name,
                    "verifiedDomains": [{"name": state.domain, "isDefault": True}],
                }
            ],
        )
    m = _APP_BY_APPID.match(parts[0])
    if m:
        app = next((a for a in state.applications.values() if a["appId"].lower() == m.group(1).lower()), None)
        return Response(200, app) if app else _missing(m.group(1))
    if head == "applications":
        return _applications(req, state, parts[1:], str((claims or {}).get("oid", "")))
    if head == "directoryobjects" and len(parts) == 2 and parts[1].lower() == "getbyids" and req.method == "POST":
        return _get_by_ids(req, state)
    if head == "serviceprincipals":
        return _service_principals(req, state, parts[1:])
    return graph_error(400, "BadRequest", f"Resource not found for the segment '{parts[0]}'.")


def _get_by_ids(req: Request, state: State) -> Response:
    """directoryObjects/getByIds: the users, groups and service principals among the given ids (azure-cli names the
    principals of role assignments with it)."""
    out = []
    for oid in req.json().get("ids") or []:
        obj = state.principal(str(oid))
        if obj is None:
            continue
        kind = (
            "#microsoft.graph.servicePrincipal"
            if "servicePrincipalType" in obj
            else f"#microsoft.graph.{str(obj.get('@type', 'User')).lower()}"
        )
        out.append({"@odata.type": kind, **{k: v for k, v in obj.items() if not k.startswith("@")}})
    return _collection(req, "directoryObjects", out)


def _applications(req: Request, state: State, parts: list[str], caller: str = "") -> Response:
    if not parts:
        if req.method == "GET":
            return _collection(
                req, "applications", _filtered(list(state.applications.values()), req.query.get("$filter"))
            )
        if req.method == "POST":
            body = req.json()
            if not body.get("displayName"):
                return graph_error(400, "Request_BadRequest", "Property 'displayName' is required.")
            created = new_application(state, body["displayName"])
            if caller:  # the creating principal owns the application (what Application.ReadWrite.OwnedBy may write)
                state.app_owners.setdefault(created["id"], set()).add(caller.lower())
            return Response(201, created)
    app = state.applications.get(parts[0])
    if app is None:
        return _missing(parts[0])
    if len(parts) == 1:
        if req.method == "GET":
            return Response(200, app)
        if req.method == "PATCH":
            app.update({k: v for k, v in req.json().items() if k not in ("id", "appId")})
            return Response(204)
        if req.method == "DELETE":
            del state.applications[parts[0]]
            return Response(204)
    action = parts[1].lower()
    if action == "addpassword" and req.method == "POST":
        cred = req.json().get("passwordCredential") or {}
        return Response(200, add_password(state, app, cred.get("displayName"), cred.get("endDateTime")))
    if action == "removepassword" and req.method == "POST":
        key_id = req.json().get("keyId")
        app["passwordCredentials"] = [c for c in app["passwordCredentials"] if c["keyId"] != key_id]
        return Response(204)
    return graph_error(405, "Request_BadRequest", f"Unsupported request {req.method} {req.path}.")


def _service_principals(req: Request, state: State, parts: list[str]) -> Response:
    if not parts:
        if req.method == "GET":
            return _collection(
                req, "servicePrincipals", _filtered(list(state.service_principals.values()), req.query.get("$filter"))
            )
        if req.method == "POST":
            app_id = req.json().get("appId", "")
            app = next((a for a in state.applications.values() if a["appId"].lower() == app_id.lower()), None)
            if app is None:
                return graph_error(
                    400,
                    "Request_BadRequest",
                    f"The appId '{app_id}' of the service principal does not reference a valid application object.",
                )
            if state.service_principal_by_app(app_id):
                return graph_error(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "Another object with the same value for property servicePrincipalNames already exists.",
                )
            return Response(201, new_service_principal(state, app))
    sp = state.service_principals.get(parts[0])
    if sp is None:
        return _missing(parts[0])
    if req.method == "GET":
        return Response(200, sp)
    if req.method == "DELETE":
        del state.service_principals[parts[0]]
        return Response(204)
    return graph_error(405, "Request_BadRequest", f"Unsupported request {req.method} {req.path}.")


def _owned(req: Request, state: State, head: str, parts: list[str], caller: str) -> bool:
    """Application.ReadWrite.OwnedBy: creating an application (the caller becomes its owner), or writing one the
    caller owns (and a service principal of one)."""
    if head == "applications" and len(parts) == 1:
        return True
    if head == "applications":
        app = state.applications.get(parts[1])
    else:
        app_id = str(req.json().get("appId", "")) if len(parts) == 1 else ""
        app = next((a for a in state.applications.values() if a["appId"].lower() == app_id.lower()), None)
    return app is not None and caller.lower() in state.app_owners.get(app["id"], set())
