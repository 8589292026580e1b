"""TOPdesk's REST API (`https://<tenant>.topdesk.sandbox.test/tas/api/`, the stand-in for
`https://<tenant>.topdesk.net/tas/api/`) as an operator's application password meets it: the supporting files
(branches, persons: FIQL `query`, `start` / `page_size` paging, a JSON array, 206 while more follow, 204 when
nothing is left), the logged-in operator, asset management (assets of a template linked to a branch, with their
fields, `pageStart` / `pageSize`, `{columns, dataSet}` in the v2 media type), Basic authentication, operator
permissions and TOPdesk's error bodies (`[{"message": ...}]`).

Sources (tests/contract/test_topdesk.py cites each): developers.topdesk.com, the API explorer's "Supporting files"
page (persons: query, start, page_size 1-100, the 200/206/204 answers; branches/id/{id}; operators/current) and
"Asset Management" page (GET /assetmgmt/assets: templateName, linkedTo, fields, archived, pageStart, pageSize up to
1000, the `application/x.topdesk-am-assets-v2+json` media type, `{columns, dataSet}`); TOPdesk's "API access"
documentation (an operator's login name with an application password, Basic authentication); open clients that
record these shapes: AndrewPla/TOPdeskPS (Get-TdPerson's start/page_size loop, Get-TdBranchDetail,
Get-TdLoggedInOperator, Get-TdAsset), Tools4everBV/HelloID-Conn-Prov-Target-Topdesk (persons?query=...==...),
rbury/TopDeskClient (assets?linkedTo=<type>/<id>&fields=...). Wording no source confirms is marked inferred below.
"""

from __future__ import annotations

import base64
import re
import secrets as _random
import uuid
from datetime import date, datetime
from typing import Any

from ..core.http import Request, Response
from .hosted import HostedService

DOMAIN = "topdesk.sandbox.test"  # the stand-in for topdesk.net: <tenant>.topdesk.sandbox.test
ASSETS_V2 = "application/x.topdesk-am-assets-v2+json"
_PERSON_FIELDS = ("id", "firstName", "surName", "dynamicName", "email", "jobTitle", "archived", "status")
_LINK_TYPES = ("branch", "person", "location", "personGroup")


def new_password() -> str:
    """An application password shaped like TOPdesk's (five groups of five lower-case letters and digits)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0234567"
    return "-".join("".join(_random.choice(alphabet) for _ in range(5)) for _ in range(5))


def errors(status: int, *messages: str) -> Response:
    """TOPdesk's error body: a JSON array of `{"message": ...}`."""
    return Response(status, [{"message": m} for m in messages])


class FiqlError(ValueError):
    """A `query` the FIQL grammar (or TOPdesk's fields) does not accept."""


_COMPARISON = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s*(==|!=|=in=|=out=)\s*(.+?)\s*$")


def fiql(query: str, fields: set[str]) -> list[list[tuple[str, str, list[str]]]]:
    """A FIQL query as OR-groups of AND-ed comparisons (`;` binds tighter than `,`; quotes protect both)."""
    groups: list[list[tuple[str, str, list[str]]]] = []
    for term in _split(query, ","):
        ands = []
        for part in _split(term, ";"):
            m = _COMPARISON.match(part)
            if not m:
                raise FiqlError(f"'{part.strip()}' is not a comparison (field==value)")
            field, op, raw = m.groups()
            if field not in fields:
                raise FiqlError(f"the field '{field}' cannot be used in a query")
            raw = raw.strip()
            values = _split(raw[1:-1], ",") if op in ("=in=", "=out=") and raw[:1] == "(" and raw[-1:] == ")" else [raw]
            ands.append((field, op, [_unquote(v) for v in values]))
        groups.append(ands)
    return groups


def _split(text: str, sep: str) -> list[str]:
    out, cur, quote = [], "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == sep:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    if quote:
        raise FiqlError("an unterminated quote")
    return [*out, cur]


def _unquote(v: str) -> str:
    v = v.strip()
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"" else v


def _matches(value: object, op: str, wanted: list[str]) -> bool:
    have = "" if value is None else str(value).lower()

    def like(w: str) -> bool:
        pattern = "^" + ".*".join(re.escape(p) for p in w.lower().split("*")) + "$"
        return re.match(pattern, have) is not None

    hit = any(like(w) for w in wanted)
    return hit if op in ("==", "=in=") else not hit


def _stamp(value: object) -> object:
    """A date field as TOPdesk writes it (`2026-11-16T00:00:00.000+0000`)."""
    if isinstance(value, (date, datetime)):
        value = value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return f"{value}T00:00:00.000+0000"
    return value


