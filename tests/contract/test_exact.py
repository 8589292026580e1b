"""The Exact Online stand-in (`https://start.exactonline.sandbox.test/api/...`), raw on the wire and through the
runbook's connector, positive and negative.

Sources, per test: Exact's REST API reference, https://start.exactonline.nl/docs/HlpRestAPIResources.aspx, and its
resource pages (HlpRestAPIResourcesDetails.aspx?name=SystemSystemMe, CRMAccounts, LogisticsItems,
SubscriptionSubscriptions, SubscriptionSubscriptionLines, SalesInvoiceSalesInvoices, SalesInvoiceSalesInvoiceLines:
the fields; an account's Code right-aligned in 18 characters; the base `/api/v1/{division}/`); Exact's developer
documentation: "OAuth 2.0" (the token endpoint `/api/oauth2/token`, grant_type refresh_token, access tokens of 10
minutes, a new refresh token with each access token, the old one no longer valid; refresh tokens valid 30 days),
"API limits" (60 calls per minute and 5,000 per day per company and app; X-RateLimit-Limit / -Remaining / -Reset and
X-RateLimit-Minutely-Limit / -Remaining / -Reset, reset times in milliseconds since the epoch; 429 Too Many
Requests) and "REST API: OData" (60 records per page, `__next`, $filter, $select, $orderby, $top); the OAuth2 error
answers of RFC 6749 section 5.2 (invalid_grant, invalid_client); open clients recording the shapes:
ossobv/exactonline (exactonline/rawapi.py: the form-encoded refresh and the token answer `{"access_token",
"token_type": "bearer", "expires_in": "600", "refresh_token"}`; api/unwrap.py: `{"d": {"results", "__next"}}`;
api/v1division.py: `current/Me?$select=CurrentDivision`), leapforce-libraries/go_exactonline_new (subscription/
Subscriptions.go, SubscriptionLines.go, salesinvoice/SalesInvoice.go, SalesInvoiceLine.go: the field names, `OrderedBy
eq guid'...'`, `EntryID eq guid'...'`). Texts no source gives (error wordings) are marked "inferred" in the stand-in.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

import pytest

from runbook.adapters.connectors import Exact
from runbook.adapters.connectors.exact import TokenSet
from runbook.errors import ConnectorCredentialError, ConnectorNotFound, ConnectorThrottled, SecretError

URL = "https://start.exactonline.sandbox.test"
DIVISION = 3120456
API = f"{URL}/api/v1/{DIVISION}"
CLIENT = "6d3e8b1f-2a4c-4e7d-9f10-3b5c7d9e1a24"


class Token:
    """The refresh token as a file-backed store (what the runbook's secret stores do with a file reference)."""

    def __init__(self, path: Path) -> None:
        self.path, self.stored = path, 0

    def read(self) -> str:
        return self.path.read_text()

    def store(self, value: str) -> None:
        self.path.write_text(value)
        self.stored += 1

    def refresh(self) -> str:
        """The refresh token stored (a token set's, or the plain one)."""
        return TokenSet.parse(self.read()).refresh


@pytest.fixture
def wire(sandbox):
    clients = sandbox.clients()
    yield clients.http(), sandbox
    clients.close()


@pytest.fixture(autouse=True)
def tokens_at_will(sandbox):
    """These tests exchange refresh tokens back to back: Exact's one access token per 9.5 minutes is lifted for them
    (its own test below puts it back), and forgotten after each, as if the tokens given had expired."""
    exact = sandbox.service("exact")
    exact.control({"renew_within": 10**6})
    yield
    exact.control({"renew_within": 30})
    exact.issued.clear()


@pytest.fixture
def token(sandbox) -> Token:
    return Token(Path(sandbox.conn.service_credentials["exact-refresh-token"]))


def connector(sandbox, http, token: Token, **kw) -> Exact:
    secret = sandbox.service_secret("exact-client-secret")
    return Exact(
        http,
        URL,
        token.read,
        division=DIVISION,
        client_id=CLIENT,
        client_secret=lambda: secret,
        store=token.store,
        **kw,
    )


def exchange(http, sandbox, refresh: str, secret: str | None = None):
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "client_id": CLIENT,
        "client_secret": secret if secret is not None else sandbox.service_secret("exact-client-secret"),
    }
    return http.post(f"{URL}/api/oauth2/token", data=form)


