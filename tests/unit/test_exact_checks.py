"""Issue 22: the CSM's checks in Exact Online (s1-invoice-run: the subscription; s4-first-invoice: the first sales
invoice against the agreed pricing): each check's decision table, the checks against the sandbox's Exact Online
(what the evidence holds, and what it must not), the rotating refresh token stored back so that a second run still
works, and the fallback to the attestation when the connector is not configured for the customer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from runbook.adapters.connectors import CONNECTORS
from runbook.adapters.connectors.exact import InvoiceLine, SalesInvoice, Subscription, SubscriptionLine, TokenSet
from runbook.customer import catalogue, params
from runbook.customer.params import PriceLine
from runbook.notebook import Session
from runbook.steps import REGISTRY
from runbook.steps.base import ConnectorCheck, Context, check_or_attest
from runbook.steps.exact import invoice_verdict, subscription_verdict

ITEMS = ("s1-invoice-run", "s4-first-invoice")
TODAY = date(2026, 12, 6)
START = date(2026, 11, 16)
WHERE = "Exact Online account 42 (Co) in division 1"


# --- the catalogue and the registry ----------------------------------------------------------------------------------
def test_the_two_items_are_both_with_the_exact_connector_and_a_connector_check():
    cat = catalogue.load()
    assert "exact" in catalogue.CONNECTOR_NAMES and "exact" in CONNECTORS
    for item_id, stage in zip(ITEMS, (1, 4), strict=True):
        item = cat.item(item_id)
        assert (item.kind, item.connector, item.stage, item.role) == ("both", "exact", stage, "CSM")
        step = REGISTRY[item_id]()
        assert isinstance(step, ConnectorCheck) and step.connector == "exact" and not item.configures
    assert {i.id for i in cat.items if i.connector == "exact"} == set(ITEMS)


# --- the subscription check's decision table -------------------------------------------------------------------------
def sub(number=1042, start=START, end=date(2029, 11, 15), cancelled=None, items=("MS-FULLSTACK",)):
    lines = tuple(SubscriptionLine(f"id-{c}", c, 1, 2950.0, start, end) for c in items)
    return Subscription(f"entry-{number}", number, "Managed Services", "MS", start, end, cancelled, lines)


@pytest.mark.parametrize(
    ("subs", "status", "says"),
    [
        (
            [sub()],
            "fulfilled",
            "Subscription 1042 of " + WHERE + " is active from 2026-11-16 to 2029-11-15 with item MS-FULLSTACK.",
        ),
        ([sub(end=None)], "fulfilled", "to open-ended with item MS-FULLSTACK"),
        ([sub(start=date(2027, 1, 1))], "open", "subscription 1042: starts 2027-01-01, agreed 2026-11-16"),
        ([sub(start=None)], "open", "starts without a start date, agreed 2026-11-16"),
        ([sub(items=("MS-PREMIUM",))], "open", "subscription 1042: no line of item MS-FULLSTACK"),
        ([sub(items=())], "open", "no line of item MS-FULLSTACK"),
        ([sub(cancelled=date(2026, 12, 1))], "open", "subscription 1042: cancelled 2026-12-01"),
        ([sub(end=date(2026, 12, 5))], "open", "subscription 1042: ended 2026-12-05"),
        ([], "open", "has no subscription: the invoice run has not been started."),
        ([sub(1017, cancelled=date(2026, 10, 1)), sub()], "fulfilled", "Subscription 1042"),
    ],
)
def test_subscription_decision_table(subs, status, says):
    v = subscription_verdict(subs, START, "MS-FULLSTACK", True, TODAY, WHERE)
    assert v.status == status
    assert says in v.summary + " ".join(v.missing), (v.summary, v.missing)
    if status == "open":
        assert v.missing


def test_a_cancellation_still_ahead_and_a_start_in_the_future_keep_it_active():
    ahead = sub(start=date(2027, 1, 1), cancelled=date(2027, 12, 31))
    assert subscription_verdict([ahead], date(2027, 1, 1), "MS-FULLSTACK", True, TODAY, WHERE).status == "fulfilled"
    assert subscription_verdict([sub(end=TODAY)], START, "MS-FULLSTACK", True, TODAY, WHERE).status == "fulfilled"


def test_no_tier_item_or_an_item_exact_does_not_know_is_open_with_the_fix():
    none = subscription_verdict([sub()], START, "", False, TODAY, WHERE)
    assert none.status == "open" and "msp.connectors.exact.tier_items" in none.missing[0]
    unknown = subscription_verdict([sub()], START, "MS-GOLD", False, TODAY, WHERE)
    assert unknown.status == "open" and unknown.summary.startswith("Exact Online has no item MS-GOLD")


# --- the first invoice's decision table ------------------------------------------------------------------------------
PRICING = [
    PriceLine(item="MS-FULLSTACK", quantity=1, unit_price=2950.0),
    PriceLine(item="MS-ONBOARDING", quantity=1, unit_price=1500.0),
    PriceLine(item="AZ-CONSUMPTION"),
]


def invoice(*lines: tuple[str, float, float]) -> SalesInvoice:
    rows = tuple(InvoiceLine(n, code, q, p, round(q * p, 2)) for n, (code, q, p) in enumerate(lines, 1))
    return SalesInvoice("inv-1", 26110042, date(2026, 11, 30), sum(r.amount for r in rows), "EUR", 50, rows)


AGREED = (("MS-FULLSTACK", 1, 2950.0), ("MS-ONBOARDING", 1, 1500.0), ("AZ-CONSUMPTION", 1, 812.37))


@pytest.mark.parametrize(
    ("lines", "status", "missing"),
    [
        (AGREED, "fulfilled", []),
        (tuple(reversed(AGREED)), "fulfilled", []),  # the order of the lines does not matter
        (
            (("MS-FULLSTACK", 1, 2850.0), *AGREED[1:]),
            "open",
            ["MS-FULLSTACK (line 1): unit price 2850.00, agreed 2950.00"],
        ),
        ((("MS-FULLSTACK", 2, 2950.0), *AGREED[1:]), "open", ["MS-FULLSTACK (line 1): quantity 2, agreed 1"]),
        (
            AGREED[:1] + AGREED[2:],
            "open",
            ["MS-ONBOARDING: not on invoice 26110042 of 2026-11-30 (EUR 3762.37) (agreed 1 x 1500.00)"],
        ),
        ((*AGREED, ("MS-EXTRA", 1, 99.5)), "open", ["MS-EXTRA (line 4): not in the agreed pricing (1 x 99.50)"]),
        (
            (("MS-FULLSTACK", 1.5, 2000.0), AGREED[2]),
            "open",
            [
                "MS-FULLSTACK (line 1): quantity 1.5, agreed 1",
                "MS-FULLSTACK (line 1): unit price 2000.00, agreed 2950.00",
                "MS-ONBOARDING: not on invoice 26110042 of 2026-11-30 (EUR 3812.37) (agreed 1 x 1500.00)",
            ],
        ),
    ],
)
def test_first_invoice_decision_table_line_by_line(lines, status, missing):
    v = invoice_verdict(invoice(*lines), PRICING, WHERE)
    assert (v.status, v.missing) == (status, missing), v.summary
    if status == "open":
        assert f"differs from the agreed pricing in {len(missing)} line(s)" in v.summary


def test_no_invoice_yet_or_no_agreed_pricing_is_open():
    none = invoice_verdict(None, PRICING, WHERE, drafts=1)
    assert none.status == "open" and none.summary == f"{WHERE} has no sales invoice yet (1 draft(s) not yet issued)."
    unpriced = invoice_verdict(invoice(*AGREED), [], WHERE)
    assert unpriced.status == "open" and unpriced.missing[0].startswith("exact.pricing in the customer file")


def test_a_price_to_the_cent_and_item_codes_in_another_casing_match():
    v = invoice_verdict(invoice(("ms-fullstack", 1, 2950.004), ("MS-ONBOARDING", 1, 1500.0)), PRICING[:2], WHERE)
    assert v.status == "fulfilled", v.missing


# --- against the sandbox ---------------------------------------------------------------------------------------------
@pytest.fixture
def ctx(sandbox, params_dir):
    p = params.load("demo")
    clients = sandbox.clients()
    yield Context(p, lambda: clients, journal=None)
    clients.close()


def run(ctx: Context, item_id: str):
    return check_or_attest(catalogue.load().item(item_id), ctx, REGISTRY[item_id]())


def test_the_demo_checks_are_fulfilled_and_the_evidence_holds_ids_dates_and_amounts_only(sandbox, ctx):
    results = {i: run(ctx, i) for i in ITEMS}
    assert {i: r.status for i, r in results.items()} == dict.fromkeys(ITEMS, "fulfilled"), {
        i: (r.summary, r.missing) for i, r in results.items()
    }
    run_ = results["s1-invoice-run"]
    assert run_.summary == (
        "Subscription 1042 of Exact Online account 42 (Contoso Demo BV) in division 3120456 is active from 2026-11-16 "
        "to 2029-11-15 with item MS-FULLSTACK."
    )
    assert [(r["subscription"], r["start"], r["items"], r["state"]) for r in run_.observed] == [
        (1042, "2026-11-16", "MS-FULLSTACK", "active")
    ]
    first = results["s4-first-invoice"]
    assert first.summary.startswith(
        "The first sales invoice of Exact Online account 42 (Contoso Demo BV) in division 3120456, invoice 26110042 of "
        "2026-11-30 (EUR 5262.37), carries the agreed pricing (3 line(s))."
    )
    assert [(r["item"], r["quantity"], r["unit price"], r["amount"]) for r in first.observed] == [
        ("MS-FULLSTACK", 1.0, 2950.0, 2950.0),
        ("MS-ONBOARDING", 1.0, 1500.0, 1500.0),
        ("AZ-CONSUMPTION", 1.0, 812.37, 812.37),
    ]
    for r in results.values():
        text = json.dumps(r.to_dict())
        assert "stampNL001" not in text and sandbox.service_secret("exact-client-secret") not in text
        assert "Intercept Runbook (API)" not in text and "runbook-api" not in text  # nobody's name
        assert r.attestation is None  # the check decided; the attestation on file was not needed


def test_the_rotated_refresh_token_is_stored_so_the_next_run_still_works(sandbox, params_dir):
    """Exact replaces the refresh token at each exchange: the runbook writes the new one back to its reference, and
    the spent one is refused (400 invalid_grant); a second run (a new context) exchanges the stored one."""
    token_file = Path(sandbox.conn.service_credentials["exact-refresh-token"])
    before = token_file.read_text()
    for attempt in range(2):
        clients = sandbox.clients()
        try:
            ctx = Context(params.load("demo"), lambda c=clients: c, journal=None)
            assert run(ctx, "s1-invoice-run").status == "fulfilled", attempt
        finally:
            clients.close()
    after = token_file.read_text()
    # the second run takes the access token the first stored with the rotated refresh token (one per 9.5 minutes)
    assert after != before and before not in after and sandbox.service("exact").exchanges == 1
    assert (
        TokenSet.parse(after).refresh in sandbox.service("exact").refresh and before in sandbox.service("exact").spent
    )
    token_file.write_text(before)  # someone restores an old copy of the token: Exact refuses it, one line
    clients = sandbox.clients()
    try:
        r = run(Context(params.load("demo"), lambda: clients, journal=None), "s4-first-invoice")
    finally:
        clients.close()
    assert r.status == "failed" and "\n" not in r.summary
    assert r.summary.startswith(
        "Exact Online: cannot exchange its refresh token for an access token: it refused the refresh token (400 invalid_grant"
    )
    assert "store the new refresh token where msp.connectors.exact.refresh_token points" in r.summary


def test_a_subscription_from_another_date_or_an_invoice_at_another_price_keeps_it_open(sandbox, ctx):
    ex = sandbox.service("exact")
    subscription = next(s for s in ex.divisions[3120456]["subscription/Subscriptions"] if s["Number"] == 1042)
    subscription["StartDate"] = date(2026, 12, 1)
    r = run(ctx, "s1-invoice-run")
    assert r.status == "open" and r.missing == ["subscription 1042: starts 2026-12-01, agreed 2026-11-16"]
    line = next(
        x
        for x in ex.divisions[3120456]["salesinvoice/SalesInvoiceLines"]
        if x["ItemCode"] == "MS-ONBOARDING" and x["UnitPrice"] == 1500.0
    )
    line["UnitPrice"] = 1250.0
    r = run(ctx, "s4-first-invoice")
    assert r.status == "open" and r.missing == ["MS-ONBOARDING (line 2): unit price 1250.00, agreed 1500.00"]


def test_a_draft_is_not_the_first_invoice(sandbox, ctx):
    ex = sandbox.service("exact")
    ex.add_invoice(3120456, {"number": 26110001, "account": "42", "date": "2026-11-20", "status": 10, "lines": []})
    r = run(ctx, "s4-first-invoice")
    assert r.status == "fulfilled" and "invoice 26110042" in r.summary


def test_an_unknown_account_fails_the_item_in_one_line_with_the_fix(sandbox, params_dir):
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    data["exact"]["account_code"] = "999"
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    clients = sandbox.clients()
    try:
        ctx = Context(params.load("demo"), lambda: clients, journal=None)
        for item in ITEMS:
            r = run(ctx, item)
            assert r.status == "failed" and "\n" not in r.summary
            assert r.summary.startswith("Exact Online: cannot find account 999: division 3120456 has no account")
            assert "Fix: set exact.account_code in demo.yml to the customer's account code" in r.summary
    finally:
        clients.close()


def test_without_the_connector_the_attestation_is_used_as_before(sandbox, params_dir):
    """Each item falls back to its attestation when the connector is not configured: the customer's record missing,
    or the MSP's connector; the result says so, and nothing is asked of Exact Online."""
    data = yaml.safe_load((params_dir / "demo.yml").read_text())
    del data["exact"]
    data["attestations"]["s4-first-invoice"] = {"by": "Chris CSM", "at": "2026-12-02", "reference": "Invoice 26110042"}
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    before = sandbox.stats()
    p = params.load("demo")
    ctx = Context(p, None, journal=None)  # no clients: a check that tried to call out would fail the item
    for item_id in ITEMS:
        r = run(ctx, item_id)
        att = p.attestations[item_id]
        assert r.status == "fulfilled" and r.attestation["reference"] == att.reference
        assert r.summary == (
            "Check not available: no exact.account_code in demo.yml (the customer's account), attestation used. "
            f"Attested by {att.by} on {att.at.isoformat()}: {att.reference}."
        )
    del data["attestations"]["s4-first-invoice"]
    (params_dir / "demo.yml").write_text(yaml.safe_dump(data))
    r = run(Context(params.load("demo"), None, journal=None), "s4-first-invoice")
    assert r.status == "open" and r.missing == ["attestation of s4-first-invoice"]
    msp = yaml.safe_load((params_dir / "msp.yml").read_text())
    del msp["msp"]["connectors"]["exact"]
    (params_dir / "msp.yml").write_text(yaml.safe_dump(msp))
    r = run(Context(params.load("demo"), None, journal=None), "s1-invoice-run")
    assert r.status == "fulfilled" and r.summary.startswith(
        "Check not available: no msp.connectors.exact in parameters/msp.yml (its URL and credential), attestation used."
    )
    assert sandbox.stats().get("exact_calls", 0) == before.get("exact_calls", 0)


