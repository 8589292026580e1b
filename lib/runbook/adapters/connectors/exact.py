"""Exact Online's REST API (`https://start.exactonline.nl/api/v1/{division}/`, other countries other hosts) with the
MSP's app registration (client id and secret) and a refresh token, through httpx (the Python clients on the registry
keep their own token storage; this one keeps it in the runbook's secret stores).

OAuth2: the refresh token is exchanged at `/api/oauth2/token` (form-encoded, grant_type=refresh_token) for an access
token of 10 minutes, and Exact ROTATES the refresh token on every exchange: the old one is spent (400 invalid_grant
from then on), so the new one is written back to the same secret reference (`store`) before anything else is read.
A reference no store can write (an environment variable) is refused before the exchange spends the token.

Exact gives an app one access token per 9.5 minutes (a new one only in the last 30 s of the current one's life), so
every process of the MSP (each kernel of a batch, each stage run) must share the one it has: what is written back is
a token set, `{"refresh_token", "access_token", "expires_at"}` as JSON in the same secret (a plain refresh token, as
the MSP first stores it, is read as well). A process finds the stored access token and uses it until 30 s before it
expires; only then does it exchange. Two processes exchanging at once: the loser's refresh token is spent (400
invalid_grant) or its request early; it reads the store again and takes the winner's set.

Reads (OData v2, `{"d": {"results": [...], "__next": "<url>"}}`, 60 rows per page, `$filter` / `$select` /
`$orderby` / `$top`, dates as `/Date(<ms>)/`): `current/Me` (the preflight's read: CurrentDivision), `crm/Accounts`
(ID, Code, Name; the code is right-aligned in 18 characters, so it is compared trimmed), `logistics/Items` (ID, Code,
Description), `subscription/Subscriptions` (EntryID, Number, OrderedBy, StartDate, EndDate, CancellationDate,
SubscriptionTypeCode), `subscription/SubscriptionLines` (EntryID, Item, Quantity, UnitPrice, FromDate, ToDate),
`salesinvoice/SalesInvoices` (InvoiceID, InvoiceNumber, InvoiceTo, InvoiceDate, AmountDC, Currency, Status) and
`salesinvoice/SalesInvoiceLines` (InvoiceID, LineNumber, ItemCode, Quantity, UnitPrice, AmountDC). Field names are
those of Exact's REST API reference (start.exactonline.nl/docs/HlpRestAPIResources.aspx) as open clients record them
(leapforce-libraries/go_exactonline_new, ossobv/exactonline).

Rate limits: 60 calls a minute and 5,000 a day per company; every answer carries X-RateLimit-Minutely-Remaining /
-Minutely-Reset and X-RateLimit-Remaining / -Reset (milliseconds since the epoch). A 429 is waited out until the
minutely reset when it is near; the daily limit is reported, not waited for."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from ...errors import (
    ConnectorCredentialError,
    ConnectorNotFound,
    ConnectorTargetError,
    ConnectorUnreachable,
    SecretError,
)
from .base import Connector

ACCESS_TOKEN_SECONDS = 600  # Exact's access tokens live 10 minutes
RENEW_BEFORE = 30  # seconds before expiry a new access token is fetched
PAGE = 60  # Exact's page size for the REST API
DRAFT = 10  # SalesInvoices.Status: 10 draft, 20 open, 50 processed
_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")
RESERVE = 2  # calls of the minute left to the batch's other processes: at this many the connector waits for the reset
ITEM_CACHE_SECONDS = 600  # an item found is taken from the machine's cache for 10 minutes
ADOPT_TRIES = 5  # times the store is read again after a lost exchange race (0.2 s apart)


@dataclass(frozen=True)
class TokenSet:
    """What the refresh-token secret holds: the refresh token and, once a process has exchanged it, the access token
    it got and when that expires (epoch seconds)."""

    refresh: str
    access: str = ""
    expires_at: float = 0.0

    @classmethod
    def parse(cls, text: str) -> TokenSet:
        """A stored token set (JSON), or a plain refresh token as the MSP stored it first."""
        text = text.strip()
        try:
            data = json.loads(text) if text.startswith("{") else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data.get("refresh_token"):
            return cls(text)
        try:
            expires = float(data.get("expires_at") or 0)
        except (TypeError, ValueError):
            expires = 0.0
        return cls(str(data["refresh_token"]), str(data.get("access_token") or ""), expires)

    def dumps(self) -> str:
        return json.dumps(
            {"refresh_token": self.refresh, "access_token": self.access, "expires_at": round(self.expires_at, 3)},
            sort_keys=True,
        )

    def usable(self, now: float) -> bool:
        """An access token with more than RENEW_BEFORE seconds to live."""
        return bool(self.access) and now < self.expires_at - RENEW_BEFORE


def odata_date(value: object) -> date | None:
    """An OData v2 date (`/Date(1763251200000)/`, milliseconds since the epoch, UTC) as a date; None when empty."""
    m = _DATE.match(str(value or ""))
    if not m:
        return None
    return datetime.fromtimestamp(int(m.group(1)) / 1000, tz=timezone.utc).date()


def _quote(text: str) -> str:
    """A string literal for $filter (OData doubles a single quote)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Account:
    """A relation (customer) in Exact Online: its id, code and name."""

    id: str
    code: str
    name: str


