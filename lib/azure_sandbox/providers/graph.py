"""The Microsoft Graph v1.0 endpoints the runbook uses: applications, service principals, passwords, app role
assignments. Request bodies are checked against the declarative tables of graph_schema (declared, read-only and enum
properties, EDM types) and refused as Graph refuses them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from ..core.http import Request, Response, graph_error
from ..core.identity import new_client_secret
from ..core.state import State
from . import graph_directory
from .graph_schema import (
    APP_ROLE_ASSIGNMENT,
    APPLICATION,
    BOOLEAN,
    BY_ENTITY_SET,
    DATETIME,
    GUID,
    MICROSOFT_GRAPH_APP_ID,
    MICROSOFT_GRAPH_APP_ROLES,
    MICROSOFT_TENANT_ID,
    SERVICE_PRINCIPAL,
    STREAM,
    Resource,
)

_KEYED = re.compile(r"^(\w+)\((\w+)='((?:[^']|'')*)'\)$")  # applications(appId='...'): entity set, key, value
_EQ = re.compile(r"(\w+)\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)
_GRANTED_ON = "2025-01-06T00:00:00Z"  # the fixture's admin consent (its role assignments carry the same date)


def parse_filter(expr: str | None) -> dict[str, str]:
    """The `name eq 'value'` terms of an OData $filter (all the runbook's Graph calls use)."""
    return {m.group(1).lower(): m.group(2).replace("''", "'") for m in _EQ.finditer(expr or "")}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_application(
    state: State,
    display_name: str,
    app_id: str | None = None,
    object_id: str | None = None,
    props: dict | None = None,
) -> dict:
    """Register an application object (no service principal yet), with the writable properties of a create body."""
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
    app.update(props or {})
    state.applications[app["id"]] = app
    return app


def new_service_principal(state: State, app: dict, object_id: str | None = None, props: dict | None = None) -> dict:
    """Create the service principal of an application, with the writable properties of a create body."""
    sp: dict[str, Any] = {
        "id": object_id or str(uuid.uuid4()),
        "appId": app["appId"],
        "displayName": app["displayName"],
        "appDisplayName": app["displayName"],
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appOwnerOrganizationId": state.tenant_id,
        "servicePrincipalNames": [app["appId"]],
        "tags": [],
    }
    sp.update(props or {})
    state.service_principals[sp["id"]] = sp
    return sp


def new_microsoft_graph(state: State) -> dict:
    """The service principal of Microsoft Graph every tenant holds (its application belongs to Microsoft's tenant),
    with the application permissions it defines as appRoles; the object id is the tenant's own (deterministic)."""
    sp: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{state.tenant_id}|{MICROSOFT_GRAPH_APP_ID}")),
        "appId": MICROSOFT_GRAPH_APP_ID,
        "displayName": "Microsoft Graph",
        "appDisplayName": "Microsoft Graph",
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appOwnerOrganizationId": MICROSOFT_TENANT_ID,
        "signInAudience": "AzureADMultipleOrgs",
        "servicePrincipalNames": [
            MICROSOFT_GRAPH_APP_ID,
            "https://graph.microsoft.com",
            "https://graph.microsoft.com/",
        ],
        "appRoles": [
            {
                "allowedMemberTypes": ["Application"],
                "description": f"Allows the app to {title[0].lower()}{title[1:]} without a signed-in user.",
                "displayName": title,
                "id": role_id,
                "isEnabled": True,
                "origin": "Application",
                "value": value,
            }
            for value, role_id, title in MICROSOFT_GRAPH_APP_ROLES
        ],
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


# --- app role assignments ---------------------------------------------------------------------------------------------
def _assignment(state: State, principal: dict, resource: dict, role: dict) -> dict:
    """An appRoleAssignment object (deterministic id: the same grant has the same id)."""
    aid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{principal['id']}|{resource['id']}|{role['id']}".lower()))
    return {
        "id": aid,
        "deletedDateTime": None,
        "appRoleId": role["id"],
        "createdDateTime": state.app_role_assigned.get(aid, _GRANTED_ON),
        "principalDisplayName": principal.get("displayName"),
        "principalId": principal["id"],
        "principalType": "ServicePrincipal",
        "resourceDisplayName": resource.get("displayName"),
        "resourceId": resource["id"],
    }


def app_role_assignments(state: State) -> list[dict]:
    """Every app role assignment of the tenant: the Microsoft Graph permissions `state.graph_permissions` holds for
    the app id of each service principal (the store of what was granted), as appRoleAssignment objects."""
    graph_sp = state.service_principal_by_app(MICROSOFT_GRAPH_APP_ID)
    if graph_sp is None:
        return []
    roles = {r["value"]: r for r in graph_sp.get("appRoles") or []}
    return [
        _assignment(state, sp, graph_sp, roles[value])
        for sp in state.service_principals.values()
        for value in sorted(state.graph_permissions.get(sp["appId"].lower(), set()))
        if value in roles
    ]


# --- request bodies -----------------------------------------------------------------------------------------------
def _node(value: Any) -> str:
    return "StartObject" if isinstance(value, dict) else "StartArray" if isinstance(value, list) else "PrimitiveValue"


def _unexpected(value: Any, expected: str) -> str:
    return f"An unexpected '{_node(value)}' node was found when reading from the JSON reader. A '{expected}' node was expected."


def _primitive_problem(edm: str, value: Any) -> str | None:
    """ODataLib's message for a JSON value that does not read as a primitive (or enum) EDM type; None if it does."""
    if value is None or edm == STREAM:
        return None
    if isinstance(value, (dict, list)):
        return _unexpected(value, "PrimitiveValue")
    # Edm.String, Edm.Guid, Edm.DateTimeOffset and enum members are JSON strings
    ok = isinstance(value, bool) if edm == BOOLEAN else isinstance(value, str)
    if not ok:
        return (
            f"Cannot convert a primitive value to the expected type '{edm}'. See the inner exception for more details."
        )
    if edm in (GUID, DATETIME) and _parsed(edm, value) is None:
        return f"Cannot convert the literal '{value}' to the expected type '{edm}'."
    return None


def _type_problem(name: str, edm: str, value: Any, enum: bool) -> str | None:
    """ODataLib's message for a property value that does not read as its declared type; None if it does."""
    if edm.startswith("Collection("):
        item = edm[11:-1]
        if value is None:
            return f"A null value was found for the property named '{name}', which has the expected type '{edm}[Nullable=False]'. The expected type '{edm}[Nullable=False]' does not allow null values."
        if not isinstance(value, list):
            return _unexpected(value, "StartArray")
        for v in value:
            if v is None:
                return f"A null value was found with the expected type '{item}[Nullable=False]'. The expected type '{item}[Nullable=False]' does not allow null values."
            problem = _primitive_problem(item, v) if item.startswith("Edm.") else _complex_problem(v)
            if problem:
                return problem
        return None
    if edm.startswith("Edm.") or enum:
        return _primitive_problem(edm, value)
    return _complex_problem(value)


def _complex_problem(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict) else _unexpected(value, "StartObject")


def _parsed(edm: str, value: Any) -> Any:
    """A GUID or timestamp literal as a comparable value (None if it is not one)."""
    try:
        if edm == GUID:
            return uuid.UUID(str(value))
        if edm == DATETIME:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value


def _plain(value: Any) -> Any:
    """A JSON value without its "@odata." annotations (the msgraph-sdk types nested objects with @odata.type)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("@odata.")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _same(edm: str, a: Any, b: Any) -> bool:
    """Whether a body value equals the stored one (GUIDs and timestamps by value; an absent collection is empty)."""
    a, b = _plain(a), _plain(b)
    if a in (None, []) and b in (None, []):
        return True
    if edm in (GUID, DATETIME) and a is not None and b is not None:
        return bool(_parsed(edm, a) == _parsed(edm, b))
    return bool(a == b)


def _refusal(resource: Resource, body: dict, current: dict | None = None, patch: bool = False) -> Response | None:
    """Graph's 400 for a body it refuses for this resource, None if it accepts it. `current` is the stored object an
    update writes to (None on create); `patch` a PATCH (an update, or an upsert that creates)."""
    for name, value in body.items():  # as the OData reader reads the body: annotations, names, types
        if name.startswith("@odata."):
            given = str(value).lstrip("#")
            if name == "@odata.type" and given != resource.odata_type:
                return graph_error(
                    400,
                    "BadRequest",
                    f"An entry with type '{given}' was found, but it is not assignable to the expected type '{resource.odata_type}'. The type specified in the entry must be equal to either the expected type or a derived type.",
                )
            continue
        edm = resource.properties.get(name)
        if edm is None:
            return graph_error(400, "Request_BadRequest", f"Invalid property '{name}'.")
        problem = _type_problem(name, edm, value, name in resource.enums)
        if problem:
            return graph_error(400, "BadRequest", problem)
    for name, value in body.items():  # then what the directory checks: values, read-only properties, credentials
        if name.startswith("@odata."):
            continue
        if name in resource.enums and value not in resource.enums[name]:
            return graph_error(
                400,
                "Request_BadRequest",
                f"Invalid value specified for property '{name}' of resource '{resource.name}'.",
            )
        fixed = name in resource.read_only or (current is not None and name in resource.create_only)
        if fixed and not _same(resource.properties[name], value, None if current is None else current.get(name)):
            return graph_error(400, "Request_BadRequest", f"Property '{name}' is read-only and cannot be set.")
        if name in resource.service_actions and (patch or value):
            return graph_error(
                400, "Request_BadRequest", "New password credentials must be generated using service actions."
            )
    return None


def _writable(resource: Resource, body: dict, create: bool = False) -> dict:
    """The properties of an accepted body a create or update stores (read-only ones the body repeats are no-ops)."""
    return {
        name: _plain(value)
        for name, value in body.items()
        if not name.startswith("@") and name not in resource.read_only and (create or name not in resource.create_only)
    }


def _upserting(req: Request, resource: Resource, key: tuple[str, str], parts: list[str]) -> bool:
    """Whether a request for a missing object creates it: a PATCH by the resource's upsert key (uniqueName of an
    application, appId of a service principal) with `Prefer: create-if-missing`."""
    prefer = [p.strip().lower() for p in req.headers.get("prefer", "").split(",")]
    return req.method == "PATCH" and len(parts) == 1 and key[0] == resource.upsert_key and "create-if-missing" in prefer


# --- routing ---------------------------------------------------------------------------------------------------------
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


def _segment(segment: str) -> Response:
    return graph_error(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _by_key(state: State, parts: list[str]) -> tuple[list[str], tuple[str, str]] | Response:
    """A path addressing an object by an alternate key (`applications(appId='...')`): the path with the object id in
    place of the keyed segment ('' when no object has that key) and the key (property, value); Graph's 400 for a
    key the type does not serve. Key names compare case-insensitively, values too; '' in a value is a quote."""
    m = _KEYED.match(parts[0])
    resource = BY_ENTITY_SET.get(m.group(1).lower()) if m else None
    if m is None or resource is None:
        return _segment(parts[0])
    prop = next((k for k in resource.alternate_keys if k.lower() == m.group(2).lower()), None)
    if prop is None:
        return _segment(parts[0])
    value = m.group(3).replace("''", "'")
    store = state.applications if resource is APPLICATION else state.service_principals
    found = next((o for o in store.values() if str(o.get(prop) or "").lower() == value.lower()), None)
    return [m.group(1).lower(), found["id"] if found else "", *parts[1:]], (prop, value)


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
# granting and removing app role assignments (serviceprincipal-post-approleassignments, -post-approleassignedto,
# -delete-approleassignments): neither Application.ReadWrite.All nor Directory.ReadWrite.All grants it
_WRITE_APP_ROLES = ("AppRoleAssignment.ReadWrite.All",)
_READ_ORG = ("Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
_READ_DIR = ("Directory.Read.All", "Directory.ReadWrite.All")
_ASSIGNMENTS = ("approleassignments", "approleassignedto")


def permission_for(method: str, head: str, parts: list[str]) -> tuple[str, ...]:
    """The application permissions one of which an app-only token needs for a request (`parts`: the path with
    alternate keys resolved, as handle passes it)."""
    if head == "organization":
        return _READ_ORG
    if graph_directory.paths(head):  # users, roleManagement/directory (read-only)
        return graph_directory.permission_for(head)
    if head == "directoryobjects":
        return _READ_DIR
    if head == "serviceprincipals" and len(parts) > 2 and parts[2].lower() in _ASSIGNMENTS:
        return _READ_APPS if method == "GET" else _WRITE_APP_ROLES
    return _READ_APPS if method == "GET" else _WRITE_APPS


def denied() -> Response:
    """Graph's answer to a token without the permission the operation needs."""
    return graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def handle(req: Request, state: State, claims: dict | None = None) -> Response:
    """Serve one /v1.0/ request; an app-only token needs one of the operation's application permissions in its
    `roles`, and `Application.ReadWrite.OwnedBy` writes only applications its app owns."""
    rest = req.path.split("/v1.0/", 1)[1].strip("/")
    parts = rest.split("/")
    key: tuple[str, str] | None = None
    if "(" in parts[0]:  # an alternate key: applications(appId='...'), applications(uniqueName='...'), ...
        keyed = _by_key(state, parts)
        if isinstance(keyed, Response):
            return keyed
        parts, key = keyed
    head = parts[0].lower()
    caller = str((claims or {}).get("oid", ""))
    if claims is not None:
        held = set(claims.get("roles") or []) & set(permission_for(req.method, head, parts))
        owned_only = req.method != "GET" and held == {"Application.ReadWrite.OwnedBy"}
        if not held or (owned_only and not _owned(req, state, head, parts, caller, key)):
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
    if head == "applications":
        return _applications(req, state, parts[1:], caller, key)
    if graph_directory.paths(head):
        return graph_directory.handle(req, state, parts)
    if head == "directoryobjects" and len(parts) == 2 and parts[1].lower() == "getbyids" and req.method == "POST":
        return _get_by_ids(req, state)
    if head == "serviceprincipals":
        return _service_principals(req, state, parts[1:], key)
    return _segment(parts[0])


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