def test_the_notebook_session_runs_the_check(sandbox, clients, params_dir, evidence_dir):
    session = Session(params.load("demo"), 1)
    session.ctx.clients_factory = lambda: clients
    result = session.run("s1-invoice-run")
    assert result.status == "fulfilled" and result.observed[0]["subscription"] == 1042


def test_the_premium_demo_is_fulfilled_by_its_own_account(sandbox, tmp_path, monkeypatch):
    from tests.conftest import copy_msp_settings

    d = tmp_path / "premium"
    d.mkdir()
    copy_msp_settings(d, sandbox.sandbox.state_dir)
    (d / "demo-premium.yml").write_text((params.PROJECT_ROOT / "parameters" / "demo-premium.yml").read_text())
    monkeypatch.setenv("RUNBOOK_PARAMETERS_DIR", str(d))
    clients = sandbox.clients()
    try:
        ctx = Context(params.load("demo-premium"), lambda: clients, journal=None)
        results = {i: run(ctx, i) for i in ITEMS}
    finally:
        clients.close()
    assert {i: r.status for i, r in results.items()} == dict.fromkeys(ITEMS, "fulfilled")
    assert (
        "Subscription 1043" in results["s1-invoice-run"].summary
        and "item MS-PREMIUM" in results["s1-invoice-run"].summary
    )
    assert "invoice 26110043" in results["s4-first-invoice"].summary
