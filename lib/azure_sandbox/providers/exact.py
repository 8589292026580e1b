"""Exact Online's REST API (`https://start.exactonline.sandbox.test/api/v1/{division}/`, the stand-in for
`https://start.exactonline.nl/api/v1/{division}/`) as an app with a refresh token meets it: the OAuth2 token endpoint
(grant_type=refresh_token, form-encoded; the refresh token ROTATES: a used one is refused with 400 invalid_grant;
one access token per app per 9.5 minutes, a new one only in the last 30 s of the current one's life), bearer access
tokens of 10 minutes, the current user (`current/Me`), and read-only OData v2 resources of a division:
crm/Accounts, logistics/Items, subscription/Subscriptions, subscription/SubscriptionLines, salesinvoice/SalesInvoices,
salesinvoice/SalesInvoiceLines, with `$filter` (eq, ne, gt, ge, lt, le, and, or; guid'..', datetime'..', strings,
numbers; trim()), `$select`, `$orderby`, `$top` and 60-row pages linked by `__next` (`$skiptoken=guid'<last key>'`);
dates as `/Date(<ms>)/`; the rate limits (60 calls a minute, 5,000 a day per app) with their headers and 429; and
Exact's OData error body `{"error": {"code": "", "message": {"lang": "", "value": ...}}}`.

Sources (tests/contract/test_exact.py cites each): Exact's REST API reference, start.exactonline.nl/docs/
HlpRestAPIResources.aspx and its resource pages (HlpRestAPIResourcesDetails.aspx?name=CRMAccounts,
LogisticsItems, SubscriptionSubscriptions, SubscriptionSubscriptionLines, SalesInvoiceSalesInvoices,
SalesInvoiceSalesInvoiceLines, SystemSystemMe: the fields; Account Code right-aligned in 18 characters); Exact's
developer documentation on OAuth2 (the token endpoint, access tokens of 10 minutes, refresh tokens replaced at every
use and valid 30 days) and on API limits (60 calls per minute and 5,000 per day per company; the headers
X-RateLimit-Limit, -Remaining, -Reset and X-RateLimit-Minutely-Limit, -Remaining, -Reset in milliseconds since the
epoch; 429 Too Many Requests); open clients that record the shapes: ossobv/exactonline (exactonline/rawapi.py: the
form-encoded refresh, `{"access_token", "token_type": "bearer", "expires_in": "600", "refresh_token"}`;
api/unwrap.py: `{"d": {"results", "__next"}}`; api/v1division.py: current/Me and CurrentDivision),
leapforce-libraries/go_exactonline_new (subscription/*.go, salesinvoice/*.go: the field names, `OrderedBy eq
guid'...'`, `EntryID eq guid'...'`). Wording no source confirms is marked inferred below.
"""

from __future__ import annotations

import re
import secrets as _random
import time
import uuid
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..core.http import Request, Response
from .hosted import HostedService

HOST = "start.exactonline.sandbox.test"
PAGE = 60  # rows per page of the REST API
ODATA_TYPE = "Exact.Web.Api.Models"


def new_token(kind: str) -> str:
    """A token shaped like Exact's (`stampNL001.<opaque>`)."""
    return f"stampNL001.{kind}{_random.token_urlsafe(48)}"


def odata_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Exact's OData error body."""
    return Response(status, {"error": {"code": "", "message": {"lang": "", "value": message}}}, dict(headers or {}))


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    """An OAuth2 error answer of the token endpoint (RFC 6749 section 5.2)."""
    return Response(status, {"error": error, "error_description": description})


def _ms(day: date | None) -> str | None:
    if day is None:
        return None
    return f"/Date({int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)})/"


def _day(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _guid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "exact/" + "/".join(str(p) for p in parts)))


class FilterError(ValueError):
    """A $filter the stand-in's OData grammar does not accept."""


