"""The ARM protocol core: routing, api-versions, authorization, locks, validation, generic CRUD, paging, LROs.

Provider modules (azure_sandbox.providers) declare types, routes and per-type behaviour; nothing here names one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from . import ids, locations, rules, schema
from .faults import FaultState
from .http import ArmError, Request, Response, arm_error
from .provider import Registry, TypeSpec
from .state import State


def merge_patch(target: dict, patch: dict) -> dict:
    """`target` with a JSON merge patch applied (RFC 7386), as ARM's PATCH of a resource's properties."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = value
    return out


def now_iso() -> str:
    """Current UTC time as ARM writes it."""
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def canonical_id(ap: ids.ArmPath, spec: TypeSpec, state: State | None = None) -> str:
    """The ID as ARM spells it: resourceGroups and the type segments in their documented casing, the resource group
    as it was created (whatever casing the request used), the new resource's name as given."""
    scope = re.sub(r"/resourcegroups/", "/resourceGroups/", ap.scope, flags=re.IGNORECASE)
    scope = re.sub(r"^/subscriptions/", "/subscriptions/", scope, flags=re.IGNORECASE)
    rg_name = ids.resource_group_of(scope)
    if state is not None and rg_name is not None:
        group = state.get(f"/subscriptions/{ids.subscription_of(scope)}/resourcegroups/{rg_name}")
        if group is not None:
            parts = scope.split("/")
            parts[4] = group["name"]
            scope = "/".join(parts)
    ns, *types = spec.type.split("/")
    segs = list(ap.segments)
    for i, t in enumerate(types):
        if 2 * i < len(segs):
            segs[2 * i] = t
    return f"{scope}/providers/{ns}/" + "/".join(segs)


