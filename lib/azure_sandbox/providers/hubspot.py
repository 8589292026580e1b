"""HubSpot's CRM API (`https://api.hubapi.sandbox.test`, the stand-in for `https://api.hubapi.com`) as a private
app's access token meets it: companies and contacts (CRM v3 objects: read one, a page, a batch read), the
associations of a record (CRM v4), bearer authentication, granted scopes, the rolling ten-second rate limit with its
headers, and HubSpot's error bodies.

Sources (tests/contract/test_hubspot.py cites each): HubSpot/HubSpot-public-api-spec-collection
PublicApiSpecs/CRM/Companies/Rollouts/424/v3/companies.json, .../Contacts/Rollouts/424/v3/contacts.json and
.../Associations/Rollouts/130902/v4/associations.json (routes, parameters, SimplePublicObject(WithAssociations),
BatchResponseSimplePublicObject(WithErrors), CollectionResponseMultiAssociatedObjectWithLabelForwardPaging, the Error
schema, the `private_apps` security scheme and the scopes per operation); developers.hubspot.com "API usage
guidelines and limits" (the X-HubSpot-RateLimit-* headers, 190 requests per 10 s for a private app, the 429 body with
policyName) and the CRM objects guide ("Error handling": the 403 MISSING_SCOPES body, batch inputs limited to 100);
the associations v4 guide (company-to-contact type 280, primary 2); HubSpot/hubspot-api-nodejs#432 and #148 (the 401
INVALID_AUTHENTICATION body). Wording no source confirms is marked inferred below.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import Any

from ..core.http import Request, Response
from .hosted import HostedService

HOST = "api.hubapi.sandbox.test"
COMPANY_TO_CONTACT = 280  # HUBSPOT_DEFINED, unlabeled (associations v4 guide)
COMPANY_TO_CONTACT_PRIMARY = 2
READ_SCOPES = {"companies": "crm.objects.companies.read", "contacts": "crm.objects.contacts.read"}
_TYPES = {"companies": "companies", "company": "companies", "0-2": "companies", "contacts": "contacts"}
_TYPES |= {"contact": "contacts", "0-1": "contacts"}
_DEFAULT_PROPERTIES = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
}
_KNOWN_PROPERTIES = {
    "companies": {"name", "domain", "city", "country", "phone", "industry", "hs_object_id", "createdate"}
    | {"hs_lastmodifieddate"},
    "contacts": {"firstname", "lastname", "email", "jobtitle", "phone", "company", "hs_object_id", "createdate"}
    | {"lastmodifieddate"},
}
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details "
    "at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: "
    "https://developers.hubspot.com/scopes."
)


def new_token() -> str:
    """A private app access token shaped like HubSpot's (`pat-<region>-<uuid>`)."""
    return f"pat-eu1-{uuid.uuid4()}"


def _iso(ts: str | None = None) -> str:
    return ts or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def error(status: int, category: str, message: str, **extra: Any) -> Response:
    """HubSpot's error body (the spec's Error schema, with the `status: error` every answer carries)."""
    return Response(
        status,
        {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), **extra, "category": category},
    )