def bearer(http, sandbox, token: Token) -> dict:
    resp = exchange(http, sandbox, token.read())
    token.store(resp.json()["refresh_token"])
    return {"Authorization": f"Bearer {resp.json()['access_token']}", "Accept": "application/json"}


def test_the_refresh_token_is_exchanged_once_and_rotated(wire, token):
    """OAuth 2.0 (Exact developer docs; ossobv/exactonline rawapi.py refresh_token and _set_tokens): a form-encoded
    POST to /api/oauth2/token with grant_type=refresh_token answers access_token, token_type bearer, expires_in "600"
    and a NEW refresh_token; the one just used is refused from then on: 400 invalid_grant (RFC 6749 5.2)."""
    http, sandbox = wire
    first = token.read()
    resp = exchange(http, sandbox, first)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer" and body["expires_in"] == "600" and body["refresh_token"] != first
    again = exchange(http, sandbox, first)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert exchange(http, sandbox, body["refresh_token"]).status_code == 200  # the rotated one works, once


def test_a_wrong_client_secret_or_a_json_body_is_refused(wire, token):
    """RFC 6749 5.2: invalid_client for a client the server cannot authenticate; the token endpoint takes
    application/x-www-form-urlencoded (Exact docs, OAuth 2.0 step 3). The refresh token is not spent by either."""
    http, sandbox = wire
    wrong = exchange(http, sandbox, token.read(), secret="not-the-secret")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"
    as_json = http.post(f"{URL}/api/oauth2/token", json={"grant_type": "refresh_token", "refresh_token": token.read()})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert exchange(http, sandbox, token.read()).status_code == 200


def test_no_or_a_made_up_bearer_token_is_401(wire):
    """The REST API needs `Authorization: Bearer <access token>` (Exact docs, OAuth 2.0 step 4); a missing or unknown
    one is 401 (the body and challenge are inferred)."""
    http, _ = wire
    for headers in ({}, {"Authorization": "Bearer stampNL001.made-up"}):
        resp = http.get(f"{URL}/api/v1/current/Me", headers=headers)
        assert resp.status_code == 401 and resp.json()["error"]["message"]["value"]
        assert "X-RateLimit-Minutely-Remaining" not in resp.headers


def test_current_me_names_the_current_division_in_odata_v2(wire, token):
    """SystemSystemMe, GET /api/v1/current/Me (ossobv/exactonline v1division.py get_divisions): `{"d": {"results":
    [{"CurrentDivision": <int>}]}}`, `$select` limiting the fields (plus OData's __metadata)."""
    http, sandbox = wire
    resp = http.get(
        f"{URL}/api/v1/current/Me", params={"$select": "CurrentDivision"}, headers=bearer(http, sandbox, token)
    )
    assert resp.status_code == 200
    rows = resp.json()["d"]["results"]
    assert len(rows) == 1 and rows[0]["CurrentDivision"] == DIVISION
    assert set(rows[0]) == {"__metadata", "CurrentDivision"}


def test_accounts_keep_their_code_right_aligned_and_trim_filters_on_it(wire, token):
    """CRMAccounts: ID (Edm.Guid), Code ("fixed length ... 18 characters", right-aligned), Name; $filter with eq on
    a string and trim() (OData v2 URI conventions, string functions)."""
    http, sandbox = wire
    h = bearer(http, sandbox, token)
    plain = http.get(f"{API}/crm/Accounts", params={"$filter": "Code eq '42'"}, headers=h)
    assert plain.status_code == 200 and plain.json()["d"]["results"] == []
    resp = http.get(
        f"{API}/crm/Accounts", params={"$filter": "trim(Code) eq '42'", "$select": "ID,Code,Name"}, headers=h
    )
    (row,) = resp.json()["d"]["results"]
    assert row["Code"] == " " * 16 + "42" and row["Name"] == "Contoso Demo BV"
    assert re.fullmatch(r"[0-9a-f-]{36}", row["ID"]) and row["__metadata"]["type"] == "Exact.Web.Api.Models.Account"


