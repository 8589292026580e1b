"""Microsoft Graph v1.0 users and Microsoft Entra directory roles (RBAC provider `directory`), as far as the runbook's
Stage 4 checks read them: `GET /users` with `$filter`, `GET /users/{id | userPrincipalName}`,
`GET /roleManagement/directory/roleDefinitions[/{id}]` and `GET /roleManagement/directory/roleAssignments[/{id}]`
with `$filter` and `$expand=roleDefinition` / `principal`. Read-only: role assignments come from the fixture.

Sources (Microsoft Graph v1.0 reference): "List users" (user-list: application permissions User.Read.All,
User.ReadWrite.All, Directory.Read.All, Directory.ReadWrite.All; `$filter` on mail and userPrincipalName with eq,
`or`), "user resource type" (default properties), "List unifiedRoleAssignments" and "List unifiedRoleDefinitions"
(rbacapplication-list-roleassignments, rbacapplication-list-roledefinitions: RoleManagement.Read.Directory,
Directory.Read.All, RoleManagement.ReadWrite.Directory, Directory.ReadWrite.All; `$filter` on principalId,
roleDefinitionId, directoryScopeId, appScopeId; `$expand=principal`, `roleDefinition`), "unifiedRoleAssignment" and
"unifiedRoleDefinition resource type", "Microsoft Entra built-in roles" (template ids). Refusals: an unsupported
`$filter` on users is 400 `Request_UnsupportedQuery` "Unsupported or invalid query filter clause specified for
property '<p>' of resource 'User'." (microsoftgraph/microsoft-graph-docs-contrib#3260, #9135); on role assignments
400 `BadRequest` "Invalid filter clause" (microsoftgraph/microsoft-graph-docs-contrib#4133, the same service family's
wording; inferred for this entity set).
"""

from __future__ import annotations

import base64
import re
import uuid

from ..core.http import Request, Response, graph_error
from ..core.state import State

# Microsoft Entra built-in roles (learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference):
# template id (the role definition's id in roleManagement/directory), display name, description, resource actions
# (the ones the sandbox shows; Entra lists many more)
BUILTIN_DIRECTORY_ROLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "62e90394-69f5-4237-9190-012177145e10": (
        "Global Administrator",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
        ("microsoft.directory/users/allProperties/allTasks", "microsoft.directory/users/assignLicense"),
    ),
    "fe930be7-5e62-47db-91af-98c3a49a38b1": (
        "User Administrator",
        "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
        ("microsoft.directory/users/assignLicense", "microsoft.directory/users/create"),
    ),
    "4d6ac14f-3453-41d0-bef9-a3e0c569773a": (
        "License Administrator",
        "Can manage product licenses on users and groups.",
        ("microsoft.directory/users/assignLicense", "microsoft.directory/groups/assignLicense"),
    ),
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451": (
        "Global Reader",
        "Can read everything that a Global Administrator can, but not update anything.",
        ("microsoft.directory/users/allProperties/read",),
    ),
    "b0f54661-2d74-4c50-afa3-1ec803f12efe": (
        "Billing Administrator",
        "Can perform common billing related tasks like updating payment information.",
        ("microsoft.directory/organization/basic/update",),
    ),
    "729827e3-9c14-49f7-bb1b-9608f156bbb8": (
        "Helpdesk Administrator",
        "Can reset passwords for non-administrators and Helpdesk Administrators.",
        ("microsoft.directory/users/password/update",),
    ),
    "88d8e3e3-8f55-4a1e-953a-9b9898b8876b": (
        "Directory Readers",
        "Can read basic directory information. Commonly used to grant directory read access to applications and guests.",
        ("microsoft.directory/users/standard/read",),
    ),
}
ROLE_IDS_BY_NAME = {name.lower(): rid for rid, (name, _, _) in BUILTIN_DIRECTORY_ROLES.items()}

READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_ROLES = (
    "RoleManagement.Read.Directory",
    "Directory.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.ReadWrite.All",
)
# $filter: the properties each collection filters on (eq; users also `in`-free `or` / `and` joins)
_USER_FILTERS = ("id", "mail", "userprincipalname", "displayname", "givenname", "surname", "usertype")
_ASSIGNMENT_FILTERS = ("principalid", "roledefinitionid", "directoryscopeid", "appscopeid", "id")
_DEFINITION_FILTERS = ("displayname", "templateid", "isbuiltin", "id")
_CLAUSE = re.compile(r"^\s*\(?\s*(\w+)\s+(eq)\s+(?:'((?:[^']|'')*)'|(true|false))\s*\)?\s*$", re.IGNORECASE)
_USER_PROPS = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


def paths(head: str) -> bool:
    """Whether a first path segment is one this module serves."""
    return head in ("users", "rolemanagement")


def permission_for(head: str) -> tuple[str, ...]:
    """The application permissions one of which a request needs (all reads)."""
    return READ_USERS if head == "users" else READ_ROLES


def new_user(state: State, oid: str, display_name: str, upn: str, mail: str | None = None, **props: object) -> dict:
    """A member user of the tenant's directory (what role assignments and directory roles may name)."""
    user = {
        "id": oid,
        "displayName": display_name,
        "@type": "User",
        "userPrincipalName": upn,
        "mail": mail,
        "userType": "Member",
        **props,
    }
    state.directory[oid.lower()] = user
    return user


def assign_directory_role(state: State, principal_id: str, role: str, scope: str = "/") -> dict:
    """A directory role assignment (role by name or template id) of a principal at a directory scope ('/' the tenant,
    '/administrativeUnits/{id}' an administrative unit), with an id shaped as Entra's (deterministic)."""
    rid = ROLE_IDS_BY_NAME.get(role.lower(), role.lower())
    if rid not in BUILTIN_DIRECTORY_ROLES:
        raise ValueError(f"unknown directory role '{role}'")
    raw = uuid.UUID(rid).bytes_le + uuid.UUID(principal_id).bytes_le
    aid = base64.urlsafe_b64encode(raw).decode().rstrip("=") + (
        "-1" if scope == "/" else "-" + scope.rsplit("/", 1)[-1]
    )
    made = {
        "id": aid,
        "principalId": principal_id,
        "roleDefinitionId": rid,
        "directoryScopeId": scope,
        "appScopeId": None,
    }
    state.directory_role_assignments = [a for a in state.directory_role_assignments if a["id"] != aid] + [made]
    return made


def _definition(rid: str) -> dict:
    name, description, actions = BUILTIN_DIRECTORY_ROLES[rid]
    return {
        "id": rid,
        "description": description,
        "displayName": name,
        "isBuiltIn": True,
        "isEnabled": True,
        "resourceScopes": ["/"],
        "templateId": rid,
        "version": "1",
        "rolePermissions": [{"allowedResourceActions": list(actions), "condition": None}],
    }


def _user_view(user: dict) -> dict:
    out = {p: user.get(p) for p in _USER_PROPS}
    out["businessPhones"] = list(user.get("businessPhones") or [])
    return out


def _users(state: State) -> list[dict]:
    return [u for u in state.directory.values() if u.get("@type") == "User"]


def _filter(expr: str | None, allowed: tuple[str, ...], refuse) -> tuple[list[list[tuple[str, str]]], Response | None]:
    """An OData $filter of eq clauses joined by `and` / `or` as disjunctive groups [[(prop, value), ...], ...]; the
    collection's 400 (`refuse(prop)`) for a property or form it does not filter on."""
    if not expr or not expr.strip():
        return [], None
    groups: list[list[tuple[str, str]]] = []
    for alternative in re.split(r"\s+or\s+", expr.strip(), flags=re.IGNORECASE):
        group = []
        for clause in re.split(r"\s+and\s+", alternative, flags=re.IGNORECASE):
            m = _CLAUSE.match(clause)
            if m is None:
                word = re.match(r"\s*\(?\s*(\w+)", clause)
                return [], refuse(word.group(1) if word else clause.strip())
            if m.group(1).lower() not in allowed:
                return [], refuse(m.group(1))
            value = m.group(3).replace("''", "'") if m.group(3) is not None else str(m.group(4)).lower()
            group.append((m.group(1).lower(), value))
        groups.append(group)
    return groups, None