_TOKEN = re.compile(
    r"\s*(?:(?P<guid>guid'[0-9a-fA-F-]{36}')|(?P<dt>datetime'[0-9T:.\-]+')|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<lp>\()|(?P<rp>\))|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")  # inferred wording
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_filter(text: str, fields: set[str]) -> list[list[tuple[str, str, str, object]]]:
    """`$filter` as OR-groups of AND-ed comparisons (field, function, operator, value)."""
    toks = _tokens(text)
    groups: list[list[tuple[str, str, str, object]]] = [[]]
    i = 0
    while i < len(toks):
        func = ""
        kind, word = toks[i]
        if (
            kind == "word"
            and word.lower() in ("trim", "tolower", "toupper")
            and i + 1 < len(toks)
            and toks[i + 1][0] == "lp"
        ):
            if i + 3 >= len(toks) or toks[i + 2][0] != "word" or toks[i + 3][0] != "rp":
                raise FilterError(f"{word}() takes one property in '{text}'.")  # inferred
            func, word, i = word.lower(), toks[i + 2][1], i + 3
        elif kind != "word":
            raise FilterError(f"Expected a property in '{text}'.")  # inferred
        if word not in fields:
            raise FilterError(f"No property '{word}' exists in type '{ODATA_TYPE}'.")  # inferred
        if i + 2 >= len(toks) or toks[i + 1][0] != "word" or toks[i + 1][1] not in _OPS:
            raise FilterError(f"Expected an operator (eq, ne, gt, ge, lt, le) after '{word}' in '{text}'.")  # inferred
        op, (vkind, raw) = toks[i + 1][1], toks[i + 2]
        value: object
        if vkind == "guid":
            value = raw[5:-1].lower()
        elif vkind == "dt":
            value = _day(raw[9:-1])
        elif vkind == "str":
            value = raw[1:-1].replace("''", "'")
        elif vkind == "num":
            value = float(raw)
        elif vkind == "word" and raw in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[raw]
        else:
            raise FilterError(f"Expected a literal after '{word} {op}' in '{text}'.")  # inferred
        groups[-1].append((word, func, op, value))
        i += 3
        if i < len(toks):
            if toks[i] == ("word", "and"):
                i += 1
            elif toks[i] == ("word", "or"):
                groups.append([])
                i += 1
            else:
                raise FilterError(f"Expected 'and' or 'or' in '{text}'.")  # inferred
            if i >= len(toks):
                raise FilterError(f"The filter ends after an operator in '{text}'.")  # inferred
    return groups