def test_subscriptions_of_an_account_by_guid_with_dates_as_odata_dates(wire, token):
    """SubscriptionSubscriptions and SubscriptionSubscriptionLines (go_exactonline_new Subscriptions.go: `OrderedBy
    eq guid'...'`, SubscriptionLines.go: `EntryID eq guid'...'`, Item a guid); Edm.DateTime answered `/Date(<ms>)/`."""
    http, sandbox = wire
    h = bearer(http, sandbox, token)
    account = http.get(f"{API}/crm/Accounts", params={"$filter": "trim(Code) eq '42'"}, headers=h).json()["d"][
        "results"
    ][0]
    subs = http.get(
        f"{API}/subscription/Subscriptions",
        params={
            "$filter": f"OrderedBy eq guid'{account['ID'].upper()}'",
            "$select": "EntryID,Number,StartDate,EndDate",
        },
        headers=h,
    ).json()["d"]["results"]
    assert [(s["Number"], s["StartDate"], s["EndDate"]) for s in subs] == [
        (1042, "/Date(1794787200000)/", "/Date(1889395200000)/")
    ]
    lines = http.get(
        f"{API}/subscription/SubscriptionLines",
        params={"$filter": f"EntryID eq guid'{subs[0]['EntryID']}'", "$select": "Item,Quantity,UnitPrice"},
        headers=h,
    ).json()["d"]["results"]
    assert [(x["Quantity"], x["UnitPrice"]) for x in lines] == [(1.0, 2950.0)] and re.fullmatch(
        r"[0-9a-f-]{36}", lines[0]["Item"]
    )


def test_pages_of_60_are_linked_by_next_and_top_limits(wire, token):
    """REST API: at most 60 records per page; `__next` holds the URL of the next page ($skiptoken); $top limits the
    answer (ossobv/exactonline unwrap.py follows `__next` until it is absent)."""
    http, sandbox = wire
    ex = sandbox.service("exact")
    for n in range(130):
        ex.add_invoice(DIVISION, {"number": 27000000 + n, "account": "17", "date": "2026-12-01", "lines": []})
    h = bearer(http, sandbox, token)
    url, params, sizes = f"{API}/salesinvoice/SalesInvoices", {"$select": "InvoiceID", "$orderby": "InvoiceNumber"}, []
    while url:
        d = http.get(url, params=params, headers=h).json()["d"]
        sizes.append(len(d["results"]))
        url, params = d.get("__next"), None
        assert url is None or "$skiptoken" in http.get(url, headers=h).request.url.params
    assert sizes == [60, 60, 13]
    top = http.get(f"{API}/salesinvoice/SalesInvoices", params={"$top": 5}, headers=h).json()["d"]
    assert len(top["results"]) == 5 and "__next" not in top


def test_a_bad_filter_select_or_orderby_is_400_with_the_odata_error_body(wire, token):
    """OData v2: a $filter, $select or $orderby the service cannot parse or that names no property is 400; Exact's
    error body is `{"error": {"code": "", "message": {"lang": "", "value": ...}}}` (wording inferred)."""
    http, sandbox = wire
    h = bearer(http, sandbox, token)
    for params in (
        {"$filter": "Code eq"},
        {"$filter": "Shoe eq 'x'"},
        {"$filter": "Code eq '42' nand Name eq 'x'"},
        {"$select": "ID,Shoe"},
        {"$orderby": "Name sideways"},
        {"$top": "many"},
    ):
        resp = http.get(f"{API}/crm/Accounts", params=params, headers=h)
        assert resp.status_code == 400, params
        err = resp.json()["error"]
        assert err["code"] == "" and err["message"]["lang"] == "" and err["message"]["value"], params


def test_an_unknown_division_or_resource_is_404(wire, token):
    """The base is /api/v1/{division}/ (REST API reference); a division the user cannot reach and a resource the API
    does not have answer 404 with the OData error body (wording inferred)."""
    http, sandbox = wire
    h = bearer(http, sandbox, token)
    gone = http.get(f"{URL}/api/v1/999/crm/Accounts", headers=h)
    assert gone.status_code == 404 and "Division 999" in gone.json()["error"]["message"]["value"]
    typo = http.get(f"{API}/crm/Acounts", headers=h)
    assert typo.status_code == 404 and "crm/Acounts" in typo.json()["error"]["message"]["value"]