class Arm:
    """Serves ARM requests against a State for an authenticated principal, routing to the registered providers."""

    def __init__(self, state: State, faults: FaultState, registry: Registry) -> None:
        self.state = state
        self.faults = faults
        self.registry = registry
        self.caller: tuple[str, str] | None = None  # (id, type) of the request's caller, as systemData names it

    def stamp(self, before: dict | None, after: dict) -> None:
        """systemData as ARM writes it on a resource created or changed through it: createdBy / lastModifiedBy the
        caller (an app-only token: its appid, type Application), the times in UTC; creation kept on updates
        (specification/common-types/resource-management/v5/types.json `systemData`)."""
        if self.caller is None:
            return
        who, kind = self.caller
        now = now_iso()
        prior = (before or {}).get("systemData") or {}
        after["systemData"] = {
            "createdBy": prior.get("createdBy", who),
            "createdByType": prior.get("createdByType", kind),
            "createdAt": prior.get("createdAt", now),
            "lastModifiedBy": who,
            "lastModifiedByType": kind,
            "lastModifiedAt": now,
        }

    # ------------------------------------------------------------------ helpers providers use
    def page(self, req: Request, items: list[dict], default_top: int = 1000) -> Response:
        """A list answer with `$top` paging via nextLink and `$skiptoken`, as ARM pages."""
        try:
            top = int(req.query.get("$top") or default_top)
            start = int(req.query.get("$skiptoken") or 0)
        except ValueError:
            raise ArmError(
                400,
                "InvalidQueryParameterValue",
                f"The value '{req.query.get('$top')}' of query parameter '$top' is invalid.",
            ) from None
        if top < 1:
            raise ArmError(
                400,
                "InvalidQueryParameterValue",
                f"The value '{top}' of query parameter '$top' is out of range; it must be at least 1.",
            )
        body: dict = {"value": items[start : start + top]}
        if start + top < len(items):
            q = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            q["$skiptoken"] = str(start + top)
            body["nextLink"] = f"{req.base_url}{quote(ids.normalise_path(req.path))}?{urlencode(q)}"
        return Response(200, body)

    def check_api(self, req: Request, allowed: tuple[str, ...], what: str, error: str) -> Response | None:
        """ARM's 400 for an api-version the operation does not support, worded as Azure words each kind:
        NoRegisteredProviderFound (a provider's type; versions oldest first, comma and space: Azure/azure-cli#28496,
        Azure/LogicAppsUX#8196), InvalidResourceType (a type ARM hosts, e.g. Microsoft.Authorization: Azure/acs-engine
        #4037, Azure/azure-rest-api-specs#14807), InvalidApiVersionParameter (ARM's own paths; newest first, comma:
        ansible-collections/azure#1739, Azure/azure-cli#18541)."""
        v = req.api_version
        if v in allowed:
            return None
        oldest_first = ", ".join(sorted(allowed))
        if error == "NoRegisteredProviderFound":
            location = "westeurope"
            if req.method == "PUT" and req.body:
                try:
                    given = req.json().get("location")
                except (ArmError, ValueError, AttributeError):
                    given = None
                location = (
                    (locations.normalise(given) or given.lower()) if isinstance(given, str) and given else location
                )
            return arm_error(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location '{location}' and API version '{v}' for type '{what}'. The supported api-versions are '{oldest_first}'. The supported locations are '{', '.join(n for n, _, _ in locations.REGIONS)}'.",
            )
        if error == "InvalidResourceType":
            ns, _, rtype = what.partition("/")
            return arm_error(
                400,
                "InvalidResourceType",
                f"The resource type '{rtype}' could not be found in the namespace '{ns}' for api version '{v}'. The supported api-versions are '{oldest_first}'.",
            )
        return arm_error(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{v}' is invalid. The supported versions are '{','.join(sorted(allowed, reverse=True))}'.",
        )

    def authorize(self, principal: str, scope: str, action: str) -> Response | None:
        """ARM's 403 AuthorizationFailed when the principal lacks a role granting the action."""
        if self.state.allowed(principal, scope or "/", action):
            return None
        return arm_error(
            403,
            "AuthorizationFailed",
            f"The client '{principal}' with object id '{principal}' does not have authorization to perform action '{action}' over scope '{scope or '/'}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
        )

    def check_locks(self, target: str, method: str) -> Response | None:
        """409 ScopeLocked when a ReadOnly (any write) or CanNotDelete (delete) lock covers the target."""
        for anc in ids.ancestors(target):
            for lock in self.state.children(anc + "/providers/Microsoft.Authorization/locks"):
                level = lock["properties"]["level"]
                if level == "ReadOnly" or (level == "CanNotDelete" and method == "DELETE"):
                    verb = "delete" if method == "DELETE" else "write"
                    lock_scope = lock["id"].split("/providers/Microsoft.Authorization/locks/")[0]
                    return arm_error(
                        409,
                        "ScopeLocked",
                        f"The scope '{ids.normalise_path(target)}' cannot perform {verb} operation because following scope(s) are locked: '{lock_scope}'. Please remove the lock and try again.",
                    )
        return None

    def lro_retry_after(self) -> str:
        """Retry-After for long-running operations: whole seconds unless tests asked for fractions."""
        f = self.faults.faults
        return f"{f.lro_retry_after:.3f}" if f.fractional_retry_after else str(max(1, round(f.lro_retry_after)))

    def start_lro(
        self,
        req: Request,
        sub: str,
        kind: str,
        done: Callable[[], Any] | None = None,
        resource_type: str = "",
        resource_id: str = "",
        on_fail: Callable[[], Any] | None = None,
        result: Any = None,
    ) -> tuple[dict[str, str], bool]:
        """Register an operation; its headers (Location or Azure-AsyncOperation, Retry-After) and whether it will fail.
        `result` is what the Location answers once the operation is done (an action's result, e.g. assessPatches), or a
        callable that makes it then."""
        f = self.faults.faults
        failed = resource_type.lower() in {t.lower() for t in f.lro_fail_types}
        op = self.state.new_operation(
            f.lro_polls, on_fail if failed else done, failed, resource_id, sub.lower(), result, now_iso()
        )
        url = f"{req.base_url}/subscriptions/{sub}/operation{'results' if kind == 'location' else 'statuses'}/{op.id}?api-version={req.api_version}"
        return {
            "Location" if kind == "location" else "Azure-AsyncOperation": url,
            "Retry-After": self.lro_retry_after(),
        }, failed

    def all_of_type(self, resource_type: str) -> list[dict]:
        """Every stored object of a type, anywhere in the tenant."""
        return self.state.of_type(resource_type)

    def present(self, obj: dict) -> dict:
        """A stored object as a client would read it: its provider's view, without internal keys."""
        spec = self.registry.lookup(str(obj.get("type", "")))
        shown = self.registry.provider_of(spec).present(self, obj) if spec is not None else obj
        return self.view(shown)

    def admit(self, before: dict | None, after: dict) -> dict:
        """Every provider's admission of a write (policy: deny refuses it, modify changes it) before it is stored."""
        for provider in self.registry.providers:
            after = provider.admit(self, before, after)
        return after

    @staticmethod
    def view(obj: dict) -> dict:
        """Stored object as returned to clients (internal keys removed)."""
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    @staticmethod
    def not_found(ap: ids.ArmPath, spec: TypeSpec) -> Response:
        """ARM's 404 for a missing provider resource."""
        rg = ids.resource_group_of(ap.path)
        where = f" under resource group '{rg}'" if rg else ""
        return arm_error(
            404,
            "ResourceNotFound",
            f"The Resource '{spec.type}/{ap.name}'{where} was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )

    # ------------------------------------------------------------------ dispatch
    def handle(self, req: Request, principal: str, caller: tuple[str, str] | None = None) -> Response:
        """Route one ARM request: provider routes, then the generic CRUD of a declared type. `caller` is who
        systemData names for the writes it makes (default: the principal, as an Application)."""
        self.caller = caller or (principal, "Application")
        try:
            return self._handle(req, principal)
        finally:
            self.caller = None

    def _handle(self, req: Request, principal: str) -> Response:
        path = ids.normalise_path(req.path)
        low = path.lower()
        parts = low.strip("/").split("/")
        if req.api_version is None:
            return arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if parts[0] == "subscriptions" and len(parts) >= 2:
            sub_obj = self.state.get(f"/subscriptions/{parts[1]}")
            if sub_obj is None:
                return arm_error(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
            if parts[2:3] in (["operationresults"], ["operationstatuses"]) and len(parts) == 4:
                return self.poll(parts[2], parts[3], parts[1], path)
            if len(parts) >= 4 and parts[2] == "resourcegroups":
                rg = self.state.get(f"/subscriptions/{parts[1]}/resourcegroups/{parts[3]}")
                if rg is None and not (len(parts) == 4 and req.method in ("PUT", "HEAD")):
                    return arm_error(
                        404, "ResourceGroupNotFound", f"Resource group '{path.split('/')[4]}' could not be found."
                    )
        found = self.registry.route(low, req.method)
        if found is not None:
            route, provider, match = found
            allowed = self.registry.versions(route.type, route.api_versions) if route.type else route.api_versions
            if bad := self.check_api(req, allowed, route.what, route.version_error):
                return bad
            return getattr(provider, route.handler)(self, req, principal, match, path)
        if parts[:3] == ["providers", "microsoft.management", "managementgroups"] and len(parts) > 5:
            return self.at_management_group(req, principal, path, parts)
        if parts[0] == "providers" and len(parts) >= 3:
            spec = self.registry.lookup("/".join(path.split("/")[2:4]))
            if spec is None or not spec.tenant_level:
                return arm_error(
                    400,
                    "InvalidResourceType",
                    f"The resource type '{'/'.join(path.split('/')[2:4])}' is not available at tenant scope.",
                )
            return self.generic(req, principal, path)
        if parts[0] != "subscriptions":
            return arm_error(404, "InvalidResourceType", f"The resource type could not be found for path '{path}'.")
        return self.generic(req, principal, path)

    def poll(self, kind: str, op_id: str, sub: str = "", path: str = "") -> Response:
        """A long-running operation, polled; it completes after the configured number of polls. Per ARM's RPC
        (azure-resource-manager-rpc v1.0/async-api-reference.md): an operation of another subscription is 404; the
        Azure-AsyncOperation answer is always 200 with the operation resource (id, name, status, startTime, endTime
        once ended, error when Failed); the Location answer is 202 while running, then the operation's result (200
        with the action's body when it has one, else 200 without one, as ARM answers a resource group's deletion)."""
        op = self.state.operations.get(op_id)
        if op is None or (sub and op.subscription and op.subscription != sub.lower()):
            return arm_error(404, "OperationNotFound", f"The operation '{op_id}' could not be found.")
        retry = {"Retry-After": self.lro_retry_after()}
        resource = {"id": path or f"/subscriptions/{op.subscription}/operationstatuses/{op.id}", "name": op.id}
        if op.started:
            resource["startTime"] = op.started
        if op.polls_left > 0:
            op.polls_left -= 1
            return (
                Response(202, None, retry)
                if kind == "operationresults"
                else Response(200, {**resource, "status": "InProgress"}, retry)
            )
        if not op.finished:
            op.finished = True
            op.ended = now_iso()
            if op.done:
                op.done()
        resource["endTime"] = op.ended
        if op.failed:
            error = {
                "code": "InternalServerError",
                "message": f"The long-running operation on '{op.resource_id}' failed (sandbox fault injection).",
            }
            if kind == "operationresults":
                return Response(500, {"error": error})
            return Response(200, {**resource, "status": "Failed", "error": error})
        if kind == "operationresults":
            body = op.result() if callable(op.result) else op.result
            return Response(200, body) if body is not None else Response(200)
        return Response(200, {**resource, "status": "Succeeded"})

    def at_management_group(self, req: Request, principal: str, path: str, parts: list[str]) -> Response:
        """A resource at a management group's scope (policy definitions, role assignments): the group must exist, else
        ARM's 403 for a scope it cannot resolve; then as at any scope."""
        if parts[3] != self.state.tenant_id.lower() or parts[4] != "providers":
            ap = ids.parse(path)
            verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(req.method, "write")
            action = f"{ap.resource_type}/{verb}" if ap.resource_type else "Microsoft.Management/managementGroups/read"
            scope = "/".join(path.split("/")[:5])
            return arm_error(
                403,
                "AuthorizationFailed",
                f"The client '{principal}' with object id '{principal}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            )
        return self.generic(req, principal, path)

    # ------------------------------------------------------------------ generic provider resources
    def generic(self, req: Request, principal: str, path: str) -> Response:
        """Any provider resource or collection of a registered type."""
        ap = ids.parse(path)
        spec = self.registry.lookup(ap.resource_type)
        if spec is None:
            if ap.namespace.lower() not in self.registry.namespaces():
                return arm_error(
                    400, "InvalidResourceNamespace", f"The resource namespace '{ap.namespace}' is invalid."
                )
            return arm_error(
                400,
                "InvalidResourceType",
                f"The resource type '{'/'.join(ap.segments[0::2])}' could not be found in the namespace '{ap.namespace}' for api version '{req.api_version}'.",
            )
        what = spec.type if spec.version_error == "InvalidResourceType" else spec.type.split("/", 1)[1]
        if bad := self.check_api(req, self.registry.versions(spec.type, spec.api_versions), what, spec.version_error):
            return bad
        verb = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(req.method, "write")
        target = path if not ap.is_collection else (ap.parent_id or ap.scope)
        public = ap.scope == "" and verb == "read"  # only tenant-level types get here with an empty scope
        if not public and (denied := self.authorize(principal, target, f"{spec.type}/{verb}")):
            return denied
        provider = self.registry.provider_of(spec)
        if req.method in ("PUT", "PATCH") and not ap.is_collection:
            self.validate_write(req, ap, spec, provider)
        if (
            req.method in ("PUT", "PATCH", "DELETE")
            and not ap.is_collection
            and spec.type != "Microsoft.Authorization/locks"
            and (locked := self.check_locks(ap.path, req.method))
        ):  # ARM checks locks for every provider, also those that answer through their own hook
            return locked
        hook = provider.hook(spec)
        if hook is not None:
            answer = hook(self, req, ap, spec, principal)
            if answer is not None:
                return answer
        if ap.is_collection:
            if req.method != "GET":
                return arm_error(
                    405, "MethodNotAllowed", f"The HTTP method '{req.method}' is not supported for a collection."
                )
            terms = rules.parse_filter(
                req.query.get("$filter"),
                ("tagname", "tagvalue", "name", "location"),
                combinations=({"tagname", "tagvalue"},),
            )
            items = [
                o
                for o in self.state.children(ap.parent_id or ap.scope, spec.type, recursive=True)
                if self.in_collection(o, ap)
            ]
            return self.page(req, [self.view(o) for o in items if rules.matches(o, terms)])
        return self.single(req, ap, spec)

    def validate_write(self, req: Request, ap: ids.ArmPath, spec: TypeSpec, provider: Any) -> None:
        """Everything Azure checks in a PUT/PATCH body before storing it: shape, schema, name, location, tags, rules."""
        body = req.json()
        if req.method == "PUT":
            rules.check_name(ap.name, spec.name_rule, spec.type)
            if spec.model:
                skip = (("location",) if spec.tracked else ()) + spec.schema_skip
                schema.validate(body, spec.model, spec.invalid_code, skip=skip)
            if spec.tracked:
                rules.check_location(
                    body.get("location"),
                    allow_global=spec.global_location,
                    global_only=spec.global_only,
                    type_name=spec.type,
                )
        if "tags" in body:
            rules.check_tags(body["tags"])
        check = provider.validator(spec) if req.method == "PUT" else None  # PATCH bodies are partial
        if check is not None:
            check(self, req, ap, spec, body)

    def in_collection(self, obj: dict, collection: ids.ArmPath) -> bool:
        """Whether an object belongs to a list: child types by exact parent; top-level types anywhere
        under the listed scope (a subscription list includes its resource groups' resources)."""
        if ids.key(obj["id"]).rsplit("/", 1)[0] == ids.key(collection.path):
            return True
        return len(collection.segments) == 1 and ids.parse(obj["id"]).scope.lower().startswith(
            collection.scope.lower() + "/"
        )

    def single(self, req: Request, ap: ids.ArmPath, spec: TypeSpec) -> Response:
        """GET/PUT/PATCH/DELETE of one provider resource with the spec's status codes."""
        existing = self.state.get(ap.path)
        if req.method in ("GET", "HEAD"):
            return Response(200, self.view(existing)) if existing else self.not_found(ap, spec)
        if spec.type != "Microsoft.Authorization/locks" and (locked := self.check_locks(ap.path, req.method)):
            return locked
        if ap.parent_id != ap.scope and self.state.get(ap.parent_id) is None:
            return arm_error(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource '{ap.parent_id.rsplit('/', 1)[-1]}' not found.",
            )
        if req.method == "DELETE":
            if existing is None:
                return Response(spec.delete_codes[1])
            sub = ids.subscription_of(ap.path)
            if spec.delete_lro and sub:
                headers, _ = self.start_lro(
                    req, sub, "location", lambda: self.state.delete_tree(ap.path), spec.type, ap.path
                )
                return Response(202, None, headers)
            self.state.delete_tree(ap.path)
            return Response(spec.delete_codes[0])
        if req.method == "PATCH":
            if existing is None:
                return self.not_found(ap, spec)
            if not spec.patch:
                return arm_error(405, "MethodNotAllowed", "The HTTP method 'PATCH' is not supported.")
            body = req.json()
            candidate = json.loads(json.dumps(existing))
            if "tags" in body:
                candidate["tags"] = body["tags"] or {}
            if isinstance(body.get("properties"), dict):  # JSON merge patch (RFC 7386): objects merge, null removes
                candidate["properties"] = merge_patch(candidate.get("properties") or {}, body["properties"])
            candidate = self.admit(existing, candidate)
            self.stamp(existing, candidate)
            existing.clear()
            existing.update(candidate)
            return Response(200, self.view(existing))
        if req.method == "PUT":
            return self.put(req, ap, spec, existing)
        return arm_error(405, "MethodNotAllowed", f"The HTTP method '{req.method}' is not supported.")

    def put(
        self,
        req: Request,
        ap: ids.ArmPath,
        spec: TypeSpec,
        existing: dict | None,
        extra: dict | None = None,
        body: dict | None = None,
    ) -> Response:
        """Create or replace a resource; 201/200 per spec, LRO when the spec says so. `body` overrides the request's."""
        body = req.json() if body is None else body
        obj = {
            "id": existing["id"] if existing else canonical_id(ap, spec, self.state),
            "name": ap.name,
            "type": spec.type,
        }
        for k, v in body.items():
            if k not in ("id", "name", "type"):
                obj[k] = v
        if spec.tracked:
            obj["location"] = rules.check_location(
                obj.get("location"),
                allow_global=spec.global_location,
                global_only=spec.global_only,
                type_name=spec.type,
            )
            obj.setdefault("tags", {})
        if extra:
            obj.update(extra)
        obj = self.admit(existing, obj)
        self.stamp(existing, obj)
        props: dict = obj.setdefault("properties", {})
        if spec.put_lro and not existing:
            sub = ids.subscription_of(ap.path) or self.state.subscriptions()[0]["subscriptionId"]
            props["provisioningState"] = "Accepted"

            def settle(state: str) -> Callable[[], None]:
                return lambda: props.__setitem__("provisioningState", state)

            headers, _ = self.start_lro(
                req, sub, "async", settle("Succeeded"), spec.type, obj["id"], on_fail=settle("Failed")
            )
            self.state.put(obj)
            return Response(201, self.view(obj), headers)
        if spec.tracked or spec.put_lro:
            props["provisioningState"] = "Succeeded"
        self.state.put(obj)
        return Response(spec.put_updated if existing else spec.put_created, self.view(obj))