def _app_by_app_id(state: State, app_id: str) -> dict | None:
    return next((a for a in state.applications.values() if a["appId"].lower() == app_id.lower()), None)


def _applications(
    req: Request, state: State, parts: list[str], caller: str = "", key: tuple[str, str] | None = None
) -> Response:
    if not parts:
        if req.method == "GET":
            return _collection(
                req, "applications", _filtered(list(state.applications.values()), req.query.get("$filter"))
            )
        if req.method == "POST":
            body = req.json()
            return _refusal(APPLICATION, body) or _create_application(state, body, caller)
    app = state.applications.get(parts[0]) if parts[0] else None
    if app is None:
        if key and _upserting(req, APPLICATION, key, parts):
            return _upsert_application(req, state, key[1], caller)
        return _missing(key[1] if key else parts[0])
    if len(parts) == 1:
        if req.method == "GET":
            return Response(200, app)
        if req.method == "PATCH":
            body = req.json()
            refused = _refusal(APPLICATION, body, app, patch=True)
            if refused:
                return refused
            changes = _writable(APPLICATION, body)
            app.update(changes)
            sp = state.service_principal_by_app(app["appId"])
            if "displayName" in changes and sp is not None:  # the service principal shows its app's name
                sp["appDisplayName"] = app["displayName"]
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