def test_every_answer_carries_the_rate_limit_headers_and_429_when_the_minute_is_used(wire, token):
    """API limits: X-RateLimit-Limit / -Remaining / -Reset (daily) and X-RateLimit-Minutely-Limit / -Remaining /
    -Reset (ms since the epoch) on every answer; 429 when the minutely limit is used up."""
    http, sandbox = wire
    sandbox.admin("PUT", "/_sandbox/services/exact", {"minutely": 2, "window_ms": 60_000})
    h = bearer(http, sandbox, token)
    first = http.get(f"{URL}/api/v1/current/Me", headers=h)
    assert first.headers["X-RateLimit-Minutely-Limit"] == "2" and first.headers["X-RateLimit-Minutely-Remaining"] == "1"
    assert first.headers["X-RateLimit-Limit"] == "5000" and first.headers["X-RateLimit-Remaining"] == "4999"
    reset = int(first.headers["X-RateLimit-Minutely-Reset"])
    assert time.time() * 1000 < reset <= time.time() * 1000 + 60_000
    assert int(first.headers["X-RateLimit-Reset"]) > reset
    http.get(f"{URL}/api/v1/current/Me", headers=h)
    third = http.get(f"{URL}/api/v1/current/Me", headers=h)
    assert third.status_code == 429 and third.headers["X-RateLimit-Minutely-Remaining"] == "0"


# --- through the connector -------------------------------------------------------------------------------------------
def test_the_connector_reads_account_subscriptions_and_first_invoice_over_pages(wire, token):
    """The reads s1-invoice-run and s4-first-invoice make, typed; the sales invoices over pages of 60; one exchange
    for all of them, its rotated refresh token stored."""
    http, sandbox = wire
    ex = sandbox.service("exact")
    for n in range(70):
        ex.add_invoice(
            DIVISION, {"number": 26200000 + n, "account": "42", "date": "2026-12-31", "status": 10, "lines": []}
        )
    c = connector(sandbox, http, token)
    assert "the app's user reads division 3120456" in c.reachable()
    account = c.account("42")
    assert (account.code, account.name) == ("42", "Contoso Demo BV")
    item = c.item("MS-FULLSTACK")
    assert item is not None and c.item("MS-NOPE") is None
    (sub,) = c.subscriptions(account.id, {item.id: item.code})
    assert (sub.number, sub.start, sub.end, sub.cancelled) == (1042, date(2026, 11, 16), date(2029, 11, 15), None)
    assert [(x.item_code, x.quantity, x.unit_price) for x in sub.lines] == [("MS-FULLSTACK", 1.0, 2950.0)]
    invoices = c.sales_invoices(account.id)
    assert len(invoices) == 71 and invoices[0].number == 26110042 and invoices[0].day == date(2026, 11, 30)
    first = c.invoice_lines(invoices[0])
    assert [x.item_code for x in first.lines] == ["MS-FULLSTACK", "MS-ONBOARDING", "AZ-CONSUMPTION"]
    assert c.exchanges == 1 and token.stored == 1 and token.refresh() in ex.refresh


def test_an_expired_access_token_is_renewed_with_the_rotated_refresh_token(wire, token):
    """Access tokens live expires_in seconds (600); the connector exchanges again shortly before expiry, with the
    refresh token it received last (the stored one is already spent)."""
    http, sandbox = wire
    sandbox.admin("PUT", "/_sandbox/services/exact", {"expires_in": 31})
    c = connector(sandbox, http, token)
    c.account("42")
    time.sleep(1.1)  # within 30 s of expiry: a new access token first
    c.account("43")
    assert c.exchanges == 2 and token.stored == 2 and token.refresh() in sandbox.service("exact").refresh