class Topdesk(HostedService):
    """One TOPdesk environment: operators with application passwords, branches, persons, asset templates, assets."""

    name = "topdesk"

    def __init__(self, tenant: str = "") -> None:
        super().__init__()
        self.tenant = tenant
        self.operators: dict[str, dict] = {}  # login name -> {id, dynamicName, password, permissions}
        self.branches: dict[str, dict] = {}
        self.persons: list[dict] = []
        self.templates: dict[str, str] = {}  # template name -> id
        self.assets: list[dict] = []

    @classmethod
    def from_fixture(cls, data: dict | None) -> Topdesk:
        data = data or {}
        td = cls(str(data.get("tenant") or ""))
        for op in data.get("operators") or []:
            td.operators[str(op["login"])] = {
                "id": str(op.get("id") or uuid.uuid4()),
                "dynamicName": str(op.get("name") or op["login"]),
                "loginName": str(op["login"]),
                "password": new_password(),
                "permissions": set(op.get("permissions") or ("persons", "branches", "assets")),
            }
        for b in data.get("branches") or []:
            td.branches[str(b["id"]).lower()] = {
                "id": str(b["id"]),
                "name": str(b["name"]),
                "clientReferenceNumber": str(b.get("clientReferenceNumber") or ""),
                "timeZone": str(b.get("timeZone") or "Europe/Amsterdam"),
                "branchType": str(b.get("branchType") or "independentBranch"),
            }
        for p in data.get("persons") or []:
            td.add_person(p)
        for t in data.get("asset_templates") or []:
            td.templates[str(t["name"])] = str(t.get("id") or uuid.uuid4()).upper()
        for a in data.get("assets") or []:
            td.add_asset(a)
        return td

    def add_person(self, p: dict) -> dict:
        """A person of a branch (archived ones are kept, and listed only when asked for)."""
        branch = self.branches.get(str(p.get("branch") or "").lower())
        first, sur = str(p.get("firstName") or ""), str(p.get("surName") or "")
        person = {
            "id": str(p.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"topdesk/person/{p.get('branch')}/{first} {sur}")),
            "status": "person",
            "firstName": first,
            "surName": sur,
            "dynamicName": str(p.get("dynamicName") or f"{sur}, {first}".strip(", ")),
            "email": str(p.get("email") or ""),
            "jobTitle": str(p.get("jobTitle") or ""),
            "branch": {"id": branch["id"], "name": branch["name"]} if branch else None,
            "archived": bool(p.get("archived", False)),
        }
        with self.lock:
            self.persons.append(person)
        return person

    def add_asset(self, a: dict) -> dict:
        """An asset of a template, linked to branches, with its field values."""
        template = str(a["template"])
        self.templates.setdefault(template, str(uuid.uuid4()).upper())
        linked = sorted(str(b).lower() for b in a.get("branches") or [])
        asset = {
            "unid": str(a.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"topdesk/asset/{a['name']}/{','.join(linked)}")),
            "name": str(a["name"]),
            "archived": bool(a.get("archived", False)),
            "template": template,
            "linked": [f"branch/{b}" for b in linked],
            "fields": {k: _stamp(v) for k, v in (a.get("fields") or {}).items()},
        }
        with self.lock:
            self.assets.append(asset)
        return asset

    def hosts(self) -> list[str]:
        return [f"{self.tenant}.{DOMAIN}"] if self.tenant else []

    def credentials(self) -> dict[str, str]:
        """The first operator's application password, as `topdesk-application-password`."""
        first = next(iter(self.operators.values()), None)
        return {"topdesk-application-password": first["password"]} if first else {}

    # --- requests --------------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self.lock:
            self.calls += 1
            operator = self._operator(req.headers.get("authorization", ""))
            if operator is None:  # TOPdesk answers a missing or refused login with 401 and a Basic challenge
                return Response(401, None, {"WWW-Authenticate": 'Basic realm="TOPdesk"'})  # empty body: inferred
            parts = [p for p in req.path.split("/") if p]
            if parts[:2] != ["tas", "api"]:
                return errors(404, "Not Found")  # inferred
            route = parts[2:]
            if req.method != "GET":
                return errors(405, f"The method {req.method} is not allowed here.")  # inferred wording
            if route == ["version"]:
                return Response(200, {"version": "3.8.0"})
            if route == ["operators", "current"]:
                return Response(200, {k: operator[k] for k in ("id", "dynamicName", "loginName")})
            if route[:1] == ["branches"]:
                return self._branches(req, route[1:], operator)
            if route == ["persons"]:
                return self._persons(req, operator)
            if route == ["assetmgmt", "assets"]:
                return self._assets(req, operator)
            return errors(404, "Not Found")  # inferred

    def _operator(self, header: str) -> dict | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            login, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        op = self.operators.get(login)
        return op if op is not None and _random.compare_digest(op["password"], password) else None

    @staticmethod
    def _forbidden(operator: dict, what: str) -> Response | None:
        if what in operator["permissions"]:
            return None
        return errors(403, f"The operator has no permission to read {what}.")  # inferred wording

    def _branches(self, req: Request, rest: list[str], operator: dict) -> Response:
        refused = self._forbidden(operator, "branches")
        if refused:
            return refused
        if len(rest) == 2 and rest[0] == "id":
            branch = self.branches.get(rest[1].lower())
            if branch is None:
                return errors(404, f"No branch found with id '{rest[1]}'.")  # inferred wording
            return Response(200, branch)
        if rest:
            return errors(404, "Not Found")  # inferred
        try:
            query = req.query.get("query") or ""
            groups = fiql(query, {"id", "name", "clientReferenceNumber"}) if query else []
        except FiqlError as exc:
            return errors(400, f"The query is invalid: {exc}.")  # inferred wording
        rows = [b for b in self.branches.values() if _select(b, groups)]
        return Response(200, rows) if rows else Response(204, None)

    def _persons(self, req: Request, operator: dict) -> Response:
        """GET /persons: `start` (0), `page_size` (10, at most 100), FIQL `query`, `archived`; an array, 206 while
        more follow, 204 when the page is empty."""
        refused = self._forbidden(operator, "persons")
        if refused:
            return refused
        try:
            start = int(req.query.get("start") or 0)
            size = int(req.query.get("page_size") or 10)
        except ValueError:
            return errors(400, "start and page_size must be whole numbers.")  # inferred wording
        if start < 0 or not 1 <= size <= 100:
            return errors(400, "The page_size must be between 1 and 100 and start may not be negative.")  # inferred
        fields = {"id", "firstName", "surName", "dynamicName", "email", "jobTitle", "archived", "branch.id"}
        fields |= {"branch.name"}
        try:
            groups = fiql(req.query["query"], fields) if req.query.get("query") else []
        except FiqlError as exc:
            return errors(400, f"The query is invalid: {exc}.")  # inferred wording
        # archived persons only when asked for (archived=true, or a query on the field)
        with_archived = req.query.get("archived", "").lower() == "true" or any(
            f == "archived" for ands in groups for f, _, _ in ands
        )
        rows = [p for p in self.persons if _select(p, groups) and (with_archived or not p["archived"])]
        page = rows[start : start + size]
        if not page:
            return Response(204, None)
        shown = [{k: p[k] for k in (*_PERSON_FIELDS, "branch")} for p in page]
        return Response(206 if start + size < len(rows) else 200, shown)

    def _assets(self, req: Request, operator: dict) -> Response:
        """GET /assetmgmt/assets: templateName or templateId, linkedTo `<type>/<id>`, `fields`, `archived`,
        `pageStart` / `pageSize` (50, at most 1000); `{columns, dataSet}`, 206 while more follow."""
        accept = req.headers.get("accept", "")
        if accept and "*/*" not in accept and ASSETS_V2 not in accept and "application/json" not in accept:
            return errors(406, f"Use the media type {ASSETS_V2}.")  # inferred wording
        refused = self._forbidden(operator, "assets")
        if refused:
            return refused
        try:
            start = int(req.query.get("pagestart") or 0)
            size = int(req.query.get("pagesize") or 50)
        except ValueError:
            return errors(400, "pageStart and pageSize must be whole numbers.")  # inferred wording
        if start < 0 or not 1 <= size <= 1000:
            return errors(400, "The pageSize must be between 1 and 1000 and pageStart may not be negative.")  # inferred
        linked = [x.strip() for x in (req.query.get("linkedto") or "").split(",") if x.strip()]
        for link in linked:
            kind, _, ident = link.partition("/")
            if kind not in _LINK_TYPES or not ident:
                return errors(400, f"linkedTo '{link}' is not <type>/<id> with a type of {', '.join(_LINK_TYPES)}.")
        template = req.query.get("templatename")
        template_id = (req.query.get("templateid") or "").upper()
        by_id = {v: k for k, v in self.templates.items()}
        archived = req.query.get("archived", "").lower()
        rows = [
            a
            for a in self.assets
            if (template is None or a["template"] == template)  # case-sensitive, as the explorer says
            and (not template_id or by_id.get(template_id) == a["template"])
            and all(link.lower() in a["linked"] for link in linked)
            and (archived == "" or a["archived"] == (archived == "true"))
        ]
        wanted = [f.strip() for f in (req.query.get("fields") or "name").split(",") if f.strip()]
        page = rows[start : start + size]
        data = []
        for a in page:
            row: dict[str, Any] = {"unid": a["unid"], "archived": a["archived"]}
            for f in wanted:
                if f == "name":
                    row["name"] = a["name"]
                elif f == "@type":
                    row["@type"] = {"name": a["template"], "id": self.templates[a["template"]]}
                elif f in a["fields"]:
                    row[f] = a["fields"][f]
                else:
                    row[f] = None  # a field this template does not fill (inferred)
            data.append(row)
        columns = [{"fieldName": f, "displayName": f, "fieldType": "text"} for f in ["unid", *wanted]]
        return Response(206 if start + size < len(rows) else 200, {"columns": columns, "dataSet": data})


def _select(obj: dict, groups: list[list[tuple[str, str, list[str]]]]) -> bool:
    """Whether an object satisfies OR-groups of AND-ed comparisons (none: every object)."""

    def value(field: str) -> object:
        node: Any = obj
        for part in field.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    return not groups or any(all(_matches(value(f), op, vs) for f, op, vs in ands) for ands in groups)