def _compare(have: object, func: str, op: str, want: object) -> bool:
    if isinstance(have, str):
        have = (
            have.strip()
            if func == "trim"
            else have.lower()
            if func == "tolower"
            else have.upper()
            if func == "toupper"
            else have
        )
        if isinstance(want, str) and re.fullmatch(r"[0-9a-f-]{36}", want or ""):
            have = have.lower()
    if isinstance(have, (int, float)) and not isinstance(have, bool) and isinstance(want, float):
        have = float(have)
    if op == "eq":
        return have == want
    if op == "ne":
        return have != want
    if have is None or want is None:
        return False
    try:
        return bool({"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op])  # type: ignore[operator]
    except TypeError:
        return False


def select(row: dict, groups: list[list[tuple[str, str, str, object]]]) -> bool:
    return not groups or any(all(_compare(row.get(f), fn, op, v) for f, fn, op, v in ands) for ands in groups)


#: resource -> (its key, the model type's name)
RESOURCES = {
    "crm/Accounts": ("ID", "Account"),
    "logistics/Items": ("ID", "Item"),
    "subscription/Subscriptions": ("EntryID", "Subscription"),
    "subscription/SubscriptionLines": ("ID", "SubscriptionLine"),
    "salesinvoice/SalesInvoices": ("InvoiceID", "SalesInvoice"),
    "salesinvoice/SalesInvoiceLines": ("ID", "SalesInvoiceLine"),
}


class Exact(HostedService):
    """One Exact Online environment: divisions with their accounts, items, subscriptions and sales invoices; the
    MSP's app (client id, secret, its refresh token) and the rate limits."""

    name = "exact"

    def __init__(self) -> None:
        super().__init__()
        self.divisions: dict[int, dict[str, list[dict]]] = {}
        self.names: dict[int, str] = {}
        self.apps: dict[str, dict] = {}  # client id -> {secret, user}
        self.refresh: dict[str, str] = {}  # live refresh token -> client id
        self.spent: set[str] = set()  # refresh tokens already exchanged (refused from then on)
        self.access: dict[str, tuple[str, float]] = {}  # access token -> (client id, expires at, epoch seconds)
        self.user: dict[str, Any] = {}
        # renew_within: a new access token is given only in the last 30 s of the app's current one (once per 9.5 min)
        self.limit = {"minutely": 60, "daily": 5000, "window_ms": 60_000, "expires_in": 600, "renew_within": 30}
        self.used: dict[tuple[str, int], int] = {}  # (client, window index) -> calls
        self.used_today: dict[tuple[str, str], int] = {}  # (client, UTC day) -> calls
        self.exchanges = 0
        self.issued: dict[str, float] = {}  # client id -> when its newest access token expires (epoch seconds)

    @classmethod
    def from_fixture(cls, data: dict | None) -> Exact:
        data = data or {}
        ex = cls()
        for d in data.get("divisions") or []:
            ex.add_division(d)
        if data.get("client_id"):
            client = str(data["client_id"]).lower()
            ex.apps[client] = {"secret": _random.token_urlsafe(9)}
            ex.refresh[new_token("R")] = client
        first = next(iter(ex.divisions), 0)
        user = data.get("user") or {}
        ex.user = {
            "UserID": str(user.get("id") or _guid("user")),
            "UserName": str(user.get("name") or "runbook-api"),
            "FullName": str(user.get("full_name") or "Intercept Runbook (API)"),
            "CurrentDivision": int(user.get("division") or first),
        }
        return ex

    def add_division(self, d: dict) -> None:
        """A division (administration) with its records, given by code (ids are derived when not given)."""
        code = int(d["code"])
        self.names[code] = str(d.get("name") or code)
        tables: dict[str, list[dict]] = {r: [] for r in RESOURCES}
        self.divisions[code] = tables
        items = {}
        for it in d.get("items") or []:
            row = {
                "ID": str(it.get("id") or _guid(code, "item", it["code"])),
                "Code": str(it["code"]),
                "Description": str(it.get("description") or it["code"]),
                "Division": code,
                "IsSalesItem": True,
            }
            items[row["Code"]] = row
            tables["logistics/Items"].append(row)
        accounts = {}
        for a in d.get("accounts") or []:
            row = {
                "ID": str(a.get("id") or _guid(code, "account", a["code"])),
                "Code": str(a["code"]).rjust(18),  # Exact keeps account codes right-aligned in 18 characters
                "Name": str(a["name"]),
                "Status": str(a.get("status") or "C"),
                "Division": code,
            }
            accounts[str(a["code"])] = row
            tables["crm/Accounts"].append(row)
        for s in d.get("subscriptions") or []:
            account = accounts[str(s["account"])]
            entry = str(s.get("id") or _guid(code, "subscription", s["number"]))
            tables["subscription/Subscriptions"].append(
                {
                    "EntryID": entry,
                    "Number": int(s["number"]),
                    "Description": str(s.get("description") or ""),
                    "OrderedBy": account["ID"],
                    "OrderedByName": account["Name"],
                    "InvoiceTo": account["ID"],
                    "StartDate": _day(s.get("start")),
                    "EndDate": _day(s.get("end")),
                    "CancellationDate": _day(s.get("cancelled")),
                    "SubscriptionTypeCode": str(s.get("type") or "MS"),
                    "Currency": str(s.get("currency") or "EUR"),
                    "Division": code,
                }
            )
            for n, line in enumerate(s.get("lines") or [], 1):
                item = items[str(line["item"])]
                tables["subscription/SubscriptionLines"].append(
                    {
                        "ID": _guid(code, "subscription", s["number"], n),
                        "EntryID": entry,
                        "LineNumber": n,
                        "Item": item["ID"],
                        "ItemDescription": item["Description"],
                        "Quantity": float(line.get("quantity", 1)),
                        "UnitPrice": float(line.get("unit_price", 0)),
                        "AmountDC": round(float(line.get("quantity", 1)) * float(line.get("unit_price", 0)), 2),
                        "FromDate": _day(line.get("from") or s.get("start")),
                        "ToDate": _day(line.get("to") or s.get("end")),
                        "Division": code,
                    }
                )
        for inv in d.get("invoices") or []:
            self.add_invoice(code, inv, accounts, items)

    def add_invoice(self, code: int, inv: dict, accounts: dict | None = None, items: dict | None = None) -> dict:
        """A sales invoice with its lines (accounts and items by code)."""
        tables = self.divisions[code]
        accounts = accounts or {a["Code"].strip(): a for a in tables["crm/Accounts"]}
        items = items or {i["Code"]: i for i in tables["logistics/Items"]}
        account = accounts[str(inv["account"])]
        invoice_id = str(inv.get("id") or _guid(code, "invoice", inv["number"]))
        total = 0.0
        for n, line in enumerate(inv.get("lines") or [], 1):
            item = items.get(str(line["item"]))
            amount = round(float(line.get("quantity", 1)) * float(line.get("unit_price", 0)), 2)
            total += amount
            tables["salesinvoice/SalesInvoiceLines"].append(
                {
                    "ID": _guid(code, "invoice", inv["number"], n),
                    "InvoiceID": invoice_id,
                    "LineNumber": n,
                    "Item": item["ID"] if item else None,
                    "ItemCode": str(line["item"]),
                    "Description": str(line.get("description") or (item["Description"] if item else "")),
                    "Quantity": float(line.get("quantity", 1)),
                    "UnitPrice": float(line.get("unit_price", 0)),
                    "AmountDC": amount,
                    "Division": code,
                }
            )
        head = {
            "InvoiceID": invoice_id,
            "InvoiceNumber": int(inv["number"]),
            "InvoiceTo": account["ID"],
            "InvoiceToName": account["Name"],
            "OrderedBy": account["ID"],
            "InvoiceDate": _day(inv.get("date")),
            "AmountDC": round(total, 2),
            "Currency": str(inv.get("currency") or "EUR"),
            "Status": int(inv.get("status") or 50),
            "Description": str(inv.get("description") or ""),
            "Division": code,
        }
        with self.lock:
            tables["salesinvoice/SalesInvoices"].append(head)
        return head

    def hosts(self) -> list[str]:
        return [HOST] if self.apps or self.divisions else []

    def credentials(self) -> dict[str, str]:
        """The app's client secret and its (first) refresh token, as `exact-client-secret` / `exact-refresh-token`."""
        if not self.apps:
            return {}
        client = next(iter(self.apps))
        token = next((t for t, c in self.refresh.items() if c == client), "")
        return {"exact-client-secret": self.apps[client]["secret"], "exact-refresh-token": token}

    def control(self, switches: dict[str, Any]) -> dict[str, Any]:
        """`minutely` and `daily` call limits, the minutely window's length `window_ms` (60 s; shorter in tests), the
        access tokens' lifetime `expires_in` (seconds) and `renew_within`: how close to the end of the app's current
        access token a new one is given (30 s; as long as `expires_in` or more lifts the rule)."""
        unknown = set(switches) - set(self.limit)
        if unknown:
            raise ValueError(f"unknown exact switch(es): {', '.join(sorted(unknown))}; known: {', '.join(self.limit)}")
        with self.lock:
            self.limit.update({k: int(v) for k, v in switches.items()})
            self.used.clear()
            self.used_today.clear()
            return dict(self.limit)

    # --- requests --------------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self.lock:
            self.calls += 1
            if req.path.rstrip("/") == "/api/oauth2/token":
                return self._token(req)
            if not req.path.startswith("/api/v1/"):
                return odata_error(404, "Not found")  # inferred
            auth = req.headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            held = self.access.get(token)
            if held is None or held[1] <= time.time():
                # inferred: Exact answers 401 to a missing, made-up or expired access token
                return odata_error(401, "Unauthorized", {"WWW-Authenticate": 'Bearer realm="Exact Online"'})
            client = held[0]
            throttled, headers = self._take(client)
            if throttled:
                return odata_error(429, "API rate limit exceeded.", headers)  # body wording inferred
            resp = self._route(req)
            resp.headers.update(headers)
            return resp

    def _token(self, req: Request) -> Response:
        if req.method != "POST":
            return oauth_error("invalid_request", "The token endpoint takes POST.", 405)  # inferred
        ctype = req.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype:
            return oauth_error("invalid_request", "The request must be form-encoded.")  # inferred
        form = dict(parse_qsl(req.body.decode(errors="replace"), keep_blank_values=True))
        client = (form.get("client_id") or "").lower()
        app = self.apps.get(client)
        if app is None or not _random.compare_digest(app["secret"], form.get("client_secret") or ""):
            return oauth_error("invalid_client", "The client credentials are invalid.")  # inferred wording
        if form.get("grant_type") != "refresh_token":
            return oauth_error("unsupported_grant_type", "Use grant_type refresh_token or authorization_code.")
        token = form.get("refresh_token") or ""
        if self.refresh.get(token) != client:
            spent = token in self.spent
            return oauth_error(
                "invalid_grant",
                "The refresh token has been used already." if spent else "The refresh token is invalid.",  # inferred
            )
        current = self.issued.get(client, 0.0)
        if current - time.time() > int(self.limit["renew_within"]):
            # Exact gives an app one access token per 9.5 minutes (its 2021 API limits): the refresh token is not
            # spent by a refused early request. Status and wording inferred.
            until = datetime.fromtimestamp(current - int(self.limit["renew_within"]), tz=timezone.utc)
            return oauth_error(
                "invalid_request",
                f"An access token can be requested once per 9.5 minutes; the current one may be renewed from {until:%H:%M:%S} UTC.",
            )
        del self.refresh[token]
        self.spent.add(token)
        rotated, access = new_token("R"), new_token("A")
        self.refresh[rotated] = client
        self.access[access] = (client, time.time() + int(self.limit["expires_in"]))
        self.issued[client] = self.access[access][1]
        self.exchanges += 1
        body = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": str(int(self.limit["expires_in"])),
            "refresh_token": rotated,
        }
        return Response(200, body, {"Cache-Control": "no-store"})

    def _take(self, client: str) -> tuple[bool, dict[str, str]]:
        """The fixed minutely window and the UTC day: whether this call is over a limit, and the headers."""
        now_ms = int(time.time() * 1000)
        window = int(self.limit["window_ms"])
        index = now_ms // window
        today = datetime.now(timezone.utc).date()
        midnight = (
            int(datetime(today.year, today.month, today.day, tzinfo=timezone.utc).timestamp() * 1000) + 86_400_000
        )
        minute_used = self.used.get((client, index), 0)
        day_used = self.used_today.get((client, today.isoformat()), 0)
        over = minute_used >= int(self.limit["minutely"]) or day_used >= int(self.limit["daily"])
        if not over:
            minute_used += 1
            day_used += 1
            self.used[(client, index)] = minute_used
            self.used_today[(client, today.isoformat())] = day_used
        headers = {
            "X-RateLimit-Limit": str(int(self.limit["daily"])),
            "X-RateLimit-Remaining": str(max(0, int(self.limit["daily"]) - day_used)),
            "X-RateLimit-Reset": str(midnight),
            "X-RateLimit-Minutely-Limit": str(int(self.limit["minutely"])),
            "X-RateLimit-Minutely-Remaining": str(max(0, int(self.limit["minutely"]) - minute_used)),
            "X-RateLimit-Minutely-Reset": str((index + 1) * window),
        }
        return over, headers

    def _route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p][2:]  # after api/v1
        if req.method != "GET":
            return odata_error(
                405, f"The method {req.method} is not allowed here (the stand-in is read-only)."
            )  # inferred
        if parts == ["current", "Me"]:
            return self._rows(req, [dict(self.user)], "UserID", "Me", "current/Me")
        if len(parts) < 3 or not parts[0].isdigit():
            return odata_error(404, "Not found")  # inferred
        division = int(parts[0])
        tables = self.divisions.get(division)
        if tables is None:
            return odata_error(404, f"Division {division} not found or not accessible.")  # inferred wording
        resource = "/".join(parts[1:3])
        if resource not in RESOURCES or len(parts) > 3:
            return odata_error(404, f"Resource not found: {'/'.join(parts[1:])}")  # inferred wording
        key, model = RESOURCES[resource]
        return self._rows(req, tables[resource], key, model, f"{division}/{resource}")

    def _rows(self, req: Request, rows: list[dict], key: str, model: str, where: str) -> Response:
        fields = set().union(*(r.keys() for r in rows)) if rows else {key}
        try:
            groups = parse_filter(req.query.get("$filter", ""), fields) if req.query.get("$filter") else []
        except FilterError as exc:
            return odata_error(400, str(exc))
        wanted = [f.strip() for f in (req.query.get("$select") or "").split(",") if f.strip()]
        unknown = [f for f in wanted if f != "*" and f not in fields]
        if unknown:
            return odata_error(400, f"No property '{unknown[0]}' exists in type '{ODATA_TYPE}.{model}'.")  # inferred
        order = []
        for part in (req.query.get("$orderby") or "").split(","):
            if not part.strip():
                continue
            name, _, direction = part.strip().partition(" ")
            if name not in fields or direction.strip().lower() not in ("", "asc", "desc"):
                return odata_error(400, f"Cannot order by '{part.strip()}'.")  # inferred
            order.append((name, direction.strip().lower() == "desc"))
        try:
            top = int(req.query["$top"]) if req.query.get("$top") else None
        except ValueError:
            return odata_error(400, f"Invalid $top '{req.query['$top']}'.")  # inferred
        if top is not None and top < 0:
            return odata_error(400, f"Invalid $top '{top}'.")  # inferred
        chosen = [r for r in rows if select(r, groups)]
        for name, desc in reversed(order):
            chosen.sort(key=lambda r, n=name: (r.get(n) is not None, r.get(n)), reverse=desc)  # type: ignore[misc]
        skip = req.query.get("$skiptoken") or ""
        if skip:
            m = re.fullmatch(r"guid'([0-9a-fA-F-]{36})'", skip)
            at = next((i for i, r in enumerate(chosen) if m and str(r.get(key)).lower() == m.group(1).lower()), None)
            if at is None:
                return odata_error(400, f"Invalid $skiptoken '{skip}'.")  # inferred
            chosen = chosen[at + 1 :]
        limit = PAGE if top is None else min(top, PAGE)
        page, more = chosen[:limit], len(chosen) > limit and (top is None or top > PAGE)
        base = f"https://{HOST}/api/v1/{where}"
        results = [self._shown(r, wanted, key, base, model) for r in page]
        d: dict[str, Any] = {"results": results}
        if more and page:
            query = {k: v for k, v in req.query.items() if k not in ("$skiptoken", "$top")}
            if top is not None:
                query["$top"] = str(top - PAGE)
            query["$skiptoken"] = f"guid'{page[-1][key]}'"
            d["__next"] = f"{base}?{urlencode(query)}"
        return Response(200, {"d": d})

    @staticmethod
    def _shown(row: dict, wanted: list[str], key: str, base: str, model: str) -> dict:
        names = list(row) if not wanted or "*" in wanted else wanted
        out: dict[str, Any] = {"__metadata": {"uri": f"{base}(guid'{row.get(key)}')", "type": f"{ODATA_TYPE}.{model}"}}
        for n in names:
            v = row.get(n)
            out[n] = _ms(v) if isinstance(v, date) else v
        return out