def test_the_connector_waits_for_the_minutely_reset_and_reports_the_daily_limit(wire, token):
    """API limits: when X-RateLimit-Minutely-Remaining is down to the connector's reserve (2, left to a batch's other
    processes) a call waits until X-RateLimit-Minutely-Reset, and no 429 is met; when the daily limit (X-RateLimit-Remaining 0) is used up it is reported in one line, not waited for."""
    http, sandbox = wire
    sandbox.admin("PUT", "/_sandbox/services/exact", {"minutely": 4, "window_ms": 1500})
    waits: list[float] = []
    refused_before = sandbox.admin("GET", "/_sandbox/stats").get("status_429", 0)
    c = connector(sandbox, http, token, sleep=lambda s: (waits.append(s), time.sleep(s)))
    for code in ("42", "43", "17"):
        c.account(code)
    assert c.item("MS-FULLSTACK") is not None and c.item("MS-ONBOARDING") is not None
    assert waits and all(0 < w <= 1.6 for w in waits)
    assert sandbox.admin("GET", "/_sandbox/stats").get("status_429", 0) == refused_before  # waited, never refused
    sandbox.admin("PUT", "/_sandbox/services/exact", {"daily": 1})
    slept: list[float] = []
    c2 = connector(sandbox, http, token, sleep=slept.append)
    c2.account("42")
    with pytest.raises(ConnectorThrottled) as exc:
        c2.account("43")
    text = str(exc.value)
    assert text.startswith("Exact Online: cannot find account 43: it kept answering 429 after 1 attempt(s)")
    assert "the daily limit of 1 calls is used up, it resets" in text and "\n" not in text and slept == []


def test_the_connector_names_a_spent_token_a_wrong_secret_and_an_unknown_account(wire, token):
    """400 invalid_grant -> the refresh token and how to authorize again; invalid_client -> the app's id and secret;
    an account code the division has none of -> ConnectorNotFound with the fix."""
    http, sandbox = wire
    spent = token.read()
    connector(sandbox, http, token).reachable()
    stale = Exact(
        http,
        URL,
        lambda: spent,
        division=DIVISION,
        client_id=CLIENT,
        client_secret=lambda: sandbox.service_secret("exact-client-secret"),
    )
    with pytest.raises(ConnectorCredentialError) as refused:
        stale.reachable()
    assert "it refused the refresh token (400 invalid_grant: The refresh token has been used already." in str(
        refused.value
    )
    assert "msp.connectors.exact.refresh_token" in str(refused.value)
    wrong = Exact(http, URL, token.refresh, division=DIVISION, client_id=CLIENT, client_secret=lambda: "nope")
    with pytest.raises(ConnectorCredentialError) as client:
        wrong.reachable()
    assert "it refused the app (400 invalid_client" in str(client.value) and "msp.connectors.exact.client_id" in str(
        client.value
    )
    with pytest.raises(ConnectorNotFound) as missing:
        connector(sandbox, http, token).account("999", fix="set exact.account_code")
    assert str(missing.value) == (
        "Exact Online: cannot find account 999: division 3120456 has no account with code 999. Fix: set exact.account_code"
    )


def test_a_store_that_cannot_take_the_rotated_token_is_refused_before_it_is_spent(wire, token):
    """Exact replaces the refresh token at every use, so a store the runbook cannot write (an environment variable)
    would lose it: the connector asks the store first and spends nothing when it refuses."""
    http, sandbox = wire

    def read_only() -> None:
        raise SecretError("env:EXACT_REFRESH_TOKEN: an environment variable is read-only")

    before = token.read()
    c = connector(sandbox, http, token, writable=read_only)
    with pytest.raises(ConnectorCredentialError) as exc:
        c.reachable()
    assert "must be a reference the runbook can write (keyvault:, passwordstate: or file:)" in str(exc.value)
    assert sandbox.service("exact").exchanges == 0 and token.read() == before