@dataclass(frozen=True)
class Item:
    """An item (article) in Exact Online."""

    id: str
    code: str
    description: str


@dataclass(frozen=True)
class SubscriptionLine:
    """One line of a subscription: the item (its id; the code when the item is known), quantity, price, period."""

    item_id: str
    item_code: str
    quantity: float
    unit_price: float
    start: date | None
    end: date | None


@dataclass(frozen=True)
class Subscription:
    """A subscription (contract) of an account and its lines."""

    id: str
    number: int
    description: str
    type_code: str
    start: date | None
    end: date | None
    cancelled: date | None
    lines: tuple[SubscriptionLine, ...] = ()

    def active_on(self, day: date) -> bool:
        """Not cancelled by `day`, not ended before it (a start in the future still counts: the invoice run is set)."""
        return (self.cancelled is None or self.cancelled > day) and (self.end is None or self.end >= day)


@dataclass(frozen=True)
class InvoiceLine:
    """One line of a sales invoice (no description: it may carry free text)."""

    number: int
    item_code: str
    quantity: float
    unit_price: float
    amount: float


@dataclass(frozen=True)
class SalesInvoice:
    """A sales invoice's head: id, number, date, amount (default currency), status."""

    id: str
    number: int
    day: date | None
    amount: float
    currency: str
    status: int
    lines: tuple[InvoiceLine, ...] = ()


