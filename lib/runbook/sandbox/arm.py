"""Azure Resource Manager behaviour: routing, api-versions, status codes, paging, LROs, locks, RBAC."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from . import ids, specs
from .faults import FaultState
from .http import Request, Response, arm_error
from .state import BUILTIN_ROLES, State

# Types served at tenant scope (/providers/...): built-in definitions anyone signed in may read.
TENANT_LEVEL_TYPES = ("microsoft.authorization/policydefinitions", "microsoft.authorization/policysetdefinitions", "microsoft.authorization/roledefinitions")
DEFENDER_PLANS = (
    "VirtualMachines", "SqlServers", "AppServices", "StorageAccounts", "SqlServerVirtualMachines",
    "KeyVaults", "Arm", "OpenSourceRelationalDatabases", "Containers", "CosmosDbs", "CloudPosture", "Api",
)
FREE_TRIAL = timedelta(days=30)
_FILTER_TERM = re.compile(r"(\w+)\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)


def now_iso() -> str:
    """Current UTC time as ARM writes it."""
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_filter(expr: str | None) -> dict[str, str]:
    """The `name eq 'value'` terms of an OData $filter joined by `and` (all ARM list calls need)."""
    if not expr:
        return {}
    return {m.group(1).lower(): m.group(2).replace("''", "'") for m in _FILTER_TERM.finditer(expr)}


def canonical_id(ap: ids.ArmPath, spec: specs.TypeSpec) -> str:
    """The ID as ARM would spell it: resourceGroups and the type segments in their documented casing."""
    scope = re.sub(r"/resourcegroups/", "/resourceGroups/", ap.scope, flags=re.IGNORECASE)
    scope = re.sub(r"^/subscriptions/", "/subscriptions/", scope, flags=re.IGNORECASE)
    ns, *types = spec.type.split("/")
    segs = list(ap.segments)
    for i, t in enumerate(types):
        if 2 * i < len(segs):
            segs[2 * i] = t
    return f"{scope}/providers/{ns}/" + "/".join(segs)


class Arm:
    """Serves ARM requests against a State for an authenticated principal."""

    def __init__(self, state: State, faults: FaultState) -> None:
        self.state = state
        self.faults = faults

    # ------------------------------------------------------------------ helpers
    def page(self, req: Request, items: list[dict], default_top: int = 1000) -> Response:
        """A list answer with `$top` paging via nextLink and `$skiptoken`, as ARM pages."""
        top = int(req.query.get("$top") or default_top)
        start = int(req.query.get("$skiptoken") or 0)
        body: dict = {"value": items[start:start + top]}
        if start + top < len(items):
            q = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            q["$skiptoken"] = str(start + top)
            body["nextLink"] = f"{req.base_url}{ids.normalise_path(req.path)}?{urlencode(q)}"
        return Response(200, body)

    def check_api(self, req: Request, allowed: tuple[str, ...], what: str, namespace: bool = False) -> Response | None:
        """ARM's 400 for an api-version the operation does not support."""
        v = req.api_version
        if v in allowed:
            return None
        if namespace:
            return arm_error(400, "NoRegisteredProviderFound", f"No registered resource provider found for location 'westeurope' and API version '{v}' for type '{what}'. The supported api-versions are '{', '.join(allowed)}'. The supported locations are 'westeurope, northeurope, eastus'.")
        return arm_error(400, "InvalidApiVersionParameter", f"The api-version '{v}' is invalid. The supported versions are '{','.join(allowed)}'. The supported locations are ''.")

    def authorize(self, principal: str, scope: str, action: str) -> Response | None:
        """ARM's 403 AuthorizationFailed when the principal lacks a role granting the action."""
        if self.state.allowed(principal, scope or "/", action):
            return None
        return arm_error(403, "AuthorizationFailed", f"The client '{principal}' with object id '{principal}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.")

    def check_locks(self, target: str, method: str) -> Response | None:
        """409 ScopeLocked when a ReadOnly (any write) or CanNotDelete (delete) lock covers the target."""
        for anc in ids.ancestors(target):
            for lock in self.state.children(anc + "/providers/Microsoft.Authorization/locks"):
                level = lock["properties"]["level"]
                if level == "ReadOnly" or (level == "CanNotDelete" and method == "DELETE"):
                    verb = "delete" if method == "DELETE" else "write"
                    lock_scope = lock["id"].split("/providers/Microsoft.Authorization/locks/")[0]
                    return arm_error(409, "ScopeLocked", f"The scope '{ids.normalise_path(target)}' cannot perform {verb} operation because following scope(s) are locked: '{lock_scope}'. Please remove the lock and try again.")
        return None

    def lro_headers(self, req: Request, op_id: str, sub: str, kind: str) -> dict[str, str]:
        """Location or Azure-AsyncOperation headers pointing back at this sandbox, with Retry-After."""
        url = f"{req.base_url}/subscriptions/{sub}/operation{'results' if kind == 'location' else 'statuses'}/{op_id}?api-version={req.api_version}"
        header = "Location" if kind == "location" else "Azure-AsyncOperation"
        return {header: url, "Retry-After": self.lro_retry_after()}

    def lro_retry_after(self) -> str:
        """Retry-After for long-running operations: whole seconds unless tests asked for fractions."""
        f = self.faults.faults
        return f"{f.lro_retry_after:.3f}" if f.fractional_retry_after else str(max(1, round(f.lro_retry_after)))

    def start_lro(self, req: Request, sub: str, kind: str, done=None, resource_type: str = "", resource_id: str = "", on_fail=None) -> tuple[dict[str, str], bool]:
        """Register an operation; returns its headers and whether it is set to fail (then `on_fail` runs instead of `done`)."""
        f = self.faults.faults
        failed = resource_type.lower() in {t.lower() for t in f.lro_fail_types}
        op = self.state.new_operation(f.lro_polls, on_fail if failed else done, failed, resource_id)
        return self.lro_headers(req, op.id, sub, kind), failed

    # ------------------------------------------------------------------ dispatch
    def handle(self, req: Request, principal: str) -> Response:
        """Route one ARM request."""
        path = ids.normalise_path(req.path)
        low = path.lower()
        parts = low.strip("/").split("/")
        if req.api_version is None:
            return arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
        if low == "/subscriptions":
            return self.check_api(req, specs.SUBSCRIPTIONS_API, "subscriptions") or self.list_subscriptions(req, principal)
        if low == "/tenants":
            return self.check_api(req, specs.SUBSCRIPTIONS_API, "tenants") or self.page(req, [{"id": f"/tenants/{self.state.tenant_id}", "tenantId": self.state.tenant_id, "displayName": self.state.tenant_name, "defaultDomain": self.state.domain, "domains": [self.state.domain], "tenantCategory": "Home", "countryCode": "NL"}])
        if low == "/providers/microsoft.resourcegraph/resources" and req.method == "POST":
            return self.check_api(req, specs.GRAPH_QUERY_API, "resources", True) or self.resource_graph(req, principal)
        if parts[0] == "providers" and len(parts) >= 3:
            if "/".join(parts[1:3]) not in TENANT_LEVEL_TYPES:
                return arm_error(400, "InvalidResourceType", f"The resource type '{'/'.join(path.split('/')[2:4])}' is not available at tenant scope.")
            return self.generic(req, principal, path)  # built-in definitions, readable by every signed-in caller
        if parts[0] != "subscriptions":
            return arm_error(404, "InvalidResourceType", f"The resource type could not be found for path '{path}'.")
        sub = parts[1]
        sub_obj = self.state.get(f"/subscriptions/{sub}")
        if sub_obj is None:
            return arm_error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        if len(parts) == 2:
            return self.check_api(req, specs.SUBSCRIPTIONS_API, "subscriptions") or self.get_subscription(sub_obj, principal)
        if parts[2] in ("operationresults", "operationstatuses") and len(parts) == 4:
            return self.poll(parts[2], parts[3])
        if len(parts) >= 4 and parts[2] == "resourcegroups":
            rg = self.state.get(f"/subscriptions/{sub}/resourcegroups/{parts[3]}")
            if rg is None and not (len(parts) == 4 and req.method in ("PUT", "HEAD")):
                return arm_error(404, "ResourceGroupNotFound", f"Resource group '{path.split('/')[4]}' could not be found.")
        if low.endswith("/providers/microsoft.resources/tags/default"):
            return self.check_api(req, specs.RESOURCES_API, "tags") or self.tags(req, principal, path[: -len("/providers/Microsoft.Resources/tags/default")])
        if parts[2:] == ["resources"] or (len(parts) == 5 and parts[2] == "resourcegroups" and parts[4] == "resources"):
            return self.check_api(req, specs.RESOURCES_API, "resources") or self.list_resources(req, principal, path[: -len("/resources")])
        if parts[2] == "resourcegroups" and len(parts) == 3:
            return self.check_api(req, specs.RESOURCES_API, "resourceGroups") or self.list_groups(req, principal, sub)
        if parts[2] == "resourcegroups" and len(parts) == 4:
            return self.check_api(req, specs.RESOURCES_API, "resourceGroups") or self.group(req, principal, sub, path.split("/")[4])
        if parts[2] == "providers" and len(parts) <= 5 and (len(parts) < 5 or parts[4] == "register"):
            return self.check_api(req, specs.RESOURCES_API, "providers") or self.providers(req, sub, parts[3] if len(parts) > 3 else None)
        if low.endswith("/providers/microsoft.policyinsights/policystates/latest/summarize") and req.method == "POST":
            return self.check_api(req, specs.POLICY_INSIGHTS_API, "policyStates", True) or self.policy_summary(req, principal, path.split("/providers/")[0])
        return self.generic(req, principal, path)

    # ------------------------------------------------------------------ subscriptions
    def subscription_view(self, obj: dict) -> dict:
        """A subscription as the Subscriptions API returns it."""
        return {k: v for k, v in obj.items() if k != "type"}

    def list_subscriptions(self, req: Request, principal: str) -> Response:
        """Subscriptions the caller holds any role on (as ARM filters them)."""
        subs = [self.subscription_view(s) for s in self.state.subscriptions() if self.state.roles_of(principal, s["id"])]
        return self.page(req, subs)

    def get_subscription(self, obj: dict, principal: str) -> Response:
        """One subscription, if the caller can see it."""
        if not self.state.roles_of(principal, obj["id"]):
            return arm_error(403, "AuthorizationFailed", f"The client '{principal}' with object id '{principal}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/read' over scope '{obj['id']}' or the scope is invalid.")
        return Response(200, self.subscription_view(obj))

    def providers(self, req: Request, sub: str, namespace: str | None) -> Response:
        """Resource provider registrations; everything the sandbox serves is registered."""
        def view(ns: str) -> dict:
            types = sorted({t.split("/", 1)[1] for t in specs.TYPES if t.startswith(ns.lower() + "/")})
            return {"id": f"/subscriptions/{sub}/providers/{ns}", "namespace": ns, "registrationState": "Registered", "resourceTypes": [{"resourceType": t, "locations": ["West Europe", "North Europe"], "apiVersions": list(specs.TYPES[f"{ns.lower()}/{t}"].api_versions)} for t in types]}
        namespaces = sorted({specs.TYPES[t].type.split("/")[0] for t in specs.TYPES})
        if namespace is None:
            return self.page(req, [view(ns) for ns in namespaces])
        match = next((ns for ns in namespaces if ns.lower() == namespace), None)
        if match is None:
            return arm_error(404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.")
        return Response(200, view(match))

    # ------------------------------------------------------------------ resource groups
    def list_groups(self, req: Request, principal: str, sub: str) -> Response:
        """Resource groups of a subscription, with tagName/tagValue $filter."""
        if denied := self.authorize(principal, f"/subscriptions/{sub}", "Microsoft.Resources/subscriptions/resourceGroups/read"):
            return denied
        groups = self.state.children(f"/subscriptions/{sub}/resourcegroups")
        return self.page(req, [g for g in groups if self.matches(g, parse_filter(req.query.get("$filter")))])

    def group(self, req: Request, principal: str, sub: str, name: str) -> Response:
        """GET/HEAD/PUT/PATCH/DELETE of one resource group."""
        rid = f"/subscriptions/{sub}/resourceGroups/{name}"
        existing = self.state.get(rid)
        action = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(req.method, "write")
        if denied := self.authorize(principal, rid, f"Microsoft.Resources/subscriptions/resourceGroups/{action}"):
            return denied
        if req.method == "HEAD":
            return Response(204 if existing else 404)
        if req.method == "GET":
            return Response(200, existing)
        if req.method == "PUT":
            body = req.json()
            if not body.get("location"):
                return arm_error(400, "LocationRequired", "The location property is required for this definition.")
            if existing and existing["location"].lower() != body["location"].lower().replace(" ", ""):
                return arm_error(409, "InvalidResourceGroupLocation", f"Invalid resource group location '{body['location']}'. The Resource group already exists in location '{existing['location']}'.")
            if existing and (locked := self.check_locks(rid, "PUT")):
                return locked
            obj = {"id": existing["id"] if existing else rid, "name": existing["name"] if existing else name, "type": "Microsoft.Resources/resourceGroups", "location": body["location"].lower().replace(" ", ""), "tags": body.get("tags") or {}, "properties": {"provisioningState": "Succeeded"}}
            if body.get("managedBy"):
                obj["managedBy"] = body["managedBy"]
            self.state.put(obj)
            return Response(200 if existing else 201, obj)
        if req.method == "PATCH":
            if locked := self.check_locks(rid, "PATCH"):
                return locked
            body = req.json()
            if "tags" in body:
                existing["tags"] = body["tags"] or {}
            return Response(200, existing)
        if req.method == "DELETE":
            if locked := self.check_locks_below(rid):
                return locked
            headers, failed = self.start_lro(req, sub, "location", lambda: self.state.delete_tree(rid), "Microsoft.Resources/resourceGroups", rid)
            return Response(202, None, headers)
        return arm_error(405, "MethodNotAllowed", f"The HTTP method '{req.method}' is not supported.")

    def check_locks_below(self, rid: str) -> Response | None:
        """A resource group cannot be deleted while any lock sits on it or inside it."""
        for lock in self.state.children(rid, "Microsoft.Authorization/locks"):
            lock_scope = lock["id"].split("/providers/Microsoft.Authorization/locks/")[0]
            return arm_error(409, "ScopeLocked", f"The scope '{rid}' cannot perform delete operation because following scope(s) are locked: '{lock_scope}'. Please remove the lock and try again.")
        return self.check_locks(rid, "DELETE")

    def poll(self, kind: str, op_id: str) -> Response:
        """Status of a long-running operation; it completes after the configured number of polls."""
        op = self.state.operations.get(op_id)
        if op is None:
            return arm_error(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
        retry = {"Retry-After": self.lro_retry_after()}
        if op.polls_left > 0:
            op.polls_left -= 1
            return Response(202, None, retry) if kind == "operationresults" else Response(200, {"status": "InProgress"}, retry)
        if not op.finished:
            op.finished = True
            if op.done:
                op.done()
        if op.failed:
            error = {"code": "InternalServerError", "message": f"The long-running operation on '{op.resource_id}' failed (sandbox fault injection)."}
            if kind == "operationresults":
                return Response(500, {"error": error})
            return Response(200, {"status": "Failed", "error": error})
        return Response(200) if kind == "operationresults" else Response(200, {"status": "Succeeded"})

    # ------------------------------------------------------------------ tags and /resources
    def tags(self, req: Request, principal: str, scope: str) -> Response:
        """Microsoft.Resources/tags/default at a scope: GET, PUT (replace), PATCH (Merge/Replace/Delete), DELETE."""
        obj = self.state.get(scope)
        if obj is None:
            return arm_error(404, "ResourceNotFound", f"The Resource '{scope}' was not found.")
        action = "Microsoft.Resources/tags/" + ("read" if req.method == "GET" else "delete" if req.method == "DELETE" else "write")
        if denied := self.authorize(principal, scope, action):
            return denied
        if req.method != "GET" and (locked := self.check_locks(scope, "PUT")):
            return locked
        current: dict = obj.setdefault("tags", {}) or {}
        if req.method == "PUT":
            current = dict(req.json().get("properties", {}).get("tags") or {})
        elif req.method == "PATCH":
            body = req.json()
            operation = (body.get("operation") or "").lower()
            given = body.get("properties", {}).get("tags") or {}
            if operation == "merge":
                current = merge_tags(current, given)
            elif operation == "replace":
                current = dict(given)
            elif operation == "delete":
                current = {k: v for k, v in current.items() if not any(k.lower() == gk.lower() and (gv in ("", None) or gv == v) for gk, gv in given.items())}
            else:
                return arm_error(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: 'operation' must be one of Merge, Replace, Delete.")
        elif req.method == "DELETE":
            current = {}
        if len(current) > 50:
            return arm_error(400, "InvalidTagsCount", f"The number of tags ({len(current)}) exceeds the maximum of 50 per resource.")
        obj["tags"] = current
        return Response(200, {"id": f"{obj['id']}/providers/Microsoft.Resources/tags/default", "name": "default", "type": "Microsoft.Resources/tags", "properties": {"tags": current}})

    def matches(self, obj: dict, terms: dict[str, str]) -> bool:
        """Whether an object satisfies tagName/tagValue/resourceType/name/location filter terms."""
        tags = {k.lower(): v for k, v in (obj.get("tags") or {}).items()}
        if "tagname" in terms:
            value = tags.get(terms["tagname"].lower())
            if value is None or ("tagvalue" in terms and value.lower() != terms["tagvalue"].lower()):
                return False
        for field_, attr in (("resourcetype", "type"), ("name", "name"), ("location", "location")):
            if field_ in terms and str(obj.get(attr, "")).lower() != terms[field_].lower():
                return False
        return True

    def list_resources(self, req: Request, principal: str, scope: str) -> Response:
        """Tracked resources under a subscription or resource group, filtered and paged."""
        if denied := self.authorize(principal, scope, "Microsoft.Resources/subscriptions/resources/read"):
            return denied
        terms = parse_filter(req.query.get("$filter"))
        prefix = ids.key(scope) + "/"
        found = []
        for k, obj in self.state.arm.items():
            if not k.startswith(prefix) or "/resourcegroups/" not in k or k.count("/") < 8:
                continue
            spec = specs.lookup(obj.get("type", ""))
            if spec is not None and spec.tracked and self.matches(obj, terms):
                found.append({k2: v for k2, v in obj.items() if k2 != "properties"})
        return self.page(req, found)

    # ------------------------------------------------------------------ generic provider resources
    def generic(self, req: Request, principal: str, path: str) -> Response:
        """Any provider resource or collection described in specs.TYPES."""
        ap = ids.parse(path)
        spec = specs.lookup(ap.resource_type)
        if spec is None:
            if ap.namespace.lower() not in specs.namespaces():
                return arm_error(400, "InvalidResourceNamespace", f"The resource namespace '{ap.namespace}' is invalid.")
            return arm_error(400, "InvalidResourceType", f"The resource type '{'/'.join(ap.segments[0::2])}' could not be found in the namespace '{ap.namespace}' for api version '{req.api_version}'.")
        if bad := self.check_api(req, spec.api_versions, spec.type.split("/", 1)[1], namespace=True):
            return bad
        verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(req.method, "write")
        target = path if not ap.is_collection else (ap.parent_id or ap.scope)
        public = ap.scope == "" and verb == "read"  # only TENANT_LEVEL_TYPES get here with an empty scope
        if not public and (denied := self.authorize(principal, target, f"{spec.type}/{verb}")):
            return denied
        hook = getattr(self, "type_" + spec.type.replace("/", "_").replace(".", "_").lower(), None)
        if hook is not None:
            answer = hook(req, ap, spec)
            if answer is not None:
                return answer
        if ap.is_collection:
            if req.method != "GET":
                return arm_error(405, "MethodNotAllowed", f"The HTTP method '{req.method}' is not supported for a collection.")
            items = [o for o in self.state.children(ap.parent_id or ap.scope, spec.type, recursive=True) if self.in_collection(o, ap)]
            return self.page(req, [self.view(o) for o in items if self.matches(o, parse_filter(req.query.get("$filter")))])
        return self.single(req, ap, spec)

    def in_collection(self, obj: dict, collection: ids.ArmPath) -> bool:
        """Whether an object belongs to a list: child types by exact parent; top-level types anywhere
        under the listed scope (a subscription list includes its resource groups' resources)."""
        if ids.key(obj["id"]).rsplit("/", 1)[0] == ids.key(collection.path):
            return True
        return len(collection.segments) == 1 and ids.parse(obj["id"]).scope.lower().startswith(collection.scope.lower() + "/")

    def view(self, obj: dict) -> dict:
        """Stored object as returned to clients (internal keys removed)."""
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def not_found(self, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response:
        """ARM's 404 for a missing provider resource."""
        rg = ids.resource_group_of(ap.path)
        where = f" under resource group '{rg}'" if rg else ""
        return arm_error(404, "ResourceNotFound", f"The Resource '{spec.type}/{ap.name}'{where} was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")

    def single(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response:
        """GET/PUT/PATCH/DELETE of one provider resource with the spec's status codes."""
        existing = self.state.get(ap.path)
        if req.method in ("GET", "HEAD"):
            return Response(200, self.view(existing)) if existing else self.not_found(ap, spec)
        if spec.type != "Microsoft.Authorization/locks" and (locked := self.check_locks(ap.path, req.method)):
            return locked
        if ap.parent_id != ap.scope and self.state.get(ap.parent_id) is None:
            return arm_error(404, "ParentResourceNotFound", f"Can not perform requested operation on nested resource. Parent resource '{ap.parent_id.rsplit('/', 1)[-1]}' not found.")
        if req.method == "DELETE":
            if existing is None:
                return Response(spec.delete_codes[1])
            sub = ids.subscription_of(ap.path)
            if spec.delete_lro and sub:
                headers, _ = self.start_lro(req, sub, "location", lambda: self.state.delete_tree(ap.path), spec.type, ap.path)
                return Response(202, None, headers)
            self.state.delete_tree(ap.path)
            return Response(spec.delete_codes[0])
        if req.method == "PATCH":
            if existing is None:
                return self.not_found(ap, spec)
            if not spec.patch:
                return arm_error(405, "MethodNotAllowed", "The HTTP method 'PATCH' is not supported.")
            body = req.json()
            if "tags" in body:
                existing["tags"] = body["tags"] or {}
            if "properties" in body:
                existing.setdefault("properties", {}).update(body["properties"])
            return Response(200, self.view(existing))
        if req.method == "PUT":
            return self.put(req, ap, spec, existing)
        return arm_error(405, "MethodNotAllowed", f"The HTTP method '{req.method}' is not supported.")

    def put(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec, existing: dict | None, extra: dict | None = None) -> Response:
        """Create or replace a resource; 201/200 per spec, LRO when the spec says so."""
        try:
            body = req.json()
        except ValueError:
            return arm_error(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
        obj = {"id": existing["id"] if existing else canonical_id(ap, spec), "name": ap.name, "type": spec.type}
        for k, v in body.items():
            if k not in ("id", "name", "type"):
                obj[k] = v
        if spec.tracked:
            if not obj.get("location"):
                return arm_error(400, "LocationRequired", "The location property is required for this definition.")
            obj.setdefault("tags", {})
        if extra:
            obj.update(extra)
        props = obj.setdefault("properties", {})
        if spec.put_lro and not existing:
            sub = ids.subscription_of(ap.path) or self.state.subscriptions()[0]["subscriptionId"]
            props["provisioningState"] = "Accepted"

            def settle(state: str):
                return lambda: props.__setitem__("provisioningState", state)
            headers, _ = self.start_lro(req, sub, "async", settle("Succeeded"), spec.type, obj["id"], on_fail=settle("Failed"))
            self.state.put(obj)
            return Response(201, self.view(obj), headers)
        if spec.tracked or spec.put_lro:
            props["provisioningState"] = "Succeeded"
        self.state.put(obj)
        return Response(spec.put_updated if existing else spec.put_created, self.view(obj))

    # ------------------------------------------------------------------ per-type behaviour
    def type_microsoft_authorization_roledefinitions(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Built-in role definitions, visible at every scope."""
        if req.method != "GET":
            return arm_error(403, "AuthorizationFailed", "Custom role definitions are not supported by the sandbox.")
        scope = ap.scope

        def view(guid: str) -> dict:
            role = BUILTIN_ROLES[guid]
            return {"id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "name": guid, "type": "Microsoft.Authorization/roleDefinitions", "properties": {"roleName": role["roleName"], "type": "BuiltInRole", "description": role["roleName"], "assignableScopes": ["/"], "permissions": [{"actions": role["actions"], "notActions": role["notActions"], "dataActions": [], "notDataActions": []}]}}
        if ap.is_collection:
            terms = parse_filter(req.query.get("$filter"))
            found = [view(g) for g, r in BUILTIN_ROLES.items() if "rolename" not in terms or r["roleName"].lower() == terms["rolename"].lower()]
            return self.page(req, found)
        if ap.name.lower() not in BUILTIN_ROLES:
            return arm_error(404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '" + ap.name + "' does not exist.")
        return Response(200, view(ap.name.lower()))

    def type_microsoft_authorization_roleassignments(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Role assignments: scope/principal filters on lists, validation and conflicts on PUT."""
        if ap.is_collection:
            expr = req.query.get("$filter") or ""
            terms = parse_filter(expr)
            at_scope = "atscope()" in expr.lower()
            scope_key = ids.key(ap.scope or "/")
            above = set(ids.ancestors(ap.scope)) if ap.scope else set()
            found = []
            for obj in self.state.children("/", spec.type, recursive=True) if not ap.scope else self.all_of_type(spec.type):
                ra_scope = ids.key(obj["properties"]["scope"])
                if not (ra_scope in above or (not at_scope and ra_scope.startswith(scope_key + "/"))):
                    continue
                if "principalid" in terms and obj["properties"]["principalId"].lower() != terms["principalid"].lower():
                    continue
                found.append(obj)
            return self.page(req, found)
        if req.method == "PUT":
            props = req.json().get("properties") or {}
            for field_ in ("roleDefinitionId", "principalId"):
                if not props.get(field_):
                    return arm_error(400, "InvalidRoleAssignmentRequest", f"The request is missing the required property '{field_}'.")
            guid = props["roleDefinitionId"].rstrip("/").split("/")[-1].lower()
            if guid not in BUILTIN_ROLES:
                return arm_error(400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist.")
            existing = self.state.get(ap.path)
            for other in self.all_of_type(spec.type):
                op = other["properties"]
                if ids.key(op["scope"]) == ids.key(ap.scope) and op["principalId"].lower() == props["principalId"].lower() and op["roleDefinitionId"].lower().endswith(guid) and ids.key(other["id"]) != ids.key(ap.path):
                    return arm_error(409, "RoleAssignmentExists", "The role assignment already exists.")
            if existing:
                return Response(200, existing) if existing["properties"]["principalId"].lower() == props["principalId"].lower() else arm_error(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
            stamp = now_iso()
            obj = {"id": canonical_id(ap, spec), "name": ap.name, "type": spec.type, "properties": {"roleDefinitionId": f"{ap.scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "principalId": props["principalId"], "principalType": props.get("principalType", "ServicePrincipal"), "scope": ap.scope, "condition": None, "conditionVersion": None, "createdOn": stamp, "updatedOn": stamp, "createdBy": None, "updatedBy": None, "delegatedManagedIdentityResourceId": None, "description": props.get("description")}}
            self.state.put(obj)
            return Response(201, obj)
        return None

    def all_of_type(self, resource_type: str) -> list[dict]:
        """Every stored object of a type, anywhere in the tenant."""
        t = resource_type.lower()
        return [o for o in self.state.arm.values() if o.get("type", "").lower() == t]

    def type_microsoft_managedservices_registrationassignments(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Lighthouse assignments: the definition must exist; $expandRegistrationDefinition inlines it."""
        expand = req.query.get("$expandregistrationdefinition", "").lower() == "true"

        def view(obj: dict) -> dict:
            out = self.view(obj)
            if expand:
                definition = self.state.get(obj["properties"]["registrationDefinitionId"])
                if definition:
                    dprops = {**definition["properties"], "manageeTenantId": self.state.tenant_id, "manageeTenantName": self.state.tenant_name}
                    out = {**out, "properties": {**out["properties"], "registrationDefinition": {"properties": dprops, "id": definition["id"], "type": definition["type"], "name": definition["name"]}}}
            return out
        if ap.is_collection and req.method == "GET":
            return self.page(req, [view(o) for o in self.state.children(ap.scope + "/providers/Microsoft.ManagedServices/registrationAssignments")])
        if req.method == "GET":
            obj = self.state.get(ap.path)
            return Response(200, view(obj)) if obj else self.not_found(ap, spec)
        if req.method == "PUT":
            def_id = (req.json().get("properties") or {}).get("registrationDefinitionId", "")
            if not def_id or self.state.get(def_id) is None:
                return arm_error(400, "RegistrationDefinitionNotFound", f"The registration definition '{def_id}' could not be found.")
        return None

    def type_microsoft_managedservices_registrationdefinitions(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Lighthouse offers: authorizations must not grant Owner."""
        if req.method == "PUT":
            props = req.json().get("properties") or {}
            for auth in props.get("authorizations") or []:
                if auth.get("roleDefinitionId", "").lower() == "8e3af657-a8ff-443c-a75c-2fe8c4bcb635":
                    return arm_error(400, "InvalidAuthorization", "The Owner role cannot be delegated through Azure Lighthouse.")
            if not props.get("managedByTenantId"):
                return arm_error(400, "InvalidRegistrationDefinition", "The property 'managedByTenantId' is required.")
        return None

    def type_microsoft_security_pricings(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Defender for Cloud plans: every plan exists (Free) until changed; Azure computes trial fields."""
        if ap.is_collection:
            return Response(200, {"value": [self.pricing(ap.scope, p) for p in DEFENDER_PLANS]})
        plan = next((p for p in DEFENDER_PLANS if p.lower() == ap.name.lower()), None)
        if plan is None:
            return arm_error(400, "InvalidInputJson", f"Pricing name '{ap.name}' is not a valid Microsoft Defender for Cloud plan.")
        if req.method == "GET":
            return Response(200, self.pricing(ap.scope, plan))
        if req.method == "PUT":
            props = req.json().get("properties") or {}
            tier = {"free": "Free", "standard": "Standard"}.get(str(props.get("pricingTier")).lower())
            if tier is None:
                return arm_error(400, "InvalidInputJson", "properties.pricingTier must be 'Free' or 'Standard'.")
            stored = self.state.get(f"{ap.scope}/providers/Microsoft.Security/pricings/{plan}") or {"_trial_start": None}
            stored.update({"id": f"{ap.scope}/providers/Microsoft.Security/pricings/{plan}", "_tier": tier, "_given": {k: v for k, v in props.items() if k in ("subPlan", "enforce", "extensions")}})
            if tier == "Standard" and stored.get("_trial_start") is None:
                stored["_trial_start"] = datetime.now(timezone.utc).isoformat()
            if tier == "Standard":
                stored["_enabled"] = datetime.now(timezone.utc).isoformat()
            stored["type"] = "Microsoft.Security/pricings"
            self.state.put(stored)
            return Response(200, self.pricing(ap.scope, plan))
        if req.method == "DELETE":
            self.state.delete_tree(f"{ap.scope}/providers/Microsoft.Security/pricings/{plan}")
            return Response(200)
        return None

    def type_microsoft_insights_actiongroups(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Action groups: Azure marks e-mail and SMS receivers Enabled and the group enabled."""
        if req.method == "PUT":
            body = req.json()
            props = body.get("properties") or {}
            if not props.get("groupShortName") or len(props["groupShortName"]) > 12:
                return arm_error(400, "InvalidRequestContent", "properties.groupShortName is required and must be at most 12 characters.")
            for kind in ("emailReceivers", "smsReceivers"):
                for receiver in props.get(kind) or []:
                    receiver.setdefault("status", "Enabled")
            for kind in ("emailReceivers", "smsReceivers", "webhookReceivers", "itsmReceivers", "azureAppPushReceivers", "automationRunbookReceivers", "voiceReceivers", "logicAppReceivers", "azureFunctionReceivers", "armRoleReceivers", "eventHubReceivers"):
                props.setdefault(kind, [])
            props.setdefault("enabled", True)
            return self.put(replace(req, body=json.dumps({**body, "properties": props}).encode()), ap, spec, self.state.get(ap.path))
        return None

    def pricing(self, scope: str, plan: str) -> dict:
        """A Defender plan as the Pricings API returns it, computing trial time like Azure."""
        stored = self.state.get(f"{scope}/providers/Microsoft.Security/pricings/{plan}") or {}
        tier = stored.get("_tier", "Free")
        props: dict = {"pricingTier": tier, "freeTrialRemainingTime": "PT0S"}
        if stored.get("_trial_start"):
            used = datetime.now(timezone.utc) - datetime.fromisoformat(stored["_trial_start"])
            remaining = max(timedelta(0), FREE_TRIAL - used)
            props["freeTrialRemainingTime"] = f"P{remaining.days}DT{remaining.seconds // 3600}H{remaining.seconds % 3600 // 60}M"
        else:
            props["freeTrialRemainingTime"] = "P30D"
        if tier == "Standard":
            props["enablementTime"] = stored.get("_enabled")
        props.update(stored.get("_given") or {})
        props["resourcesCoverageStatus"] = "FullyCovered" if tier == "Standard" else "NotCovered"
        props["deprecated"] = False
        return {"id": f"{scope}/providers/Microsoft.Security/pricings/{plan}", "name": plan, "type": "Microsoft.Security/pricings", "properties": props}

    def type_microsoft_advisor_configurations(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Advisor configuration: one `default` per subscription, present from the start."""
        default_id = f"{ap.scope}/providers/Microsoft.Advisor/configurations/default"
        stored = self.state.get(default_id) or {"id": default_id, "name": "default", "type": "Microsoft.Advisor/configurations", "properties": {"lowCpuThreshold": "5", "exclude": False, "digests": []}}
        if ap.is_collection:
            return Response(200, {"value": [stored]})
        if req.method == "PUT":
            body = req.json()
            stored["properties"] = {**stored["properties"], **(body.get("properties") or {})}
            self.state.put(stored)
            return Response(200, stored)
        return Response(200, stored)

    def type_microsoft_authorization_policyassignments(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Policy assignments: the definition must exist (built-ins are accepted by their GUID path)."""
        if req.method == "PUT":
            body = req.json()
            props = body.get("properties") or {}
            if not props.get("policyDefinitionId"):
                return arm_error(400, "InvalidRequestContent", "The property 'policyDefinitionId' is required.")
            props.setdefault("scope", ap.scope)
            props.setdefault("enforcementMode", "Default")
            props.setdefault("notScopes", [])
            existing = self.state.get(ap.path)
            props["instanceId"] = existing["properties"]["instanceId"] if existing else str(uuid.uuid4())
            return self.put(replace(req, body=json.dumps({**body, "properties": props}).encode()), ap, spec, self.state.get(ap.path))
        if ap.is_collection:
            expr = req.query.get("$filter") or ""
            above = set(ids.ancestors(ap.scope))
            found = [o for o in self.all_of_type(spec.type) if ids.key(o["properties"]["scope"]) in above or ("atscope()" not in expr.lower() and ids.key(o["properties"]["scope"]).startswith(ids.key(ap.scope) + "/"))]
            return self.page(req, [self.view(o) for o in found])
        return None

    def type_microsoft_authorization_policydefinitions(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Built-in policy definitions live at tenant scope and are read-only; custom ones are stored."""
        if ap.scope == "" or (req.method == "GET" and not ap.is_collection and ap.name.lower() in BUILTIN_POLICIES):
            if req.method != "GET":
                return arm_error(403, "AuthorizationFailed", "Built-in policy definitions cannot be changed.")
            if ap.is_collection:
                return self.page(req, [builtin_policy(g) for g in BUILTIN_POLICIES])
            if ap.name.lower() not in BUILTIN_POLICIES:
                return arm_error(404, "PolicyDefinitionNotFound", f"The policy definition '{ap.name}' could not be found.")
            return Response(200, builtin_policy(ap.name.lower()))
        if req.method == "GET" and not ap.is_collection and self.state.get(ap.path) is None:
            return arm_error(404, "PolicyDefinitionNotFound", f"The policy definition '{ap.name}' could not be found.")
        return None

    def type_microsoft_consumption_budgets(self, req: Request, ap: ids.ArmPath, spec: specs.TypeSpec) -> Response | None:
        """Budgets carry an eTag and a computed current spend."""
        if req.method == "PUT":
            existing = self.state.get(ap.path)
            props = (req.json().get("properties") or {})
            for field_ in ("category", "amount", "timeGrain", "timePeriod"):
                if field_ not in props:
                    return arm_error(400, "InvalidBudget", f"The property 'properties.{field_}' is required.")
            spend = {"amount": 0.0, "unit": "EUR"}
            answer = self.put(req, ap, spec, existing, extra={"eTag": f'"{uuid.uuid4().hex[:15]}"'})
            if answer.status in (200, 201):
                stored = self.state.get(ap.path)
                stored["properties"]["currentSpend"] = spend
                answer.body = self.view(stored)
            return answer
        return None

    # ------------------------------------------------------------------ queries
    def resource_graph(self, req: Request, principal: str) -> Response:
        """A small Resource Graph: `Resources` rows for the requested subscriptions, optional type filter."""
        body = req.json()
        subs = [s.lower() for s in body.get("subscriptions") or [s["subscriptionId"] for s in self.state.subscriptions()]]
        query = body.get("query", "")
        m = re.search(r"type\s*=~\s*'([^']+)'", query)
        rows = []
        for k, obj in self.state.arm.items():
            if ids.subscription_of(k) not in subs or "/resourcegroups/" not in k or k.count("/") < 8:
                continue
            spec = specs.lookup(obj.get("type", ""))
            if spec is None or not spec.tracked or (m and obj["type"].lower() != m.group(1).lower()):
                continue
            if not self.state.allowed(principal, obj["id"], f"{obj['type']}/read"):
                continue
            rows.append({"id": obj["id"], "name": obj["name"], "type": obj["type"].lower(), "location": obj.get("location"), "resourceGroup": ids.resource_group_of(k), "subscriptionId": ids.subscription_of(k), "tags": obj.get("tags") or {}, "sku": obj.get("sku")})
        return Response(200, {"totalRecords": len(rows), "count": len(rows), "data": rows, "facets": [], "resultTruncated": "false"})

    def policy_summary(self, req: Request, principal: str, scope: str) -> Response:
        """Policy compliance summary per assignment at a scope (every resource counted compliant)."""
        if denied := self.authorize(principal, scope, "Microsoft.PolicyInsights/policyStates/summarize/read"):
            return denied
        assignments = [o for o in self.all_of_type("Microsoft.Authorization/policyAssignments") if ids.key(scope).startswith(ids.key(o["properties"]["scope"]))]
        results = {"queryResultsUri": f"{req.base_url}{scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults", "nonCompliantResources": 0, "nonCompliantPolicies": 0, "resourceDetails": [], "policyDetails": [], "policyGroupDetails": []}
        return Response(200, {"@odata.context": f"{req.base_url}/$metadata#summary", "@odata.count": 1, "value": [{"@odata.id": None, "@odata.context": f"{req.base_url}/$metadata#summary/$entity", "results": results, "policyAssignments": [{"policyAssignmentId": a["id"], "policySetDefinitionId": "", "results": results, "policyDefinitions": []} for a in assignments]}]})


BUILTIN_POLICIES = {
    "06a78e20-9358-41c9-923c-fb736d382a4d": ("Audit VMs that do not use managed disks", "Audit"),
    "e56962a6-4747-49cd-b67b-bf8b01975c4c": ("Allowed locations", "Deny"),
    "871b6d14-10aa-478d-b590-94f262ecfa99": ("Require a tag on resources", "Deny"),
    "ea3f2387-9b95-492a-a190-fcdc54f7b070": ("Inherit a tag from the resource group if missing", "Modify"),
    "013e242c-8828-4970-87b3-ab247555486d": ("Azure Backup should be enabled for Virtual Machines", "AuditIfNotExists"),
}


def builtin_policy(guid: str) -> dict:
    """A built-in policy definition in the Policy API's shape."""
    name, effect = BUILTIN_POLICIES[guid]
    return {"id": f"/providers/Microsoft.Authorization/policyDefinitions/{guid}", "name": guid, "type": "Microsoft.Authorization/policyDefinitions", "properties": {"displayName": name, "policyType": "BuiltIn", "mode": "Indexed", "description": name, "metadata": {"category": "General", "version": "1.0.0"}, "version": "1.0.0", "parameters": {}, "policyRule": {"if": {"field": "type", "equals": "Microsoft.Resources/subscriptions"}, "then": {"effect": effect.lower()}}}}


def merge_tags(current: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """Merge tags the way ARM does: names compare case-insensitively, the stored casing is kept."""
    out = dict(current)
    lower = {k.lower(): k for k in out}
    for k, v in given.items():
        out[lower.get(k.lower(), k)] = v
    return out