class HubSpot(HostedService):
    """One HubSpot portal: companies, contacts, their associations, the private apps' tokens and the rate limit."""

    name = "hubspot"

    def __init__(self, portal_id: int = 0) -> None:
        super().__init__()
        self.portal_id = portal_id
        self.objects: dict[str, dict[str, dict]] = {"companies": {}, "contacts": {}}
        # company id -> contact id -> association types [{category, typeId, label}]
        self.associations: dict[str, dict[str, list[dict]]] = {}
        self.tokens: dict[str, dict] = {}  # token -> {"app_id", "scopes"}
        self.limit = {"max": 190, "interval_ms": 10_000, "daily": 500_000, "retry_after": False}
        self.hits: dict[str, deque] = {}
        self.daily: dict[str, int] = {}

    @classmethod
    def from_fixture(cls, data: dict | None) -> HubSpot:
        data = data or {}
        hs = cls(int(data.get("portal_id") or 0))
        for kind in ("companies", "contacts"):
            for obj in data.get(kind) or []:
                hs.add(kind, str(obj["id"]), {k: v for k, v in obj.items() if k not in ("id", "contacts")})
        for company in data.get("companies") or []:
            for link in company.get("contacts") or []:
                link = link if isinstance(link, dict) else {"id": link}
                hs.associate(str(company["id"]), str(link["id"]), link.get("labels") or [], bool(link.get("primary")))
        if data:
            scopes = data.get("scopes") or sorted(READ_SCOPES.values())
            hs.tokens[new_token()] = {"app_id": int(data.get("app_id") or 4_100_001), "scopes": set(scopes)}
        return hs

    def add(self, kind: str, object_id: str, properties: dict) -> dict:
        """Store a company or contact (its timestamps and hs_object_id as HubSpot sets them)."""
        now = _iso()
        props = {k: (None if v is None else str(v)) for k, v in properties.items()}
        props.update({"hs_object_id": object_id, "createdate": props.get("createdate") or now})
        props.setdefault("hs_lastmodifieddate" if kind == "companies" else "lastmodifieddate", now)
        obj = {"id": object_id, "properties": props, "createdAt": props["createdate"], "updatedAt": now}
        with self.lock:
            self.objects[kind][object_id] = {**obj, "archived": False}
        return obj

    def associate(
        self, company_id: str, contact_id: str, labels: list[str] | None = None, primary: bool = False
    ) -> None:
        """Associate a contact with a company: unlabeled (280), primary (2) and USER_DEFINED labels."""
        types = [{"category": "HUBSPOT_DEFINED", "typeId": COMPANY_TO_CONTACT, "label": None}]
        if primary:
            types.append({"category": "HUBSPOT_DEFINED", "typeId": COMPANY_TO_CONTACT_PRIMARY, "label": "Primary"})
        types += [
            {"category": "USER_DEFINED", "typeId": 1000 + i, "label": str(lab)} for i, lab in enumerate(labels or [])
        ]
        with self.lock:
            self.associations.setdefault(company_id, {})[contact_id] = types

    def hosts(self) -> list[str]:
        return [HOST]

    def credentials(self) -> dict[str, str]:
        """The first private app's token, as `hubspot-token`."""
        first = next(iter(self.tokens), None)
        return {"hubspot-token": first} if first else {}

    def control(self, switches: dict[str, Any]) -> dict[str, Any]:
        """`max` requests per `interval_ms` (rolling, per token), `daily`, and whether a 429 carries `Retry-After`
        (HubSpot documents the interval headers, not Retry-After: off by default)."""
        unknown = set(switches) - set(self.limit)
        if unknown:
            raise ValueError(
                f"unknown hubspot switch(es): {', '.join(sorted(unknown))}; known: {', '.join(self.limit)}"
            )
        with self.lock:
            self.limit.update(switches)
            self.hits.clear()
            self.daily.clear()
            return dict(self.limit)

    # --- requests --------------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self.lock:
            self.calls += 1
            auth = req.headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            app = self.tokens.get(token)
            if app is None:  # no header, a revoked or made-up token, or the sunset API key (hapikey)
                return error(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
            throttled = self._take(token)
            resp = throttled or self._route(req, app)
            resp.headers.update(self._rate_headers(token))
            return resp

    def _take(self, token: str) -> Response | None:
        """The rolling window: at most `max` calls per `interval_ms` per token, `daily` per day."""
        now = time.monotonic()
        window = self.hits.setdefault(token, deque())
        interval = float(self.limit["interval_ms"]) / 1000
        while window and now - window[0] >= interval:
            window.popleft()
        app_id = self.tokens[token]["app_id"]
        if self.daily.get(token, 0) >= int(self.limit["daily"]):
            return error(
                429,
                "RATE_LIMITS",
                "You have reached your daily limit.",
                errorType="RATE_LIMIT",
                policyName="DAILY",
                groupName=f"publicapi:private_app-api-calls-daily:{app_id}:{self.portal_id}",
            )
        if len(window) >= int(self.limit["max"]):
            resp = error(
                429,
                "RATE_LIMITS",
                "You have reached your ten_secondly_rolling limit.",
                errorType="RATE_LIMIT",
                policyName="TEN_SECONDLY_ROLLING",
                groupName=f"publicapi:private_app-api-calls-ten-secondly:{app_id}:{self.portal_id}",
            )
            if self.limit["retry_after"]:
                resp.headers["Retry-After"] = f"{max(0.0, interval - (now - window[0])):.3f}"
            return resp
        window.append(now)
        self.daily[token] = self.daily.get(token, 0) + 1
        return None

    def _rate_headers(self, token: str) -> dict[str, str]:
        window = self.hits.get(token) or deque()
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limit["interval_ms"])),
            "X-HubSpot-RateLimit-Max": str(int(self.limit["max"])),
            "X-HubSpot-RateLimit-Remaining": str(max(0, int(self.limit["max"]) - len(window))),
            "X-HubSpot-RateLimit-Daily": str(int(self.limit["daily"])),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, int(self.limit["daily"]) - self.daily.get(token, 0))),
        }

    def _route(self, req: Request, app: dict) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if len(parts) >= 4 and parts[:3] == ["crm", "v3", "objects"]:
            kind = _TYPES.get(parts[3].lower())
            if kind is None:
                return error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {parts[3]}")  # inferred
            if not self._granted(app, kind):
                return self._missing_scope(kind)
            rest = parts[4:]
            if req.method == "GET" and not rest:
                return self._page(req, kind)
            if req.method == "GET" and len(rest) == 1:
                return self._one(req, kind, rest[0])
            if req.method == "POST" and rest == ["batch", "read"]:
                return self._batch_read(req, kind)
            return self._not_allowed(req)
        if len(parts) == 7 and parts[:3] == ["crm", "v4", "objects"] and parts[5] == "associations":
            kinds = (_TYPES.get(parts[3].lower()), _TYPES.get(parts[6].lower()))
            if None in kinds:
                bad = parts[3] if kinds[0] is None else parts[6]
                return error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {bad}")  # inferred
            for kind in kinds:
                if kind is not None and not self._granted(app, kind):
                    return self._missing_scope(kind)
            if req.method != "GET":
                return self._not_allowed(req)
            return self._associations(req, str(kinds[0]), parts[4], str(kinds[1]))
        return error(404, "OBJECT_NOT_FOUND", "resource not found")  # inferred: HubSpot's answer to an unknown path

    @staticmethod
    def _granted(app: dict, kind: str) -> bool:
        return READ_SCOPES[kind] in app["scopes"]

    @staticmethod
    def _missing_scope(kind: str) -> Response:
        return error(
            403,
            "MISSING_SCOPES",
            SCOPES_MESSAGE,
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [READ_SCOPES[kind]]},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        )

    @staticmethod
    def _not_allowed(req: Request) -> Response:
        return error(405, "VALIDATION_ERROR", f"HTTP method {req.method} is not supported by this resource")  # inferred

    def _public(self, kind: str, obj: dict, wanted: list[str] | None) -> dict:
        """A SimplePublicObject: the requested properties (known ones; unset ones as null), or HubSpot's defaults."""
        names = wanted or list(_DEFAULT_PROPERTIES[kind])
        props = {}
        for n in names:
            if n in obj["properties"]:
                props[n] = obj["properties"][n]
            elif n in _KNOWN_PROPERTIES[kind]:
                props[n] = None  # a property the object type has, not set on this record
        for n in ("createdate", "hs_object_id"):  # always returned, as HubSpot does
            props[n] = obj["properties"][n]
        return {
            "id": obj["id"],
            "properties": props,
            "createdAt": obj["createdAt"],
            "updatedAt": obj["updatedAt"],
            "archived": obj["archived"],
        }

    @staticmethod
    def _listed(req: Request, name: str) -> list[str] | None:
        """A list parameter: comma-separated (`properties=a,b`) or exploded (`properties=a&properties=b`, as HubSpot's
        generated clients send it), or both."""
        raw = req.query_all.get(name.lower()) or ([req.query[name.lower()]] if name.lower() in req.query else [])
        listed = [p.strip() for value in raw for p in value.split(",") if p.strip()]
        return listed or None

    def _not_found(self, object_id: str) -> Response:
        return error(
            404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.", context={"id": [object_id]}
        )

    def _one(self, req: Request, kind: str, object_id: str) -> Response:
        obj = self.objects[kind].get(object_id)
        if obj is None or obj["archived"]:
            return self._not_found(object_id)
        body = self._public(kind, obj, self._listed(req, "properties"))
        wanted = self._listed(req, "associations") or []
        if kind == "companies" and any(_TYPES.get(w.lower()) == "contacts" for w in wanted):
            links = self.associations.get(object_id, {})
            body["associations"] = {
                "contacts": {"results": [{"id": cid, "type": "company_to_contact"} for cid in links]}
            }
        return Response(200, body)

    def _page(self, req: Request, kind: str) -> Response:
        try:
            limit = int(req.query.get("limit") or 10)
            after = int(req.query.get("after") or 0)
        except ValueError:
            return error(400, "VALIDATION_ERROR", "limit and after must be integers")  # inferred wording
        if not 1 <= limit <= 100:
            return error(400, "VALIDATION_ERROR", f"limit must be between 1 and 100, was {limit}")  # inferred wording
        live = [o for _, o in sorted(self.objects[kind].items(), key=lambda kv: int(kv[0])) if not o["archived"]]
        page = live[after : after + limit]
        body: dict[str, Any] = {"results": [self._public(kind, o, self._listed(req, "properties")) for o in page]}
        if after + limit < len(live):
            nxt = str(after + limit)
            body["paging"] = {
                "next": {"after": nxt, "link": f"https://{HOST}/crm/v3/objects/{kind}?after={nxt}&limit={limit}"}
            }
        return Response(200, body)

    def _batch_read(self, req: Request, kind: str) -> Response:
        import json

        started = _iso()
        try:
            body = json.loads(req.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, "VALIDATION_ERROR", f"Invalid input JSON on line 1, column 1: {exc}")  # inferred wording
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or any(not isinstance(i, dict) or "id" not in i for i in inputs):
            return error(
                400,
                "VALIDATION_ERROR",
                "Invalid input JSON: Cannot build BatchReadInputSimplePublicObjectId, some of required attributes are not set [inputs]",
            )  # inferred wording (the spec requires inputs with an id each)
        if len(inputs) > 100:
            return error(
                400, "VALIDATION_ERROR", f"Batch input limit exceeded: {len(inputs)} inputs given, at most 100"
            )  # the limit is documented (CRM objects guide), the wording inferred
        wanted = body.get("properties") or None
        found, missing = [], []
        for i in inputs:
            obj = self.objects[kind].get(str(i["id"]))
            if obj is None or obj["archived"]:
                missing.append(str(i["id"]))
            else:
                found.append(self._public(kind, obj, wanted))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": found, "startedAt": started, "completedAt": _iso()}
        if not missing:
            return Response(200, answer)
        singular = {"companies": "COMPANY", "contacts": "CONTACT"}[kind]
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {singular} objects, they may be deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing},
            }
        ]  # the 207 shape is the spec's BatchResponseSimplePublicObjectWithErrors; the message inferred
        return Response(207, answer)

    def _associations(self, req: Request, kind: str, object_id: str, to_kind: str) -> Response:
        try:
            limit = int(req.query.get("limit") or 500)
            after = int(req.query.get("after") or 0)
        except ValueError:
            return error(400, "VALIDATION_ERROR", "limit and after must be integers")  # inferred wording
        if not 1 <= limit <= 500:
            return error(400, "VALIDATION_ERROR", f"limit must be between 1 and 500, was {limit}")  # inferred wording
        links: dict[str, list[dict]] = {}
        if kind == "companies" and to_kind == "contacts":
            links = self.associations.get(object_id, {})
        elif kind == "contacts" and to_kind == "companies":
            links = {c: t for c, contacts in self.associations.items() for x, t in contacts.items() if x == object_id}
        # an unknown record has no associations: an empty page (inferred; the runbook reads the record first)
        rows = [
            {"toObjectId": cid, "associationTypes": types}  # a string, as the v4 spec's MultiAssociatedObjectWithLabel
            for cid, types in sorted(links.items(), key=lambda kv: kv[0])
        ]
        page: dict[str, Any] = {"results": rows[after : after + limit]}
        if after + limit < len(rows):
            nxt = str(after + limit)
            page["paging"] = {
                "next": {
                    "after": nxt,
                    "link": f"https://{HOST}/crm/v4/objects/{kind}/{object_id}/associations/{to_kind}?after={nxt}",
                }
            }
        return Response(200, page)