def test_one_access_token_per_9_5_minutes_and_an_early_request_spends_nothing(wire, token, sandbox):
    """Exact's API limits of July 2021 (as its partners relay them, e.g. Invantive's "Impact Exact Online API
    adjustments July 1, 2021": "maximum of 1 access token generation every 9.5 minutes"): a new access token only in
    the last 30 s of the app's current one. The refusal's status and wording are inferred (400 invalid_request, RFC
    6749 5.2); the refresh token sent is not spent by it."""
    http, _ = wire
    sandbox.service("exact").control({"renew_within": 30})
    first = exchange(http, sandbox, token.read())
    assert first.status_code == 200
    rotated = first.json()["refresh_token"]
    early = exchange(http, sandbox, rotated)
    assert early.status_code == 400 and early.json()["error"] == "invalid_request"
    assert "once per 9.5 minutes" in early.json()["error_description"]
    assert rotated in sandbox.service("exact").refresh  # not spent
    token.store(rotated)  # a process that did not keep the token set: the connector says what happened
    c = connector(sandbox, http, token)
    with pytest.raises(ConnectorCredentialError) as exc:
        c.reachable()
    text = str(exc.value)
    assert "it gives the app one access token per 9.5 minutes" in text and "\n" not in text
    sandbox.service("exact").control({"renew_within": 10**6})
    assert exchange(http, sandbox, rotated).status_code == 200  # the same token, later: accepted


def test_processes_share_the_stored_access_token_and_a_lost_race_takes_the_winners(wire, token, sandbox):
    """Under the one-token-per-9.5-minutes rule every process of the app must use the access token one of them got:
    the connector stores the token set and a second connector (another kernel) takes it without an exchange; one that
    read the refresh token before the first stored its successor is refused (400 invalid_grant), reads the store
    again and takes the winner's set; a stored access token answered 401 (revoked) is not taken again."""
    http, _ = wire
    ex = sandbox.service("exact")
    ex.control({"renew_within": 30})
    plain = token.read()
    first = connector(sandbox, http, token)
    assert "the refresh token was exchanged" in first.reachable()
    second = connector(sandbox, http, token)
    assert "the stored access token (another run's, still valid) was used" in second.reachable()
    assert (first.exchanges, second.exchanges, second.adopted, ex.exchanges) == (1, 0, 1, 1)
    reads = iter([plain])  # the late one read the plain token before the first stored the set
    late = Exact(
        http,
        URL,
        lambda: next(reads, None) or token.read(),
        division=DIVISION,
        client_id=CLIENT,
        client_secret=lambda: sandbox.service_secret("exact-client-secret"),
        store=token.store,
        sleep=lambda s: None,
    )
    assert late.account("42").code == "42"
    assert (late.exchanges, late.adopted, ex.exchanges) == (0, 1, 1)
    ex.control({"renew_within": 10**6})
    ex.access.clear()  # the stored access token revoked
    again = connector(sandbox, http, token)
    assert again.account("43").code == "43"
    assert (again.adopted, again.exchanges, ex.exchanges) == (1, 1, 2)


def test_an_item_found_is_shared_by_the_runs_of_a_machine_for_ten_minutes(wire, token, tmp_path):
    """Under Exact's 60 calls a minute (API limits) a batch's runs each looking up the same tier item would spend a
    call each: an item found is kept 10 minutes in the machine's cache folder and taken from there by the next
    connector (another kernel); after 10 minutes, and for an item the division does not have, Exact is asked."""
    http, sandbox = wire
    ex = sandbox.service("exact")
    first = connector(sandbox, http, token, item_cache=tmp_path)
    item = first.item("MS-FULLSTACK")
    assert item is not None and first.item("MS-NOPE") is None
    second = connector(sandbox, http, token, item_cache=tmp_path)
    second.reachable()  # its access token (taken from the store) and one call
    calls = ex.calls
    assert second.item("MS-FULLSTACK") == item and ex.calls == calls  # from the cache: no call
    assert second.item("MS-NOPE") is None and ex.calls == calls + 1  # a missing one is asked again
    (cache,) = tmp_path.glob("exact-items-*.json")
    entries = json.loads(cache.read_text())
    entries["MS-FULLSTACK"]["at"] -= 601  # ten minutes later
    cache.write_text(json.dumps(entries))
    third = connector(sandbox, http, token, item_cache=tmp_path)
    third.reachable()
    calls = ex.calls
    assert third.item("MS-FULLSTACK") == item and ex.calls == calls + 1  # expired: read again