def _create_application(state: State, body: dict, caller: str, unique_name: str | None = None) -> Response:
    """POST /applications, or the create of an upsert by uniqueName (its key), from a body already checked."""
    if not body.get("displayName"):
        return graph_error(400, "Request_BadRequest", "Property 'displayName' is required.")
    props = _writable(APPLICATION, body, create=True)
    if unique_name is not None:
        props["uniqueName"] = unique_name
    name = props.get("uniqueName")
    if name is not None and any(
        str(a.get("uniqueName") or "").lower() == name.lower() for a in state.applications.values()
    ):
        return graph_error(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            "Another object with the same value for property uniqueName already exists.",
        )
    created = new_application(state, body["displayName"], props=props)
    if caller:  # the creating principal owns the application (what Application.ReadWrite.OwnedBy may write)
        state.app_owners.setdefault(created["id"], set()).add(caller.lower())
    return Response(201, created)


def _upsert_application(req: Request, state: State, unique_name: str, caller: str) -> Response:
    """PATCH /applications(uniqueName='...') with `Prefer: create-if-missing` and no such application: 201 and the
    new application, which takes the key as its uniqueName."""
    body = req.json()
    refused = _refusal(APPLICATION, body, patch=True)
    if refused:
        return refused
    if body.get("uniqueName") is not None and str(body["uniqueName"]).lower() != unique_name.lower():
        return graph_error(400, "Request_BadRequest", "Property 'uniqueName' is read-only and cannot be set.")
    return _create_application(state, body, caller, unique_name)