def _matches(obj: dict, groups: list[list[tuple[str, str]]]) -> bool:
    if not groups:
        return True
    lowered = {k.lower(): v for k, v in obj.items()}
    return any(all(str(lowered.get(p, "") or "").lower() == v.lower() for p, v in g) for g in groups)


def _unsupported_user_filter(prop: str) -> Response:
    return graph_error(
        400,
        "Request_UnsupportedQuery",
        f"Unsupported or invalid query filter clause specified for property '{prop}' of resource 'User'.",
    )


def _invalid_filter(_: str) -> Response:
    return graph_error(400, "BadRequest", "Invalid filter clause")


def _collection(req: Request, name: str, items: list[dict]) -> Response:
    return Response(200, {"@odata.context": f"{req.base_url}/v1.0/$metadata#{name}", "value": items})


def _missing(ref: str) -> Response:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{ref}' does not exist or one of its queried reference-property objects are not present.",
    )


def handle(req: Request, state: State, parts: list[str]) -> Response:
    """GET of users and of the directory provider's role definitions and assignments; anything else 405."""
    if req.method != "GET":
        return graph_error(405, "Request_BadRequest", f"Unsupported request {req.method} {req.path}.")
    head = parts[0].lower()
    if head == "users":
        return _get_users(req, state, parts[1:])
    if len(parts) >= 3 and parts[1].lower() == "directory":
        kind = parts[2].lower()
        if kind == "roledefinitions":
            return _get_definitions(req, parts[3:])
        if kind == "roleassignments":
            return _get_assignments(req, state, parts[3:])
    return graph_error(400, "BadRequest", f"Resource not found for the segment '{parts[-1]}'.")


def _get_users(req: Request, state: State, rest: list[str]) -> Response:
    if rest:  # /users/{id | userPrincipalName}
        ref = rest[0]
        found = next(
            (u for u in _users(state) if ref.lower() in (u["id"].lower(), str(u.get("userPrincipalName")).lower())),
            None,
        )
        return Response(200, _user_view(found)) if found else _missing(ref)
    groups, refused = _filter(req.query.get("$filter"), _USER_FILTERS, _unsupported_user_filter)
    if refused:
        return refused
    return _collection(req, "users", [_user_view(u) for u in _users(state) if _matches(u, groups)])


def _get_definitions(req: Request, rest: list[str]) -> Response:
    if rest:
        rid = rest[0].lower()
        return Response(200, _definition(rid)) if rid in BUILTIN_DIRECTORY_ROLES else _missing(rest[0])
    groups, refused = _filter(req.query.get("$filter"), _DEFINITION_FILTERS, _invalid_filter)
    if refused:
        return refused
    found = [d for d in map(_definition, BUILTIN_DIRECTORY_ROLES) if _matches(d, groups)]
    return _collection(req, "roleManagement/directory/roleDefinitions", found)


def _get_assignments(req: Request, state: State, rest: list[str]) -> Response:
    expand = {e.strip().lower() for e in (req.query.get("$expand") or "").split(",") if e.strip()}
    unknown = expand - {"roledefinition", "principal"}
    if unknown:
        return graph_error(
            400,
            "BadRequest",
            f"Could not find a property named '{sorted(unknown)[0]}' on type 'microsoft.graph.unifiedRoleAssignment'.",
        )

    def view(a: dict) -> dict:
        out = dict(a)
        if "roledefinition" in expand:
            out["roleDefinition"] = _definition(a["roleDefinitionId"])
        if "principal" in expand:
            p = state.principal(a["principalId"]) or {"id": a["principalId"]}
            kind = "servicePrincipal" if "servicePrincipalType" in p else str(p.get("@type", "User")).lower()
            out["principal"] = {
                "@odata.type": f"#microsoft.graph.{kind}",
                **{k: v for k, v in p.items() if not k.startswith("@")},
            }
        return out

    if rest:
        one = next((a for a in state.directory_role_assignments if a["id"] == rest[0]), None)
        return Response(200, view(one)) if one else _missing(rest[0])
    groups, refused = _filter(req.query.get("$filter"), _ASSIGNMENT_FILTERS, _invalid_filter)
    if refused:
        return refused
    found = [view(a) for a in state.directory_role_assignments if _matches(a, groups)]
    return _collection(req, "roleManagement/directory/roleAssignments", found)
