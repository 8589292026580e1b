"""Microsoft.Resources: subscriptions, tenants, locations, resource groups, tags at any scope, /resources, providers.

Spec: specification/resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01/resources.json and
.../subscriptions/stable/2022-12-01/subscriptions.json (azure-rest-api-specs).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..core import ids, locations, rules, schema
from ..core.http import ArmError, Request, Response, arm_error
from ..core.provider import Provider, Route

if TYPE_CHECKING:
    from ..core.arm import Arm

RESOURCES_API = (
    "2025-04-01",
    "2024-11-01",
    "2024-07-01",
    "2024-03-01",
    "2023-07-01",
    "2022-09-01",
    "2021-04-01",
    "2020-06-01",
)
SUBSCRIPTIONS_API = ("2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2016-06-01")
_SUB = r"/subscriptions/[^/]+"
_RG_MODEL = "azure.mgmt.resource.resources.models:ResourceGroup"
_NS = "Microsoft.Resources/"
_SUBS = _NS + "subscriptions"
_GROUPS = _NS + "resourceGroups"


def merge_tags(current: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """Merge tags the way ARM does: names compare case-insensitively, the stored casing is kept."""
    out = dict(current)
    lower = {k.lower(): k for k in out}
    for k, v in given.items():
        out[lower.get(k.lower(), k)] = v
    return out


class Resources(Provider):
    """Microsoft.Resources and the subscription-level paths served by ARM itself."""

    namespace = "Microsoft.Resources"
    routes = (
        Route(r"/subscriptions", "list_subscriptions", SUBSCRIPTIONS_API, "subscriptions", ("GET",), type=_SUBS),
        Route(r"/tenants", "list_tenants", SUBSCRIPTIONS_API, "tenants", ("GET",), type="Microsoft.Resources/tenants"),
        Route(_SUB, "get_subscription", SUBSCRIPTIONS_API, "subscriptions", ("GET",), type=_SUBS),
        Route(_SUB + r"/locations", "list_locations", SUBSCRIPTIONS_API, "locations", ("GET",), type=_NS + "locations"),
        Route(
            r"(?P<scope>.*)/providers/microsoft\.resources/tags/default",
            "tags",
            RESOURCES_API,
            "tags",
            type=_NS + "tags",
        ),
        Route(
            _SUB + r"(/resourcegroups/[^/]+)?/resources",
            "list_resources",
            RESOURCES_API,
            "resources",
            ("GET",),
            type=_NS + "resources",
        ),
        Route(_SUB + r"/resourcegroups", "list_groups", RESOURCES_API, "resourceGroups", ("GET",), type=_GROUPS),
        Route(_SUB + r"/resourcegroups/(?P<rg>[^/]+)", "group", RESOURCES_API, "resourceGroups", type=_GROUPS),
        Route(
            _SUB + r"/providers(/(?P<ns>[^/]+)(/register)?)?",
            "providers",
            RESOURCES_API,
            "providers",
            type=_NS + "providers",
        ),
        Route(_SUB + r"/tagnames", "list_tag_names", RESOURCES_API, "tagNames", ("GET",), type=_NS + "tagNames"),
        Route(
            _SUB + r"/tagnames/(?P<tag>[^/]+)(/tagvalues/(?P<value>[^/]+))?",
            "tag_name",
            RESOURCES_API,
            "tagNames",
            ("PUT", "DELETE"),
            type=_NS + "tagNames",
        ),
    )

    # ------------------------------------------------------------------ subscriptions, tenants, locations
    def list_subscriptions(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Subscriptions the caller holds any role on (as ARM filters them)."""
        return arm.page(
            req, [_subscription_view(s) for s in arm.state.subscriptions() if arm.state.roles_of(principal, s["id"])]
        )

    def list_tenants(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """The tenant the caller signed in to."""
        s = arm.state
        return arm.page(
            req,
            [
                {
                    "id": f"/tenants/{s.tenant_id}",
                    "tenantId": s.tenant_id,
                    "displayName": s.tenant_name,
                    "defaultDomain": s.domain,
                    "domains": [s.domain],
                    "tenantCategory": "Home",
                    "countryCode": "NL",
                }
            ],
        )

    def get_subscription(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """One subscription, if the caller can see it."""
        obj = arm.state.get(path)
        assert obj is not None  # the router checked it exists
        if not arm.state.roles_of(principal, obj["id"]):
            return arm_error(
                403,
                "AuthorizationFailed",
                f"The client '{principal}' with object id '{principal}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/read' over scope '{obj['id']}' or the scope is invalid.",
            )
        return Response(200, _subscription_view(obj))

    def list_locations(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Subscriptions_ListLocations: the regions `location` is validated against."""
        return Response(200, {"value": locations.listing(ids.subscription_of(path) or "")})

    def providers(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Resource provider registrations; everything the sandbox serves is registered."""
        sub = ids.subscription_of(path)
        namespaces = arm.registry.namespaces()

        def view(ns: str) -> dict:
            types = sorted(
                (spec.type.split("/", 1)[1], spec)
                for spec in arm.registry.types.values()
                if spec.type.lower().startswith(ns.lower() + "/")
            )
            return {
                "id": f"/subscriptions/{sub}/providers/{ns}",
                "namespace": ns,
                "registrationState": "Registered",
                "resourceTypes": [
                    {
                        "resourceType": t,
                        "locations": ["West Europe", "North Europe"],
                        "apiVersions": list(arm.registry.versions(spec.type, spec.api_versions)),
                    }
                    for t, spec in types
                ],
            }

        if m.group("ns") is None:
            return arm.page(req, [view(ns) for ns in sorted(namespaces.values())])
        match = namespaces.get(m.group("ns"))
        if match is None:
            return arm_error(404, "InvalidResourceNamespace", f"The resource namespace '{m.group('ns')}' is invalid.")
        return Response(200, view(match))

    # ------------------------------------------------------------------ resource groups
    def list_groups(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Resource groups of a subscription, with the tagName/tagValue $filter ResourceGroups_List supports."""
        sub = ids.subscription_of(path)
        if denied := arm.authorize(
            principal, f"/subscriptions/{sub}", "Microsoft.Resources/subscriptions/resourceGroups/read"
        ):
            return denied
        terms = rules.parse_filter(
            req.query.get("$filter"), rules.GROUP_PROPERTIES, combinations=({"tagname", "tagvalue"},)
        )
        groups = arm.state.children(f"/subscriptions/{sub}/resourcegroups")
        return arm.page(req, [g for g in groups if rules.matches(g, terms)])

    def group(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """GET/HEAD/PUT/PATCH/DELETE of one resource group."""
        sub = ids.subscription_of(path)
        name = path.split("/")[4]
        rid = f"/subscriptions/{sub}/resourceGroups/{name}"
        existing = arm.state.get(rid)
        action = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(req.method, "write")
        if denied := arm.authorize(principal, rid, f"Microsoft.Resources/subscriptions/resourceGroups/{action}"):
            return denied
        if req.method == "HEAD":
            return Response(204 if existing else 404)
        if req.method == "GET":
            return Response(200, existing)
        if req.method == "PUT":
            body = req.json()
            rules.check_group_name(name)
            region = rules.check_location(body.get("location"), resource_group=True)
            schema.validate(body, _RG_MODEL, skip=("location",))
            tags = rules.check_tags(body.get("tags"))
            if existing and existing["location"].lower() != region:
                return arm_error(
                    409,
                    "InvalidResourceGroupLocation",
                    f"Invalid resource group location '{body['location']}'. The Resource group already exists in location '{existing['location']}'.",
                )
            if existing and (locked := arm.check_locks(rid, "PUT")):
                return locked
            obj = {
                "id": existing["id"] if existing else rid,
                "name": existing["name"] if existing else name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": region,
                "tags": tags,
                "properties": {"provisioningState": "Succeeded"},
            }
            if body.get("managedBy"):
                obj["managedBy"] = body["managedBy"]
            obj = arm.admit(existing, obj)
            arm.state.put(obj)
            return Response(200 if existing else 201, obj)
        if req.method == "PATCH":
            assert existing is not None
            body = req.json()
            if (
                "location" in body
                and rules.check_location(body["location"], resource_group=True) != existing["location"]
            ):
                return arm_error(
                    400, "InvalidResourceGroupLocation", "The location of an existing resource group cannot be changed."
                )
            new_tags = rules.check_tags(body.get("tags")) if "tags" in body else None
            if locked := arm.check_locks(rid, "PATCH"):
                return locked
            if new_tags is not None:
                existing.update(arm.admit(existing, {**existing, "tags": new_tags}))
            return Response(200, existing)
        if req.method == "DELETE":
            if locked := _check_locks_below(arm, rid):
                return locked
            headers, _ = arm.start_lro(
                req,
                sub or "",
                "location",
                lambda: arm.state.delete_tree(rid),
                "Microsoft.Resources/resourceGroups",
                rid,
            )
            return Response(202, None, headers)
        return arm_error(405, "MethodNotAllowed", f"The HTTP method '{req.method}' is not supported.")

    # ------------------------------------------------------------------ tags and /resources
    def tags(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Microsoft.Resources/tags/default at a scope: GET, PUT (replace), PATCH (Merge/Replace/Delete), DELETE."""
        scope = path[: len(m.group("scope"))]
        obj = arm.state.get(scope)
        if obj is None:
            return arm_error(404, "ResourceNotFound", f"The Resource '{scope}' was not found.")
        action = "Microsoft.Resources/tags/" + (
            "read" if req.method == "GET" else "delete" if req.method == "DELETE" else "write"
        )
        if denied := arm.authorize(principal, scope, action):
            return denied
        current: dict = obj.setdefault("tags", {}) or {}
        if req.method in ("PUT", "PATCH"):
            body = req.json()
            props = body.get("properties")
            if not isinstance(props, dict):
                raise ArmError(
                    400,
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON. Path ''.'",
                )
            given = rules.check_tags(props.get("tags"), where="properties.tags")
            if req.method == "PUT":
                current = given
            else:
                operation = str(body.get("operation") or "").lower()
                if operation == "merge":
                    current = merge_tags(current, given)
                elif operation == "replace":
                    current = given
                elif operation == "delete":
                    current = {
                        k: v
                        for k, v in current.items()
                        if not any(
                            k.lower() == gk.lower() and (gv in ("", None) or gv == v) for gk, gv in given.items()
                        )
                    }
                else:
                    raise ArmError(
                        400,
                        "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized: 'Error converting value for 'operation': must be one of Merge, Replace, Delete.'",
                    )
            current = rules.check_tags(current)  # the merged result must stay within the limits too
        elif req.method == "DELETE":
            current = {}
        if req.method != "GET" and (locked := arm.check_locks(scope, "PUT")):
            return locked
        if req.method != "GET":  # a tags write is evaluated as the resource it leaves behind (deny, modify)
            current = arm.admit(obj, {**obj, "tags": current}).get("tags") or {}
        obj["tags"] = current
        return Response(
            200,
            {
                "id": f"{obj['id']}/providers/Microsoft.Resources/tags/default",
                "name": "default",
                "type": "Microsoft.Resources/tags",
                "properties": {"tags": current},
            },
        )

    def list_resources(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Tracked resources under a subscription or resource group, filtered and paged as Resources_List documents."""
        scope = path[: -len("/resources")]
        if denied := arm.authorize(principal, scope, "Microsoft.Resources/subscriptions/resources/read"):
            return denied
        terms = rules.parse_filter(
            req.query.get("$filter"),
            (*rules.RESOURCE_PROPERTIES, "tagname", "tagvalue"),
            rules.SUBSTRING_PROPERTIES,
            rules.RESOURCE_COMBINATIONS,
        )
        # "When you filter by a tag name and value, the tags for each resource are not returned in the results."
        hide_tags = {t.prop for t in terms} >= {"tagname", "tagvalue"}
        prefix = ids.key(scope) + "/"
        found = []
        for k, obj in arm.state.arm.items():
            if not k.startswith(prefix) or "/resourcegroups/" not in k or k.count("/") < 8:
                continue
            spec = arm.registry.lookup(obj.get("type", ""))
            if spec is not None and spec.tracked and (not terms or rules.matches(obj, terms, k.split("/")[4])):
                found.append(
                    {
                        k2: v
                        for k2, v in obj.items()
                        if k2 != "properties" and not k2.startswith("_") and not (hide_tags and k2 == "tags")
                    }
                )
        return arm.page(req, found)

    # ------------------------------------------------------------------ predefined tags (Tags_List / Tags_CreateOrUpdate)
    def list_tag_names(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Tags_List: the union of the tags on resources, resource groups and the subscription, plus predefined names,
        each with its values and how often it is used."""
        sub = ids.subscription_of(path) or ""
        if denied := arm.authorize(principal, f"/subscriptions/{sub}", "Microsoft.Resources/tags/read"):
            return denied
        sub_obj = arm.state.get(f"/subscriptions/{sub}") or {}
        names: dict[str, dict[str, int]] = {n.lower(): {} for n in sub_obj.get("_tag_names", {})}
        casing: dict[str, str] = {n.lower(): n for n in sub_obj.get("_tag_names", {})}
        for k, obj in arm.state.arm.items():
            if ids.subscription_of(k) != sub:
                continue
            for name, value in (obj.get("tags") or {}).items():
                casing.setdefault(name.lower(), name)
                counts = names.setdefault(name.lower(), {})
                counts[value] = counts.get(value, 0) + 1
        for name, values in sub_obj.get("_tag_names", {}).items():
            for v in values:
                names[name.lower()].setdefault(v, 0)
        base = f"/subscriptions/{sub}/tagNames"
        return arm.page(
            req,
            [
                {
                    "id": f"{base}/{casing[n]}",
                    "tagName": casing[n],
                    "count": {"type": "Total", "value": sum(vals.values())},
                    "values": [
                        {
                            "id": f"{base}/{casing[n]}/tagValues/{v}",
                            "tagValue": v,
                            "count": {"type": "Total", "value": c},
                        }
                        for v, c in sorted(vals.items())
                    ],
                }
                for n, vals in sorted(names.items())
            ],
        )

    def tag_name(self, arm: Arm, req: Request, principal: str, m: re.Match[str], path: str) -> Response:
        """Tags_CreateOrUpdate(Value) and Tags_Delete(Value): predefined tag names and values of a subscription."""
        sub = ids.subscription_of(path) or ""
        action = "Microsoft.Resources/tags/" + ("delete" if req.method == "DELETE" else "write")
        if denied := arm.authorize(principal, f"/subscriptions/{sub}", action):
            return denied
        name = path.split("/")[4]
        value = path.split("/")[6] if m.group("value") is not None else None
        rules.check_tags({name: value or ""})
        if req.method == "PUT" and name.lower().startswith(("microsoft", "azure", "windows")):
            raise ArmError(
                400,
                "InvalidTagName",
                f"The tag name '{name}' has a prefix reserved for Azure use: 'microsoft', 'azure' or 'windows'.",
            )
        sub_obj = arm.state.get(f"/subscriptions/{sub}")
        assert sub_obj is not None
        predefined: dict[str, list[str]] = sub_obj.setdefault("_tag_names", {})
        key = next((n for n in predefined if n.lower() == name.lower()), None)
        base = f"/subscriptions/{sub}/tagNames"
        if req.method == "PUT":
            existed = key is not None if value is None else (key is not None and value in predefined[key])
            key = key or name
            predefined.setdefault(key, [])
            if value is not None and value not in predefined[key]:
                predefined[key].append(value)
            body = (
                {"id": f"{base}/{key}", "tagName": key, "count": {"type": "Total", "value": 0}}
                if value is None
                else {
                    "id": f"{base}/{key}/tagValues/{value}",
                    "tagValue": value,
                    "count": {"type": "Total", "value": 0},
                }
            )
            return Response(200 if existed else 201, body)
        if key is None:
            return Response(204)
        in_use = any(
            name.lower() in {t.lower() for t in (o.get("tags") or {})}
            for k, o in arm.state.arm.items()
            if ids.subscription_of(k) == sub
        )
        if value is None:
            if in_use:
                raise ArmError(
                    409,
                    "TagNameInUse",
                    f"The tag name '{name}' cannot be deleted because it is in use by one or more resources.",
                )
            del predefined[key]
        elif value in predefined[key]:
            predefined[key].remove(value)
        return Response(200)


def _subscription_view(obj: dict) -> dict:
    """A subscription as the Subscriptions API returns it."""
    return {k: v for k, v in obj.items() if k != "type" and not k.startswith("_")}


def _check_locks_below(arm: Arm, rid: str) -> Response | None:
    """A resource group cannot be deleted while any lock sits on it or inside it."""
    for lock in arm.state.children(rid, "Microsoft.Authorization/locks"):
        lock_scope = lock["id"].split("/providers/Microsoft.Authorization/locks/")[0]
        return arm_error(
            409,
            "ScopeLocked",
            f"The scope '{rid}' cannot perform delete operation because following scope(s) are locked: '{lock_scope}'. Please remove the lock and try again.",
        )
    return arm.check_locks(rid, "DELETE")