def _service_principals(req: Request, state: State, parts: list[str], key: tuple[str, str] | None = None) -> Response:
    if not parts:
        if req.method == "GET":
            return _collection(
                req, "servicePrincipals", _filtered(list(state.service_principals.values()), req.query.get("$filter"))
            )
        if req.method == "POST":
            body = req.json()
            return _refusal(SERVICE_PRINCIPAL, body) or _create_service_principal(
                state, str(body.get("appId") or ""), body
            )
    sp = state.service_principals.get(parts[0]) if parts[0] else None
    if sp is None:
        if key and _upserting(req, SERVICE_PRINCIPAL, key, parts):
            return _upsert_service_principal(req, state, key[1])
        return _missing(key[1] if key else parts[0])
    if len(parts) == 1:
        if req.method == "GET":
            return Response(200, sp)
        if req.method == "PATCH":
            body = req.json()
            refused = _refusal(SERVICE_PRINCIPAL, body, sp, patch=True)
            if refused:
                return refused
            sp.update(_writable(SERVICE_PRINCIPAL, body))
            return Response(204)
        if req.method == "DELETE":  # its app role assignments go with it
            del state.service_principals[sp["id"]]
            state.graph_permissions.pop(sp["appId"].lower(), None)
            return Response(204)
        return graph_error(405, "Request_BadRequest", f"Unsupported request {req.method} {req.path}.")
    if parts[1].lower() in _ASSIGNMENTS:
        return _app_role_assignments(req, state, sp, parts[1].lower() == "approleassignedto", parts[2:])
    return _segment(parts[1])