class Exact(Connector):
    """The MSP's Exact Online administration (one division), as its app with a rotating refresh token."""

    system = "Exact Online"
    settings = "msp.connectors.exact"
    credential_name = "refresh token"

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        credential: Callable[[], str],
        *,
        division: int,
        client_id: str,
        client_secret: Callable[[], str],
        store: Callable[[str], object] | None = None,
        writable: Callable[[], object] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        item_cache: Path | None = None,
    ) -> None:
        super().__init__(http, url, credential, sleep=sleep)
        self.division, self.client_id = division, client_id
        self.item_cache = item_cache  # a folder: the MSP's items found, shared by the processes of this machine
        self._client_secret, self._store, self._writable, self.clock = client_secret, store, writable, clock
        self._refresh: str | None = None  # the current refresh token (the stored one, or the one just rotated in)
        self._expires = 0.0
        self._refused: set[str] = set()  # stored access tokens Exact answered 401 to (not taken again)
        self._adopted = False  # the access token in use was another process's, read from the store
        self.exchanges = 0  # token exchanges made (each spends a refresh token)
        self.adopted = 0  # stored access tokens taken over from other processes
        self._accounts: dict[str, Account] = {}  # read once per connector: s1 and s4 of one run share them
        self._items: dict[str, Item | None] = {}

    # --- the credential: a refresh token exchanged, rotated and stored back ----------------------------------------
    def credential_fix(self) -> str:
        return (
            f"authorize the MSP's Exact Online app again (App Center > the app > the OAuth2 authorization code flow as a "
            f"user with access to division {self.division}) and store the new refresh token where "
            f"{self.settings}.refresh_token points"
        )

    def secret(self) -> str:
        """The access token: the one in the store while it has more than RENEW_BEFORE seconds to live (another
        process's, or ours), else a new one exchanged for the refresh token."""
        if self._secret is None or self.clock() >= self._expires - RENEW_BEFORE:
            stored = self._stored() if self._store is not None or self._refresh is None else None
            if stored is not None and stored.usable(self.clock()) and stored.access not in self._refused:
                self._take(stored, adopted=True)
            else:
                self._exchange(stored.refresh if stored is not None else self._refresh or "")
        assert self._secret is not None
        return self._secret

    def _take(self, tokens: TokenSet, *, adopted: bool) -> None:
        self._secret, self._refresh, self._expires, self._adopted = (
            tokens.access,
            tokens.refresh,
            tokens.expires_at,
            adopted,
        )
        self.adopted += adopted

    def _stored(self) -> TokenSet:
        return TokenSet.parse(self.read_credential())

    def retry(self, resp: httpx.Response, what: str, attempt: int) -> bool:
        """As the base; a 401 to an access token taken from the store (revoked, or the clocks differ) is not taken
        again: the next try exchanges the refresh token."""
        if resp.status_code == 401 and self._adopted and self._secret and attempt + 1 < self.attempts:
            self._refused.add(self._secret)
            self._secret, self._adopted = None, False
            return True
        return super().retry(resp, what, attempt)

    def call(self, method: str, path: str, what: str, **kw: Any) -> httpx.Response:
        """As the base, after waiting for the minutely reset when the last answer said RESERVE calls or fewer are left
        this minute: a 429 counts towards the errors an hour that make Exact block the app, and the other processes
        of a batch (the minute is the company's) may take the last ones meanwhile."""
        left = (self.last_headers.get("X-RateLimit-Minutely-Remaining") or "").strip()
        day_over = (self.last_headers.get("X-RateLimit-Remaining") or "").strip() == "0"  # reported, not waited for
        if left.isdigit() and int(left) <= RESERVE and not day_over:
            reset = (self.last_headers.get("X-RateLimit-Minutely-Reset") or "").strip()
            wait = int(reset) / 1000 - self.clock() + 0.05 if reset.isdigit() else 0.0
            if 0 < wait <= self.longest_wait * 2:
                self.sleep(wait)
        return super().call(method, path, what, **kw)

    def _exchange(self, refresh: str) -> None:
        what = "exchange its refresh token for an access token"
        try:
            if self._writable is not None:  # before the token is spent: can the rotated one be stored?
                self._writable()
            client_secret = self._client_secret()
        except SecretError as exc:
            raise ConnectorCredentialError(
                f"{self.system}: cannot {what}: {exc}. Fix: {self.settings}.refresh_token must be a reference the "
                "runbook can write (keyvault:, passwordstate: or file:), because Exact replaces the refresh token at "
                "every use; client_secret a readable one"
            ) from None
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": self.client_id,
            "client_secret": client_secret,
        }
        try:
            resp = self.http.post(f"{self.url}/api/oauth2/token", data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise self._unreachable(what, exc) from None
        if resp.status_code in (400, 401):
            body = self._oauth_error(resp)
            if body.get("error") != "invalid_client" and self._store is not None and self._adopt_after_race(refresh):
                return
            if body.get("error") == "invalid_client":
                raise ConnectorCredentialError(
                    f"{self.system}: cannot {what}: it refused the app ({resp.status_code} invalid_client: "
                    f"{body.get('error_description', '')}). Fix: check {self.settings}.client_id and the client secret "
                    f"{self.settings}.client_secret points to (Exact App Center > the app)"
                )
            if body.get("error") == "invalid_request":  # early: Exact's one access token per 9.5 minutes
                raise ConnectorCredentialError(
                    f"{self.system}: cannot {what}: it gives the app one access token per 9.5 minutes and the current "
                    f"one is not in {self.settings}.refresh_token ({body.get('error_description', '')}). Fix: run "
                    "again when it may be renewed; every process using the app must store the token set it got"
                )
            raise ConnectorCredentialError(
                f"{self.system}: cannot {what}: it refused the refresh token ({resp.status_code} "
                f"{body.get('error', '')}: {body.get('error_description', '')}; a refresh token is spent once used and "
                f"lapses after 30 days). Fix: {self.credential_fix()}"
            )
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        body = self.json(resp, what)
        access, rotated = str(body.get("access_token") or ""), str(body.get("refresh_token") or "")
        if not access or not rotated:
            raise self.unexpected(resp, what)
        self.exchanges += 1
        try:
            seconds = float(body.get("expires_in") or ACCESS_TOKEN_SECONDS)
        except (TypeError, ValueError):
            seconds = ACCESS_TOKEN_SECONDS
        tokens = TokenSet(rotated, access, self.clock() + seconds)
        self._take(tokens, adopted=False)
        if self._store is not None:
            try:
                self._store(tokens.dumps())
            except SecretError as exc:
                raise ConnectorCredentialError(
                    f"{self.system}: the refresh token was rotated but the new one could not be stored ({exc}); the "
                    f"old one is spent. Fix: make {self.settings}.refresh_token writable, then {self.credential_fix()}"
                ) from None

    def _adopt_after_race(self, spent: str) -> bool:
        """After a refused exchange: when another process has meanwhile stored a new token set (it won the race, or
        holds the current access token), take it. Reads the store a few times, 0.2 s apart (the winner writes it
        just after its answer)."""
        for n in range(ADOPT_TRIES):
            stored = self._stored()
            if stored.refresh != spent and stored.usable(self.clock()) and stored.access not in self._refused:
                self._take(stored, adopted=True)
                return True
            if n + 1 < ADOPT_TRIES:
                self.sleep(0.2)
        return False

    def _unreachable(self, what: str, exc: Exception) -> ConnectorTargetError:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return ConnectorUnreachable(
            f"{self.system}: cannot {what}: {self.url} cannot be reached ({type(exc).__name__}: {first}). Fix: check {self.settings}.url and the network"
        )

    @staticmethod
    def _oauth_error(resp: httpx.Response) -> dict:
        try:
            body = resp.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def auth(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}", "Accept": "application/json"}

    # --- answers ---------------------------------------------------------------------------------------------------
    def explain(self, resp: httpx.Response) -> str:
        if resp.status_code == 429:
            daily = resp.headers.get("X-RateLimit-Remaining")
            if daily is not None and daily.strip() == "0":
                reset = _when(resp.headers.get("X-RateLimit-Reset"))
                limit = resp.headers.get("X-RateLimit-Limit", "5000")
                return f"429: the daily limit of {limit} calls is used up{f', it resets {reset}' if reset else ''}"
        try:
            body = resp.json()
        except ValueError:
            return f"{resp.status_code} {resp.reason_phrase}".strip()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            message = err.get("message")
            text = message.get("value") if isinstance(message, dict) else message
            code = f" {err['code']}" if err.get("code") else ""
            return f"{resp.status_code}{code}: {text or ''}".strip()
        return f"{resp.status_code} {resp.reason_phrase}".strip()

    def wait_for(self, resp: httpx.Response, attempt: int) -> float | None:
        """A 429: none when the daily limit is used up; else until the minutely reset (X-RateLimit-Minutely-Reset, ms
        since the epoch), which the base waits for when it is near. Others: the base's back-off."""
        if resp.status_code != 429:
            return super().wait_for(resp, attempt)
        if (resp.headers.get("X-RateLimit-Remaining") or "").strip() == "0":
            return None
        reset = resp.headers.get("X-RateLimit-Minutely-Reset")
        if reset and reset.strip().isdigit():
            return max(0.0, int(reset) / 1000 - self.clock()) + 0.05
        return super().wait_for(resp, attempt)

    def _api(self, resource: str) -> str:
        return f"/api/v1/{self.division}/{resource}"

    def rows(self, resource: str, what: str, params: Mapping[str, Any], top: int | None = None) -> list[dict]:
        """Every row of a query over its pages (`__next`), or the first `top`."""
        out: list[dict] = []
        path: str | None = self._api(resource)
        query: Mapping[str, Any] | None = dict(params) | ({"$top": top} if top else {})
        while path:
            resp = self.call("GET", path, what, params=query)
            if resp.status_code == 404:
                raise ConnectorNotFound(
                    f"{self.system}: cannot {what}: {self.explain(resp)}. Fix: check {self.settings}.division (the "
                    "division code of the MSP's administration, Exact Online > the company's settings)"
                )
            if resp.status_code != 200:
                raise self.unexpected(resp, what)
            d = (self.json(resp, what) or {}).get("d")
            results = d.get("results") if isinstance(d, dict) else d
            if not isinstance(results, list):
                raise self.unexpected(resp, what)
            out += [r for r in results if isinstance(r, dict)]
            nxt = d.get("__next") if isinstance(d, dict) else None
            if not nxt or (top and len(out) >= top):
                break
            if not str(nxt).startswith(self.url + "/"):
                raise ConnectorTargetError(
                    f"{self.system}: cannot {what}: its next page is at {nxt}, outside {self.url}. Fix: check {self.settings}.url"
                )
            path, query = str(nxt)[len(self.url) :], None
        return out[:top] if top else out

    # --- reads -----------------------------------------------------------------------------------------------------
    def reachable(self) -> str:
        what = "read the signed-in user's current division (the preflight's read)"
        resp = self.call("GET", "/api/v1/current/Me", what, params={"$select": "CurrentDivision"})
        if resp.status_code != 200:
            raise self.unexpected(resp, what)
        rows = ((self.json(resp, what) or {}).get("d") or {}).get("results") or [{}]
        current = rows[0].get("CurrentDivision")
        left = self.last_headers.get("X-RateLimit-Remaining")
        minute = self.last_headers.get("X-RateLimit-Minutely-Remaining")
        rate = f"; {minute} calls left this minute, {left} today" if left and minute else ""
        how = (
            "the refresh token was exchanged and its successor stored"
            if self.exchanges
            else "the stored access token (another run's, still valid) was used"
        )
        return f"{how}; the app's user reads division {current} at {self.url}{rate}"

    def account(
        self, code: str, fix: str = "give the customer's account code (Exact Online > CRM > Accounts)"
    ) -> Account:
        """The account with this code (read once per connector); ConnectorNotFound (with `fix`) when the division
        has none."""
        if code.strip() in self._accounts:
            return self._accounts[code.strip()]
        what = f"find account {code}"
        rows = self.rows(
            "crm/Accounts",
            what,
            {"$filter": f"trim(Code) eq {_quote(code.strip())}", "$select": "ID,Code,Name"},
            top=2,
        )
        if not rows:
            raise ConnectorNotFound(
                f"{self.system}: cannot {what}: division {self.division} has no account with code {code}. Fix: {fix}"
            )
        r = rows[0]
        found = Account(str(r.get("ID") or ""), str(r.get("Code") or "").strip(), str(r.get("Name") or ""))
        self._accounts[code.strip()] = found
        return found

    def item(self, code: str) -> Item | None:
        """The item with this code (None when the division has none), read once per connector; one found is also
        kept ITEM_CACHE_SECONDS in `item_cache`, so the other runs of a batch (every customer's subscription carries
        one of the same few items) take it from there: a call less each under Exact's 60 a minute. A missing item
        is never cached (the CSM may create it and run again)."""
        if code in self._items:
            return self._items[code]
        found = self._cached_item(code)
        if found is None:
            what = f"find item {code}"
            rows = self.rows(
                "logistics/Items", what, {"$filter": f"Code eq {_quote(code)}", "$select": "ID,Code,Description"}, top=1
            )
            r = rows[0] if rows else None
            found = (
                Item(str(r.get("ID") or ""), str(r.get("Code") or ""), str(r.get("Description") or "")) if r else None
            )
            if found is not None:
                self._cache_item(found)
        self._items[code] = found
        return found

    def _item_file(self) -> Path | None:
        if self.item_cache is None:
            return None
        host = re.sub(r"[^A-Za-z0-9.-]", "_", self.url.split("://", 1)[-1])
        return self.item_cache / f"exact-items-{host}-{self.division}.json"

    def _cached_items(self) -> dict[str, dict]:
        path = self._item_file()
        try:
            data = json.loads(path.read_text()) if path is not None else {}
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _cached_item(self, code: str) -> Item | None:
        entry = self._cached_items().get(code)
        if not isinstance(entry, dict) or self.clock() - float(entry.get("at") or 0) > ITEM_CACHE_SECONDS:
            return None
        return Item(str(entry.get("id") or ""), str(entry.get("code") or ""), str(entry.get("description") or ""))

    def _cache_item(self, item: Item) -> None:
        """Write the cache anew (a whole file replaced at once: concurrent runs never read half of one)."""
        path = self._item_file()
        if path is None:
            return
        entries = self._cached_items()
        entries[item.code] = {"id": item.id, "code": item.code, "description": item.description, "at": self.clock()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".exact-items-")
            with os.fdopen(fd, "w") as fh:
                json.dump(entries, fh)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs the next run a call

    def subscriptions(self, account_id: str, items: Mapping[str, str] | None = None) -> list[Subscription]:
        """The account's subscriptions (ordered by it) with their lines; `items` maps item ids to codes."""
        what = f"list the subscriptions of account {account_id}"
        heads = self.rows(
            "subscription/Subscriptions",
            what,
            {
                "$filter": f"OrderedBy eq guid'{account_id}'",
                "$select": "EntryID,Number,Description,SubscriptionTypeCode,StartDate,EndDate,CancellationDate",
                "$orderby": "StartDate",
            },
        )
        out = []
        for h in heads:
            entry = str(h.get("EntryID") or "")
            lines = self.rows(
                "subscription/SubscriptionLines",
                f"list the lines of subscription {h.get('Number')}",
                {
                    "$filter": f"EntryID eq guid'{entry}'",
                    "$select": "EntryID,LineNumber,Item,Quantity,UnitPrice,FromDate,ToDate",
                    "$orderby": "LineNumber",
                },
            )
            out.append(
                Subscription(
                    entry,
                    int(h.get("Number") or 0),
                    str(h.get("Description") or ""),
                    str(h.get("SubscriptionTypeCode") or ""),
                    odata_date(h.get("StartDate")),
                    odata_date(h.get("EndDate")),
                    odata_date(h.get("CancellationDate")),
                    tuple(
                        SubscriptionLine(
                            str(x.get("Item") or ""),
                            (items or {}).get(str(x.get("Item") or "").lower(), ""),
                            float(x.get("Quantity") or 0),
                            float(x.get("UnitPrice") or 0),
                            odata_date(x.get("FromDate")),
                            odata_date(x.get("ToDate")),
                        )
                        for x in lines
                    ),
                )
            )
        return out

    def sales_invoices(self, account_id: str) -> list[SalesInvoice]:
        """The account's sales invoices (invoiced to it), oldest first, without their lines."""
        what = f"list the sales invoices of account {account_id}"
        rows = self.rows(
            "salesinvoice/SalesInvoices",
            what,
            {
                "$filter": f"InvoiceTo eq guid'{account_id}'",
                "$select": "InvoiceID,InvoiceNumber,InvoiceDate,AmountDC,Currency,Status",
                "$orderby": "InvoiceDate,InvoiceNumber",
            },
        )
        return [
            SalesInvoice(
                str(r.get("InvoiceID") or ""),
                int(r.get("InvoiceNumber") or 0),
                odata_date(r.get("InvoiceDate")),
                float(r.get("AmountDC") or 0),
                str(r.get("Currency") or ""),
                int(r.get("Status") or 0),
            )
            for r in rows
        ]

    def invoice_lines(self, invoice: SalesInvoice) -> SalesInvoice:
        """The invoice with its lines."""
        what = f"list the lines of sales invoice {invoice.number}"
        rows = self.rows(
            "salesinvoice/SalesInvoiceLines",
            what,
            {
                "$filter": f"InvoiceID eq guid'{invoice.id}'",
                "$select": "InvoiceID,LineNumber,ItemCode,Quantity,UnitPrice,AmountDC",
                "$orderby": "LineNumber",
            },
        )
        lines = tuple(
            InvoiceLine(
                int(r.get("LineNumber") or 0),
                str(r.get("ItemCode") or "").strip(),
                float(r.get("Quantity") or 0),
                float(r.get("UnitPrice") or 0),
                float(r.get("AmountDC") or 0),
            )
            for r in rows
        )
        return SalesInvoice(
            invoice.id, invoice.number, invoice.day, invoice.amount, invoice.currency, invoice.status, lines
        )


def _when(ms: str | None) -> str:
    """A reset time in milliseconds since the epoch, in words (UTC)."""
    if not ms or not ms.strip().isdigit():
        return ""
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