def _create_service_principal(state: State, app_id: str, body: dict) -> Response:
    """POST /servicePrincipals, or the create of an upsert by appId, from a body already checked."""
    app = _app_by_app_id(state, app_id)
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
    props = _writable(SERVICE_PRINCIPAL, body, create=True)
    props.pop("appId", None)  # the application's, as it spells it
    return Response(201, new_service_principal(state, app, props=props))


def _upsert_service_principal(req: Request, state: State, app_id: str) -> Response:
    """PATCH /servicePrincipals(appId='...') with `Prefer: create-if-missing` and no such service principal: 201 and
    the service principal of that application."""
    body = req.json()
    refused = _refusal(SERVICE_PRINCIPAL, body, patch=True)
    if refused:
        return refused
    if body.get("appId") is not None and str(body["appId"]).lower() != app_id.lower():
        return graph_error(400, "Request_BadRequest", "Property 'appId' is read-only and cannot be set.")
    return _create_service_principal(state, app_id, body)


def _sp(state: State, object_id: Any) -> dict | None:
    oid = str(object_id).lower()
    return next((sp for k, sp in state.service_principals.items() if k.lower() == oid), None)


def _app_role_assignments(req: Request, state: State, sp: dict, resource_side: bool, rest: list[str]) -> Response:
    """/servicePrincipals/{id}/appRoleAssignments (the grants the principal holds) and .../appRoleAssignedTo (the
    grants of the resource's app roles): list, grant, get one, remove one."""
    nav = "appRoleAssignedTo" if resource_side else "appRoleAssignments"
    side = "resourceId" if resource_side else "principalId"
    mine = [a for a in app_role_assignments(state) if a[side].lower() == sp["id"].lower()]
    if not rest:
        if req.method == "GET":
            return _collection(req, f"servicePrincipals('{sp['id']}')/{nav}", mine)
        if req.method == "POST":
            return _grant(req, state, sp, resource_side)
    elif len(rest) == 1:
        found = next((a for a in mine if a["id"].lower() == rest[0].lower()), None)
        if found is None:
            return _missing(rest[0])
        if req.method == "GET":
            return Response(200, found)
        if req.method == "DELETE":
            principal = _sp(state, found["principalId"]) or {}
            roles = (_sp(state, found["resourceId"]) or {}).get("appRoles") or []
            value = next((r["value"] for r in roles if r["id"] == found["appRoleId"]), None)
            state.graph_permissions.get(str(principal.get("appId", "")).lower(), set()).discard(str(value))
            state.app_role_assigned.pop(found["id"], None)
            return Response(204)
    return graph_error(405, "Request_BadRequest", f"Unsupported request {req.method} {req.path}.")


def _grant(req: Request, state: State, sp: dict, resource_side: bool) -> Response:
    """Grant an app role: principalId, resourceId and appRoleId in the body; the path's service principal is the
    principal (appRoleAssignments) or the resource (appRoleAssignedTo). A token issued after it carries the role."""
    body = req.json()
    refused = _refusal(APP_ROLE_ASSIGNMENT, body)
    if refused:
        return refused
    for name in APP_ROLE_ASSIGNMENT.required:
        if not body.get(name):
            return graph_error(400, "Request_BadRequest", f"Property '{name}' is required.")
    side = "resourceId" if resource_side else "principalId"
    if str(body[side]).lower() != sp["id"].lower():
        return graph_error(
            400, "Request_BadRequest", f"Invalid value specified for property '{side}' of resource 'AppRoleAssignment'."
        )
    principal = sp if not resource_side else _sp(state, body["principalId"])
    if principal is None:
        return _missing(str(body["principalId"]))
    resource = sp if resource_side else _sp(state, body["resourceId"])
    if resource is None:
        return _missing(str(body["resourceId"]))
    role = next(
        (
            r
            for r in resource.get("appRoles") or []
            if str(r.get("id", "")).lower() == str(body["appRoleId"]).lower()
            and r.get("isEnabled", True)
            and "Application" in (r.get("allowedMemberTypes") or [])
        ),
        None,
    )
    if role is None:
        return graph_error(
            400, "Request_BadRequest", f"Permission being assigned was not found on application '{resource['appId']}'."
        )
    if resource["appId"].lower() != MICROSOFT_GRAPH_APP_ID:
        return graph_error(
            400, "Request_BadRequest", "The sandbox holds app role assignments of Microsoft Graph's app roles only."
        )
    granted = state.graph_permissions.setdefault(principal["appId"].lower(), set())
    if role["value"] in granted:
        return graph_error(400, "Request_BadRequest", "Permission being assigned already exists on the object.")
    granted.add(role["value"])
    made = _assignment(state, principal, resource, role)
    made["createdDateTime"] = state.app_role_assigned[made["id"]] = _now()
    return Response(201, made)


def _owned(
    req: Request, state: State, head: str, parts: list[str], caller: str, key: tuple[str, str] | None = None
) -> bool:
    """Application.ReadWrite.OwnedBy: creating an application (the caller becomes its owner; also by upsert), or
    writing one the caller owns, and the service principal of one."""
    if head == "applications" and (len(parts) == 1 or (not parts[1] and len(parts) == 2)):
        return True
    if head == "applications":
        app = state.applications.get(parts[1])
    elif len(parts) == 1:  # POST /servicePrincipals: the body names the application
        app = _app_by_app_id(state, str(req.json().get("appId", "")))
    else:
        sp = state.service_principals.get(parts[1]) if parts[1] else None
        app_id = sp["appId"] if sp else (key[1] if key else "")
        app = _app_by_app_id(state, app_id)
    return app is not None and caller.lower() in state.app_owners.get(app["id"], set())
